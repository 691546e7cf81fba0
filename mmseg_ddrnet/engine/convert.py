"""Convert DDRNet checkpoints from elsewhere into this package's format.

Three sources are understood:

* ``official``: segmentation checkpoints of the official code (ydhongHIT/DDRNet; DDRNet-23-slim, -23, -39),
  optionally saved through the HRNet training wrapper (``model.`` key prefix, ``loss.criterion.weight``);
* ``official-imagenet``: the official ImageNet-pretrained backbones, for a config's ``pretrained=``
  (the classifier is dropped; the keys are relative to the backbone);
* ``mmseg``: mmsegmentation 1.x DDRNet checkpoints, whose key names this package uses, except that
  DDRHead's auxiliary classifier (``decode_head.aux_head``/``aux_cls_seg``) is the mmseg 0.x-style
  ``auxiliary_head`` here.

The official stem convolutions have a bias followed by BatchNorm; ours have none. The bias is folded into
the BN running mean, ``BN(conv(x) + b) == BN'(conv(x))`` with ``running_mean' = running_mean - b``, which is
exact in eval mode and irrelevant in train mode (batch statistics absorb any constant).

Source files are read with ``torch.load(weights_only=True)``; objects it refuses (numpy scalars, mmengine
message-hub buffers in training checkpoints) are replaced by inert placeholders and dropped, so no code
from a checkpoint ever runs; a file that would call anything else (``os.system``...) is refused.
``unsafe=True`` (``--unsafe-load``) unpickles a trusted legacy file in full.
"""
import os
import pickle
import re
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from ..utils import CheckpointError
from ..version import __version__
from .checkpoint import PathLike, StateDict, extract_state_dict, save_checkpoint
from .safe_load import check_checkpoint_file, corrupt_message, load_file, needed_global, refused_error

SRC_FORMATS = ('official', 'official-imagenet', 'mmseg')
_MAX_PLACEHOLDERS = 64
#: Modules whose classes and functions foreign checkpoints hold as data (numpy arrays and scalars, mmengine
#: message-hub buffers, config dicts): read as inert placeholders. Any other global is refused.
DATA_MODULES = ('numpy.', 'mmengine.', 'mmcv.', 'mmseg.', 'mmdet.', 'collections.', '_codecs.', 'torch.')
_CLASSIFIERS = ('decode_head.conv_seg.', 'auxiliary_head.conv_seg.')
_HEADS = ('decode_head.', 'auxiliary_head.')


# ----------------------------------------------------------------------------------------------- reading
class _Opaque:
    """Stands in for a class a checkpoint names but that ``weights_only`` refuses: built, never run."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def _placeholder(qualified_name: str) -> Tuple[type, str]:
    if '.' not in qualified_name:  # torch names builtins without their module
        qualified_name = f'builtins.{qualified_name}'
    return type(qualified_name.rsplit('.', 1)[-1], (_Opaque,), {'__module__': 'opaque'}), qualified_name


def read_foreign_checkpoint(filename: PathLike, unsafe: bool = False) -> Any:
    """Load a checkpoint written by other code, safely.

    Uses ``torch.load(weights_only=True)``; a refused global of a data library (numpy, mmengine, mmcv,
    mmseg...: see :data:`DATA_MODULES`) is replaced by an inert placeholder and the load retried, so tensors,
    numbers, strings, lists and dicts come back and nothing is executed. Any other global (``os.system``,
    ``builtins.eval``...) is refused, naming it. ``unsafe=True`` unpickles the file in full instead
    (``--unsafe-load``: only for trusted files).
    """
    filename = os.fspath(filename)
    if unsafe:
        return load_file(filename, unsafe=True)
    check_checkpoint_file(filename)
    refused: List[str] = []
    while True:
        try:
            with torch.serialization.safe_globals([_placeholder(name) for name in refused]):
                return torch.load(filename, map_location='cpu', weights_only=True)
        except pickle.UnpicklingError as err:
            name = needed_global(err, filename)
            if name is not None and ('is blocked' in str(err) or not name.startswith(DATA_MODULES)):
                raise refused_error(filename, name) from err
            if name is None or name in refused or len(refused) >= _MAX_PLACEHOLDERS:
                raise CheckpointError(corrupt_message(filename, err)) from err
            refused.append(name)
        except MemoryError:
            raise
        except Exception as err:  # noqa: BLE001  unpickling garbage raises anything (IndexError, KeyError...)
            raise CheckpointError(corrupt_message(filename, err)) from err


def plain_data(obj: Any) -> Any:
    """``obj`` with every placeholder (see :func:`read_foreign_checkpoint`) removed, recursively."""
    if isinstance(obj, _Opaque):
        return None
    if isinstance(obj, dict):
        return {key: plain_data(value) for key, value in obj.items() if not isinstance(value, _Opaque)}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain_data(value) for value in obj if not isinstance(value, _Opaque))
    return obj


# ----------------------------------------------------------------------------------- official → ours
def _strip_wrappers(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """Drop DDP ``module.`` / HRNet ``model.`` prefixes and the wrapper's loss weights."""
    out = OrderedDict()
    for key, value in state_dict.items():
        key = re.sub(r'^(module\.)?(model\.)?', '', key)
        if not key.startswith('loss.'):
            out[key] = value
    return out


