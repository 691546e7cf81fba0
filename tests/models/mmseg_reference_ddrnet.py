"""Run by the mmsegmentation 1.2.2 reference Python (not collected by pytest).

Builds mmseg's DDRNet (EncoderDecoder + DDRNet + DDRHead) with random weights and realistic random BN
statistics, and writes to OUT/<variant>/: ``mmseg.pth`` (a checkpoint as mmengine writes it: ``meta`` with
``dataset_meta``, ``state_dict``, a ``message_hub`` holding non-tensor objects), ``input.pth`` and
``logits.pth`` (eval-mode decode-head logits at 1/8 resolution, and resized to the input size).

With ``--load FILE`` the weights come from FILE (a state dict in mmseg naming) instead, and with
``--input FILE`` the input, to check a conversion from another source against mmseg's forward pass.

usage: python mmseg_reference_ddrnet.py OUT [--variant {slim,23} ...] [--size H W] [--seed S] [--num-classes C]
                                            [--load FILE] [--input FILE]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F

VARIANTS = {'slim': (32, 64), '23': (64, 128)}  # backbone channels, head channels


def build(variant: str, num_classes: int):
    from mmseg.registry import MODELS
    from mmseg.utils import register_all_modules
    register_all_modules()
    channels, head_channels = VARIANTS[variant]
    norm_cfg = dict(type='BN', requires_grad=True)
    ce = dict(type='CrossEntropyLoss')
    return MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='DDRNet', in_channels=3, channels=channels, ppm_channels=128, norm_cfg=norm_cfg,
                      align_corners=False),
        decode_head=dict(type='DDRHead', in_channels=channels * 4, channels=head_channels, dropout_ratio=0.,
                         num_classes=num_classes, align_corners=False, norm_cfg=norm_cfg, loss_decode=[ce, ce]),
        train_cfg=dict(), test_cfg=dict(mode='whole')))


def randomize(model, size):
    """Kaiming convs, BN statistics gathered on random images, then random BN affine parameters."""
    model.init_weights()
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model.decode_head(model.backbone(torch.randn(2, 3, *size)))
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.uniform_(0.8, 1.2)
                m.bias.normal_(0, 0.1)
                m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            elif isinstance(m, torch.nn.Conv2d) and m.bias is not None:
                m.bias.normal_(0, 0.1)
        for classifier in (model.decode_head.conv_seg, model.decode_head.aux_cls_seg):
            classifier.weight.mul_(0.1)  # logits of order 1-10, where fp32 rounding stays far below 1e-4


def run(variant: str, out: str, args: argparse.Namespace) -> None:
    """Build, fill and run one variant; write its checkpoint, input and logits to ``out``."""
    torch.manual_seed(args.seed)
    model = build(variant, args.num_classes)
    if args.load:
        model.load_state_dict(torch.load(args.load, map_location='cpu'), strict=True)
    else:
        randomize(model, args.size)
    model.eval()
    x = torch.load(args.input) if args.input else torch.randn(1, 3, *args.size)
    with torch.no_grad():
        low = model.decode_head(model.backbone(x))
    full = F.interpolate(low, size=x.shape[2:], mode='bilinear', align_corners=False)
    os.makedirs(out, exist_ok=True)
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance(f'reference_{variant}')
    hub.update_scalar('train/loss', np.float64(0.5), resumed=True)
    torch.save({'meta': {'dataset_meta': {'classes': tuple(f'c{i}' for i in range(args.num_classes)),
                                          'palette': [[i, 2 * i, 3 * i] for i in range(args.num_classes)]},
                         'seed': np.int64(args.seed), 'iter': 5},
                'state_dict': model.state_dict(), 'message_hub': hub.state_dict()},
               os.path.join(out, 'mmseg.pth'))
    torch.save(x, os.path.join(out, 'input.pth'))
    torch.save({'low': low, 'full': full}, os.path.join(out, 'logits.pth'))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('out')
    parser.add_argument('--variant', choices=sorted(VARIANTS), nargs='+', default=['slim'])
    parser.add_argument('--size', type=int, nargs=2, default=(64, 128))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-classes', type=int, default=19)
    parser.add_argument('--load')
    parser.add_argument('--input', help='a saved 1x3xHxW tensor to run instead of a random one')
    args = parser.parse_args()
    if args.load and len(args.variant) > 1:
        parser.error('--load takes one --variant')
    for variant in args.variant:
        run(variant, os.path.join(args.out, variant), args)


if __name__ == '__main__':
    main()
