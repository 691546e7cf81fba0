"""Config.fromfile: _base_ inheritance, _delete_, base and predefined variables, dropped names, custom_imports."""
import os
import uuid

import pytest

from mmseg_ddrnet.config import Config, ConfigDict
from mmseg_ddrnet.registry import MODELS
from mmseg_ddrnet.utils import ConfigError


def test_plain_file(write):
    path = write('a.py', """
        a = 1
        b = dict(b1=[0, 1, 2], b2=None)
        c = (1, 2)
        d = 'string'
    """)
    cfg = Config.fromfile(path)
    assert cfg.to_dict() == {'a': 1, 'b': {'b1': [0, 1, 2], 'b2': None}, 'c': (1, 2), 'd': 'string'}
    assert isinstance(cfg.b, ConfigDict)
    assert cfg.filename == str(path)


def test_inheritance_through_two_levels(write):
    write('base/grand.py', """
        model = dict(type='EncoderDecoder', backbone=dict(type='DDRNet', channels=32, norm_cfg=dict(type='SyncBN')),
                     decode_head=dict(num_classes=19))
        crop_size = (512, 1024)
        gpu_ids = [0, 1]
    """)
    write('base/parent.py', """
        _base_ = './grand.py'
        model = dict(backbone=dict(channels=64))
        gpu_ids = [2]
        lr = 0.01
    """)
    child = write('child.py', """
        _base_ = 'base/parent.py'
        model = dict(backbone=dict(norm_cfg=dict(type='BN')), decode_head=dict(num_classes=11))
        lr = 0.02
    """)
    cfg = Config.fromfile(child)
    assert cfg.model.to_dict() == {
        'type': 'EncoderDecoder',
        'backbone': {'type': 'DDRNet', 'channels': 64, 'norm_cfg': {'type': 'BN'}},
        'decode_head': {'num_classes': 11}}
    assert cfg.crop_size == (512, 1024)
    assert cfg.gpu_ids == [2]  # a list in a child replaces the base list
    assert cfg.lr == 0.02
    assert '_base_' not in cfg


def test_list_base_and_text(write):
    a = write('a.py', "model = dict(type='A')\n")
    b = write('b.py', "data = dict(samples_per_gpu=2)\n")
    child = write('child.py', "_base_ = ['./a.py', './b.py']\ndata = dict(workers_per_gpu=1)\n")
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {'model': {'type': 'A'}, 'data': {'samples_per_gpu': 2, 'workers_per_gpu': 1}}
    assert cfg.text.index(str(a)) < cfg.text.index(str(b)) < cfg.text.index(str(child))
    assert "data = dict(workers_per_gpu=1)" in cfg.text


def test_duplicate_key_among_bases_names_both_files(write):
    write('a.py', 'x = 1\n')
    write('b.py', 'x = 2\n')
    child = write('child.py', "_base_ = ['a.py', 'b.py']\n")
    with pytest.raises(ConfigError, match=r"'x'.*a\.py.*b\.py"):
        Config.fromfile(child)


def test_delete_replaces_the_base_dict(write):
    write('base.py', "optimizer = dict(type='SGD', lr=0.01, momentum=0.9)\nmodel = dict(a=1)\n")
    child = write('child.py', """
        _base_ = './base.py'
        optimizer = dict(_delete_=True, type='AdamW', lr=0.001)
        extra = dict(_delete_=True, k=1)
    """)
    cfg = Config.fromfile(child)
    assert cfg.optimizer.to_dict() == {'type': 'AdamW', 'lr': 0.001}
    assert cfg.extra.to_dict() == {'k': 1}  # no base to replace: the marker is dropped anyway


def test_child_dict_cannot_merge_into_base_scalar(write):
    write('base.py', 'norm = None\n')
    child = write('child.py', "_base_ = './base.py'\nnorm = dict(type='BN')\n")
    with pytest.raises(ConfigError, match=r'norm.*_delete_=True'):
        Config.fromfile(child)


