"""Sample mmseg-0.x configs load, build the model they describe and build their training set (in-process)."""
import copy

import numpy as np
import pytest
import torch

from compat_utils import CUSTOM_CLASSES, IMAGE_HW, REPO, load_config, small_options
from mmseg_ddrnet.config import Config
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.models import build_segmentor

CITYSCAPES_CONFIGS = ['ddrnet_23_slim_fork_cityscapes', 'ddrnet_23_slim_full_runtime', 'ddrnet_23_slim_repeat_dataset',
                      'ddrnet_23_slim_warmup_paramwise', 'ddrnet_23_slim_custom_imports', 'ddrnet_23_slim_custom_loss',
                      'ddrnet_23_slim_epoch_runner', 'ddrnet_23_slim_1x_model_dict']
ALL_CONFIGS = CITYSCAPES_CONFIGS + ['ddrnet_23_slim_custom_dataset', 'ddrnet_23_slim_user_dataset']


def build_model(cfg: Config) -> torch.nn.Module:
    """As ``tools/train.py`` builds it: ``train_cfg``/``test_cfg`` may sit at the top level (mmseg < 0.13)."""
    return build_segmentor(copy.deepcopy(cfg.model), train_cfg=cfg.get('train_cfg'), test_cfg=cfg.get('test_cfg'))


def shapes(module: torch.nn.Module, prefixes) -> dict:
    return {k: tuple(v.shape) for k, v in module.state_dict().items() if k.startswith(prefixes)}


@pytest.mark.parametrize('name', ALL_CONFIGS)
def test_backbone_and_head_match_the_projects_slim_recipe(name):
    """The fork spelling ``extra=dict(layers, planes, spp_planes, head_planes)`` builds DDRNet-23-slim."""
    ours = build_segmentor(copy.deepcopy(Config.fromfile(
        str(REPO / 'configs' / '_base_' / 'models' / 'ddrnet_23_slim.py')).model))
    model = build_model(load_config(name))
    assert model.backbone.out_channels == (64, 128)
    expected = shapes(ours, ('backbone.', 'decode_head.'))
    got = shapes(model, ('backbone.', 'decode_head.'))
    if model.decode_head.num_classes == 3:  # the user datasets: road, building, sky
        expected = {k: v if 'conv_seg' not in k else (3,) + v[1:] for k, v in expected.items()}
    assert got == expected


def test_fork_recipe_losses():
    """OHEM with the OCNet class weights on both heads; the auxiliary head reads the 1/8 spatial branch."""
    cfg = load_config('ddrnet_23_slim_fork_cityscapes')
    model = build_model(cfg)
    for head, weight in ((model.decode_head, 1.0), (model.auxiliary_head, 0.4)):
        [loss] = head.loss_decode
        assert type(loss).__name__ == 'OhemCrossEntropy'
        assert (loss.thres, loss.min_kept, loss.loss_weight) == (0.9, 131072, weight)
        assert torch.allclose(torch.as_tensor(loss.class_weight, dtype=torch.float64).flatten(),
                              torch.tensor(cfg.class_weight, dtype=torch.float64))
    assert model.auxiliary_head.in_index == 0 and model.auxiliary_head.in_channels == 64


def test_1x_model_dict_is_the_fork_model():
    """mmseg 1.x's DDRNet model section in a 0.x config: the same network as the fork spelling, the
    DDRHead's [main, aux] losses on the final and the 1/8 spatial features."""
    model = build_model(load_config('ddrnet_23_slim_1x_model_dict'))
    fork = build_model(load_config('ddrnet_23_slim_fork_cityscapes'))
    assert shapes(model, ('',)) == shapes(fork, ('',))
    assert [(type(m).__name__, m.loss_weight) for m in model.decode_head.loss_decode] == [('OhemCrossEntropy', 1.0)]
    assert [(type(m).__name__, m.loss_weight) for m in model.auxiliary_head.loss_decode] == \
           [('OhemCrossEntropy', 0.4)]
    assert (model.decode_head.in_index, model.auxiliary_head.in_index) == (-1, 0)


