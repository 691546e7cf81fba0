"""Segment a video file or a camera stream frame by frame (``demo/video_demo.py``), with the running FPS drawn."""
import contextlib
import os
import sys
import time
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from torch import nn

from ..utils import ConfigError, DataError
from .inference import inference_segmentor
from ..visualization import model_palette, overlay_segmentation, show_image

FPS_FONT_SCALE = 0.6


def open_capture(source: Union[str, int]) -> cv2.VideoCapture:
    """An OpenCV capture of a video file, or of the camera with that index (``'0'`` or ``0``).

    An image file, a file OpenCV cannot decode and a camera that cannot be opened are one-line ``DataError``s
    (the messages OpenCV and FFmpeg print while trying are kept off the terminal).
    """
    if isinstance(source, str) and source.isdigit():
        source = int(source)
    if isinstance(source, str):
        if not os.path.isfile(source):
            raise DataError(f'video file not found: {source}')
        if cv2.haveImageReader(source):
            raise DataError(f'{source} is an image, not a video: segment it with demo/image_demo.py')
    with _quiet_native_stderr():
        capture = cv2.VideoCapture(source)
        opened = capture.isOpened()
    if not opened:
        if isinstance(source, int):
            raise DataError(f'cannot open camera {source} (no such camera, or no permission to use it; '
                            'the cameras are /dev/video*)')
        raise DataError(f'OpenCV cannot read {source} as a video (not a video file, or a codec this OpenCV '
                        'build lacks)')
    return capture


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Send what C libraries (OpenCV, FFmpeg, V4L) write to file descriptor 2 to /dev/null meanwhile."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr: nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def output_size(capture: cv2.VideoCapture, height: int = -1, width: int = -1) -> Tuple[int, int]:
    """``(width, height)`` of the output frames: the capture's, with ``height``/``width`` where positive."""
    w = width if width > 0 else int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    h = height if height > 0 else int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if w <= 0 or h <= 0:
        raise DataError('the video does not report its frame size; pass --output-height and --output-width')
    return w, h


def open_writer(path: str, capture: cv2.VideoCapture, size: Tuple[int, int], fps: float = -1,
                fourcc: str = 'mp4v') -> cv2.VideoWriter:
    """A ``cv2.VideoWriter`` of ``size`` (w, h) at ``fps`` (default: the capture's, else 30)."""
    if len(fourcc) != 4:
        raise ConfigError(f'the output fourcc must have 4 characters, got {fourcc!r}')
    if fps <= 0:
        fps = capture.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and fps > 0 else 30.0
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise DataError(f'OpenCV cannot write {path} with codec {fourcc!r} (try another --output-fourcc or '
                        'file extension)')
    return writer


def read_frames(capture: cv2.VideoCapture, batch_size: int = 1,
                max_frames: Optional[int] = None) -> Iterator[List[np.ndarray]]:
    """Batches of up to ``batch_size`` consecutive BGR frames until the stream ends (or ``max_frames``)."""
    count = 0
    while max_frames is None or count < max_frames:
        batch = []
        while len(batch) < batch_size and (max_frames is None or count < max_frames):
            ok, frame = capture.read()
            if not ok:
                break
            batch.append(frame)
            count += 1
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return


def draw_fps(frame: np.ndarray, fps: float) -> np.ndarray:
    """``frame`` with ``FPS: <fps>`` written in its top-left corner (white on a black box), in place."""
    text = f'FPS: {fps:.1f}'
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, FPS_FONT_SCALE, 1)
    cv2.rectangle(frame, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), thickness=-1)
    cv2.putText(frame, text, (4, th + 4), cv2.FONT_HERSHEY_SIMPLEX, FPS_FONT_SCALE, (255, 255, 255), 1,
                cv2.LINE_AA)
    return frame


class FpsMeter:
    """Frames per second over the frames segmented so far (model time and painting included)."""

    def __init__(self) -> None:
        self.frames = 0
        self.seconds = 0.0

    def update(self, frames: int, seconds: float) -> float:
        self.frames += frames
        self.seconds += seconds
        return self.fps

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def segment_video(model: nn.Module, capture: cv2.VideoCapture, writer: Optional[cv2.VideoWriter] = None,
                  palette: Optional[Sequence[Sequence[int]]] = None, opacity: float = 0.5,
                  size: Optional[Tuple[int, int]] = None, show: bool = False, wait_time: int = 1,
                  batch_size: int = 1, max_frames: Optional[int] = None) -> FpsMeter:
    """Segment every frame of ``capture``, paint it, draw the running FPS, and write and/or show it.

    ``size`` (w, h) resizes the painted frames (the writer's size). The model runs as prepared (see
    :func:`mmseg_ddrnet.models.prepare_for_inference` for fusion and precision). Returns the FPS meter
    (frames, and seconds spent segmenting and painting).
    """
    if not 0 < opacity <= 1:
        raise ConfigError(f'opacity must be in (0, 1], got {opacity}')
    colours = _palette(model, palette)
    meter = FpsMeter()
    for frames in read_frames(capture, batch_size, max_frames):
        start = time.perf_counter()
        results = inference_segmentor(model, frames, batch_size=batch_size)
        painted = [overlay_segmentation(f, np.asarray(r), colours, opacity) for f, r in zip(frames, results)]
        fps = meter.update(len(frames), time.perf_counter() - start)
        for frame in painted:
            if size is not None and (frame.shape[1], frame.shape[0]) != tuple(size):
                frame = cv2.resize(frame, tuple(size), interpolation=cv2.INTER_LINEAR)
            draw_fps(frame, fps)
            if writer is not None:
                writer.write(frame)
            if show:
                show_image('video_demo', frame, wait_time)
    if meter.frames == 0:
        raise DataError('the video has no frame that OpenCV can read')
    return meter


def _palette(model: nn.Module, palette: Optional[Sequence[Sequence[int]]]) -> np.ndarray:
    if palette is None:
        return model_palette(model, None)
    return np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