def test_base_variables(write):
    write('base.py', """
        img_scale = (2048, 1024)
        train_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', img_scale=(2048, 1024))]
        model = dict(backbone=dict(type='DDRNet'), num_classes=19)
    """)
    child = write('child.py', """
        _base_ = './base.py'
        pipeline = {{ _base_.train_pipeline }}
        nested = dict(a=[{{_base_.img_scale}}, ({{ _base_.model.num_classes }}, 0)], b=dict(c={{_base_.model.backbone}}))
        scale_from_string = '{{ _base_.img_scale }}'
        work_dir = 'work_dirs/{{ _base_.model.backbone.type }}_{{_base_.model.num_classes}}'
        second_step = {{ _base_.train_pipeline.1.type }}
        longer = {{ _base_.train_pipeline }} + [dict(type='Pad')]
    """)
    cfg = Config.fromfile(child)
    assert cfg.pipeline == cfg.train_pipeline
    assert cfg.nested.to_dict() == {'a': [(2048, 1024), (19, 0)], 'b': {'c': {'type': 'DDRNet'}}}
    assert cfg.scale_from_string == (2048, 1024)
    assert cfg.work_dir == 'work_dirs/DDRNet_19'
    assert cfg.second_step == 'Resize'
    assert [step['type'] for step in cfg.longer] == ['LoadImageFromFile', 'Resize', 'Pad']
    cfg.pipeline[0]['type'] = 'changed'  # each use is a copy
    assert cfg.train_pipeline[0].type == 'LoadImageFromFile'


def test_unknown_base_variable_names_the_key(write):
    write('base.py', 'model = dict(a=1)\n')
    child = write('child.py', "_base_ = './base.py'\nx = {{ _base_.model.b }}\n")
    with pytest.raises(ConfigError, match=r"child\.py: .*base configs do not define: 'model\.b'"):
        Config.fromfile(child)
    in_string = write('in_string.py', "_base_ = './base.py'\nx = 'a_{{ _base_.nope }}'\n")
    with pytest.raises(ConfigError, match=r"in_string\.py: .*base configs do not define: 'nope'"):
        Config.fromfile(in_string)
    in_comment = write('in_comment.py', "_base_ = './base.py'\n# x = {{ _base_.nope }}\ny = {{_base_.model.a}}\n")
    assert Config.fromfile(in_comment).y == 1


def test_base_names_are_not_python_names_in_the_child(write):
    write('base.py', 'crop_size = (512, 512)\n')
    child = write('child.py', "_base_ = './base.py'\n\nx = crop_size\n")
    with pytest.raises(ConfigError, match=r"child\.py, line 3: NameError: name 'crop_size' is not defined "
                                          r"\(names of _base_ files .* write \{\{_base_\.crop_size\}\}\)"):
        Config.fromfile(child)


def test_predefined_variables_refer_to_their_own_file(write, tmp_path):
    write('sub/base.py', "base_name = '{{ fileBasename }}'\n")
    child = write('my_cfg.py', """
        _base_ = './sub/base.py'
        folder = '{{ fileDirname }}'
        name = '{{fileBasename}}'
        stem = '{{ fileBasenameNoExtension }}'
        ext = '{{ fileExtname }}'
        work_dir = './work_dirs/{{ fileBasenameNoExtension }}'
    """)
    cfg = Config.fromfile(child)
    assert (cfg.folder, cfg.name, cfg.stem, cfg.ext) == (str(tmp_path), 'my_cfg.py', 'my_cfg', '.py')
    assert cfg.work_dir == './work_dirs/my_cfg'
    assert cfg.base_name == 'base.py'
    raw = Config.fromfile(child, use_predefined_variables=False)
    assert raw.stem == '{{ fileBasenameNoExtension }}'


def test_imports_functions_classes_and_dunder_names_are_dropped(write):
    path = write('a.py', """
        import os
        import os.path as osp
        from math import pi, sqrt
        from collections import OrderedDict

        def helper(x):
            return 2 * x

        class Local:
            pass

        __private = 1
        root = osp.join('data', 'camvid')
        value = helper(pi)
        _single = 2
    """)
    cfg = Config.fromfile(path)
    assert set(cfg) == {'pi', 'root', 'value', '_single'}
    assert cfg.root == os.path.join('data', 'camvid')
    assert cfg.value == pytest.approx(6.283185307)


