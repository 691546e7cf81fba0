# A user's 0.x-style loss (compat_user_ext.UserL1ProbLoss) added to the decode head's cross-entropy.
_base_ = ['./ddrnet_23_slim_custom_imports.py']
model = dict(
    decode_head=dict(loss_decode=[
        dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        dict(type='UserL1ProbLoss', loss_weight=0.5),
    ]),
    auxiliary_head=None)
