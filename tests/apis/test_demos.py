"""Batched inference_segmentor, demo/image_demo.py and demo/video_demo.py on a tiny DDRNet."""
import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest

from tiny_seg import REPO  # noqa: E402

from mmseg_ddrnet.apis import inference_segmentor, init_segmentor, show_result  # noqa: E402
from mmseg_ddrnet.apis.video import FpsMeter, draw_fps, open_capture  # noqa: E402
from mmseg_ddrnet.metrics import CAMVID_PALETTE  # noqa: E402
from mmseg_ddrnet.utils import ConfigError, DataError  # noqa: E402

FRAMES, FRAME_HW = 5, (48, 64)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f'mmseg_ddrnet_{path.stem}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


image_demo, video_demo = _load(REPO / 'demo' / 'image_demo.py'), _load(REPO / 'demo' / 'video_demo.py')


@pytest.fixture(scope='module')
def model(tiny):
    return init_segmentor(tiny[1], tiny[2])


def _images(count, hw=FRAME_HW, seed=0):
    rng = np.random.RandomState(seed)
    return [rng.randint(0, 256, (*hw, 3), dtype=np.uint8) for _ in range(count)]


def test_a_list_runs_in_batches_with_the_single_image_results(model, monkeypatch, tmp_path):
    images = _images(5) + _images(1, (40, 56), seed=1) + _images(1, seed=2)
    cv2.imwrite(str(tmp_path / 'last.png'), images[-1])
    images[-1] = str(tmp_path / 'last.png')  # paths and arrays mix
    singles = [inference_segmentor(model, img)[0] for img in images]
    sizes, forward = [], model.forward
    monkeypatch.setattr(model, 'forward', lambda **kw: sizes.append(kw['img'][0].shape[0]) or forward(**kw))
    batched = inference_segmentor(model, images, batch_size=2)
    assert sizes == [2, 2, 1, 1, 1]  # a new size starts a new batch
    assert [r.shape for r in batched] == [s.shape for s in singles]
    for single, result in zip(singles, batched):
        assert (single == result).mean() >= 0.999  # batch-size dependent float rounding only
    with pytest.raises(ConfigError, match='batch_size'):
        inference_segmentor(model, images, batch_size=0)


def test_image_demo_writes_the_overlay(tiny, model, tmp_path):
    img = _images(1)[0]
    cv2.imwrite(str(tmp_path / 'img.png'), img)
    out = tmp_path / 'out' / 'seg.png'
    image_demo.main([str(tmp_path / 'img.png'), tiny[1], tiny[2], '--device', 'cpu', '--out-file', str(out),
                     '--palette', 'camvid', '--opacity', '1'])
    painted = cv2.imread(str(out))
    label = inference_segmentor(model, img)[0]
    expected = np.asarray(CAMVID_PALETTE, np.uint8)[label][..., ::-1]
    np.testing.assert_array_equal(painted, expected)  # opacity 1: exactly the palette colours of the labels
    np.testing.assert_array_equal(painted, show_result(model, img, label, palette=CAMVID_PALETTE, opacity=1))


def _write_video(path: Path, frames, fps=10.0):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (w, h))
    assert writer.isOpened()
    for frame in frames:
        writer.write(frame)
    writer.release()


def _read_video(path: Path):
    capture, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


@pytest.mark.parametrize('extra', [['--batch-size', '2', '--fuse-conv-bn'], ['--precision', 'bf16']])
def test_video_demo_writes_every_frame_with_the_fps(tiny, tmp_path, extra):
    frames = [np.full((*FRAME_HW, 3), 40 * i, np.uint8) for i in range(FRAMES)]
    _write_video(tmp_path / 'in.avi', frames)
    out = tmp_path / 'out.avi'
    video_demo.main([str(tmp_path / 'in.avi'), tiny[1], tiny[2], '--device', 'cpu', '--output-file', str(out),
                     '--output-fourcc', 'MJPG', '--output-height', '96', '--output-width', '128', *extra])
    written = _read_video(out)
    assert len(written) == FRAMES and written[0].shape == (96, 128, 3)
    box = written[0][:20, :60].astype(int)  # 'FPS: ...' in white on black at the top left
    rest = written[0][40:, :].astype(int)
    assert box.max() > 200 and np.median(box) < 40 and np.median(rest) > 40  # the frame itself is painted


def test_video_demo_errors(tiny, tmp_path):
    with pytest.raises(DataError, match='not found'):
        video_demo.main([str(tmp_path / 'missing.mp4'), tiny[1], tiny[2], '--device', 'cpu', '--output-file',
                         str(tmp_path / 'o.avi')])
    with pytest.raises(ConfigError, match='nothing to do'):
        video_demo.parse_args(['v.mp4', tiny[1], tiny[2]])
    with pytest.raises(DataError, match='cannot open'):
        open_capture('97')  # a camera index that does not exist


def test_draw_fps_and_meter():
    frame = np.zeros((40, 120, 3), np.uint8)
    draw_fps(frame, 12.34)
    assert frame[:25, :80].max() == 255 and frame[30:].max() == 0
    meter = FpsMeter()
    meter.update(2, 0.5)
    assert meter.update(2, 0.5) == pytest.approx(4.0) and meter.frames == 4
