"""utils.checks: the one home of the generic argument checks (used by pipelines, models, engine and ops)."""
import numpy as np
import pytest

from mmseg_ddrnet.utils import ConfigError
from mmseg_ddrnet.utils.checks import as_int_pair, check, int_pair, is_int, is_number


def test_predicates_refuse_bools_and_accept_numpy_scalars():
    assert is_int(3) and is_int(np.int64(3)) and not is_int(True) and not is_int(3.0)
    assert is_number(0.5) and is_number(np.float32(0.5)) and not is_number(False) and not is_number('1')


def test_check_raises_the_message():
    check(True, 'unused')
    with pytest.raises(ConfigError, match='^prob must lie in'):
        check(False, 'prob must lie in [0, 1]')


@pytest.mark.parametrize('value, pair', [(4, (4, 4)), ((2, 3), (2, 3)), ([np.int64(5), 6], (5, 6))])
def test_int_pairs(value, pair):
    assert as_int_pair(value) == pair and int_pair(value, 'crop_size') == pair
    assert all(type(v) is int for v in as_int_pair(value))


@pytest.mark.parametrize('value', [0, -1, True, (1, 2, 3), (1, 0), (1.5, 2), 'ab', None])
def test_bad_int_pairs_name_the_argument(value):
    assert as_int_pair(value) is None
    with pytest.raises(ConfigError) as err:
        int_pair(value, 'crop_size')
    assert str(err.value) == f'crop_size must be a positive int or a pair of them, got {value!r}'


def test_callers_share_the_checks():
    """Pipelines and the slide test mode answer with the shared checks (numpy ints accepted alike)."""
    from mmseg_ddrnet.datasets.pipelines import CLAHE, ResizeToMultiple
    from mmseg_ddrnet.models.segmentors.test_modes import check_test_cfg
    assert ResizeToMultiple(size_divisor=np.int64(4))._divisor == (4, 4)
    with pytest.raises(ConfigError, match='CLAHE: tile_grid_size must be a positive int or a pair of them'):
        CLAHE(tile_grid_size=(8, 0))
    cfg = check_test_cfg(dict(mode='slide', crop_size=[np.int64(8), 8], stride=4))
    assert cfg['crop_size'] == (8, 8) and cfg['stride'] == (4, 4)
    with pytest.raises(ConfigError, match="mode='slide' needs stride as two positive ints"):
        check_test_cfg(dict(mode='slide', crop_size=8, stride=(4, True)))
