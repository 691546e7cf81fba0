"""tools/print_config.py run as a user runs it: merged config on stdout, errors as one line."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mmseg_ddrnet.config import Config


def run_tool(repo_root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(repo_root / 'tools' / 'print_config.py'), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    (tmp_path / 'base.py').write_text(textwrap.dedent("""
        model = dict(type='EncoderDecoder', backbone=dict(type='DDRNet', norm_cfg=dict(type='SyncBN')))
        data = dict(train=dict(pipeline=[dict(type='Load'), dict(type='Resize', img_scale=(2048, 1024))]))
    """))
    child = tmp_path / 'child.py'
    child.write_text("_base_ = './base.py'\nmodel = dict(decode_head=dict(num_classes=11))\n")
    return child


def test_prints_merged_config_with_options(repo_root, config_file, tmp_path):
    result = run_tool(repo_root, str(config_file), '--cfg-options', 'model.backbone.norm_cfg.type=BN',
                      'data.train.pipeline.1.img_scale=(1024,512)', 'work_dir=work_dirs/x')
    assert result.returncode == 0, result.stderr
    saved = tmp_path / 'printed.py'
    saved.write_text(result.stdout)
    assert Config.fromfile(saved).to_dict() == {
        'model': {'type': 'EncoderDecoder', 'backbone': {'type': 'DDRNet', 'norm_cfg': {'type': 'BN'}},
                  'decode_head': {'num_classes': 11}},
        'data': {'train': {'pipeline': [{'type': 'Load'}, {'type': 'Resize', 'img_scale': (1024, 512)}]}},
        'work_dir': 'work_dirs/x'}


def test_deprecated_options_flag(repo_root, config_file):
    result = run_tool(repo_root, str(config_file), '--options', 'model.type=X')
    assert result.returncode == 0, result.stderr
    assert "    type='X',\n" in result.stdout
    assert '--options is deprecated' in result.stderr
    both = run_tool(repo_root, str(config_file), '--options', 'a=1', '--cfg-options', 'b=2')
    assert both.returncode == 2 and 'cannot both be given' in both.stderr


def test_user_errors(repo_root, config_file, tmp_path):
    missing = run_tool(repo_root, str(tmp_path / 'nope.py'))
    assert missing.returncode == 1
    assert missing.stderr.strip() == f'error: config file not found: {tmp_path / "nope.py"}'
    bad_index = run_tool(repo_root, str(config_file), '--cfg-options', 'data.train.pipeline.9.x=1')
    assert bad_index.returncode == 1 and 'Traceback' not in bad_index.stderr
    assert bad_index.stderr.startswith('error: cannot set option data.train.pipeline.9.x: ')
    malformed = run_tool(repo_root, str(config_file), '--cfg-options', 'oops')
    assert malformed.returncode == 2 and "'oops' is not of the form key=value" in malformed.stderr


def test_graph_prints_the_built_model(repo_root):
    config = repo_root / 'configs' / '_base_' / 'models' / 'ddrnet_23_slim.py'
    result = run_tool(repo_root, str(config), '--graph', '--cfg-options', 'model.decode_head.num_classes=11')
    assert result.returncode == 0, result.stderr
    text, graph = result.stdout.split('Model graph:\n')
    assert 'num_classes=11' in text
    assert graph.startswith('EncoderDecoder(') and '(backbone): DDRNet(' in graph
    assert '(conv_seg): Conv2d(64, 11, kernel_size=(1, 1)' in graph


def test_graph_needs_a_model(repo_root, tmp_path):
    config = tmp_path / 'no_model.py'
    config.write_text('lr = 0.01\n')
    result = run_tool(repo_root, str(config), '--graph')
    assert result.returncode == 1 and result.stdout == ''
    assert result.stderr.strip() == f'error: {config}: --graph needs a model dict in the config'