def _stage_names(state_dict: StateDict) -> List[str]:
    """Official names of the fusion stages: ``['3', '4']`` (DDRNet-23) or ``['3_1', '3_2', '4']`` (-39)."""
    return ['3_1', '3_2', '4'] if any(k.startswith('layer3_1.') for k in state_dict) else ['3', '4']


def _official_rules(stages: Sequence[str]) -> List[Tuple[str, str]]:
    """``(pattern, replacement)`` pairs mapping official module prefixes to ours (backbone-relative)."""
    rules = [(r'conv1\.0\.', 'stem.0.conv.'), (r'conv1\.1\.', 'stem.0.bn.'),
             (r'conv1\.3\.', 'stem.1.conv.'), (r'conv1\.4\.', 'stem.1.bn.'),
             (r'layer1\.', 'stem.2.'), (r'layer2\.', 'stem.4.')]
    for i, stage in enumerate(list(stages) + ['5']):
        rules += [(rf'layer{stage}\.', f'context_branch_layers.{i}.'),
                  (rf'layer{stage}_\.', f'spatial_branch_layers.{i}.')]
    last = len(stages)
    for i, stage in enumerate(stages, start=1):
        rules.append((rf'compression{stage}\.0\.', f'compression_{i}.conv.'))
        rules.append((rf'compression{stage}\.1\.', f'compression_{i}.bn.'))
        if i < last:
            rules += [(rf'down{stage}\.0\.', f'down_{i}.conv.'), (rf'down{stage}\.1\.', f'down_{i}.bn.')]
        else:
            rules += [(rf'down{stage}\.0\.', f'down_{i}.0.conv.'), (rf'down{stage}\.1\.', f'down_{i}.0.bn.'),
                      (rf'down{stage}\.3\.', f'down_{i}.1.conv.'), (rf'down{stage}\.4\.', f'down_{i}.1.bn.')]
    rules += [(r'spp\.scale0\.0\.', 'spp.scales.0.bn.'), (r'spp\.scale0\.2\.', 'spp.scales.0.conv.')]
    for i in range(1, 5):
        rules += [(rf'spp\.scale{i}\.1\.', f'spp.scales.{i}.1.bn.'),
                  (rf'spp\.scale{i}\.3\.', f'spp.scales.{i}.1.conv.'),
                  (rf'spp\.process{i}\.0\.', f'spp.processes.{i - 1}.bn.'),
                  (rf'spp\.process{i}\.2\.', f'spp.processes.{i - 1}.conv.')]
    for name in ('compression', 'shortcut'):
        rules += [(rf'spp\.{name}\.0\.', f'spp.{name}.bn.'), (rf'spp\.{name}\.2\.', f'spp.{name}.conv.')]
    for official, head in (('final_layer', 'decode_head'), ('seghead_extra', 'auxiliary_head')):
        rules += [(rf'{official}\.bn1\.', f'{head}.head.0.bn.'), (rf'{official}\.conv1\.', f'{head}.head.0.conv.'),
                  (rf'{official}\.bn2\.', f'{head}.head.1.'), (rf'{official}\.conv2\.', f'{head}.conv_seg.')]
    return rules


_BLOCK_RULES = [(r'\.(\d+)\.conv(\d)\.', r'.\1.conv\2.conv.'), (r'\.(\d+)\.bn(\d)\.', r'.\1.conv\2.bn.')]
_BLOCK_OWNERS = ('stem.2.', 'stem.4.', 'context_branch_layers.', 'spatial_branch_layers.')


def _rename_official(key: str, rules: Sequence[Tuple[str, str]]) -> Optional[str]:
    """Our name for an official key, or None when no rule covers it."""
    for pattern, replacement in rules:
        if re.match(pattern, key):
            key = re.sub('^' + pattern, replacement, key)
            break
    else:
        return None
    if key.startswith(_BLOCK_OWNERS):
        for pattern, replacement in _BLOCK_RULES:
            key = re.sub(pattern, replacement, key)
    return key if key.startswith(_HEADS) else f'backbone.{key}'


