"""``CityscapesDataset``: ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with ``gtFine`` train-id labels."""
import os.path as osp
import shutil
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from ..metrics import CITYSCAPES_CLASSES, CITYSCAPES_PALETTE, evaluate_cityscapes
from ..registry import DATASETS
from ..utils import ConfigError, DataError
from .custom import CustomDataset


def train_id_to_label_id_table() -> np.ndarray:
    """uint8[256] mapping Cityscapes train ids (0–18) to label ids; other values are kept."""
    import cityscapesscripts.helpers.labels as cs_labels
    table = np.arange(256, dtype=np.uint8)
    for train_id, label in cs_labels.trainId2label.items():
        if 0 <= train_id < 255:
            table[train_id] = label.id
    return table


@DATASETS.register_module()
class CityscapesDataset(CustomDataset):
    """The 19-class Cityscapes dataset (label files made by ``tools/convert_datasets/cityscapes.py``).

    ``evaluate(..., metric='cityscapes')`` runs the official evaluation on label-id PNGs written by
    :meth:`format_results`; the other metrics are computed from confusion matrices as for any dataset.
    """

    CLASSES = CITYSCAPES_CLASSES
    PALETTE = CITYSCAPES_PALETTE
    DATA_HINT = ('to get Cityscapes, download leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip from '
                 'https://www.cityscapes-dataset.com into {root}, unzip them and run '
                 'python tools/convert_datasets/cityscapes.py {root} (a synthetic demo dataset: '
                 'bash tools/quickstart.sh); '
                 'or set data.train.data_root etc. with --cfg-options')

    def __init__(self, img_suffix: str = '_leftImg8bit.png', seg_map_suffix: str = '_gtFine_labelTrainIds.png',
                 **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)

    def result_basename(self, index: int) -> str:
        name = osp.basename(self.img_infos[index]['filename'])
        return name[:-len(self.img_suffix)] if name.endswith(self.img_suffix) else osp.splitext(name)[0]

    def format_results(self, results: Sequence[np.ndarray], imgfile_prefix: str, to_label_id: bool = True,
                       indices: Optional[Sequence[int]] = None, **kwargs) -> List[str]:
        """Write ``<imgfile_prefix>/<city>_<seq>_<frame>_labelIds.png`` for the benchmark server.

        With ``to_label_id`` the train ids (0–18) become Cityscapes label ids, as the server and
        cityscapesscripts expect; otherwise train ids are written (``*_labelTrainIds.png``).
        """
        if to_label_id:
            table = train_id_to_label_id_table()
            return self._write_label_pngs(results, imgfile_prefix, indices, lambda seg: table[seg.astype(np.uint8)],
                                          '_labelIds')
        return self._write_label_pngs(results, imgfile_prefix, indices, lambda seg: seg, '_labelTrainIds')

    def evaluate(self, results: Sequence, metric: Union[str, Sequence[str]] = 'mIoU', logger=None,
                 imgfile_prefix: Optional[str] = None, gt_seg_maps=None, **kwargs) -> Dict[str, object]:
        """As :meth:`CustomDataset.evaluate`, plus ``'cityscapes'``: the official evaluation.

        For ``'cityscapes'`` the results are label maps (in dataset order; written to
        ``imgfile_prefix`` or a temporary folder) or the files :meth:`format_results` wrote;
        confusion matrices need ``imgfile_prefix`` to hold the formatted predictions already.
        """
        metrics = [metric] if isinstance(metric, str) else list(metric)
        eval_results: Dict[str, object] = {}
        if 'cityscapes' in metrics:
            metrics.remove('cityscapes')
            eval_results.update(self._evaluate_cityscapes(list(results), logger, imgfile_prefix))
            if metrics and all(isinstance(r, str) for r in results):
                raise ConfigError('mIoU-style metrics need label maps or confusion matrices, not result files')
        if metrics:
            eval_results.update(super().evaluate(results, metrics, logger, gt_seg_maps=gt_seg_maps, **kwargs))
        return eval_results

    def _evaluate_cityscapes(self, results: list, logger, imgfile_prefix: Optional[str]) -> Dict[str, object]:
        if self.ann_dir is None:
            raise ConfigError('metric "cityscapes" needs ann_dir (gtFine/<split>) with *_gtFine_labelIds.png')
        gt_files = [self._label_ids_file(i) for i in range(len(self))]
        missing = [f for f in gt_files if not osp.isfile(f)]
        if missing:
            raise DataError(f'{len(missing)} ground-truth label-id files are missing, e.g. {missing[0]}; '
                            'metric "cityscapes" compares against the *_gtFine_labelIds.png of the gtFine download')
        if results and all(isinstance(r, str) for r in results):
            return evaluate_cityscapes(imgfile_prefix or osp.dirname(results[0]), self.ann_dir, logger, gt_files)
        if results and all(isinstance(r, np.ndarray) for r in results) and not self._is_confusion(results):
            tmp = tempfile.mkdtemp(prefix='cityscapes_eval_') if imgfile_prefix is None else None
            try:
                self.format_results(results, tmp or imgfile_prefix, to_label_id=True)
                return evaluate_cityscapes(tmp or imgfile_prefix, self.ann_dir, logger, gt_files)
            finally:
                if tmp is not None:
                    shutil.rmtree(tmp, ignore_errors=True)
        if imgfile_prefix is None:
            raise ConfigError('metric "cityscapes" needs label maps, their formatted files, or imgfile_prefix '
                              'pointing at predictions written by format_results')
        return evaluate_cityscapes(imgfile_prefix, self.ann_dir, logger, gt_files)

    def _label_ids_file(self, index: int) -> str:
        seg_map = self.img_infos[index]['ann']['seg_map']
        return osp.join(self.ann_dir, seg_map[:-len(self.seg_map_suffix)] + '_gtFine_labelIds.png')
