"""DictAction through a real argparse parser: every value form of --cfg-options, and malformed items."""
import argparse
import re

import pytest

from mmseg_ddrnet.config import Config, DictAction


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='tool')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser


def parse(*items: str) -> dict:
    return make_parser().parse_args(['--cfg-options', *items]).cfg_options


@pytest.mark.parametrize('text, expected', [
    ('1', 1),
    ('-3', -3),
    ('0.5', 0.5),
    ('1e-4', 1e-4),
    ('True', True), ('true', True), ('False', False), ('false', False),
    ('None', None),
    ('none', 'none'),
    ('SyncBN', 'SyncBN'),
    ('work_dirs/x.py', 'work_dirs/x.py'),
    ('', ''),
    ('a,b', ['a', 'b']),
    ('1,2,', [1, 2]),
    ('[1,2]', [1, 2]),
    ('[a]', ['a']),
    ('[]', []),
    ('()', ()),
    ('(1024,512)', (1024, 512)),
    ('( 1024 , 512 )', (1024, 512)),
    ('(1,)', (1,)),
    ('[(1,2),(3,4)]', [(1, 2), (3, 4)]),
    ('((1,2),[3,(4,True)])', ((1, 2), [3, (4, True)])),
    ('(1,2),(3,4)', [(1, 2), (3, 4)]),
    ('[1,None,x]', [1, None, 'x']),
    ("'a b'", 'a b'),
    ('"1,2"', '1,2'),
    ("'True'", 'True'),
    ("['x,y',\"(z)\",3]", ['x,y', '(z)', 3]),
])
def test_value_forms(text, expected):
    value = parse(f'key={text}')['key']
    assert value == expected and type(value) is type(expected)


def test_several_items_and_repeated_flags():
    args = make_parser().parse_args(['--cfg-options', 'a.b=1', 'c=x=y', '--cfg-options', 'd.0.e=[1]', 'a.b=2'])
    assert args.cfg_options == {'a.b': 2, 'c': 'x=y', 'd.0.e': [1]}
    assert make_parser().parse_args([]).cfg_options is None


def test_options_apply_to_a_config():
    cfg = Config(dict(data=dict(train=dict(pipeline=[dict(type='Load'), dict(type='Resize', img_scale=(2048, 1024))]))))
    cfg.merge_from_dict(parse('data.train.pipeline.1.img_scale=(1024,512)', 'data.samples_per_gpu=4'))
    assert cfg.data.train.pipeline[1].img_scale == (1024, 512)
    assert cfg.data.samples_per_gpu == 4


@pytest.mark.parametrize('item, reason', [
    ('novalue', "'novalue' is not of the form key=value"),
    ('=3', "'=3' is not of the form key=value"),
    ('k=[1,2', "cannot parse 'k=\\[1,2': missing '\\]'"),
    ('k=(1,2]', "cannot parse 'k=\\(1,2\\]': unbalanced '\\]'"),
    ('k=1,2)', "cannot parse 'k=1,2\\)': unbalanced '\\)'"),
    ("k='abc", "cannot parse \"k='abc\": unclosed quote"),
])
def test_malformed_items_exit_2_with_one_line(item, reason, capsys):
    with pytest.raises(SystemExit) as exc:
        make_parser().parse_args(['--cfg-options', item])
    assert exc.value.code == 2
    last_line = capsys.readouterr().err.strip().splitlines()[-1]
    assert last_line.startswith('tool: error: argument --cfg-options: ')
    assert re.search(reason, last_line), last_line