def fold_conv_bias_into_bn(bias: torch.Tensor, running_mean: torch.Tensor) -> torch.Tensor:
    """The running mean that makes ``BN(conv(x))`` equal the original ``BN(conv(x) + bias)``."""
    return running_mean - bias


def _fold_stem_biases(state_dict: 'OrderedDict[str, torch.Tensor]') -> None:
    for conv, bn in (('conv1.0', 'conv1.1'), ('conv1.3', 'conv1.4')):
        bias = state_dict.pop(f'{conv}.bias', None)
        if bias is None:
            continue
        mean_key = f'{bn}.running_mean'
        if mean_key not in state_dict:
            raise CheckpointError(f'official checkpoint has {conv}.bias but no {mean_key} to fold it into')
        state_dict[mean_key] = fold_conv_bias_into_bn(bias, state_dict[mean_key])


def convert_official(state_dict: StateDict, imagenet: bool = False) -> 'OrderedDict[str, torch.Tensor]':
    """Rename an official DDRNet state dict to ours, folding the stem biases into BN.

    Segmentation checkpoints give full-model keys (``backbone.*``, ``decode_head.*``); with ``imagenet``
    the classification head (``down5``, ``last_layer``, ``linear``) is dropped and the keys are relative
    to the backbone, as ``pretrained=`` expects. Unknown keys raise :class:`CheckpointError`.
    """
    state = _strip_wrappers(state_dict)
    if imagenet:
        state = OrderedDict((k, v) for k, v in state.items()
                            if not k.startswith(('down5.', 'last_layer.', 'linear.')))
    _fold_stem_biases(state)
    rules = _official_rules(_stage_names(state))
    out, unknown = OrderedDict(), []
    for key, value in state.items():
        new_key = _rename_official(key, rules)
        if new_key is None or (imagenet and new_key.startswith(_HEADS)):
            unknown.append(key)
        else:
            out[new_key] = value
    if unknown:
        what = 'an official ImageNet DDRNet backbone' if imagenet else 'an official DDRNet segmentation model'
        raise CheckpointError(f'{len(unknown)} key(s) are not those of {what}: {", ".join(unknown[:8])}'
                              f'{", ..." if len(unknown) > 8 else ""} (check --src-format)')
    if imagenet:
        out = OrderedDict((k[len('backbone.'):], v) for k, v in out.items())
    return out


# -------------------------------------------------------------------------------------- mmseg → ours
_DDRNET_PREFIXES = ('backbone.stem.', 'backbone.context_branch_layers.', 'backbone.spatial_branch_layers.',
                    'backbone.compression_', 'backbone.down_', 'backbone.spp.', 'decode_head.head.',
                    'decode_head.conv_seg.', 'decode_head.aux_head.', 'decode_head.aux_cls_seg.')
# mmseg 1.x keeps the auxiliary classifier inside DDRHead; here it is the 0.x-style auxiliary_head.
_MMSEG_AUX_RENAMES = ((r'^decode_head\.aux_head\.', 'auxiliary_head.head.'),
                      (r'^decode_head\.aux_cls_seg\.', 'auxiliary_head.conv_seg.'))


def convert_mmseg(state_dict: StateDict) -> 'OrderedDict[str, torch.Tensor]':
    """An mmsegmentation 1.x DDRNet state dict in our naming.

    The backbone and main-head names are the same; DDRHead's ``aux_head``/``aux_cls_seg`` become
    ``auxiliary_head.head``/``auxiliary_head.conv_seg``; a DDP ``module.`` prefix is removed. Keys that
    are not DDRNet's (another model) raise :class:`CheckpointError` naming them.
    """
    state = OrderedDict((re.sub(r'^module\.', '', key), value) for key, value in state_dict.items())
    unknown = [key for key in state if not key.startswith(_DDRNET_PREFIXES)]
    if unknown:
        raise CheckpointError(f'{len(unknown)} key(s) are not those of an mmsegmentation DDRNet model: '
                              f'{", ".join(unknown[:8])}{", ..." if len(unknown) > 8 else ""} (check --src-format)')
    out = OrderedDict()
    for key, value in state.items():
        for pattern, replacement in _MMSEG_AUX_RENAMES:
            key = re.sub(pattern, replacement, key)
        out[key] = value
    return out


