"""Run by the mmsegmentation 1.2.2 reference Python (not collected by pytest).

Builds mmseg's DDRNet-23-slim or DDRNet-23 (EncoderDecoder + DDRNet + DDRHead), randomises its
weights and BN statistics, and saves ``{'state_dict', 'input', 'logits'}`` to OUT, where
``logits`` are the eval-mode decode-head logits (1/8 resolution) of a random input.

usage: python mmseg_reference_dump.py OUT CHANNELS HEAD_CHANNELS NUM_CLASSES H W
"""
import sys

import torch


def build(channels: int, head_channels: int, num_classes: int) -> torch.nn.Module:
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    norm_cfg = dict(type='BN', requires_grad=True)
    ce = dict(type='CrossEntropyLoss')
    return MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='DDRNet', channels=channels, ppm_channels=128, norm_cfg=norm_cfg),
        decode_head=dict(type='DDRHead', in_channels=channels * 4, channels=head_channels, dropout_ratio=0.,
                         num_classes=num_classes, norm_cfg=norm_cfg, loss_decode=[ce, ce]),
        test_cfg=dict(mode='whole')))


def randomise(model: torch.nn.Module) -> None:
    """Small random weights and random BN statistics, so that every layer matters."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, mode='fan_in', nonlinearity='relu')
                if m.bias is not None:
                    m.bias.normal_(0, 0.1)
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.5, 1.0)
                m.bias.normal_(0, 0.1)
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(1.0, 2.0)


def main() -> None:
    out, channels, head_channels, num_classes, h, w = sys.argv[1], *map(int, sys.argv[2:7])
    torch.manual_seed(0)
    model = build(channels, head_channels, num_classes)
    randomise(model)
    model.eval()
    img = torch.randn(1, 3, h, w)
    with torch.no_grad():
        logits = model.decode_head(model.backbone(img))
    state_dict = {k: v for k, v in model.state_dict().items()}
    torch.save(dict(state_dict=state_dict, input=img, logits=logits), out)


if __name__ == '__main__':
    main()
