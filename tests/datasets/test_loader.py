"""build_dataset variants, collate, and reproducible loading (order and augmentations) under a seed."""
import numpy as np
import pytest
import torch

from mmseg_ddrnet.datasets import (ConcatDataset, RepeatDataset, SeededIndex, build_dataloader, build_dataset,
                                   collate)
from mmseg_ddrnet.utils import ConfigError

AUG = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
       dict(type='Resize', img_scale=(10, 8), ratio_range=(0.5, 2.0)),
       dict(type='RandomCrop', crop_size=(6, 6)), dict(type='RandomFlip', prob=0.5),
       dict(type='PhotoMetricDistortion'), dict(type='Pad', size=(6, 6)), dict(type='DefaultFormatBundle'),
       dict(type='Collect', keys=['img', 'gt_semantic_seg'])]


def custom_cfg(root, **kw):
    return dict(type='CustomDataset', data_root=str(root), img_dir='img', ann_dir='ann', pipeline=AUG,
                classes=['a', 'b', 'c'], **kw)


def test_collate_pads_training_samples():
    a = dict(img=torch.ones(3, 2, 3), gt_semantic_seg=torch.zeros(1, 2, 3, dtype=torch.int64), img_metas={'i': 0})
    b = dict(img=torch.ones(3, 4, 2), gt_semantic_seg=torch.ones(1, 4, 2, dtype=torch.int64), img_metas={'i': 1})
    out = collate([a, b])
    assert out['img'].shape == (2, 3, 4, 3) and out['gt_semantic_seg'].shape == (2, 1, 4, 3)
    assert out['img'][0, :, 2:].eq(0).all() and out['img'][1, :, :, 2:].eq(0).all()
    assert out['gt_semantic_seg'][0, :, 2:].eq(255).all() and out['gt_semantic_seg'][1, :, :, 2:].eq(255).all()
    assert out['img_metas'] == [{'i': 0}, {'i': 1}]


def test_collate_test_samples_per_augmentation():
    s = [dict(img=[torch.full((3, 2, 2), i), torch.full((3, 4, 4), i)], img_metas=[{'n': i, 'a': 0}, {'n': i, 'a': 1}])
         for i in range(2)]
    out = collate(s)
    assert [t.shape for t in out['img']] == [(2, 3, 2, 2), (2, 3, 4, 4)]
    assert out['img_metas'] == [[{'n': 0, 'a': 0}, {'n': 1, 'a': 0}], [{'n': 0, 'a': 1}, {'n': 1, 'a': 1}]]


def test_build_dataset_variants(custom_root):
    single = build_dataset(custom_cfg(custom_root))
    repeat = build_dataset(dict(type='RepeatDataset', times=3, dataset=custom_cfg(custom_root)))
    assert len(repeat) == 9 and repeat.CLASSES == single.CLASSES
    assert repeat[4]['img_metas']['ori_filename'] == 's1.jpg'
    concat = build_dataset([custom_cfg(custom_root), custom_cfg(custom_root)])
    assert isinstance(concat, ConcatDataset) and len(concat) == 6
    assert concat[4]['img_metas']['ori_filename'] == 's1.jpg'
    implicit = build_dataset(dict(custom_cfg(custom_root), img_dir=['img', 'img'], ann_dir=['ann', 'ann']))
    assert isinstance(implicit, ConcatDataset) and len(implicit) == 6
    with pytest.raises(ConfigError, match='ann_dir lists 1'):
        build_dataset(dict(custom_cfg(custom_root), img_dir=['img', 'img'], ann_dir=['ann']))
    with pytest.raises(ConfigError):
        RepeatDataset(single, 0)


def batches(loader, epoch):
    loader.sampler.set_epoch(epoch)
    return [(b['img'].clone(), b['gt_semantic_seg'].clone(), [m['ori_filename'] for m in b['img_metas']])
            for b in loader]


def assert_same(x, y):
    assert len(x) == len(y)
    for (i1, s1, n1), (i2, s2, n2) in zip(x, y):
        assert n1 == n2
        torch.testing.assert_close(i1, i2)
        torch.testing.assert_close(s1, s2)


def test_seeded_loading_is_reproducible_with_and_without_workers(custom_root):
    ds = build_dataset(dict(type='RepeatDataset', times=2, dataset=custom_cfg(custom_root)))
    no_workers = build_dataloader(ds, 2, 0, seed=7)
    two_workers = build_dataloader(ds, 2, 2, seed=7, persistent_workers=False)
    first = batches(no_workers, 0)
    assert_same(first, batches(two_workers, 0))
    assert_same(first, batches(build_dataloader(ds, 2, 0, seed=7), 0))
    # another epoch: another order and other augmentations; back to epoch 0: the same again (resume)
    other = batches(no_workers, 1)
    assert [b[2] for b in other] != [b[2] for b in first] or any(
        not torch.equal(a[0], b[0]) for a, b in zip(first, other))
    assert_same(first, batches(no_workers, 0))
    # another seed: different augmentations
    assert any(not torch.equal(a[0], b[0]) for a, b in zip(first, batches(build_dataloader(ds, 2, 0, seed=8), 0)))


def test_loading_leaves_global_rng_alone(custom_root):
    ds = build_dataset(custom_cfg(custom_root))
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    ds[SeededIndex(0, 123)]
    assert np.random.rand() == expected


def test_sampler_state_and_shards(custom_root):
    ds = build_dataset(dict(type='RepeatDataset', times=3, dataset=custom_cfg(custom_root)))
    loader = build_dataloader(ds, 2, 0, seed=3)
    loader.sampler.set_epoch(5)
    state = loader.sampler.state_dict()
    assert state == {'seed': 3, 'epoch': 5}
    fresh = build_dataloader(ds, 2, 0, seed=0)
    fresh.sampler.load_state_dict(state)
    assert [int(i) for i in fresh.sampler] == [int(i) for i in loader.sampler]
    assert sorted(int(i) for i in loader.sampler) == list(range(9))
    test_loader = build_dataloader(ds, 1, 0, shuffle=False)
    assert [int(i) for i in test_loader.sampler] == list(range(9))
    assert build_dataloader(ds, 2, 1, num_gpus=2).batch_size == 4
    with pytest.raises(ConfigError, match='process group'):
        build_dataloader(ds, 2, 0, dist=True)
