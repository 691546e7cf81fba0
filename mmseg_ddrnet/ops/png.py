"""Decode the top rows of 8-bit RGB/RGBA PNGs, equal to ``cv2.imdecode(buf, cv2.IMREAD_COLOR)[:n]``.

Training crops only need the rows above the bottom of the crop, so :func:`decode_png_rows` walks the
chunks, inflates (``zlib``) only the scanlines it needs and stops reading there; the compiled
``unfilter`` (``mmcv_ext._C.png_unfilter``, passed in by the caller) undoes the PNG filters and
writes BGR. Files it does not handle exactly like OpenCV 5 + libpng 1.6 give None, for the caller
to fall back to cv2: colour types other than RGB/RGBA, bit depths other than 8, interlacing, APNG,
EXIF (cv2 applies its orientation, even from a chunk after the image data), unknown critical
chunks and the chunk sizes OpenCV refuses. Ancillary chunks that cv2 reads without changing the
pixels (gAMA, sBIT, tRNS, bKGD, iCCP, cHRM, sRGB, PLTE, text, ...) are ignored, as cv2 does.

Corrupt data raises DataError naming the file. Only what the rows need is checked: the CRC of IHDR
and of every IDAT chunk read. A file damaged or truncated *after* those chunks still decodes (cv2
refuses it whole); the rows returned are CRC-verified, so they are the rows that were written.
"""
import struct
import zlib
from typing import Callable, Optional, Tuple

import numpy as np
import torch

from ..utils import DataError

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
Unfilter = Callable[[torch.Tensor, int, int, int, bool], torch.Tensor]

_CHANNELS = {2: 3, 6: 4}  # colour type -> samples per pixel, for the colour types decoded here
_MAX_SIDE = 1_000_000  # libpng's default user limits on width and height
_MAX_PIXELS = 1 << 30  # OpenCV's CV_IO_MAX_IMAGE_PIXELS
_MAX_CHUNK = 8_000_000  # OpenCV refuses larger chunks before IDAT (PNG_USER_CHUNK_MALLOC_MAX) ...
_ANY_SIZE = {b'PLTE', b'tEXt', b'tRNS', b'IDAT', b'IEND', b'fdAT'}  # ... except these
_EXIF_TEXT_KEYS = {b'Raw profile type exif', b'Raw profile type APP12'}  # text chunks cv2 reads EXIF from
_TEXT = {b'tEXt', b'zTXt', b'iTXt'}


def png_header(data: bytes) -> Optional[dict]:
    """The IHDR fields (width, height, bit_depth, color_type, interlace) of a PNG; None if not a PNG."""
    if len(data) < 33 or data[:8] != PNG_SIGNATURE or data[12:16] != b'IHDR':
        return None
    width, height, bit_depth, color_type, _, _, interlace = struct.unpack_from('>IIBBBBB', data, 16)
    return dict(width=width, height=height, bit_depth=bit_depth, color_type=color_type, interlace=interlace)


def png_fast_size(data: bytes) -> Optional[Tuple[int, int]]:
    """``(height, width)`` of a PNG that :func:`decode_png_rows` decodes itself; None if it would not.

    Reads the chunk headers only (no inflating, no CRC): a corrupt file gives None here and its
    error when it is decoded.
    """
    try:
        head = _read_ihdr(data, '<bytes>')
        pos = None if head is None else _first_idat(data, '<bytes>')
    except DataError:
        return None
    if pos is None:
        return None
    return None if _exif_after(data, pos) else (head[1], head[0])


def decode_png_rows(data: bytes, num_rows: Optional[int], unfilter: Unfilter,
                    filename: str = '<bytes>') -> Optional[np.ndarray]:
    """Rows ``[0, num_rows)`` (all when None; at most the height) as BGR uint8 ``[rows, width, 3]``.

    Returns None for a file outside the handled subset (see the module docstring): the caller
    then decodes it with cv2. Raises DataError for corrupt or truncated data the rows need.
    """
    if num_rows is not None and num_rows < 0:
        raise ValueError(f'num_rows must be >= 0 or None, got {num_rows}')
    head = _read_ihdr(data, filename)
    if head is None:
        return None
    width, height, channels = head
    rows = height if num_rows is None else min(num_rows, height)
    pos = _first_idat(data, filename)
    if pos is None:
        return None
    stride = 1 + width * channels
    raw = _inflate_rows(data, pos, rows, stride, filename)
    if raw is None:
        return None
    try:
        out = unfilter(torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8),
                       rows, width, channels, True)
    except RuntimeError as err:
        msg = str(err).splitlines()[0]
        if 'invalid filter type' not in msg:
            raise
        raise DataError(f'corrupt PNG {filename}: {msg.replace("png_unfilter: ", "")}') from None
    return out.numpy()


def _corrupt(filename: str, what: str) -> DataError:
    return DataError(f'corrupt PNG {filename}: {what}')


def _name(ctype: bytes) -> str:
    return ctype.decode('latin-1').encode('unicode_escape').decode()  # printable, one line


