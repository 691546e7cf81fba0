"""Generate golden outputs of the *official* DDRNet code (ydhongHIT/DDRNet), for tests/models/test_official_goldens.py.

Usage (the official code is never committed; fetch it yourself)::

    git clone https://github.com/ydhongHIT/DDRNet /tmp/DDRNet
    python tests/models/goldens/make_official_goldens.py /tmp/DDRNet/segmentation [--out tests/models/goldens]

The files used were those of commit de0db31 (segmentation/DDRNet_23_slim.py and DDRNet_39.py).

For two architectures of the official ``DualResNet`` class (the DDRNet-23(-slim) file with ``layers=[2, 2, 2, 2]``,
and the DDRNet-39 file with ``layers=[3, 4, 6, 3]``, whose module names differ), built at reduced widths so that
the files stay small, with ``augment=True`` (the auxiliary ``seghead_extra``), this writes
``official_<name>.pth`` holding:

* ``state_dict``: the official model's weights (float32): the official initialisation under a fixed seed,
  BatchNorm running statistics measured on random images and random BN affine parameters, so that every
  tensor matters to the output;
* ``image``: a uint8 image (1x3xHxW); the network's input is ``(image / 255 - 0.5) / 0.25``;
* ``logits``, ``aux_logits``: the official model's two outputs (1/8 resolution), eval mode, float64;
* ``arch``: the ``DualResNet`` arguments, and ``source``: the file they came from.

It also writes ``official_param_counts.json``: the parameter counts of the official full-size segmentation
models as the files' ``get_seg_model`` builds them (19 classes, no auxiliary head).
"""
import argparse
import importlib.util
import json
import os
import os.path as osp

import torch
from torch import nn

VARIANTS = {
    # name: (official file, DualResNet arguments at reduced width)
    'slim': ('DDRNet_23_slim.py', dict(layers=[2, 2, 2, 2], num_classes=5, planes=4, spp_planes=8,
                                       head_planes=8, augment=True)),
    '39': ('DDRNet_39.py', dict(layers=[3, 4, 6, 3], num_classes=5, planes=4, spp_planes=8, head_planes=8,
                                augment=True)),
}
FULL_SIZE = {'ddrnet_23_slim': 'DDRNet_23_slim.py', 'ddrnet_23': 'DDRNet_23.py', 'ddrnet_39': 'DDRNet_39.py'}
IMAGE_SIZE = (128, 192)


def load_official(directory: str, filename: str):
    """The official module, with SyncBatchNorm replaced by BatchNorm2d (same parameters, runs on CPU)."""
    spec = importlib.util.spec_from_file_location(f'official_{filename[:-3]}', osp.join(directory, filename))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.BatchNorm2d = nn.BatchNorm2d
    return module


def to_input(image: torch.Tensor) -> torch.Tensor:
    return (image.double() / 255 - 0.5) / 0.25


def build(module, arch: dict, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    arch = dict(arch)
    model = module.DualResNet(module.BasicBlock, arch.pop('layers'), **arch)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:  # measure running statistics on random images (cumulative average)
        m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.randn(4, 3, *IMAGE_SIZE))
        for m in bns:
            m.momentum = 0.1
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0, 0.2)
    return model.eval()


def make_golden(directory: str, name: str, out_dir: str) -> str:
    filename, arch = VARIANTS[name]
    model = build(load_official(directory, filename), arch, seed=0)
    torch.manual_seed(1)
    image = torch.randint(0, 256, (1, 3, *IMAGE_SIZE), dtype=torch.uint8)
    state_dict = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        logits, aux_logits = model.double()(to_input(image))
    path = osp.join(out_dir, f'official_{name}.pth')
    torch.save(dict(state_dict=state_dict, image=image, logits=logits, aux_logits=aux_logits, arch=arch,
                    source=f'ydhongHIT/DDRNet segmentation/{filename} (commit de0db31)'), path)
    return path


def param_counts(directory: str) -> dict:
    counts = {}
    for name, filename in FULL_SIZE.items():
        model = load_official(directory, filename).get_seg_model(None)
        counts[name] = sum(p.numel() for p in model.parameters())
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('official_dir', help="the official repository's segmentation/ folder")
    parser.add_argument('--out', default=osp.dirname(osp.abspath(__file__)))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in VARIANTS:
        path = make_golden(args.official_dir, name, args.out)
        print(f'{path}: {osp.getsize(path)} bytes')
    counts = param_counts(args.official_dir)
    with open(osp.join(args.out, 'official_param_counts.json'), 'w') as f:
        json.dump(dict(counts, source='get_seg_model() of ydhongHIT/DDRNet segmentation/*.py (commit de0db31), '
                                      '19 classes, augment=False'), f, indent=1)
        f.write('\n')
    print(counts)


if __name__ == '__main__':
    main()
