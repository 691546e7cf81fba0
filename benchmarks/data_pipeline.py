"""Throughput of the Cityscapes training pipeline on one worker, beside mmsegmentation 1.2.2's.

The pipeline of configs/_base_/datasets/cityscapes.py (decode, resize 0.5-2.0 of 2048x1024, 512x1024 crop
with cat_max_ratio 0.75, flip, photometric distortion, normalize, pad, to tensors) runs in this process on
generated 2048x1024 Cityscapes-layout images; when MMSEG_REFERENCE_PYTHON points at a python with
mmsegmentation 1.2.2, the equivalent mmseg 1.x pipeline runs on the same files in a subprocess.
Both use one OpenCV thread (one loader worker each); rounds of both alternate so that they share the
machine's load. Reports images/second (best and median pass) and the ratios.

usage: python benchmarks/data_pipeline.py [--num-images 6] [--passes 3] [--rounds 2] [--workdir DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from typing import List

import cv2

REFERENCE_SCRIPT = r'''
import json, sys, time
import cv2, numpy as np
cv2.setNumThreads(1)
from mmseg.utils import register_all_modules
register_all_modules()
from mmengine.dataset import Compose
pairs, passes, warmup = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
pipeline = Compose([
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 1024), cat_max_ratio=0.75), dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Normalize', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True),
    dict(type='Pad', size=(1024, 512), pad_val=dict(img=0, seg=255)), dict(type='PackSegInputs')])
np.random.seed(0)
def run(n):
    for i in range(n):
        img, seg = pairs[i % len(pairs)]
        pipeline(dict(img_path=img, seg_map_path=seg, reduce_zero_label=False, seg_fields=[]))
run(warmup)
for _ in range(passes):
    start = time.perf_counter()
    run(len(pairs))
    print(json.dumps({'seconds': time.perf_counter() - start, 'images': len(pairs)}))
'''


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=6, help='generated 2048x1024 images')
    parser.add_argument('--passes', type=int, default=3, help='timed passes over the images')
    parser.add_argument('--warmup', type=int, default=2, help='untimed samples first')
    parser.add_argument('--rounds', type=int, default=2, help='alternating rounds of ours and the reference')
    parser.add_argument('--workdir', help='where to generate the images (default: a temporary folder)')
    parser.add_argument('--noise', type=float, default=0.25,
                        help='pixel noise of the generated images (0.25 gives PNGs of about real Cityscapes size)')
    return parser.parse_args()


def make_data(root: str, num_images: int, noise: float):
    from mmseg_ddrnet.datasets import make_synthetic_cityscapes
    from mmseg_ddrnet.datasets.cityscapes_conversion import convert_cityscapes
    if not os.path.isdir(os.path.join(root, 'leftImg8bit')):
        print(f'generating {num_images} images of 2048x1024 in {root} ...', flush=True)
        make_synthetic_cityscapes(root, num_train=num_images, num_val=0, size=(1024, 2048), seed=0, noise=noise)
        convert_cityscapes(root)


def build_ours(root: str):
    from mmseg_ddrnet.config import Config
    from mmseg_ddrnet.datasets import build_dataset
    here = os.path.dirname(os.path.abspath(__file__))
    cfg = Config.fromfile(os.path.join(here, '..', 'configs', '_base_', 'datasets', 'cityscapes.py'))
    return build_dataset(dict(cfg.data.train, data_root=root))


def ours(dataset, passes: int, warmup: int) -> List[float]:
    """Seconds per pass over the dataset, for each pass (after ``warmup`` samples)."""
    from mmseg_ddrnet.datasets import SeededIndex
    for i in range(warmup):
        dataset[SeededIndex(i % len(dataset), i)]
    seconds = []
    for p in range(passes):
        start = time.perf_counter()
        for i in range(len(dataset)):
            dataset[SeededIndex(i, 1000 * p + i)]
        seconds.append(time.perf_counter() - start)
    return seconds


def reference(python: str, dataset, passes: int, warmup: int) -> List[float]:
    """Seconds per pass of mmseg 1.x's pipeline over the same files, run by ``python``."""
    pairs = [[os.path.join(dataset.img_dir, info['filename']), os.path.join(dataset.ann_dir, info['ann']['seg_map'])]
             for info in dataset.img_infos]
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    out = subprocess.run([python, '-c', REFERENCE_SCRIPT, json.dumps(pairs), str(passes), str(warmup)],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f'the mmseg 1.x reference failed:\n{out.stderr[-3000:]}')
    return [json.loads(line)['seconds'] for line in out.stdout.strip().splitlines()[-passes:]]


def main() -> None:
    args = parse_args()
    cv2.setNumThreads(1)
    python = os.environ.get('MMSEG_REFERENCE_PYTHON')
    with tempfile.TemporaryDirectory() as tmp:
        root = args.workdir or tmp
        make_data(root, args.num_images, args.noise)
        dataset = build_ours(root)
        sizes = [os.path.getsize(os.path.join(dataset.img_dir, i['filename'])) for i in dataset.img_infos]
        print(f'{len(sizes)} images of 2048x1024, PNG files of {statistics.mean(sizes) / 1e6:.2f} MB on average '
              '(real Cityscapes leftImg8bit: about 2.3 MB)')
        mine, ref = [], []
        for _ in range(args.rounds):  # interleaved, so both see the same machine load
            mine += ours(dataset, args.passes, args.warmup)
            if python:
                ref += reference(python, dataset, args.passes, args.warmup)
    n = len(dataset)
    report('mmseg_ddrnet', n, mine)
    if not python:
        print('MMSEG_REFERENCE_PYTHON not set: no mmsegmentation 1.2.2 comparison')
        return
    report('mmsegmentation 1.2.2', n, ref)
    print(f'speed-up (best pass / best pass): {min(ref) / min(mine):.2f}x; '
          f'(median / median): {statistics.median(ref) / statistics.median(mine):.2f}x')


def report(name: str, images: int, seconds: List[float]) -> None:
    best, median = images / min(seconds), images / statistics.median(seconds)
    print(f'{name:22s}: best {best:6.2f} images/s, median {median:6.2f} images/s ({len(seconds)} passes of {images})')


if __name__ == '__main__':
    sys.exit(main())
