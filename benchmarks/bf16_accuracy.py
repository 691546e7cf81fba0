"""bf16 vs fp32 label maps of DDRNet-23-slim trained briefly on real CamVid images.

Trains the CamVid model (11 classes, BN, auxiliary head) from scratch for a few iterations on random
crops of CamVid train images (fixed seed, one thread), then segments CamVid val images with the fp32
model and with the deploy model (``prepare_for_inference(precision='bf16', fuse_conv_bn=True)``)
and reports the share of pixels whose labels agree and the mIoU of both (void = 11 ignored).

By default it evaluates the whole val split (101 images) as ``tools/test.py`` does with the CamVid
config: the image resized to 720x960, the label map resized back to 360x480. The unit test
(tests/models/test_bf16_camvid.py) runs the same recipe on a subset at the native size.

usage: python benchmarks/bf16_accuracy.py [--camvid DIR] [--iters 120] [--num-val 101] [--scale 2] [--json OUT]
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmseg_ddrnet.models import build_segmentor, prepare_for_inference  # noqa: E402
from mmseg_ddrnet.ops import confusion_matrix  # noqa: E402

NUM_CLASSES, VOID = 11, 11
MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)
DEFAULT_CAMVID = Path(__file__).resolve().parents[2] / 'shared' / 'data' / 'camvid'


def model_cfg() -> dict:
    head = dict(type='DDRHead', channels=64, dropout_ratio=0.0, num_classes=NUM_CLASSES, ignore_index=VOID,
                norm_cfg=dict(type='BN'), loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0))
    return dict(type='EncoderDecoder', backbone=dict(type='DDRNet', channels=32, ppm_channels=128),
                decode_head=dict(head, in_channels=128),
                auxiliary_head=dict(head, in_channels=64, in_index=0,
                                    loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
                test_cfg=dict(mode='whole'))


def to_tensor(img_bgr: np.ndarray) -> torch.Tensor:
    """Normalised 1x3xHxW RGB tensor of a BGR uint8 image (the CamVid config's Normalize)."""
    rgb = (img_bgr[..., ::-1].astype(np.float32) - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]


def read_pairs(root: Path, split: str, names: Sequence[str]) -> List[Tuple[np.ndarray, np.ndarray]]:
    return [(cv2.imread(str(root / split / name)), cv2.imread(str(root / f'{split}annot' / name), cv2.IMREAD_UNCHANGED))
            for name in names]


def train_briefly(root: Path, iters: int = 120, num_images: int = 16, batch: int = 4, crop: Tuple[int, int] = (240, 320),
                  seed: int = 0, lr: float = 0.02) -> torch.nn.Module:
    """DDRNet-23-slim trained from scratch on random crops (with flips) of ``num_images`` CamVid train images."""
    names = sorted(os.listdir(root / 'train'))[::max(1, len(os.listdir(root / 'train')) // num_images)][:num_images]
    pairs = read_pairs(root, 'train', names)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_segmentor(model_cfg()).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    for it in range(iters):
        imgs, labels = [], []
        for k in rng.choice(len(pairs), batch, replace=False):
            img, label = pairs[k]
            y, x = rng.integers(0, img.shape[0] - crop[0] + 1), rng.integers(0, img.shape[1] - crop[1] + 1)
            img, label = img[y:y + crop[0], x:x + crop[1]], label[y:y + crop[0], x:x + crop[1]]
            if rng.random() < 0.5:
                img, label = img[:, ::-1], label[:, ::-1]
            imgs.append(to_tensor(img))
            labels.append(torch.from_numpy(np.ascontiguousarray(label)).long()[None, None])
        for group in optimizer.param_groups:
            group['lr'] = lr * (1 - it / iters) ** 0.9
        losses = model(torch.cat(imgs), [{}] * batch, gt_semantic_seg=torch.cat(labels))
        loss = sum(v for k, v in losses.items() if 'loss' in k)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if (it + 1) % 20 == 0:
            print(f'iter {it + 1}/{iters}: loss {loss.item():.3f}', file=sys.stderr, flush=True)
    return model.eval()


def segment(model: torch.nn.Module, img_bgr: np.ndarray, scale: float) -> np.ndarray:
    """The label map at the image's size; the network sees the image resized by ``scale`` (as the test pipeline)."""
    h, w = img_bgr.shape[:2]
    img = img_bgr if scale == 1 else cv2.resize(img_bgr, (round(w * scale), round(h * scale)),
                                                 interpolation=cv2.INTER_LINEAR)
    from mmseg_ddrnet.ops import resize_argmax
    with torch.no_grad():
        return resize_argmax(model.decode_logits(to_tensor(img)), (h, w), model.align_corners)[0].numpy()


def miou(matrix: np.ndarray) -> float:
    """Mean IoU (percent) over the classes present in the labels or the predictions."""
    inter = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - inter
    return float(np.mean(inter[union > 0] / union[union > 0]) * 100)


def compare_precisions(model: torch.nn.Module, pairs: List[Tuple[np.ndarray, np.ndarray]], scale: float
                       ) -> Dict[str, float]:
    """fp32 vs bf16 deploy model on ``pairs``: label agreement (percent of pixels) and both mIoUs."""
    fp32 = [segment(model, img, scale) for img, _ in pairs]
    deploy = prepare_for_inference(model, precision='bf16', fuse_conv_bn=True)
    bf16 = [segment(deploy, img, scale) for img, _ in pairs]
    agree = sum(int((a == b).sum()) for a, b in zip(fp32, bf16)) / sum(a.size for a in fp32) * 100
    mats = {name: sum(confusion_matrix(p, label, NUM_CLASSES, VOID).numpy() for p, (_, label) in zip(preds, pairs))
            for name, preds in (('fp32', fp32), ('bf16', bf16))}
    return dict(agree_percent=agree, miou_fp32=miou(mats['fp32']), miou_bf16=miou(mats['bf16']),
                miou_diff=abs(miou(mats['fp32']) - miou(mats['bf16'])), num_images=len(pairs))


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--camvid', type=Path, default=Path(os.environ.get('CAMVID_ROOT', DEFAULT_CAMVID)),
                        help='CamVid root with train/, trainannot/, val/, valannot/ '
                             '(default: $CAMVID_ROOT, else ../shared/data/camvid)')
    parser.add_argument('--iters', type=int, default=120,
                        help='training iterations before the comparison (default 120)')
    parser.add_argument('--num-val', type=int, default=101, help='val images (default: all 101)')
    parser.add_argument('--scale', type=float, default=2.0, help='network input size / image size (config: 2)')
    parser.add_argument('--threads', type=int, default=2, help='CPU threads (default 2)')
    parser.add_argument('--json', help='write the figures to this file')
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = train_briefly(args.camvid, args.iters)
    names = sorted(os.listdir(args.camvid / 'val'))[:args.num_val]
    result = compare_precisions(model, read_pairs(args.camvid, 'val', names), args.scale)
    result.update(iters=args.iters, scale=args.scale, cpu_capability=torch.backends.cpu.get_cpu_capability(),
                  seconds=time.perf_counter() - start)
    print(f'CamVid val, {result["num_images"]} images at x{args.scale}: labels agree on {result["agree_percent"]:.3f} % '
          f'of pixels; mIoU fp32 {result["miou_fp32"]:.2f}, bf16 {result["miou_bf16"]:.2f} '
          f'(|diff| {result["miou_diff"]:.3f} points; targets >= 99 %, <= 0.3)')
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + '\n')


if __name__ == '__main__':
    main()
