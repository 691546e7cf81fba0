# custom_imports registers a user's hook (module compat_user_ext, on PYTHONPATH) that custom_hooks uses.
_base_ = ['./ddrnet_23_slim_fork_cityscapes.py']
custom_imports = dict(imports=['compat_user_ext'], allow_failed_imports=False)
custom_hooks = [dict(type='UserIterCountHook', out_file='user_hook_iters.txt', priority='NORMAL')]