def test_loss_override_with_delete_replaces_ohem():
    """``_delete_=True`` swaps the inherited OHEM loss for a plain cross-entropy (mmcv merge rules)."""
    model = build_model(load_config('ddrnet_23_slim_full_runtime'))
    assert [type(m).__name__ for m in model.decode_head.loss_decode] == ['CrossEntropyLoss']
    assert model.decode_head.loss_decode[0].loss_name == 'loss_ce'


def test_legacy_top_level_train_and_test_cfg():
    cfg = load_config('ddrnet_23_slim_warmup_paramwise')
    assert cfg.model.train_cfg is None and cfg.test_cfg == dict(mode='whole')
    assert build_model(cfg).test_cfg['mode'] == 'whole'


def _check_sample(sample: dict, crop: int) -> None:
    img, seg = sample['img'].data, sample['gt_semantic_seg'].data
    assert tuple(img.shape) == (3, crop, crop) and img.dtype == torch.float32
    assert tuple(seg.shape) == (1, crop, crop)


@pytest.mark.parametrize('name', CITYSCAPES_CONFIGS)
def test_cityscapes_train_set_builds(name, cityscapes_root):
    repeat = name == 'ddrnet_23_slim_repeat_dataset'
    train_key = 'data.train.dataset' if repeat else 'data.train'
    cfg = load_config(name, small_options(cityscapes_root, train_key=train_key))
    dataset = build_dataset(cfg.data.train)
    assert len(dataset) == (3 * 4 if repeat else 4)
    assert len(dataset.CLASSES) == 19
    sample = dataset[len(dataset) - 1]
    _check_sample(sample, IMAGE_HW[0])
    labels = set(np.unique(sample['gt_semantic_seg'].data.numpy()).tolist())
    assert labels <= set(range(19)) | {255}


def test_custom_dataset_builds(custom_root):
    """Split file, suffixes, classes, palette and ``reduce_zero_label`` as 0.x reads them."""
    cfg = load_config('ddrnet_23_slim_custom_dataset', [
        f'data.train.data_root={custom_root}', 'data.train.pipeline.2.img_scale=(128,64)',
        'data.train.pipeline.3.crop_size=(64,64)', 'data.train.pipeline.7.size=(64,64)'])
    dataset = build_dataset(cfg.data.train)
    assert len(dataset) == 4  # train_004 is not in splits/train.txt
    assert tuple(dataset.CLASSES) == CUSTOM_CLASSES
    assert [list(p) for p in dataset.PALETTE] == cfg.palette
    # the files hold 0 (unlabelled) and 1..3; reduce_zero_label maps them to 255 and 0..2
    assert set(np.unique(dataset.get_gt_seg_map_by_idx(0)).tolist()) == {0, 1, 2, 255}
    _check_sample(dataset[0], 64)


def test_user_dataset_class_from_custom_imports(custom_root):
    """The 0.x tutorial's dataset subclass: classes, palette, suffixes and reduce_zero_label from the class."""
    roots = [f'data.{s}.data_root={custom_root}' for s in ('train', 'val')]
    cfg = load_config('ddrnet_23_slim_user_dataset', roots)
    train = build_dataset(cfg.data.train)
    val = build_dataset(cfg.data.val, dict(test_mode=True))
    assert type(train).__name__ == 'UserRoadDataset' and (len(train), len(val)) == (4, 2)
    assert tuple(val.CLASSES) == CUSTOM_CLASSES and [list(p) for p in val.PALETTE] == cfg.palette
    gts = [val.get_gt_seg_map_by_idx(i) for i in range(len(val))]
    preds = [np.where(gt == 255, 0, gt) for gt in gts]  # perfect on every labelled pixel
    metrics = val.evaluate(preds, metric='mIoU')
    assert metrics['mIoU'] == pytest.approx(1.0) and metrics['IoU.sky'] == pytest.approx(1.0)
