"""tools/convert_checkpoint.py given a checkpoint of this package: one line saying it needs no conversion, for every
--src-format, and nothing written."""
import importlib.util

import pytest
import torch

from tiny_seg import REPO

from mmseg_ddrnet.checkpoint import save_checkpoint
from mmseg_ddrnet.utils import run_cli


def _load_tool():
    spec = importlib.util.spec_from_file_location('convert_own_tool', REPO / 'tools' / 'convert_checkpoint.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


@pytest.fixture(params=['trained (meta version)', 'bare state dict with an auxiliary head'])
def own_checkpoint(request, tiny, tmp_path):
    checkpoint = torch.load(tiny[2], weights_only=True)
    path = tmp_path / 'own.pth'
    if request.param.startswith('trained'):
        checkpoint['meta']['mmseg_ddrnet_version'] = '0.1.0'
        save_checkpoint(checkpoint, path)
    else:
        state_dict = dict(checkpoint['state_dict'])
        state_dict.update({f'auxiliary_head.{k[len("decode_head."):]}': v for k, v in state_dict.items()
                           if k.startswith('decode_head.')})
        save_checkpoint({'state_dict': state_dict}, path)
    return path


@pytest.mark.parametrize('src_format', ['official', 'official-imagenet', 'mmseg'])
def test_own_checkpoint_needs_no_conversion(own_checkpoint, tmp_path, capsys, src_format):
    dst = tmp_path / 'out.pth'
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: tool.main(['--src-format', src_format, str(own_checkpoint), str(dst)]))
    err = capsys.readouterr().err
    assert exit_info.value.code == 1 and err.count('\n') == 1
    assert f'{own_checkpoint} is already a checkpoint of mmseg_ddrnet: nothing to convert' in err
    assert not dst.exists()
