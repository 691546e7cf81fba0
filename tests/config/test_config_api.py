"""Config and ConfigDict as objects: access, pretty_text/dump round trips, copies, pickling, merge_from_dict."""
import copy
import pickle

import pytest

from mmseg_ddrnet.config import Config, ConfigDict
from mmseg_ddrnet.utils import ConfigError

TRICKY = dict(
    model=dict(type='EncoderDecoder', backbone=dict(type='DDRNet', channels=(32, 64), norm_cfg=dict(type='BN')),
               decode_head=[dict(type='A', loss=dict(weight=1.0)), dict(type='B', loss=dict(weight=0.4))]),
    quotes='it\'s "quoted"\nnext line \\ backslash',
    unicode='café ✓',
    nothing=None, yes=True, no=False, lr=1e-4, big=1e30, inf=float('inf'), neg_inf=float('-inf'),
    one_tuple=(1,), empty_tuple=(), empty_list=[], empty_dict={},
    nested_tuples=[((1, 2), [3, (4,)]), (dict(a=(5, 6)),)],
    odd_keys={'a-b': 1, 2: 'two', 'class': 3, 'ok': {'x y': [None]}},
    long_list=list(range(60)),
)


def test_config_dict_access():
    d = ConfigDict(a=1, b=dict(c=[dict(d=2)], e=(dict(f=3),)))
    assert d.a == 1 and d['a'] == 1
    assert isinstance(d.b, ConfigDict) and isinstance(d.b.c[0], ConfigDict) and isinstance(d.b.e[0], ConfigDict)
    assert d.b.c[0].d == 2 and d.b.e[0].f == 3
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        _ = d.missing
    assert getattr(d, 'missing', 'default') == 'default'
    with pytest.raises(KeyError):
        _ = d['missing']
    d.g = dict(h=1)
    d['i'] = [dict(j=2)]
    d.update(k=dict(l=3))
    assert isinstance(d.g, ConfigDict) and isinstance(d.i[0], ConfigDict) and isinstance(d.k, ConfigDict)
    assert d.setdefault('m', dict(n=1)).n == 1
    del d.g
    assert 'g' not in d
    plain = d.to_dict()
    assert type(plain) is dict and type(plain['b']) is dict and type(plain['b']['e'][0]) is dict
    assert plain['b']['e'] == ({'f': 3},)


def test_config_dict_copies_nested_dicts():
    shared = dict(x=1)
    d = ConfigDict(a=shared, b=shared)
    d.a.x = 2
    assert d.b.x == 1 and shared['x'] == 1


def test_config_access():
    cfg = Config(dict(a=1, b=dict(c=2)), filename='x.py')
    assert cfg.a == 1 and cfg['b']['c'] == 2 and cfg.b.c == 2
    assert cfg.get('a') == 1 and cfg.get('z', 5) == 5
    assert 'a' in cfg and 'z' not in cfg
    assert list(cfg) == ['a', 'b'] and len(cfg) == 2
    assert dict(cfg.items())['a'] == 1
    assert getattr(cfg, 'z', None) is None
    cfg.d = dict(e=1)
    cfg['f'] = [dict(g=1)]
    assert isinstance(cfg.d, ConfigDict) and cfg.f[0].g == 1
    assert cfg.filename == 'x.py' and cfg.text == ''
    assert repr(cfg).startswith('Config (path: x.py): ')


def test_config_constructor_errors():
    with pytest.raises(ConfigError, match='must be built from a dict'):
        Config([1, 2])
    with pytest.raises(ConfigError, match="'pretty_text' is a reserved name"):
        Config(dict(pretty_text=1))


def test_pretty_text_exact():
    cfg = Config(dict(a=1, b=dict(c=(1,), d='x'), e=[dict(f=None)], g={'h-i': 1.5}))
    assert cfg.pretty_text == (
        "a = 1\n"
        "b = dict(c=(1,), d='x')\n"
        "e = [dict(f=None)]\n"
        "g = {'h-i': 1.5}\n")


def test_pretty_text_wraps_long_values():
    cfg = Config(dict(pipeline=[dict(type='LoadImageFromFile'), dict(type='RandomCrop', crop_size=(512, 1024),
                                                                       cat_max_ratio=0.75)]))
    assert cfg.pretty_text == (
        "pipeline = [\n"
        "    dict(type='LoadImageFromFile'),\n"
        "    dict(type='RandomCrop', crop_size=(512, 1024), cat_max_ratio=0.75),\n"
        "]\n")


def test_pretty_text_and_dump_reload_equal(tmp_path):
    cfg = Config(TRICKY)
    text = cfg.pretty_text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert Config.fromstring(text).to_dict() == cfg.to_dict()
    out = tmp_path / 'dumped.py'
    cfg.dump(str(out))
    reloaded = Config.fromfile(out)
    assert reloaded.to_dict() == cfg.to_dict()
    assert reloaded == cfg
    assert cfg.dump() == text


