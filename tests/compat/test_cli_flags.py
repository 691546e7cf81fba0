"""The mmseg 0.x command lines of ``tools/train.py`` and ``tools/test.py`` parse to what 0.x meant.

The flag lists are those of mmsegmentation v0.30 ``tools/train.py`` / ``tools/test.py``; the command
lines are the ones its launch scripts (``dist_train.sh`` via ``torch.distributed.launch``, ``slurm_train.sh``)
and docs write.
"""
import importlib.util

import pytest
import torch

from compat_utils import REPO, config_path

TRAIN_FLAGS_0X = ['--work-dir', '--load-from', '--resume-from', '--no-validate', '--gpus', '--gpu-ids', '--gpu-id',
                  '--seed', '--diff_seed', '--deterministic', '--options', '--cfg-options', '--launcher',
                  '--local_rank', '--auto-resume']
TEST_FLAGS_0X = ['--work-dir', '--aug-test', '--out', '--format-only', '--eval', '--show', '--show-dir',
                 '--gpu-collect', '--gpu-id', '--tmpdir', '--options', '--cfg-options', '--eval-options',
                 '--launcher', '--opacity', '--local_rank']
CONFIG = config_path('ddrnet_23_slim_fork_cityscapes')


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(f'compat_{name}_tool', REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_tool = _load_tool('train')
test_tool = _load_tool('test')


@pytest.fixture(autouse=True)
def _keep_process_state(monkeypatch):
    """parse_args exports LOCAL_RANK and load_config sets cudnn.benchmark, as 0.x; undo both afterwards."""
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    monkeypatch.setattr(torch.backends.cudnn, 'benchmark', torch.backends.cudnn.benchmark)


@pytest.mark.parametrize('tool,flags', [(train_tool, TRAIN_FLAGS_0X), (test_tool, TEST_FLAGS_0X)],
                         ids=['train', 'test'])
def test_help_lists_every_0x_flag(tool, flags, capsys):
    with pytest.raises(SystemExit) as exit_info:
        tool.parse_args(['-h'])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    assert [f for f in flags if f not in listed] == []


@pytest.mark.parametrize('rank_flag', ['--local_rank=2', '--local-rank=2'])
def test_torch_distributed_launch_command_line(rank_flag):
    """0.x dist_train.sh: ``torch.distributed.launch`` appends --local_rank=N (--local-rank=N on torch>=2)."""
    args = train_tool.parse_args([rank_flag, CONFIG, '--launcher', 'pytorch', '--seed', '0', '--deterministic'])
    assert (args.local_rank, args.launcher, args.seed, args.deterministic) == (2, 'pytorch', 0, True)
    args = test_tool.parse_args([rank_flag, CONFIG, 'ckpt.pth', '--launcher', 'pytorch', '--eval', 'mIoU'])
    assert (args.local_rank, args.launcher, args.eval) == (2, 'pytorch', ['mIoU'])


def test_slurm_train_command_line():
    """0.x slurm_train.sh: ``--work-dir=DIR --launcher="slurm"`` plus user flags."""
    args = train_tool.parse_args([CONFIG, '--work-dir=wd', '--launcher=slurm', '--diff_seed', '--diff-seed',
                                  '--dist_backend', 'gloo', '--auto-resume'])
    assert (args.work_dir, args.launcher, args.diff_seed, args.dist_backend, args.auto_resume) == \
           ('wd', 'slurm', True, 'gloo', True)


def test_cfg_options_values_as_0x_docs_write_them():
    """``key=[a,b]``, ``key=a,b``, nested ``key="[(a,b),(c,d)]"``, booleans and None, as mmcv's DictAction."""
    args = train_tool.parse_args([CONFIG, '--cfg-options', 'model.backbone.norm_eval=True',
                                  'data.train.pipeline.3.crop_size=(64,64)', 'evaluation.metric=[mIoU,mDice]',
                                  'workflow=[(train,1)]', 'model.pretrained=None', 'optimizer.lr=0.005',
                                  'gpu_ids=0,1'])
    assert args.cfg_options == {
        'model.backbone.norm_eval': True, 'data.train.pipeline.3.crop_size': (64, 64),
        'evaluation.metric': ['mIoU', 'mDice'], 'workflow': [('train', 1)], 'model.pretrained': None,
        'optimizer.lr': 0.005, 'gpu_ids': [0, 1]}
    cfg = train_tool.load_config(args)
    assert cfg.data.train.pipeline[3].crop_size == (64, 64) and cfg.optimizer.lr == 0.005


def test_deprecated_gpu_flags_pick_the_first_gpu():
    """0.x: --gpus N and --gpu-ids A B are deprecated; non-distributed training uses one GPU."""
    assert train_tool.load_config(train_tool.parse_args([CONFIG, '--gpus', '2'])).gpu_ids == [0]
    assert train_tool.load_config(train_tool.parse_args([CONFIG, '--gpu-ids', '3', '4'])).gpu_ids == [3]
    assert train_tool.load_config(train_tool.parse_args([CONFIG, '--gpu-id', '1'])).gpu_ids == [1]


def test_test_tool_aug_test_as_0x():
    """0.x --aug-test: ratios 0.5-1.75 and flip on the MultiScaleFlipAug of data.test."""
    cfg = test_tool.load_config(test_tool.parse_args([CONFIG, 'ckpt.pth', '--aug-test', '--eval', 'mIoU']))
    aug = cfg.data.test.pipeline[1]
    assert aug.img_ratios == [0.5, 0.75, 1.0, 1.25, 1.5, 1.75] and aug.flip is True
    assert cfg.data.test.test_mode is True and cfg.model.train_cfg is None


@pytest.mark.parametrize('tool,extra', [(train_tool, []), (test_tool, ['ckpt.pth', '--eval', 'mIoU'])],
                         ids=['train', 'test'])
def test_mpi_launcher_is_accepted(tool, extra):
    assert tool.parse_args([CONFIG, *extra, '--launcher', 'mpi']).launcher == 'mpi'
