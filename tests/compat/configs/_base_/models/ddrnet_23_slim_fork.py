# Model file of a public mmseg-0.x DDRNet fork: the official-code names under ``extra``,
# ``norm_eval``/``input_transform`` spelled out, top-level ``pretrained``.
norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='DDRNet',
        norm_cfg=norm_cfg,
        norm_eval=False,
        extra=dict(layers=(2, 2, 2, 2), planes=32, spp_planes=128, head_planes=64)),
    decode_head=dict(
        type='DDRHead',
        in_channels=128,
        in_index=-1,
        channels=64,
        input_transform=None,
        num_classes=19,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