def test_dump_json_and_errors(tmp_path):
    cfg = Config(dict(a=(1, 2), b=dict(c=None)))
    cfg.dump(str(tmp_path / 'c.json'))
    assert Config.fromfile(tmp_path / 'c.json').to_dict() == {'a': [1, 2], 'b': {'c': None}}
    with pytest.raises(ConfigError, match=r'\.yaml'):
        cfg.dump(str(tmp_path / 'c.yaml'))
    with pytest.raises(ConfigError, match=r'model\.obj=.*object'):
        Config(dict(model=dict(obj=object()))).dump(str(tmp_path / 'x.py'))


def test_top_level_keys_that_are_not_names(tmp_path):
    cfg = Config({'a-b': 1, 'class': dict(x=2), 'ok': 3})
    assert cfg.pretty_text == "globals()['a-b'] = 1\nglobals()['class'] = dict(x=2)\nok = 3\n"
    cfg.dump(str(tmp_path / 'odd.py'))
    assert Config.fromfile(tmp_path / 'odd.py') == cfg


def test_dump_reloads_a_file_config(write, tmp_path):
    write('base.py', "model = dict(type='A', lst=[1, 2])\n")
    child = write('child.py', "_base_ = './base.py'\nmodel = dict(lst=[3], t=(1, 'a'))\n")
    cfg = Config.fromfile(child)
    cfg.dump(str(tmp_path / 'merged.py'))
    assert Config.fromfile(tmp_path / 'merged.py').to_dict() == {'model': {'type': 'A', 'lst': [3], 't': (1, 'a')}}


def test_copies_and_pickling():
    cfg = Config(TRICKY, cfg_text='text', filename='f.py')
    deep = copy.deepcopy(cfg)
    deep.model.backbone.channels = (1, 1)
    assert cfg.model.backbone.channels == (32, 64)
    shallow = copy.copy(cfg)
    assert shallow == cfg and shallow.filename == 'f.py'
    for obj in (cfg, cfg._cfg_dict):
        loaded = pickle.loads(pickle.dumps(obj))
        assert type(loaded) is type(obj) and loaded == obj
    loaded = pickle.loads(pickle.dumps(cfg))
    assert loaded.filename == 'f.py' and loaded.text == 'text' and isinstance(loaded.model, ConfigDict)


def test_merge_from_dict():
    cfg = Config(dict(model=dict(backbone=dict(type='DDRNet', norm_cfg=dict(type='SyncBN'))),
                      data=dict(train=dict(pipeline=[dict(type='Load'), dict(type='Resize', img_scale=(2048, 1024)),
                                                     dict(type='Flip')])),
                      gpu_ids=[0, 1]))
    cfg.merge_from_dict({
        'model.backbone.norm_cfg.type': 'BN',
        'data.train.pipeline.1.img_scale': (1024, 512),
        'gpu_ids': [3],
        'new.deeply.nested': 1,
        'model.backbone': dict(depth=23),
    })
    assert cfg.model.backbone.to_dict() == {'type': 'DDRNet', 'norm_cfg': {'type': 'BN'}, 'depth': 23}
    assert cfg.data.train.pipeline[1].to_dict() == {'type': 'Resize', 'img_scale': (1024, 512)}
    assert cfg.data.train.pipeline[0].type == 'Load'
    assert cfg.gpu_ids == [3]
    assert cfg.new.deeply.nested == 1
    cfg.merge_from_dict({'data.train.pipeline': [dict(type='Only')]})
    assert cfg.data.train.pipeline == [{'type': 'Only'}]


@pytest.mark.parametrize('option, message', [
    ('data.pipeline.5.img_scale', r'cannot set option data\.pipeline\.5\.img_scale: .*index 5 is out of range'),
    ('data.pipeline.x', r"cannot set option data\.pipeline\.x: .*'x' is not an index"),
    ('model.type.depth', r"cannot set option model\.type\.depth: model\.type is 'A' \(str\), not a dict"),
    ('model..type', r"invalid option key 'model\.\.type'"),
])
def test_merge_from_dict_errors(option, message):
    cfg = Config(dict(model=dict(type='A'), data=dict(pipeline=[dict(type='Load')])))
    with pytest.raises(ConfigError, match=message):
        cfg.merge_from_dict({option: 1})
    assert cfg.to_dict() == {'model': {'type': 'A'}, 'data': {'pipeline': [{'type': 'Load'}]}}


def test_merge_from_dict_without_list_keys():
    cfg = Config(dict(pipeline=[dict(type='Load')]))
    with pytest.raises(ConfigError, match=r"pipeline is \[{'type': 'Load'}\] \(list\), not a dict"):
        cfg.merge_from_dict({'pipeline.0.type': 'X'}, allow_list_keys=False)


def test_load_config_file_merges_the_options_and_names_a_missing_file(tmp_path):
    from mmseg_ddrnet.config import load_config_file
    path = tmp_path / 'cfg.py'
    path.write_text("model = dict(type='A', depth=1)\ndata = dict(samples_per_gpu=2)\n")
    cfg = load_config_file(str(path), {'model.depth': 5, 'data.workers_per_gpu': 0})
    assert cfg.model == dict(type='A', depth=5) and cfg.data == dict(samples_per_gpu=2, workers_per_gpu=0)
    assert cfg.filename == str(path) and load_config_file(str(path)).model.depth == 1
    with pytest.raises(ConfigError, match=r'^config file not found: missing\.py$'):
        load_config_file('missing.py')
