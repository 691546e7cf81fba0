"""tools/convert_checkpoint.py given a checkpoint of this package: one line saying it needs no conversion, for every
--src-format, and nothing written."""
import pytest
import torch

from cli_tools import load_tool, one_line_error
from mmseg_ddrnet.checkpoint import save_checkpoint

tool = load_tool('tools/convert_checkpoint.py')


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
    line = one_line_error(capsys, lambda: tool.main(['--src-format', src_format, str(own_checkpoint), str(dst)]))
    assert f'{own_checkpoint} is already a checkpoint of mmseg_ddrnet: nothing to convert' in line
    assert not dst.exists()
