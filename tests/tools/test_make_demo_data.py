"""The demo data generator (``tools/misc/make_demo_data.py``, run by ``tools/quickstart.sh``) regenerates cleanly:
a second run or a run after an interrupted one leaves exactly the new dataset, never a mix with older files."""
import os
from pathlib import Path

import pytest

from cli_tools import load_tool
from mmseg_ddrnet.datasets import synthetic

tool = load_tool('tools/misc/make_demo_data.py')
SMALL = ['--size', '32', '64']


def _files(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file())


def _images(root: Path, split: str):
    return sorted(p.name for p in (root / 'leftImg8bit' / split).rglob('*.png'))


def test_second_run_replaces_the_first(tmp_path):
    root = tmp_path / 'demo'
    tool.main([str(root), '--num-train', '4', '--num-val', '2', *SMALL])
    (root / 'train.txt').write_text('made by the converter of the first run\n')
    tool.main([str(root), '--num-train', '2', '--num-val', '1', *SMALL])
    assert len(_images(root, 'train')) == 2 and len(_images(root, 'val')) == 1
    assert not (root / 'train.txt').exists()
    fresh = tmp_path / 'fresh'
    tool.main([str(fresh), '--num-train', '2', '--num-val', '1', *SMALL])
    assert _files(root) == _files(fresh)
    assert sorted(os.listdir(tmp_path)) == ['demo', 'fresh']  # no temporary folder left


def test_interrupted_run_leaves_the_previous_dataset_and_no_temporary_folder(tmp_path, monkeypatch):
    root = tmp_path / 'demo'
    tool.main([str(root), '--num-train', '2', '--num-val', '1', *SMALL])
    before = {f: (root / f).read_bytes() for f in _files(root)}
    real_write, calls = synthetic._write_sample, []

    def write_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_write(*args, **kwargs)

    monkeypatch.setattr(synthetic, '_write_sample', write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        tool.main([str(root), '--num-train', '4', '--num-val', '2', '--seed', '1', *SMALL])
    assert {f: (root / f).read_bytes() for f in _files(root)} == before
    assert sorted(os.listdir(tmp_path)) == ['demo']


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / '.demo.tmp-killed' / 'leftImg8bit').mkdir(parents=True)
    tool.main([str(tmp_path / 'demo'), '--num-train', '1', '--num-val', '1', *SMALL])
    assert sorted(os.listdir(tmp_path)) == ['demo']


def test_a_folder_it_did_not_write_is_refused_untouched(tmp_path):
    root = tmp_path / 'cityscapes'
    (root / 'leftImg8bit').mkdir(parents=True)
    (root / 'leftImg8bit' / 'mine.png').write_bytes(b'user data')
    with pytest.raises(synthetic.DataError, match='is not empty and has no .synthetic_cityscapes'):
        tool.main([str(root), '--num-train', '1', '--num-val', '1', *SMALL])
    assert _files(root) == ['leftImg8bit/mine.png']


def test_a_demo_dataset_of_an_older_version_without_the_mark_is_replaced(tmp_path):
    root = tmp_path / 'demo'
    tool.main([str(root), '--num-train', '2', '--num-val', '1', *SMALL])
    (root / synthetic.DEMO_MARKER).unlink()  # older versions wrote no mark
    (root / 'train.txt').write_text('aachen_000000_000000\n')  # the converter's split list
    tool.main([str(root), '--num-train', '1', '--num-val', '1', *SMALL])
    assert (root / synthetic.DEMO_MARKER).is_file() and not (root / 'train.txt').exists()
    assert len([f for f in _files(root) if f.endswith('_leftImg8bit.png')]) == 2


def test_real_cityscapes_files_are_never_taken_for_a_demo_dataset(tmp_path):
    root = tmp_path / 'cityscapes'
    city = root / 'leftImg8bit' / 'train' / 'aachen'
    city.mkdir(parents=True)
    (root / 'gtFine').mkdir()
    (city / 'aachen_000000_000019_leftImg8bit.png').write_bytes(b'a real image')  # fine frames are 000019
    with pytest.raises(synthetic.DataError, match='is not empty'):
        tool.main([str(root), '--num-train', '1', '--num-val', '1', *SMALL])
    assert _files(root) == ['leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png']
