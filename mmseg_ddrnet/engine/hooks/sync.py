"""``SyncBuffersHook`` and ``DistSamplerSeedHook`` (mmcv 1.x): keeping ranks and epochs consistent."""
from ...registry import HOOKS
from ...utils.dist import allreduce_buffers
from .hook import Hook


@HOOKS.register_module()
class SyncBuffersHook(Hook):
    """Averages the model's floating-point buffers (BN running statistics) over the ranks after every epoch
    (training and validation), as mmcv; nothing when not distributed or with ``distributed=False``."""

    def __init__(self, distributed: bool = True):
        self.distributed = distributed

    def after_epoch(self, runner) -> None:
        if self.distributed:
            allreduce_buffers(runner.model)


@HOOKS.register_module()
class DistSamplerSeedHook(Hook):
    """Sets the sampler's epoch (``sampler.set_epoch(runner.epoch)``) before every epoch, as mmcv.

    The runners here already do this before each epoch (with the same epoch, see
    :mod:`mmseg_ddrnet.engine.data_iter`), so the hook changes nothing in the data order; it is kept for
    configs and code that name it (mmseg 0.x registers it for distributed ``EpochBasedRunner`` runs).
    """

    def before_epoch(self, runner) -> None:
        loader = runner.data_loader
        sampler = getattr(loader, 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)
            return
        sampler = getattr(getattr(loader, 'batch_sampler', None), 'sampler', None)
        if hasattr(sampler, 'set_epoch'):
            sampler.set_epoch(runner.epoch)
