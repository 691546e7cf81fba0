"""Building models from config dicts (mmseg 0.x ``build_*`` functions)."""
import copy
from typing import Optional

import torch.nn as nn

from ..registry import MODELS
from ..utils import ConfigError, print_log, warn_once


def build_backbone(cfg: dict) -> nn.Module:
    """A backbone from its config."""
    return MODELS.build(cfg)


def build_head(cfg: dict) -> nn.Module:
    """A decode or auxiliary head from its config."""
    return MODELS.build(cfg)


def build_loss(cfg: dict) -> nn.Module:
    """A loss module from its config."""
    return MODELS.build(cfg)


def build_segmentor(cfg: dict, train_cfg: Optional[dict] = None, test_cfg: Optional[dict] = None) -> nn.Module:
    """A segmentor from ``cfg.model``; ``train_cfg``/``test_cfg`` are the deprecated top-level ones.

    mmseg 1.x DDRNet configs (one ``DDRHead`` with ``loss_decode=[main, aux]``) are accepted and
    built as mmseg 0.x's ``decode_head`` + ``auxiliary_head``.
    """
    if not isinstance(cfg, dict):
        raise ConfigError(f'model config must be a dict, got {type(cfg).__name__}')
    cfg = copy.deepcopy(dict(cfg))
    if cfg.pop('data_preprocessor', None) is not None:
        warn_once('model.data_preprocessor (mmseg 1.x) is ignored: here the data pipeline normalises and pads '
                  "the images (Normalize, Pad in the dataset's pipeline)")
    for key, value in (('train_cfg', train_cfg), ('test_cfg', test_cfg)):
        if value is not None:
            if cfg.get(key) is not None:
                raise ConfigError(f'{key} is set both at the top level and in model; keep the one in model')
            cfg[key] = value
    return MODELS.build(split_mmseg1x_ddr_head(cfg))


def split_mmseg1x_ddr_head(cfg: dict) -> dict:
    """Turn mmseg 1.x's combined DDRHead into a decode head plus an auxiliary DDRHead on ``in_index=0``.

    Applies when ``decode_head`` is a ``DDRHead`` without ``in_index`` whose ``loss_decode`` is a list of
    two losses and there is no ``auxiliary_head`` (mmseg 1.x: the first loss is the main one, the
    second the auxiliary one on the backbone's 1/8 spatial feature, with ``in_channels // 2``).
    """
    head = cfg.get('decode_head')
    losses = head.get('loss_decode') if isinstance(head, dict) else None
    if not (isinstance(head, dict) and head.get('type') == 'DDRHead' and 'in_index' not in head
            and isinstance(losses, (list, tuple)) and len(losses) == 2 and cfg.get('auxiliary_head') is None):
        return cfg
    main = dict(head, loss_decode=losses[0], in_index=-1)
    aux = dict(head, loss_decode=losses[1], in_index=0, in_channels=head['in_channels'] // 2)
    print_log('model: mmseg 1.x DDRHead with two losses split into decode_head + auxiliary_head (in_index=0)')
    return dict(cfg, decode_head=main, auxiliary_head=aux)
