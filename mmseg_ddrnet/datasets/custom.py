"""``CustomDataset``: image folder + label folder datasets with mmseg 0.x keys and semantics."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from torch.utils.data import Dataset

from ..registry import DATASETS
from ..utils import ConfigError, DataError, print_log, warn_once
from .evaluation import SegEvaluationMixin
from .integrity import check_samples, scan_images
from .pipelines import Compose, LoadAnnotations
from .pipelines.loading import _check_file_client as check_file_client
from .samplers import sample_random_state


@DATASETS.register_module()
class CustomDataset(SegEvaluationMixin, Dataset):
    """Images in ``img_dir`` and label maps (class indices) with the same stem in ``ann_dir``.

    Args:
        pipeline: the transforms (configs) run on each sample.
        img_dir: the image folder (relative to ``data_root`` when that is given).
        img_suffix: image file ending; every ``*img_suffix`` under ``img_dir`` is a sample.
        ann_dir: the label folder; None for unlabelled test data.
        seg_map_suffix: label file ending (replaces ``img_suffix``).
        split: a text file of image stems to use (one per line) instead of scanning ``img_dir``.
        data_root: the folder that relative ``img_dir``, ``ann_dir`` and ``split`` are in.
        test_mode: prepare samples for testing (no labels in the pipeline).
        ignore_index: the label that is not evaluated.
        reduce_zero_label: label 0 is ignored and the others shift down by one.
        classes: a subset of ``CLASSES`` (or a file of names); labels are remapped as in mmseg 0.x.
        palette: RGB colours of ``classes``.
        gt_seg_map_loader_cfg: arguments of the ``LoadAnnotations`` used for evaluation
            (``reduce_zero_label`` defaults to the dataset's).
        file_client_args: accepted for config compatibility; only the local disk is supported.
        skip_bad_samples: leave out (and log) unreadable or inconsistent samples instead of stopping.

    Evaluation (``pre_eval``, ``evaluate``, ``format_results``) comes from :class:`SegEvaluationMixin`.
    """

    CLASSES: Optional[Sequence[str]] = None
    PALETTE: Optional[Sequence[Sequence[int]]] = None
    # Raw label value → training label, applied before a class subset (e.g. a void label → 255).
    LABEL_MAP: Optional[Dict[int, int]] = None
    # How to get the data, appended to the errors about missing folders and files; {root} is the data root.
    DATA_HINT = ('point the dataset at your data with --cfg-options data.train.data_root=DIR (and data.val, '
                 'data.test; see "Datasets" in README.md)')

    def __init__(self, pipeline: Sequence[dict], img_dir: str, img_suffix: str = '.jpg',
                 ann_dir: Optional[str] = None, seg_map_suffix: str = '.png', split: Optional[str] = None,
                 data_root: Optional[str] = None, test_mode: bool = False, ignore_index: int = 255,
                 reduce_zero_label: bool = False, classes: Union[None, str, Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None, gt_seg_map_loader_cfg: Optional[dict] = None,
                 file_client_args: Optional[dict] = None, skip_bad_samples: bool = False):
        check_file_client(file_client_args)  # listing files: local disk only, as the loaders
        self.pipeline = Compose(pipeline)
        self.data_root = data_root
        self.img_dir = self._join_root(img_dir)
        self.img_suffix = img_suffix
        self.ann_dir = self._join_root(ann_dir)
        self.seg_map_suffix = seg_map_suffix
        self.split = self._join_root(split)
        self.test_mode = test_mode
        self.ignore_index = ignore_index
        self.reduce_zero_label = reduce_zero_label
        self.skip_bad_samples = skip_bad_samples
        self.label_map: Optional[Dict[int, int]] = None
        self.custom_classes = False
        self.CLASSES, self.PALETTE = self.get_classes_and_palette(classes, palette)
        if test_mode and self.CLASSES is None:
            raise ConfigError(f'{type(self).__name__}: classes must be given for testing')
        loader_cfg = dict(gt_seg_map_loader_cfg or {})
        loader_cfg.setdefault('reduce_zero_label', reduce_zero_label)
        self.gt_seg_map_loader = LoadAnnotations(**loader_cfg)
        self.img_infos = self.load_annotations(self.img_dir, self.img_suffix, self.ann_dir, self.seg_map_suffix,
                                               self.split)
        self.check_integrity()

    def _join_root(self, path: Optional[str]) -> Optional[str]:
        if path is None or self.data_root is None or osp.isabs(path):
            return path
        return osp.join(self.data_root, path)

    def __len__(self) -> int:
        return len(self.img_infos)

    # ------------------------------------------------------------------ annotations

    def load_annotations(self, img_dir: str, img_suffix: str, ann_dir: Optional[str], seg_map_suffix: str,
                         split: Optional[str]) -> List[dict]:
        """One ``dict(filename=..., ann=dict(seg_map=...))`` per sample, sorted by file name."""
        where = f' (data_root={self.data_root!r})' if self.data_root else ''
        hint = f'; {self.data_hint()}'
        if not osp.isdir(img_dir):
            raise DataError(f'img_dir {img_dir!r} is not a directory{where}{hint}')
        if ann_dir is not None and not osp.isdir(ann_dir):
            raise DataError(f'ann_dir {ann_dir!r} is not a directory{where}{hint}')
        if split is not None:
            if not osp.isfile(split):
                raise DataError(f'split file {split!r} not found{where}{hint}')
            with open(split) as f:
                names = [line.strip() + img_suffix for line in f if line.strip()]
        else:
            names = scan_images(img_dir, img_suffix)
        if not names:
            raise DataError(f'no images ending with {img_suffix!r} in img_dir {img_dir!r}{where}'
                            + (f' listed in split {split!r}' if split else '') + hint)
        infos = []
        for name in names:
            info = dict(filename=name)
            if ann_dir is not None:
                info['ann'] = dict(seg_map=name[:len(name) - len(img_suffix)] + seg_map_suffix)
            infos.append(info)
        infos.sort(key=lambda x: x['filename'])
        if ann_dir is not None and split is None:
            self._warn_orphan_labels(names, img_suffix, ann_dir, seg_map_suffix)
        print_log(f'Loaded {len(infos)} images from {img_dir}')
        return infos

    def data_hint(self) -> str:
        """How to get or convert this dataset's files (:attr:`DATA_HINT` for this data root)."""
        return self.DATA_HINT.format(root=(self.data_root or 'DATA_ROOT').rstrip('/'))

    @staticmethod
    def _warn_orphan_labels(names: List[str], img_suffix: str, ann_dir: str, seg_map_suffix: str) -> None:
        """Warn about label maps in ``ann_dir`` that no image uses (a missing image, or a misnamed file)."""
        stems = {name[:len(name) - len(img_suffix)] for name in names}
        orphans = [name for name in scan_images(ann_dir, seg_map_suffix)
                   if name[:len(name) - len(seg_map_suffix)] not in stems]
        if orphans:
            shown = ', '.join(osp.join(ann_dir, name) for name in orphans[:5])
            warn_once(f'{len(orphans)} label map(s) without an image are not used: {shown}'
                      + (f' and {len(orphans) - 5} more' if len(orphans) > 5 else ''))

    def get_ann_info(self, idx: int) -> dict:
        return self.img_infos[idx]['ann']

    def check_integrity(self, skip_bad_samples: Optional[bool] = None) -> List[str]:
        """Check every sample's files exist, have readable headers and matching image/label sizes.

        Bad samples raise a DataError naming them, or with ``skip_bad_samples`` are dropped and logged.
        Decoding is checked later, when each sample is loaded. Returns the reasons of dropped samples.
        """
        skip = self.skip_bad_samples if skip_bad_samples is None else skip_bad_samples
        bad = check_samples(self.img_infos, self.img_dir, self.ann_dir)
        if not bad:
            return []
        reasons = [reason for _, reason in bad]
        if not skip:
            shown = '; '.join(reasons[:5]) + (f'; and {len(reasons) - 5} more' if len(reasons) > 5 else '')
            hint = f'; {self.data_hint()}' if any('has no label map' in r for r in reasons) else ''
            raise DataError(f'{len(bad)} bad sample(s) in {self.img_dir}: {shown} '
                            f'(set skip_bad_samples=True in the dataset config to leave them out){hint}')
        drop = {idx for idx, _ in bad}
        self.img_infos = [info for i, info in enumerate(self.img_infos) if i not in drop]
        print_log(f'skip_bad_samples: left out {len(drop)} of {len(drop) + len(self.img_infos)} samples in '
                  f'{self.img_dir}: ' + '; '.join(reasons), level=logging.WARNING)
        if not self.img_infos:
            raise DataError(f'no usable samples left in {self.img_dir} after skipping bad ones')
        return reasons

    # ------------------------------------------------------------------ samples

    def pre_pipeline(self, results: dict) -> None:
        """Add the folders, label map and label checks the loading transforms use."""
        results['seg_fields'] = []
        results['img_prefix'] = self.img_dir
        results['seg_prefix'] = self.ann_dir
        label_map = self.full_label_map()
        if label_map:
            results['label_map'] = label_map
        if self.CLASSES is not None:
            results['num_classes'] = len(self.CLASSES)
            results['ignore_index'] = self.ignore_index

    def full_label_map(self) -> Dict[int, int]:
        """``LABEL_MAP`` followed by the class-subset map, as one raw label → label dict."""
        raw, subset = dict(self.LABEL_MAP or {}), dict(self.label_map or {})
        return {key: subset.get(raw.get(key, key), raw.get(key, key)) for key in set(raw) | set(subset)}

    def prepare_train_img(self, idx: int) -> Optional[dict]:
        results = dict(img_info=self.img_infos[idx], ann_info=self.get_ann_info(idx))
        self.pre_pipeline(results)
        return self.pipeline(results)

    def prepare_test_img(self, idx: int) -> Optional[dict]:
        results = dict(img_info=self.img_infos[idx])
        self.pre_pipeline(results)
        return self.pipeline(results)

    def __getitem__(self, idx: int) -> Optional[dict]:
        with sample_random_state(idx):
            if self.test_mode:
                return self.prepare_test_img(int(idx))
            return self._prepare_train_skipping(int(idx))

    def _prepare_train_skipping(self, idx: int) -> Optional[dict]:
        for attempt in range(len(self)):
            current = (idx + attempt) % len(self)
            try:
                return self.prepare_train_img(current)
            except DataError as err:
                if not self.skip_bad_samples:
                    raise
                self.num_skipped = getattr(self, 'num_skipped', 0) + 1
                warn_once(f'skip_bad_samples: skipping sample {self.img_infos[current]["filename"]}: {err} '
                          f'({self.num_skipped} sample(s) skipped so far in this process)')
        raise DataError(f'every sample of {self.img_dir} failed to load')

    # ------------------------------------------------------------------ classes

    def get_classes_and_palette(self, classes=None, palette=None):
        """``(CLASSES, PALETTE)``; a ``classes`` subset sets ``label_map`` (old id → new id or 255)."""
        if classes is None:
            return self.CLASSES, self.PALETTE
        self.custom_classes = True
        if isinstance(classes, str):
            if not osp.isfile(classes):
                raise ConfigError(f'classes file {classes!r} not found')
            with open(classes) as f:
                class_names = [line.strip() for line in f if line.strip()]
        elif isinstance(classes, (tuple, list)):
            class_names = list(classes)
        else:
            raise ConfigError(f'classes must be a list of names or a file name, got {classes!r}')
        if self.CLASSES:
            unknown = [c for c in class_names if c not in self.CLASSES]
            if unknown:
                raise ConfigError(f'classes {unknown} are not classes of {type(self).__name__} ({list(self.CLASSES)})')
            self.label_map = {i: (class_names.index(c) if c in class_names else 255)
                              for i, c in enumerate(self.CLASSES)}
        return class_names, self.get_palette_for_custom_classes(class_names, palette)

    def get_palette_for_custom_classes(self, class_names: Sequence[str], palette=None):
        if self.label_map is not None:
            by_new_id = sorted(self.label_map.items(), key=lambda item: item[1])
            return [list(self.PALETTE[old]) for old, new in by_new_id if new != 255]
        if palette is None:
            if self.PALETTE is None:
                return np.random.RandomState(42).randint(0, 255, size=(len(class_names), 3)).tolist()
            return self.PALETTE
        return palette
