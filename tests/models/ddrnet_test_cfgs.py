"""Small model configs shared by the model tests (imported by name: pytest puts this folder on sys.path)."""


def slim_cfg(num_classes: int = 5, aux: bool = True, **decode_kw) -> dict:
    """DDRNet-23-slim with a DDRHead (and an auxiliary DDRHead on the 1/8 spatial feature)."""
    cfg = dict(
        type='EncoderDecoder',
        backbone=dict(type='DDRNet', channels=32, ppm_channels=128),
        decode_head=dict(type='DDRHead', in_channels=128, channels=64, num_classes=num_classes, **decode_kw),
        test_cfg=dict(mode='whole'))
    if aux:
        cfg['auxiliary_head'] = dict(type='DDRHead', in_channels=64, channels=64, num_classes=num_classes,
                                     in_index=0, loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4))
    return cfg