def _read_ihdr(data: bytes, filename: str):
    """``(width, height, channels)`` of a PNG in the handled subset, None otherwise; DataError if broken."""
    if data[:8] != PNG_SIGNATURE:
        if data[:4] == PNG_SIGNATURE[:4]:
            raise _corrupt(filename, 'bad signature (line endings changed by a text-mode transfer?)')
        return None
    if len(data) < 33 or data[8:16] != b'\x00\x00\x00\x0dIHDR':
        raise _corrupt(filename, 'no IHDR chunk after the signature')
    if zlib.crc32(data[12:29]) != struct.unpack_from('>I', data, 29)[0]:
        raise _corrupt(filename, 'CRC error in IHDR')
    head = png_header(data)
    width, height = head['width'], head['height']
    if width == 0 or height == 0:
        raise _corrupt(filename, f'image size {width}x{height}')
    compression, filter_method = data[26], data[27]
    if (head['bit_depth'] != 8 or head['color_type'] not in _CHANNELS or head['interlace'] != 0
            or compression != 0 or filter_method != 0 or width > _MAX_SIDE or height > _MAX_SIDE
            or width * height > _MAX_PIXELS):
        return None
    return width, height, _CHANNELS[head['color_type']]


def _chunk_at(data: bytes, pos: int, filename: str):
    """``(length, type)`` of the chunk at ``pos``; DataError if it is not a chunk or the file ends in it."""
    if pos + 8 > len(data):
        raise _corrupt(filename, f'file ends at byte {len(data)} before any image data')
    length, ctype = struct.unpack_from('>I4s', data, pos)
    if not ctype.isalpha():  # as libpng: a chunk type is 4 ASCII letters
        raise _corrupt(filename, f'invalid chunk type {_name(ctype)} at byte {pos}')
    if pos + 12 + length > len(data):
        raise _corrupt(filename, f'file ends at byte {len(data)} inside the {_name(ctype)} chunk at byte {pos}')
    return length, ctype


def _has_exif(data: bytes, pos: int, length: int, ctype: bytes) -> bool:
    """Whether the chunk at ``pos`` holds EXIF that cv2 reads (and applies the orientation of)."""
    if ctype in _TEXT:
        return data[pos + 8:pos + 8 + min(length, 80)].split(b'\0', 1)[0] in _EXIF_TEXT_KEYS
    return ctype == b'eXIf'


def _changes_pixels(data: bytes, pos: int, length: int, ctype: bytes) -> bool:
    """Whether cv2 would decode differently, or refuse the file, because of this chunk before IDAT."""
    if ctype in (b'acTL', b'fcTL') or (ctype[0] < 0x61 and ctype != b'PLTE'):
        return True  # animation; unknown or misplaced critical chunk (libpng refuses the file)
    if ctype == b'bKGD':
        return length not in (1, 2, 6)  # OpenCV refuses other sizes
    if ctype not in _ANY_SIZE and length + 12 > _MAX_CHUNK:
        return True
    return _has_exif(data, pos, length, ctype)


def _first_idat(data: bytes, filename: str) -> Optional[int]:
    """Offset of the first IDAT chunk; None if a chunk before it makes cv2 decode differently."""
    pos = 33
    while True:
        length, ctype = _chunk_at(data, pos, filename)
        if ctype == b'IDAT':
            return pos
        if ctype == b'IEND':
            raise _corrupt(filename, 'IEND before any image data')
        if _changes_pixels(data, pos, length, ctype):
            return None
        pos += 12 + length


def _inflate_rows(data: bytes, pos: int, rows: int, stride: int, filename: str) -> Optional[bytearray]:
    """The first ``rows`` scanlines inflated from the IDAT chunks from ``pos`` on, CRC-checked.

    None when a chunk after them (up to IEND) makes cv2 decode differently (EXIF orientation).
    """
    view, need = memoryview(data), rows * stride
    inflater = zlib.decompressobj()
    parts, got = [], 0
    while got < need:
        if pos + 8 > len(data):
            raise _corrupt(filename, f'file ends at byte {len(data)} after {got // stride} of {rows} rows')
        length, ctype = _chunk_at(data, pos, filename)
        if ctype != b'IDAT':
            raise _corrupt(filename, f'image data ends after {got // stride} of {rows} rows '
                                     f'({_name(ctype)} chunk at byte {pos})')
        end = pos + 8 + length
        if zlib.crc32(view[pos + 4:end]) != struct.unpack_from('>I', data, end)[0]:
            raise _corrupt(filename, f'CRC error in the IDAT chunk at byte {pos}')
        try:
            part = inflater.decompress(view[pos + 8:end], need - got)
        except zlib.error as err:
            raise _corrupt(filename, f'bad compressed image data in the IDAT chunk at byte {pos}: {err}') from None
        parts.append(part)
        got += len(part)
        if got < need and inflater.eof:
            raise _corrupt(filename, f'compressed image data ends after {got // stride} of {rows} rows')
        pos = end + 4
    return None if _exif_after(data, pos) else bytearray().join(parts)


def _exif_after(data: bytes, pos: int) -> bool:
    """Whether a chunk from ``pos`` to IEND holds EXIF (the rest need not be intact: headers only, as cv2)."""
    while pos + 8 <= len(data):
        length, ctype = struct.unpack_from('>I4s', data, pos)
        if ctype == b'IEND':
            return False
        if _has_exif(data, pos, length, ctype):
            return True
        pos += 12 + length
    return False
