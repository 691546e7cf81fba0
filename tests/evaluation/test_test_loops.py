"""single_gpu_test / multi_gpu_test on a tiny stand-in model and dataset, checked against direct computations."""
import os
import socket

import cv2
import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

from mmseg_ddrnet.evaluation import multi_gpu_test, single_gpu_test
from mmseg_ddrnet.visualization import overlay_segmentation
from mmseg_ddrnet.utils import ConfigError

NUM_CLASSES = 3
NORM = dict(mean=[10.0, 20.0, 30.0], std=[2.0, 4.0, 5.0], to_rgb=True)
PALETTE = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]


def _image(index: int) -> np.ndarray:
    """A BGR uint8 image whose blue channel encodes the label the stand-in model predicts."""
    rng = np.random.RandomState(index)
    img = rng.randint(0, 256, size=(5 + index % 2, 7, 3)).astype(np.uint8)
    return img


def _prediction(img_bgr: np.ndarray) -> np.ndarray:
    return (img_bgr[..., 0].astype(np.int64) * NUM_CLASSES) // 256


def _ground_truth(index: int) -> np.ndarray:
    gt = np.random.RandomState(100 + index).randint(0, NUM_CLASSES, size=_image(index).shape[:2])
    gt[0, :2] = 255
    return gt


class TinySegDataset(Dataset):
    """Stand-in for a test-mode dataset: normalised RGB tensors + 0.x metas, pre_eval and format_results."""
    CLASSES = ('a', 'b', 'c')
    PALETTE = PALETTE

    def __init__(self, num_images: int) -> None:
        self.num_images = num_images
        self.formatted = []

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, index: int) -> dict:
        img = _image(index)
        rgb = img[..., ::-1].astype(np.float32)
        norm = (rgb - np.float32(NORM['mean'])) / np.float32(NORM['std'])
        h, w = img.shape[:2]
        meta = dict(filename=f'/data/img{index}.png', ori_filename=f'sub/img{index}.png', ori_shape=(h, w, 3),
                    img_shape=(h, w, 3), pad_shape=(h, w, 3), scale_factor=1.0, flip=False,
                    flip_direction=None, img_norm_cfg=NORM)
        return dict(img=torch.from_numpy(norm.copy()).permute(2, 0, 1), img_metas=meta)

    def pre_eval(self, preds, indices):
        return [np.bincount(_ground_truth(i)[_ground_truth(i) != 255] * NUM_CLASSES + p[_ground_truth(i) != 255],
                            minlength=NUM_CLASSES ** 2).reshape(NUM_CLASSES, NUM_CLASSES)
                for p, i in zip(preds, indices)]

    def format_results(self, results, indices=None, imgfile_prefix=None):
        self.formatted.extend(indices)
        return [f'{imgfile_prefix}/{i}.png' for i in indices]


def collate(samples):
    """Single-scale test batch as docs/design.md: img is a list (one per augmentation)."""
    width = max(s['img'].shape[2] for s in samples)
    height = max(s['img'].shape[1] for s in samples)
    imgs = torch.zeros(len(samples), 3, height, width)
    for k, s in enumerate(samples):
        imgs[k, :, :s['img'].shape[1], :s['img'].shape[2]] = s['img']
    return dict(img=[imgs], img_metas=[[s['img_metas'] for s in samples]])


