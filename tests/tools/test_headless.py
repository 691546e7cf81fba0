"""On a machine without a screen (no DISPLAY): ``--show`` gives one warning per tool and never reaches
``cv2.imshow`` (which aborts the process in a GUI OpenCV build without a display); a tool whose only output would
be a window asks for an output file in one line; ``demo/video_demo.py`` refuses non-videos and missing cameras in
one line."""
import json

import cv2
import numpy as np
import pytest

from cli_tools import load_tool, one_line_error
from mmseg_ddrnet.utils import logging as log_utils
from mmseg_ddrnet.utils import run_cli
from mmseg_ddrnet.visualization import screen

test_tool, browse_tool, analyze_logs, image_demo, video_demo = (load_tool(p) for p in (
    'tools/test.py', 'tools/browse_dataset.py', 'tools/analyze_logs.py', 'demo/image_demo.py', 'demo/video_demo.py'))


@pytest.fixture(autouse=True)
def headless(monkeypatch, fresh_logger):
    """No display; OpenCV claims a GUI (as opencv-python does), and any attempt to open a window fails the test."""
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    monkeypatch.setattr(screen, '_opencv_gui', lambda: 'GTK3')
    monkeypatch.setattr(log_utils, '_warned', set())

    def no_window(*args, **kwargs):
        raise AssertionError('cv2.imshow called without a screen')

    monkeypatch.setattr(cv2, 'imshow', no_window)


def _show_warnings(capsys) -> list:
    out = capsys.readouterr()
    return [line for line in (out.out + out.err).splitlines() if '--show: no screen' in line]


def test_test_tool_show_warns_once_and_still_evaluates(tiny, tmp_path, capsys):
    _, config, checkpoint = tiny
    capsys.readouterr()
    test_tool.main([config, checkpoint, '--show', '--eval', 'mIoU', '--work-dir', str(tmp_path)])
    assert len(_show_warnings(capsys)) == 1  # 3 test images, one warning
    assert list(tmp_path.glob('eval_*.json'))


def test_test_tool_show_alone_asks_for_show_dir(tiny, capsys):
    _, config, checkpoint = tiny
    line = one_line_error(capsys, lambda: test_tool.main([config, checkpoint, '--show']))
    assert 'no screen' in line and '--show-dir' in line


def test_browse_show_warns_once_and_writes_the_samples(tiny, tmp_path, capsys):
    capsys.readouterr()
    browse_tool.main([tiny[1], '--show', '--output-dir', str(tmp_path / 'browse')])
    assert len(_show_warnings(capsys)) == 1
    assert len(list((tmp_path / 'browse').rglob('*.png'))) == 3


def test_show_image_called_directly_warns_once(capsys):
    from mmseg_ddrnet.visualization import show_image
    capsys.readouterr()
    for _ in range(3):
        show_image('x', np.zeros((4, 4, 3), np.uint8))
    assert len(_show_warnings(capsys)) == 1


def test_image_demo_without_out_file_asks_for_one(tiny, capsys):
    _, config, checkpoint = tiny
    img = next((tiny[0] / 'camvid' / 'val').glob('*.png'))
    line = one_line_error(capsys, lambda: image_demo.main([str(img), config, checkpoint, '--device', 'cpu']))
    assert 'no screen' in line and '--out-file' in line


def test_analyze_logs_without_out_asks_for_one(tmp_path, capsys):
    log = tmp_path / 'run.log.json'
    log.write_text(json.dumps({'mode': 'val', 'iter': 10, 'mIoU': 0.5}) + '\n')
    line = one_line_error(capsys, lambda: analyze_logs.main(['plot_curve', str(log)]))
    assert 'no screen' in line and '--out' in line


def test_video_demo_show_alone_asks_for_an_output_file(tiny, capsys):
    line = one_line_error(capsys, lambda: video_demo.parse_args(['v.mp4', tiny[1], tiny[2], '--show']))
    assert 'no screen' in line and '--output-file' in line


def test_video_demo_refuses_an_image_and_a_non_video_in_one_line(tiny, tmp_path, capfd):
    _, config, checkpoint = tiny
    img = next((tiny[0] / 'camvid' / 'val').glob('*.png'))
    fake = tmp_path / 'clip.mp4'
    fake.write_text('not a video')
    for source, expected in ((str(img), 'is an image, not a video: segment it with demo/image_demo.py'),
                             (str(fake), f'OpenCV cannot read {fake} as a video'),
                             ('97', 'cannot open camera 97')):
        capfd.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            run_cli(lambda: video_demo.main([source, config, checkpoint, '--device', 'cpu',
                                             '--output-file', str(tmp_path / 'out.mp4')]))
        err = capfd.readouterr().err
        assert exit_info.value.code == 1 and err.count('\n') == 1 and expected in err, err
    assert not (tmp_path / 'out.mp4').exists()


def test_confusion_matrix_show_warns_once_and_saves_the_plot(tiny, tmp_path, capsys):
    pytest.importorskip('matplotlib')
    _, config, checkpoint = tiny
    test_tool.main([config, checkpoint, '--out', str(tmp_path / 'maps.pkl')])
    capsys.readouterr()
    load_tool('tools/confusion_matrix.py').main([config, str(tmp_path / 'maps.pkl'), str(tmp_path / 'cm'), '--show'])
    assert len(_show_warnings(capsys)) == 1 and (tmp_path / 'cm' / 'confusion_matrix.png').is_file()
