"""0.x runtime cases: a SyncBN config under CPU DDP (train_dist.sh without GPUs), and fine-tuning with
``load_from`` a checkpoint of another number of classes (the tensors that fit are loaded, as mmcv does)."""
import copy

import torch

from compat_utils import load_config, small_options
from mmseg_ddrnet.datasets import build_dataset
from mmseg_ddrnet.checkpoint import load_checkpoint, save_checkpoint
from mmseg_ddrnet.models import build_segmentor



def test_syncbn_config_trains_distributed_on_cpu(tmp_path, gloo_group, cityscapes_root):
    from mmseg_ddrnet.apis.train import train_segmentor
    cfg = load_config('ddrnet_23_slim_fork_cityscapes', small_options(cityscapes_root) + ['runner.max_iters=1'])
    cfg.work_dir, cfg.gpu_ids, cfg.seed = str(tmp_path), [0], 0
    model = build_segmentor(copy.deepcopy(cfg.model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_segmentor(model, [build_dataset(cfg.data.train)], cfg, distributed=True, validate=False)
    ckpt = torch.load(tmp_path / 'latest.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 1 and ckpt['state_dict'].keys() == before.keys()
    state = ckpt['state_dict']
    # one step was taken and one batch went through the (Sync)BN layers
    assert not torch.equal(state['backbone.stem.0.conv.weight'], before['backbone.stem.0.conv.weight'])
    assert not torch.equal(state['decode_head.conv_seg.weight'], before['decode_head.conv_seg.weight'])
    assert int(state['backbone.stem.0.bn.num_batches_tracked']) == 1
    assert not torch.equal(state['backbone.stem.0.bn.running_mean'], before['backbone.stem.0.bn.running_mean'])


def test_load_from_another_num_classes_loads_what_fits(tmp_path):
    source = build_segmentor(copy.deepcopy(load_config('ddrnet_23_slim_fork_cityscapes').model))
    save_checkpoint({'state_dict': source.state_dict(), 'meta': {}}, tmp_path / 'cityscapes.pth')
    target = build_segmentor(copy.deepcopy(load_config('ddrnet_23_slim_custom_dataset').model))
    head_before = target.decode_head.conv_seg.weight.detach().clone()
    load_checkpoint(target, tmp_path / 'cityscapes.pth', strict=False, skip_mismatched=True)
    assert torch.equal(target.backbone.stem[0].conv.weight, source.backbone.stem[0].conv.weight)
    assert torch.equal(target.decode_head.head[0].conv.weight, source.decode_head.head[0].conv.weight)
    assert torch.equal(target.decode_head.conv_seg.weight, head_before)  # 3 vs 19 classes: left as initialised
