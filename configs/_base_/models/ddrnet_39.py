# DDRNet-39: base width 64, layers (3, 4, 6, 3) with stage 3 fused twice, head 256 channels (32.4M parameters).
# ImageNet-pretrained weights are not set here (the recipes set model.pretrained), nor an auxiliary head.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='DDRNet',
        in_channels=3,
        extra=dict(layers=[3, 4, 6, 3], planes=64, spp_planes=128),
        norm_cfg=norm_cfg,
        align_corners=False),
    decode_head=dict(
        type='DDRHead',
        in_channels=256,  # 4 x planes: the backbone's final 1/8 feature
        in_index=-1,
        channels=256,
        dropout_ratio=0.0,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    # model training and testing settings
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
