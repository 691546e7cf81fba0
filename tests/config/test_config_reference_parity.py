"""Config loading parity: mmsegmentation 1.2.2's own DDRNet configs load as its mmengine Config loads them."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from mmseg_ddrnet.config import Config

_DUMP_WITH_MMENGINE = """
import importlib.util, json, os, sys
from mmengine.config import Config
root = os.path.join(os.path.dirname(importlib.util.find_spec('mmseg').origin), '.mim', 'configs')
names = sys.argv[1:]
out = {name: Config.fromfile(os.path.join(root, name)).to_dict() for name in names}
print(json.dumps({'root': root, 'configs': out}, default=repr))
"""

CONFIGS = ['ddrnet/ddrnet_23-slim_in1k-pre_2xb6-120k_cityscapes-1024x1024.py',
           'ddrnet/ddrnet_23_in1k-pre_2xb6-120k_cityscapes-1024x1024.py',
           '_base_/datasets/cityscapes_1024x1024.py', '_base_/schedules/schedule_160k.py',
           '_base_/default_runtime.py']


@pytest.fixture(scope='module')
def reference(mmseg_reference_python):
    env = {**os.environ, 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD': '1'}
    result = subprocess.run([mmseg_reference_python, '-c', _DUMP_WITH_MMENGINE, *CONFIGS],
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize('name', CONFIGS)
def test_reference_configs_load_identically(reference, name):
    cfg = Config.fromfile(Path(reference['root']) / name)
    mine = json.loads(json.dumps(cfg.to_dict(), default=repr))
    assert mine == reference['configs'][name]
    assert Config.fromstring(cfg.pretty_text).to_dict() == cfg.to_dict()
