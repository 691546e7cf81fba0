"""The shipped DDRNet configs: they load, build, train a step, and hold the recipes' numbers."""
import json
from pathlib import Path

import pytest
import torch

from mmseg_ddrnet.config import Config
from mmseg_ddrnet.models import build_segmentor
from mmseg_ddrnet.utils import CheckpointError

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
RECIPES = sorted(p.name for p in (CONFIGS / 'ddrnet').glob('*.py'))
PAPER = ['ddrnet_23_slim_1024x1024_120k_cityscapes.py', 'ddrnet_23_1024x1024_120k_cityscapes.py',
         'ddrnet_39_1024x1024_120k_cityscapes.py']
CLASS_WEIGHT = [0.8373, 0.918, 0.866, 1.0345, 1.0166, 0.9969, 0.9754, 1.0489, 0.8786, 1.0023, 0.9539, 0.9843,
                1.1116, 0.9037, 1.0865, 1.0955, 1.0865, 1.1529, 1.0507]
# parameters of the official models (19 classes, no auxiliary head; the paper rounds them to 5.7M, 20.1M, 32.3M),
# counted by tests/models/goldens/make_official_goldens.py on the official code's get_seg_model()
with open(Path(__file__).resolve().parent / 'goldens' / 'official_param_counts.json') as _f:
    OFFICIAL_PARAMS = {k: v for k, v in json.load(_f).items() if k != 'source'}


def _recipe(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / 'ddrnet' / name))


def _pipeline_step(pipeline, type_name: str) -> dict:
    steps = [step for step in pipeline if step['type'] == type_name]
    assert steps, f'no {type_name} in the pipeline'
    return steps[0]


@pytest.mark.parametrize('name', sorted(OFFICIAL_PARAMS))
def test_model_bases_build_with_the_official_sizes(name):
    cfg = Config.fromfile(str(CONFIGS / '_base_' / 'models' / f'{name}.py'))
    assert cfg.model.backbone.norm_cfg == dict(type='SyncBN', requires_grad=True)
    model = build_segmentor(cfg.model)
    # exactly the official count, less the biases of the two stem convs (folded into BN here)
    stem_biases = sum(conv.conv.out_channels for conv in model.backbone.stem[:2])
    assert sum(p.numel() for p in model.parameters()) == OFFICIAL_PARAMS[name] - stem_biases
    assert not model.with_auxiliary_head


@pytest.mark.parametrize('name', RECIPES)
def test_every_recipe_loads_and_builds(name):
    cfg = _recipe(name)
    model = build_segmentor(cfg.model)
    assert model.num_classes == cfg.model.decode_head.num_classes
    for split in ('train', 'val', 'test'):
        assert cfg.data[split]['pipeline'], split


def test_reference_recipe():
    cfg = _recipe('ddrnet_23_slim_512x1024_160k_cityscapes.py')
    assert cfg.model.decode_head.loss_decode == dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)
    assert cfg.model.get('auxiliary_head') is None and cfg.model.pretrained is None
    assert cfg.model.backbone.norm_cfg.type == 'SyncBN'
    assert cfg.optimizer == dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
    assert cfg.lr_config.policy == 'poly' and cfg.lr_config.power == 0.9 and cfg.lr_config.min_lr == 1e-4
    assert cfg.runner.max_iters == 160000 and cfg.data.samples_per_gpu == 2
    assert tuple(_pipeline_step(cfg.data.train.pipeline, 'RandomCrop')['crop_size']) == (512, 1024)
    test_aug = _pipeline_step(cfg.data.test.pipeline, 'MultiScaleFlipAug')
    assert tuple(test_aug['img_scale']) == (2048, 1024) and cfg.model.test_cfg.mode == 'whole'


@pytest.mark.parametrize('name', PAPER)
def test_paper_recipes(name):
    cfg = _recipe(name)
    main, aux = cfg.model.decode_head, cfg.model.auxiliary_head
    for head, weight in ((main, 1.0), (aux, 0.4)):
        assert head.loss_decode == dict(type='OhemCrossEntropy', thres=0.9, min_kept=131072,
                                        class_weight=CLASS_WEIGHT, loss_weight=weight)
    assert aux.in_index == 0 and aux.in_channels * 2 == main.in_channels and aux.channels == main.channels
    assert cfg.model.pretrained.startswith('pretrained/') and cfg.model.pretrained.endswith('_converted.pth')
    assert tuple(_pipeline_step(cfg.data.train.pipeline, 'RandomCrop')['crop_size']) == (1024, 1024)
    assert cfg.runner.max_iters == 120000 and cfg.data.samples_per_gpu == 6
    assert cfg.optimizer.lr == 0.01 and cfg.lr_config.power == 0.9 and cfg.lr_config.min_lr == 0.0


def test_paper_recipe_trains_a_step_with_ohem_and_aux_loss():
    cfg = _recipe('ddrnet_23_slim_1024x1024_120k_cityscapes.py')
    model = build_segmentor(cfg.model).train()
    torch.manual_seed(0)
    img, label = torch.randn(2, 3, 64, 64), torch.randint(0, 19, (2, 1, 64, 64))
    losses = model.forward_train(img, [{}, {}], label)
    assert any(k.startswith('decode.loss') for k in losses) and any(k.startswith('aux.loss') for k in losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.auxiliary_head.conv_seg.weight.grad is not None


def test_missing_pretrained_backbone_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = build_segmentor(_recipe('ddrnet_23_1024x1024_120k_cityscapes.py').model)
    with pytest.raises(CheckpointError, match=r'ddrnet23_imagenet_converted\.pth.*--src-format official-imagenet'):
        model.init_weights()
