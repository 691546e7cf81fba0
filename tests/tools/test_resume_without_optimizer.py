"""tools/train.py --resume-from a checkpoint without optimizer state warns that the optimizer restarts and trains
on; an optimizer state that does not fit is one line naming the file, not a traceback."""
import pytest
import torch

from cli_tools import load_tool, one_line_error
from mmseg_ddrnet.checkpoint import save_checkpoint

ITERS = 12  # the tiny checkpoint says iter 10: two more iterations


train_tool = load_tool('tools/train.py')
pytestmark = pytest.mark.usefixtures('fresh_logger')


def _train_args(config, checkpoint, work_dir):
    return [config, '--no-validate', '--work-dir', str(work_dir), '--resume-from', str(checkpoint), '--cfg-options',
            'runner.type=IterBasedRunner', f'runner.max_iters={ITERS}', 'optimizer.type=SGD', 'optimizer.lr=0.01',
            'optimizer.momentum=0.9',
            'optimizer_config.grad_clip=None', 'data.samples_per_gpu=2', 'data.workers_per_gpu=0',
            'model.backbone.norm_cfg.type=BN', 'model.decode_head.norm_cfg.type=BN',
            f'checkpoint_config.interval={ITERS}']


def test_resume_without_optimizer_state_warns_and_trains_on(tiny, tmp_path, capsys):
    _, config, checkpoint = tiny
    assert 'optimizer' not in torch.load(checkpoint, weights_only=True)
    train_tool.main(_train_args(config, checkpoint, tmp_path))
    out = capsys.readouterr()
    warnings = [line for line in (out.out + out.err).splitlines()
                if f'{checkpoint} holds no optimizer state: the optimizer restarts' in line]
    assert len(warnings) == 1 and 'continues at iter 10' in warnings[0]
    resumed = torch.load(tmp_path / f'iter_{ITERS}.pth', weights_only=True)
    assert resumed['meta']['iter'] == ITERS and resumed['optimizer']['state']


def test_resume_with_an_optimizer_state_that_does_not_fit_is_one_line(tiny, tmp_path, capsys):
    _, config, checkpoint = tiny
    ckpt = torch.load(checkpoint, weights_only=True)
    ckpt['optimizer'] = {'state': {}, 'param_groups': []}  # another optimizer's: no parameter group
    bad = tmp_path / 'bad.pth'
    save_checkpoint(ckpt, bad)
    line = one_line_error(capsys, lambda: train_tool.main(_train_args(config, bad, tmp_path / 'work')))
    assert f"{bad}: its optimizer state does not fit this config's optimizer" in line