def test_custom_imports_register_a_module(write, tmp_path, monkeypatch):
    package = f'tmp_custom_pkg_{uuid.uuid4().hex[:8]}'
    class_name = f'TmpBackbone{uuid.uuid4().hex[:8]}'
    write(f'{package}/__init__.py', '')
    write(f'{package}/backbone.py', f"""
        from mmseg_ddrnet.registry import MODELS

        @MODELS.register_module()
        class {class_name}:
            pass
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg_path = write('cfg.py', f"custom_imports = dict(imports=['{package}.backbone'], allow_failed_imports=False)\n")
    Config.fromfile(cfg_path, import_custom_modules=False)
    assert class_name not in MODELS
    Config.fromfile(cfg_path)
    assert MODELS.get(class_name).__name__ == class_name


def test_custom_imports_failures(write):
    missing = write('missing.py', "custom_imports = dict(imports=['no_such_module_xyz'])\n")
    with pytest.raises(ConfigError, match=r"missing\.py: custom_imports: cannot import 'no_such_module_xyz'"):
        Config.fromfile(missing)
    allowed = write('allowed.py', "custom_imports = dict(imports=['no_such_module_xyz'], allow_failed_imports=True)\n")
    assert Config.fromfile(allowed).custom_imports.allow_failed_imports is True
    bad = write('bad.py', "custom_imports = ['os']\n")
    with pytest.raises(ConfigError, match=r'bad\.py: custom_imports must be dict'):
        Config.fromfile(bad)


def test_json_config_with_python_base(write):
    write('base.py', "model = dict(type='A', depth=18)\n")
    child = write('child.json', '{"_base_": "./base.py", "model": {"depth": 34}, "name": "{{ fileBasename }}"}')
    cfg = Config.fromfile(child)
    assert cfg.to_dict() == {'model': {'type': 'A', 'depth': 34}, 'name': 'child.json'}


def test_syntax_error_names_file_and_line(write):
    path = write('broken.py', "a = 1\nb = dict(x=1,\nc = ]\n")
    with pytest.raises(ConfigError, match=r'syntax error in config file .*broken\.py, line 3'):
        Config.fromfile(path)


def test_runtime_error_names_file_and_line(write):
    path = write('div.py', 'a = 1\nb = a / 0\n')
    with pytest.raises(ConfigError, match=r'div\.py, line 2: ZeroDivisionError'):
        Config.fromfile(path)


def test_missing_files(write, tmp_path):
    with pytest.raises(ConfigError, match=r'config file not found: .*nope\.py'):
        Config.fromfile(tmp_path / 'nope.py')
    child = write('child.py', "_base_ = ['../_base_/models/missing_model.py']\n")
    with pytest.raises(ConfigError, match=r'not found: .*_base_/models/missing_model\.py \(in _base_ of .*child\.py\)'):
        Config.fromfile(child)


def test_circular_bases_and_bad_files(write):
    write('a.py', "_base_ = './b.py'\n")
    b = write('b.py', "_base_ = './a.py'\n")
    with pytest.raises(ConfigError, match=r'circular _base_ inheritance: b\.py -> a\.py -> b\.py'):
        Config.fromfile(b)
    yml = write('c.yaml', 'a: 1\n')
    with pytest.raises(ConfigError, match=r"unsupported extension '\.yaml'"):
        Config.fromfile(yml)
    reserved = write('r.py', 'text = 1\n')
    with pytest.raises(ConfigError, match="'text' is a reserved name"):
        Config.fromfile(reserved)
    computed = write('computed.py', "_base_ = ['a' + '.py']\n")
    with pytest.raises(ConfigError, match=r'computed\.py:1: _base_ must be a literal'):
        Config.fromfile(computed)


def test_fromstring():
    cfg = Config.fromstring("a = dict(b=(1, 2))\n", '.py')
    assert cfg.a.b == (1, 2)
    assert cfg.text == "a = dict(b=(1, 2))\n"


def test_deprecated_config_warns(write, monkeypatch):
    write('new.py', 'a = 1\n')
    old = write('old.py', "_base_ = './new.py'\n_deprecation_ = dict(expected='new.py', reference='https://x/y')\n")
    messages = []
    monkeypatch.setattr('mmseg_ddrnet.config.loader.warn_once', messages.append)
    cfg = Config.fromfile(old)
    assert cfg.to_dict() == {'a': 1}
    assert messages == [f'config file {old} is deprecated; use new.py instead (see https://x/y)']
