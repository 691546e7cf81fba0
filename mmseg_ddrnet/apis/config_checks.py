"""Early checks that a model and its datasets agree, for configs written for mmseg 0.x by others.

mmseg 0.x kept the two ignore indices apart: the decode head's ``ignore_index`` drove the loss, the dataset's
(default 255) the evaluation, so a head ignoring CamVid's void label 11 was evaluated with label 11 counted
(its pixels' predictions raised every class's union). Here, when no dataset config sets ``ignore_index``, the
datasets take the decode head's (:func:`adopt_head_ignore_index`), so the loss and the evaluation ignore the same
label. A head whose ``num_classes`` cannot hold the dataset's classes fails before training
(:func:`check_model_against_dataset`) instead of at the first batch.
"""
from typing import Any, Iterator, List, Tuple

import torch.nn as nn

from ..utils import ConfigError, print_log, warn_once
from ..utils.dist import unwrap_model

_DEFAULT_IGNORE = 255
_WRAPPERS = {'RepeatDataset': 'dataset', 'MultiImageMixDataset': 'dataset', 'ConcatDataset': 'datasets'}


def adopt_head_ignore_index(cfg: Any) -> None:
    """Give ``data.train/val/test`` datasets that do not set ``ignore_index`` the decode head's (in place).

    Only a head ``ignore_index`` other than the default 255 changes anything. Warns when a dataset config sets
    another value, and when the training pipeline pads labels with a value the head does not ignore.
    """
    head = (cfg.get('model') or {}).get('decode_head')
    if not isinstance(head, dict) or head.get('ignore_index', _DEFAULT_IGNORE) == _DEFAULT_IGNORE:
        return
    ignore = head['ignore_index']
    data = cfg.get('data') or {}
    for split in ('train', 'val', 'test'):
        for dataset in _leaf_datasets(data.get(split)):
            if 'ignore_index' not in dataset:
                dataset['ignore_index'] = ignore
                print_log(f'data.{split}: ignore_index={ignore} taken from model.decode_head (the dataset config '
                          'does not set it), so the evaluation ignores the label the loss ignores')
            elif dataset['ignore_index'] != ignore:
                warn_once(f'model.decode_head.ignore_index={ignore} but data.{split}.ignore_index='
                          f'{dataset["ignore_index"]}: the loss ignores label {ignore}, the evaluation label '
                          f'{dataset["ignore_index"]}; set the same value in both')
    for dataset in _leaf_datasets(data.get('train')):
        for step in dataset.get('pipeline') or []:
            if isinstance(step, dict) and step.get('type') == 'Pad' \
                    and step.get('seg_pad_val', _DEFAULT_IGNORE) != ignore:
                warn_once(f"data.train pipeline: Pad fills labels with seg_pad_val={step.get('seg_pad_val', 255)}, "
                          f'which model.decode_head.ignore_index={ignore} does not ignore (the loss will stop on '
                          f'padded pixels); set seg_pad_val={ignore}')


def _leaf_datasets(cfg: Any) -> Iterator[dict]:
    """The dataset configs inside ``cfg`` (a list, wrappers such as ``RepeatDataset``, or one dataset)."""
    if isinstance(cfg, (list, tuple)):
        for item in cfg:
            yield from _leaf_datasets(item)
    elif isinstance(cfg, dict):
        inner = _WRAPPERS.get(cfg.get('type'))
        if inner is None:
            yield cfg
        else:
            yield from _leaf_datasets(cfg.get(inner))


def check_model_against_dataset(model: nn.Module, dataset: Any) -> None:
    """Refuse heads with fewer classes than ``dataset.CLASSES``; warn about more, and about an ``ignore_index``
    that differs from the dataset's. Models without ``decode_head`` (exported ones) are not checked."""
    heads = _heads(unwrap_model(model))
    if not heads:
        return
    classes = getattr(dataset, 'CLASSES', None)
    name = type(dataset).__name__
    for where, head in heads:
        if classes is not None and head.num_classes < len(classes):
            raise ConfigError(f'model.{where}.num_classes={head.num_classes} but the dataset {name} has '
                              f'{len(classes)} classes (CLASSES: {_short(classes)}): labels up to '
                              f'{len(classes) - 1} cannot be predicted; set num_classes={len(classes)} in every head '
                              'or select classes with the dataset\'s classes=')
        if classes is not None and head.num_classes > len(classes):
            warn_once(f'model.{where}.num_classes={head.num_classes} but the dataset {name} has {len(classes)} '
                      f'classes (CLASSES: {_short(classes)}): the extra outputs are never labelled')
        ignore = getattr(dataset, 'ignore_index', None)
        if ignore is not None and head.ignore_index != ignore:
            warn_once(f'model.{where}.ignore_index={head.ignore_index} but the dataset {name} has ignore_index='
                      f'{ignore}: the loss ignores label {head.ignore_index}, the evaluation label {ignore}; '
                      'set the same value in both')


def _heads(model: nn.Module) -> List[Tuple[str, nn.Module]]:
    decode = getattr(model, 'decode_head', None)
    if decode is None or not hasattr(decode, 'num_classes'):
        return []
    aux = getattr(model, 'auxiliary_head', None)
    if isinstance(aux, nn.ModuleList):
        return [('decode_head', decode)] + [(f'auxiliary_head[{i}]', h) for i, h in enumerate(aux)]
    return [('decode_head', decode)] + ([('auxiliary_head', aux)] if aux is not None else [])


def _short(classes) -> str:
    names = [str(c) for c in classes]
    return ', '.join(names[:4]) + (', ...' if len(names) > 4 else '')