class TinySegmentor(nn.Module):
    """Predicts a label from the blue channel after undoing the normalisation; returns numpy label maps."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.calls = []

    def forward(self, img, img_metas, return_loss=True):
        assert not return_loss and torch.is_inference_mode_enabled()
        self.calls.append(img[0].device)
        out = []
        for x, meta in zip(img[0], img_metas[0]):
            h, w = meta['ori_shape'][:2]
            blue = x[2, :h, :w] * NORM['std'][2] + NORM['mean'][2]
            out.append((torch.round(blue * self.scale).long() * NUM_CLASSES // 256).cpu().numpy())
        return out


def _loader(dataset, batch_size=1, sampler=None):
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate, shuffle=False)


def _expected_matrix(num_images):
    total = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for i in range(num_images):
        gt, pred = _ground_truth(i), _prediction(_image(i))
        for g, p in zip(gt.ravel(), pred.ravel()):
            if g != 255:
                total[g, p] += 1
    return total


@pytest.mark.parametrize('batch_size', [1, 2])
def test_single_gpu_test_returns_label_maps_in_dataset_order(batch_size):
    dataset = TinySegDataset(5)
    model = TinySegmentor()
    results = single_gpu_test(model, _loader(dataset, batch_size))
    assert len(results) == 5
    for i, seg in enumerate(results):
        np.testing.assert_array_equal(seg, _prediction(_image(i)))
    assert not model.training


def test_single_gpu_test_pre_eval_sums_confusion_matrices():
    results = single_gpu_test(TinySegmentor(), _loader(TinySegDataset(5), 2), pre_eval=True)
    assert len(results) == 1
    np.testing.assert_array_equal(results[0], _expected_matrix(5))


def test_single_gpu_test_format_only_passes_indices_and_args():
    dataset = TinySegDataset(3)
    results = single_gpu_test(TinySegmentor(), _loader(dataset), format_only=True,
                              format_args=dict(imgfile_prefix='out'))
    assert results == ['out/0.png', 'out/1.png', 'out/2.png']
    assert dataset.formatted == [0, 1, 2]


def test_single_gpu_test_efficient_test_stores_npy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = single_gpu_test(TinySegmentor(), _loader(TinySegDataset(2)), efficient_test=True)
    for i, path in enumerate(results):
        np.testing.assert_array_equal(np.load(path), _prediction(_image(i)))


def test_out_dir_writes_overlays_at_original_size(tmp_path):
    single_gpu_test(TinySegmentor(), _loader(TinySegDataset(2), 2), out_dir=str(tmp_path), opacity=0.25)
    for i in range(2):
        painted = cv2.imread(str(tmp_path / 'sub' / f'img{i}.png'))
        img, pred = _image(i), _prediction(_image(i))
        assert painted.shape == img.shape
        colour_bgr = np.asarray(PALETTE, np.float64)[pred][..., ::-1]
        expected = np.rint(img * 0.75 + colour_bgr * 0.25)
        assert np.abs(painted.astype(np.float64) - expected).max() <= 1  # denormalisation round-off


def test_overlay_segmentation_blends_by_hand():
    img = np.array([[[100, 50, 0], [10, 20, 30]]], np.uint8)
    seg = np.array([[0, 255]])
    out = overlay_segmentation(img, seg, np.array([[200, 0, 100]], np.uint8), opacity=0.5)
    np.testing.assert_array_equal(out, [[[100, 25, 100], [10, 20, 30]]])  # colour is RGB, image BGR


def test_bad_modes_raise_user_errors():
    loader = _loader(TinySegDataset(1))
    with pytest.raises(ConfigError, match='pre_eval and format_only'):
        single_gpu_test(TinySegmentor(), loader, pre_eval=True, format_only=True)
    with pytest.raises(ConfigError, match='opacity'):
        single_gpu_test(TinySegmentor(), loader, out_dir='x', opacity=0)
    with pytest.raises(ConfigError, match='process group'):
        multi_gpu_test(TinySegmentor(), loader)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, tmpdir, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        out = {}
        for num_images in NUM_IMAGES_DIST:
            dataset = TinySegDataset(num_images)
            loader = _loader(dataset, sampler=DistributedSampler(dataset, world_size, rank, shuffle=False))
            out[num_images] = dict(
                pre_eval=multi_gpu_test(TinySegmentor(), loader, pre_eval=True),
                files=multi_gpu_test(TinySegmentor(), loader, tmpdir=os.path.join(tmpdir, 'collect')),
                gather=multi_gpu_test(TinySegmentor(), loader, gpu_collect=True))
        queue.put((rank, out))
    finally:
        dist.destroy_process_group()


NUM_IMAGES_DIST = (5, 1)  # 5 on 2 ranks pads one image; 1 leaves rank 1 with only a repeat


@pytest.fixture(scope='module')
def dist_outputs(tmp_path_factory):
    """What each of 2 gloo ranks returned, per dataset size."""
    tmp = tmp_path_factory.mktemp('dist')
    queue = mp.get_context('spawn').SimpleQueue()
    mp.start_processes(_dist_worker, args=(2, _free_port(), str(tmp), queue), nprocs=2, start_method='spawn')
    outputs = dict(queue.get() for _ in range(2))
    assert not (tmp / 'collect').exists()
    return outputs


@pytest.mark.parametrize('num_images', NUM_IMAGES_DIST)
def test_multi_gpu_test_matches_single_process(dist_outputs, num_images):
    expected_maps = [_prediction(_image(i)) for i in range(num_images)]
    for rank in range(2):
        np.testing.assert_array_equal(dist_outputs[rank][num_images]['pre_eval'][0], _expected_matrix(num_images))
    for key in ('files', 'gather'):
        assert dist_outputs[1][num_images][key] is None
        got = dist_outputs[0][num_images][key]
        assert len(got) == num_images
        for seg, want in zip(got, expected_maps):
            np.testing.assert_array_equal(seg, want)
