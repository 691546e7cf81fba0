# The 0.x RepeatDataset wrapper around the training set (the pascal_voc12 / chase_db1 pattern).
_base_ = ['./ddrnet_23_slim_fork_cityscapes.py']
data = dict(
    train=dict(
        _delete_=True,
        type='RepeatDataset',
        times=3,
        dataset=dict(
            type={{_base_.dataset_type}},
            data_root={{_base_.data_root}},
            img_dir='leftImg8bit/train',
            ann_dir='gtFine/train',
            pipeline={{_base_.train_pipeline}})))
