# The user's own dataset class (compat_user_ext.UserRoadDataset, a CustomDataset subclass registered through
# custom_imports) with its classes, palette and suffixes fixed in the class, as the 0.x tutorial writes it.
_base_ = ['./ddrnet_23_slim_custom_dataset.py']
custom_imports = dict(imports=['compat_user_ext'], allow_failed_imports=False)
dataset_type = 'UserRoadDataset'
data = dict(
    train=dict(_delete_=True, type=dataset_type, data_root={{_base_.data_root}}, img_dir='img_dir/train',
               ann_dir='ann_dir/train', split='splits/train.txt', pipeline={{_base_.train_pipeline}}),
    val=dict(_delete_=True, type=dataset_type, data_root={{_base_.data_root}}, img_dir='img_dir/val',
             ann_dir='ann_dir/val', pipeline={{_base_.test_pipeline}}),
    test=dict(_delete_=True, type=dataset_type, data_root={{_base_.data_root}}, img_dir='img_dir/val',
              ann_dir='ann_dir/val', pipeline={{_base_.test_pipeline}}))
