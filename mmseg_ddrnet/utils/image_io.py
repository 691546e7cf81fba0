"""Image reading with user-facing errors, and cheap header reads for start-up checks."""
import os
import struct
from typing import Optional, Tuple

import cv2
import numpy as np

from .errors import ConfigError, DataError
from .io import atomic_write

_CV2_FLAGS = {
    'color': cv2.IMREAD_COLOR,
    'grayscale': cv2.IMREAD_GRAYSCALE,
    'unchanged': cv2.IMREAD_UNCHANGED,
    'color_ignore_orientation': cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_COLOR,
    'grayscale_ignore_orientation': cv2.IMREAD_IGNORE_ORIENTATION | cv2.IMREAD_GRAYSCALE,
}
BACKENDS = ('cv2', 'pillow')


def check_decode_args(color_type: str, backend: str) -> None:
    """Raise ConfigError for an unknown ``color_type`` or decode backend."""
    if color_type not in _CV2_FLAGS:
        raise ConfigError(f'color_type must be one of {sorted(_CV2_FLAGS)}, got {color_type!r}')
    if backend not in BACKENDS:
        raise ConfigError(f'imdecode_backend must be one of {BACKENDS}, got {backend!r}')


def read_bytes(path: str) -> bytes:
    """The bytes of ``path``; DataError when it is missing or empty."""
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        raise DataError(f'file not found: {path}') from None
    except OSError as err:
        raise DataError(f'cannot read {path}: {err}') from None
    if not data:
        raise DataError(f'empty file: {path}')
    return data


def imread(path: str, color_type: str = 'color', backend: str = 'cv2') -> np.ndarray:
    """Decode an image file (BGR for colour, as mmcv) and raise DataError naming the file on failure."""
    data = read_bytes(path)
    if backend == 'pillow' and not _is_grey_png(data):  # grey PNGs decode the same (and faster) with cv2
        return _pillow_decode(data, path, color_type)
    img = cv2.imdecode(np.frombuffer(data, np.uint8), _CV2_FLAGS[color_type])
    if img is None:
        raise DataError(f'cannot decode image {path} (corrupt, truncated or not an image)')
    return img


def _is_grey_png(data: bytes) -> bool:
    """A PNG whose IHDR colour type is 0 (greyscale: no palette, so cv2 and Pillow read the same values)."""
    return data[:8] == b'\x89PNG\r\n\x1a\n' and len(data) > 25 and data[12:16] == b'IHDR' and data[25] == 0


def _pillow_decode(data: bytes, path: str, color_type: str) -> np.ndarray:
    import io

    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as pil:
            pil.load()
            if color_type.startswith('color'):
                return np.asarray(pil.convert('RGB'))[..., ::-1].copy()
            if color_type.startswith('grayscale'):
                return np.asarray(pil.convert('L'))
            return np.array(pil)
    except (OSError, SyntaxError, ValueError) as err:
        raise DataError(f'cannot decode image {path} (corrupt, truncated or not an image): {err}') from None


def image_size(path: str) -> Optional[Tuple[int, int]]:
    """``(height, width)`` from a PNG or JPEG header without decoding; None for other formats.

    Raises DataError when the file is missing, empty or its header is broken.
    """
    try:
        with open(path, 'rb') as f:
            head = f.read(32)
            if head[:8] == b'\x89PNG\r\n\x1a\n':
                if len(head) < 24 or head[12:16] != b'IHDR':
                    raise DataError(f'broken PNG header in {path}')
                width, height = struct.unpack('>II', head[16:24])
                return height, width
            if head[:2] == b'\xff\xd8':
                return _jpeg_size(f, path)
    except FileNotFoundError:
        raise DataError(f'file not found: {path}') from None
    if not head:
        raise DataError(f'empty file: {path}')
    return None


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(f, path: str) -> Tuple[int, int]:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise DataError(f'broken JPEG header in {path}')
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        length = f.read(2)
        if len(length) < 2:
            raise DataError(f'broken JPEG header in {path}')
        if marker[1] in _SOF_MARKERS:
            sof = f.read(5)
            if len(sof) < 5:
                raise DataError(f'broken JPEG header in {path}')
            height, width = struct.unpack('>HH', sof[1:5])
            return height, width
        f.seek(struct.unpack('>H', length)[0] - 2, os.SEEK_CUR)


def imwrite(path: str, img: np.ndarray) -> None:
    """Encode ``img`` by the extension of ``path`` and write it atomically (a crash or Ctrl-C leaves no partial
    image); :class:`DataError` for an extension OpenCV cannot encode."""
    ext = os.path.splitext(path)[1] or '.png'
    try:
        ok, data = cv2.imencode(ext, img)
    except cv2.error:
        ok = False
    if not ok:
        raise DataError(f'cannot write {path}: OpenCV cannot encode {ext!r} images')
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic_write(path, 'wb') as f:
        f.write(data.tobytes())
