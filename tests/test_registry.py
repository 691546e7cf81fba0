import pytest

from mmseg_ddrnet.registry import BACKBONES, MODELS, Registry, build_from_cfg
from mmseg_ddrnet.utils import ConfigError, RegistryError


def make_registry():
    reg = Registry('thing')

    @reg.register_module()
    class DDRNet:
        def __init__(self, depth=23, planes=32):
            self.depth, self.planes = depth, planes

    @reg.register_module(name='Alias')
    class Other:
        pass
    return reg, DDRNet, Other


def test_build_with_default_args():
    reg, DDRNet, _ = make_registry()
    obj = build_from_cfg(dict(type='DDRNet', planes=64), reg, default_args=dict(depth=39, planes=1))
    assert isinstance(obj, DDRNet) and obj.depth == 39 and obj.planes == 64


def test_build_from_class_and_alias():
    reg, DDRNet, Other = make_registry()
    assert isinstance(reg.build(dict(type=DDRNet)), DDRNet)
    assert isinstance(reg.build(dict(type='Alias')), Other)
    assert 'Alias' in reg and 'Other' not in reg


def test_unknown_type_lists_close_names():
    reg, _, _ = make_registry()
    with pytest.raises(RegistryError) as info:
        reg.build(dict(type='DDRNett'))
    assert 'did you mean DDRNet' in str(info.value)
    assert "'DDRNett'" in str(info.value)


def test_bad_argument_names_the_class():
    reg, _, _ = make_registry()
    with pytest.raises(ConfigError, match='DDRNet.*unexpected keyword.*depht'):
        reg.build(dict(type='DDRNet', depht=3))


def test_missing_type_and_non_dict():
    reg, _, _ = make_registry()
    with pytest.raises(ConfigError, match='"type"'):
        reg.build(dict(planes=3))
    with pytest.raises(ConfigError, match='must be a dict'):
        reg.build(['DDRNet'])


def test_duplicate_registration_needs_force():
    reg, DDRNet, _ = make_registry()

    class DDRNet2:
        pass
    with pytest.raises(RegistryError, match='already registered'):
        reg.register_module(name='DDRNet', module=DDRNet2)
    reg.register_module(name='DDRNet', module=DDRNet2, force=True)
    assert reg.get('DDRNet') is DDRNet2


def test_mmseg_aliases_share_one_registry():
    assert BACKBONES is MODELS


def test_refused_type_says_why_until_registered():
    reg = Registry('thing')
    reg.refuse('Pavi', 'a hosted service')
    with pytest.raises(ConfigError, match="thing type 'Pavi' is not supported: a hosted service"):
        build_from_cfg(dict(type='Pavi'), reg)

    @reg.register_module(name='Pavi')
    class Mine:  # a user's own implementation (custom_imports) lifts the refusal
        pass
    assert reg.refusal('Pavi') is None and isinstance(build_from_cfg(dict(type='Pavi'), reg), Mine)
