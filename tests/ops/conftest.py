"""Fixtures of the ops tests: the devices to run the compiled kernels on."""
import pytest
import torch

from mmseg_ddrnet import ops
from prerequisites import ext_required, missing, require_ext

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request) -> str:
    """Each device the kernels run on (CUDA when available); skips when mmcv_ext is not built (fails under CI)."""
    require_ext()
    if request.param == 'cuda':
        import mmcv_ext
        if not mmcv_ext.build_info()['cuda']:
            missing('mmcv_ext was built without CUDA kernels on a machine with a GPU', ext_required(),
                    'CI=true or MMCV_EXT_REQUIRED=1')
    return request.param


@pytest.fixture(autouse=True)
def _ext_enabled(monkeypatch):
    """Every test starts with the kernels allowed, whatever the environment says."""
    monkeypatch.delenv(ops.DISABLE_ENV, raising=False)
    with ops.use_ext(True):
        yield


@pytest.fixture
def random_labels():
    """``random_labels(n, h, w, num_classes, device, ignore_frac=0.2, ignore_index=255)``."""
    return _random_labels


def _random_labels(n: int, h: int, w: int, num_classes: int, device: str, ignore_frac: float = 0.2,
                   ignore_index: int = 255, seed: int = 0) -> torch.Tensor:
    """Random N×H×W labels with about ``ignore_frac`` of them set to ``ignore_index``."""
    gen = torch.Generator().manual_seed(seed)
    label = torch.randint(0, num_classes, (n, h, w), generator=gen)
    label[torch.rand(n, h, w, generator=gen) < ignore_frac] = ignore_index
    return label.to(device)
