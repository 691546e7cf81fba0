"""mmseg 0.x head, segmentor and test-tool behaviour: the user-loss contract with a pixel sampler,
``model.show_result`` and ``tools/test.py --out`` with ``--eval`` (one pre-eval result per image)."""
import copy
import glob
import importlib.util
import json
import os
import os.path as osp
import pickle
import warnings

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from compat_utils import REPO, config_path, run_tool, small_options
from mmseg_ddrnet.apis import inference_segmentor, init_segmentor, show_result
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.checkpoint import save_checkpoint
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.registry import LOSSES


def _logits_and_label(num_classes: int = 19):
    """1/8-resolution logits (as a DDRHead produces them) and full-resolution labels with ignored pixels."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, num_classes, 8, 16, generator=gen)
    label = torch.randint(0, num_classes, (2, 1, 64, 128), generator=gen)
    label[:, :, :4] = 255
    return logits, label


@LOSSES.register_module(force=True)
class RecordingLoss(nn.Module):
    """A 0.x-style loss that records how the head calls it (and returns the mean logit)."""

    calls: list = []

    def __init__(self, loss_name: str = 'loss_rec'):
        super().__init__()
        self.loss_name = loss_name

    def forward(self, cls_score, label, weight=None, ignore_index=255, **kwargs):
        RecordingLoss.calls.append(dict(shape=tuple(cls_score.shape), score=cls_score.detach(), label=label,
                                        weight=weight, ignore_index=ignore_index, kwargs=kwargs))
        return cls_score.mean()


@LOSSES.register_module(force=True)
class LowResRecordingLoss(RecordingLoss):
    """The same, opting in to the built-in contract (low-resolution logits, upsampled by the loss)."""

    accepts_low_res_logits = True


def _head(loss_decode, ignore_index=7, **kwargs):
    cfg = Config.fromfile(config_path('ddrnet_23_slim_full_runtime')).model
    cfg.decode_head.update(loss_decode=loss_decode, ignore_index=ignore_index, **kwargs)
    return build_segmentor(copy.deepcopy(cfg)).decode_head


def test_user_loss_gets_the_0x_call():
    cfg = Config.fromfile(config_path('ddrnet_23_slim_custom_loss'))  # imports compat_user_ext
    head = build_segmentor(copy.deepcopy(cfg.model)).decode_head
    logits, label = _logits_and_label()
    losses = head.losses(logits, label)
    full = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=False)
    torch.testing.assert_close(losses['loss_user_l1'], head.loss_decode[1](full, label[:, 0], ignore_index=255))
    torch.testing.assert_close(losses['loss_ce'], head.loss_decode[0](logits, label[:, 0]))  # built-in: low-res


@pytest.mark.parametrize('align_corners', [False, True])
def test_user_loss_call_arguments(align_corners):
    head = _head([dict(type='RecordingLoss'), dict(type='LowResRecordingLoss', loss_name='loss_low')],
                 align_corners=align_corners)
    logits, label = _logits_and_label()
    RecordingLoss.calls.clear()
    head.losses(logits, label)
    full_call, low_call = RecordingLoss.calls
    full = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=align_corners)
    torch.testing.assert_close(full_call['score'], full)
    assert torch.equal(full_call['label'], label[:, 0]) and full_call['weight'] is None
    assert full_call['ignore_index'] == 7 and full_call['kwargs'] == {}
    assert low_call['shape'] == tuple(logits.shape)  # opted in: the head's own logits
    assert low_call['ignore_index'] == 7 and low_call['kwargs'] == dict(align_corners=align_corners)


def test_user_loss_gets_the_samplers_weight():
    head = _head([dict(type='CrossEntropyLoss'), dict(type='RecordingLoss')], ignore_index=255,
                 sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=1000))
    logits, label = _logits_and_label()
    RecordingLoss.calls.clear()
    head.losses(logits, label)
    [call] = RecordingLoss.calls
    full = F.interpolate(logits, size=label.shape[2:], mode='bilinear', align_corners=False)
    assert call['shape'] == tuple(full.shape)
    assert torch.equal(call['weight'], head.sampler.sample(full, label))


def test_user_loss_and_sampler_train_through_tools_train(tmp_path, cityscapes_root):
    config = tmp_path / 'user_loss_ohem_sampler.py'
    config.write_text(f"_base_ = [{config_path('ddrnet_23_slim_custom_loss')!r}]\n"
                      "model = dict(decode_head=dict(sampler=dict(type='OHEMPixelSampler', thresh=0.7, "
                      "min_kept=1000)))\n")
    run_tool('train.py', str(config), '--work-dir', str(tmp_path), '--seed', '0', '--cfg-options',
             *small_options(cityscapes_root), 'runner.max_iters=1', 'evaluation.interval=10', cwd=str(tmp_path))
    [log] = glob.glob(str(tmp_path / '*.log.json'))
    with open(log) as f:
        [record] = [r for r in map(json.loads, f) if r.get('mode') == 'train']
    assert record['decode.loss_ce'] > 0 and record['decode.loss_user_l1'] > 0
    assert record['loss'] == pytest.approx(record['decode.loss_ce'] + record['decode.loss_user_l1'], abs=2e-5)


# ------------------------------------------------------------------------------------- show_result


@pytest.fixture(scope='module')
def model_and_result():
    model = init_segmentor(config_path('ddrnet_23_slim_custom_dataset'), device='cpu')
    img = np.random.default_rng(0).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    return model, img, inference_segmentor(model, img)


def test_model_show_result_writes_the_painting(model_and_result, tmp_path):
    model, img, result = model_and_result
    painted = model.show_result(img, result, out_file=str(tmp_path / 'vis' / 'result.png'), opacity=0.5)
    assert painted.shape == img.shape and painted.dtype == np.uint8
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'vis' / 'result.png')), painted)
    np.testing.assert_array_equal(painted, show_result(model, img, result, opacity=0.5))  # the apis function
    assert not np.array_equal(painted, img)


def test_model_show_result_palette_and_image_path(model_and_result, tmp_path):
    model, img, result = model_and_result
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    palette = [[255, 0, 0], [0, 255, 0], [0, 0, 255]]
    painted = model.show_result(str(tmp_path / 'img.png'), result[0], palette=palette, opacity=1.0,
                                out_file=tmp_path / 'p.png')
    expected = np.asarray(palette, np.uint8)[result[0]][..., ::-1]  # RGB palette, BGR image
    np.testing.assert_array_equal(painted, expected)


def test_model_show_result_shows_and_warns(model_and_result, monkeypatch):
    model, img, result = model_and_result
    shown = []
    monkeypatch.setattr('mmseg_ddrnet.visualization.screen.opencv_window_problem', lambda: None)  # a screen
    monkeypatch.setattr(cv2, 'imshow', lambda name, image: shown.append((name, image.shape)))
    monkeypatch.setattr(cv2, 'waitKey', lambda ms: shown.append(ms))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        model.show_result(img, result, win_name='seg', show=True, wait_time=5)
    assert shown == [('seg', img.shape), 5]
    with pytest.warns(UserWarning, match='only result image will be returned'):
        model.show_result(img, result)


# ---------------------------------------------------------------------------- tools/test.py --out


def _load_test_tool():
    spec = importlib.util.spec_from_file_location('mmseg_ddrnet_tools_test_compat', REPO / 'tools' / 'test.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = build_segmentor(copy.deepcopy(Config.fromfile(config_path('ddrnet_23_slim_fork_cityscapes')).model))
    path = tmp_path_factory.mktemp('ckpt') / 'init.pth'
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, path)
    return str(path)


def _test(tmp_path, name, cityscapes_root, checkpoint, *flags):
    """``tools/test.py`` in this process; the metrics JSON (if any) of its own work dir."""
    work_dir = tmp_path / name
    _load_test_tool().main([config_path('ddrnet_23_slim_fork_cityscapes'), checkpoint, *flags, '--work-dir',
                            str(work_dir), '--cfg-options', *small_options(cityscapes_root, splits=('test',))])
    found = glob.glob(str(work_dir / 'eval_*.json'))
    return json.loads(open(found[0]).read())['metric'] if found else None


def test_out_with_eval_keeps_one_confusion_matrix_per_image(tmp_path, cityscapes_root, checkpoint):
    metric = _test(tmp_path, 'eval_out', cityscapes_root, checkpoint, '--eval', 'mIoU', '--out',
                   str(tmp_path / 'results.pkl'))
    _test(tmp_path, 'maps', cityscapes_root, checkpoint, '--out', str(tmp_path / 'maps.pkl'))
    with open(tmp_path / 'results.pkl', 'rb') as f:
        results = pickle.load(f)
    with open(tmp_path / 'maps.pkl', 'rb') as f:
        maps = pickle.load(f)  # --out alone: the label maps, as before
    assert len(results) == len(maps) == 2  # the 2 val images
    assert all(m.ndim == 2 and m.shape != (19, 19) for m in maps)
    cfg = Config.fromfile(config_path('ddrnet_23_slim_fork_cityscapes'))
    cfg.data.test.data_root = cityscapes_root
    dataset = build_dataset(cfg.data.test)
    for index, (matrix, seg) in enumerate(zip(results, maps)):
        assert matrix.shape == (19, 19) and matrix.dtype == np.int64
        np.testing.assert_array_equal(matrix, dataset.pre_eval([seg], [index])[0])
    without_out = _test(tmp_path, 'eval', cityscapes_root, checkpoint, '--eval', 'mIoU')
    assert metric == pytest.approx(without_out, nan_ok=True)
    assert dataset.evaluate(results, 'mIoU')['mIoU'] == pytest.approx(metric['mIoU'], nan_ok=True)



@pytest.mark.parametrize('gpu_collect', [False, True])
def test_multi_gpu_test_gathers_one_matrix_per_image(tmp_path, cityscapes_root, checkpoint, gloo_group,
                                                     gpu_collect, monkeypatch):
    import shutil
    from mmseg_ddrnet.apis import multi_gpu_test, single_gpu_test
    removed, rmtree = [], shutil.rmtree

    def spy_rmtree(path, *args, **kwargs):  # what the collection folder held when it was removed
        removed.append((os.fspath(path), sorted(os.listdir(path))))
        return rmtree(path, *args, **kwargs)

    monkeypatch.setattr(shutil, 'rmtree', spy_rmtree)
    tool = _load_test_tool()
    args = tool.parse_args([config_path('ddrnet_23_slim_fork_cityscapes'), checkpoint, '--eval', 'mIoU',
                            '--cfg-options', *small_options(cityscapes_root, splits=('test',))])
    cfg = tool.load_config(args)
    dataset = build_dataset(cfg.data.test)
    model = tool.build_model(cfg, checkpoint, dataset, torch.device('cpu'))
    loader = tool.build_test_loader(cfg, dataset, distributed=True)
    per_image = multi_gpu_test(model, loader, str(tmp_path / 'parts'), gpu_collect, pre_eval=True,
                               pre_eval_per_image=True)
    summed = multi_gpu_test(model, loader, pre_eval=True)
    local = single_gpu_test(model, tool.build_test_loader(cfg, dataset, distributed=False), pre_eval=True,
                            pre_eval_per_image=True)
    assert len(per_image) == len(local) == 2 and len(summed) == 1
    for a, b in zip(per_image, local):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sum(per_image), summed[0])
    # the file collection wrote this rank's part into the given folder, read it back and removed the folder
    parts = str(tmp_path / 'parts')
    assert [r for r in removed if r[0] == parts] == ([] if gpu_collect else [(parts, ['part_0.pkl'])])
    assert not osp.exists(parts)