def mmseg_meta(checkpoint: dict) -> Dict[str, Any]:
    """``CLASSES``/``PALETTE`` from an mmsegmentation checkpoint's meta (1.x ``dataset_meta`` or 0.x)."""
    meta = plain_data(checkpoint.get('meta') or {})
    if not isinstance(meta, dict):
        return {}
    dataset_meta = meta.get('dataset_meta') if isinstance(meta.get('dataset_meta'), dict) else {}
    classes = dataset_meta.get('classes', meta.get('CLASSES'))
    palette = dataset_meta.get('palette', meta.get('PALETTE'))
    out = {}
    if classes is not None:
        out['CLASSES'] = [str(c) for c in classes]
    if palette is not None:
        out['PALETTE'] = [[int(v) for v in colour] for colour in palette]
    return out


def official_meta(state_dict: StateDict) -> Dict[str, Any]:
    """``CLASSES``/``PALETTE`` of the dataset an official checkpoint was trained on, told by its class count.

    The official DDRNet models were trained on Cityscapes (19 classes) and CamVid (11 classes).
    """
    from ..core.evaluation.class_names import CAMVID_CLASSES, CAMVID_PALETTE, CITYSCAPES_CLASSES, CITYSCAPES_PALETTE

    weight = state_dict.get('decode_head.conv_seg.weight')
    known = {len(CITYSCAPES_CLASSES): (CITYSCAPES_CLASSES, CITYSCAPES_PALETTE),
             len(CAMVID_CLASSES): (CAMVID_CLASSES, CAMVID_PALETTE)}
    if weight is None or weight.shape[0] not in known:
        return {}
    classes, palette = known[weight.shape[0]]
    return {'CLASSES': list(classes), 'PALETTE': [list(colour) for colour in palette]}


# ----------------------------------------------------------------------------------------- the tool
def drop_classifier(state_dict: StateDict, num_classes: int) -> Tuple['OrderedDict[str, torch.Tensor]', bool]:
    """Remove the classifier layers when they do not predict ``num_classes`` classes (for fine-tuning)."""
    weight = state_dict.get('decode_head.conv_seg.weight')
    if weight is None or weight.shape[0] == num_classes:
        return OrderedDict(state_dict), False
    return OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(_CLASSIFIERS)), True


_CONVERTERS: Dict[str, Callable[[StateDict], StateDict]] = {
    'official': convert_official,
    'official-imagenet': lambda sd: convert_official(sd, imagenet=True),
    'mmseg': convert_mmseg,
}


def convert_checkpoint(src: PathLike, dst: PathLike, src_format: str,
                       num_classes: Optional[int] = None, unsafe: bool = False) -> dict:
    """Convert the checkpoint ``src`` (``src_format`` in :data:`SRC_FORMATS`) and save it to ``dst``.

    The result is ``{'meta': {...}, 'state_dict': {...}}``, loadable with ``weights_only=True``.
    With ``num_classes``, a classifier of another size is dropped (the model re-initialises it).
    ``unsafe``: unpickle ``src`` in full (see :func:`read_foreign_checkpoint`). Returns the saved checkpoint.
    """
    if src_format not in _CONVERTERS:
        raise CheckpointError(f'unknown --src-format {src_format!r}; choose one of {", ".join(SRC_FORMATS)}')
    raw = read_foreign_checkpoint(src, unsafe=unsafe)
    if not isinstance(raw, dict):
        raise CheckpointError(f'checkpoint {src} is a {type(raw).__name__}, not a dict of weights')
    try:
        state_dict = _CONVERTERS[src_format](extract_state_dict(_weights_of(raw), src))
    except CheckpointError as err:
        if os.fspath(src) in str(err):
            raise
        raise CheckpointError(f'{os.fspath(src)}: {err}') from err
    meta = {'converted_from': os.path.basename(os.fspath(src)), 'src_format': src_format,
            'mmseg_ddrnet_version': __version__}
    if src_format == 'mmseg':
        meta.update(mmseg_meta(raw))
    elif src_format == 'official':
        meta.update(official_meta(state_dict))
    if num_classes is not None:
        state_dict, dropped = drop_classifier(state_dict, num_classes)
        if dropped:
            meta.pop('CLASSES', None), meta.pop('PALETTE', None)
            meta['dropped_classifier'] = True
    checkpoint = {'meta': meta, 'state_dict': OrderedDict((k, v.detach().clone().contiguous())
                                                          for k, v in state_dict.items())}
    save_checkpoint(checkpoint, dst)
    return checkpoint


def _weights_of(raw: dict) -> dict:
    """The part of a loaded checkpoint holding the weights (``state_dict``, ``model`` or the whole)."""
    for key in ('state_dict', 'model'):
        if isinstance(raw.get(key), dict):
            return {'state_dict': raw[key]}
    return raw
