"""decode_png_rows + the compiled png_unfilter against cv2.imdecode(..., IMREAD_COLOR)."""
import io
import struct
import zlib

import cv2
import numpy as np
import pytest
import torch

from mmseg_ddrnet.ops.png import decode_png_rows, png_fast_size, png_header
from mmseg_ddrnet.utils import DataError
from prerequisites import require_ext

@pytest.fixture(scope='module')
def unfilter():
    """The compiled ``mmcv_ext._C.png_unfilter`` (skips when mmcv_ext is not built, fails under CI)."""
    return require_ext().png_unfilter


# ---- a small PNG encoder: chosen filter per row, chosen chunks ----------------------------------

def chunk(ctype: bytes, payload: bytes) -> bytes:
    return struct.pack('>I', len(payload)) + ctype + payload + struct.pack('>I', zlib.crc32(ctype + payload))


def filter_rows(img: np.ndarray, filters) -> bytes:
    """Scanlines of ``img`` (HxWxC uint8) with PNG filter ``filters[y]`` on row y."""
    h, w, ch = img.shape
    rows = img.reshape(h, w * ch).astype(np.int32)
    out, prev = [], np.zeros(w * ch, np.int32)
    for y, ftype in enumerate(filters):
        x = rows[y]
        a = np.concatenate([np.zeros(ch, np.int32), x[:-ch]])
        c = np.concatenate([np.zeros(ch, np.int32), prev[:-ch]])
        p = a + prev - c
        pa, pb, pc = abs(p - a), abs(p - prev), abs(p - c)
        paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, prev, c))
        pred = [0, a, prev, (a + prev) // 2, paeth][ftype]
        out.append(bytes([ftype]) + ((x - pred) & 255).astype(np.uint8).tobytes())
        prev = x
    return b''.join(out)


def encode(img, filters=None, chunks_before=(), chunks_after=(), color_type=None, interlace=0, idat_size=4096,
           zdata=None):
    """PNG bytes of an RGB/RGBA ``img`` (colour type from its channels unless given)."""
    h, w, ch = img.shape
    color_type = {3: 2, 4: 6}[ch] if color_type is None else color_type
    if zdata is None:
        zdata = zlib.compress(filter_rows(img, [0] * h if filters is None else filters), 6)
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, color_type, 0, 0, interlace))
    out += b''.join(chunk(t, p) for t, p in chunks_before)
    out += b''.join(chunk(b'IDAT', zdata[i:i + idat_size]) for i in range(0, len(zdata), idat_size))
    return out + b''.join(chunk(t, p) for t, p in chunks_after) + chunk(b'IEND', b'')


def cv2_decode(data: bytes):
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def random_image(h, w, ch, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, ch), np.uint8)


def smooth_image(h, w, ch):
    yy, xx = np.mgrid[0:h, 0:w]
    planes = [xx // 8, yy // 4, (xx + yy) // 12, 255 - xx // 8][:ch]
    return np.stack(planes, -1).astype(np.uint8)


def chunk_offsets(data: bytes, ctype: bytes):
    pos, found = 8, []
    while pos < len(data):
        length, t = struct.unpack_from('>I4s', data, pos)
        if t == ctype:
            found.append((pos, length))
        pos += 12 + length
    return found


def exif_orientation(value: int) -> bytes:
    return (b'MM\x00\x2a\x00\x00\x00\x08' + struct.pack('>HHHII', 1, 0x0112, 3, 1, value << 16)
            + b'\x00\x00\x00\x00')


# ---- equality with cv2 --------------------------------------------------------------------------

@pytest.mark.parametrize('height', [1, 1024])
@pytest.mark.parametrize('width', [1, 3, 17, 2048])
@pytest.mark.parametrize('level', [0, 1, 9])
@pytest.mark.parametrize('kind', ['noise', 'smooth'])
@pytest.mark.parametrize('channels', [3, 4])
def test_equals_cv2_on_cv2_files(unfilter, height, width, level, kind, channels):
    img = random_image(height, width, channels) if kind == 'noise' else smooth_image(height, width, channels)
    data = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, level])[1].tobytes()
    assert png_header(data)['color_type'] == {3: 2, 4: 6}[channels]
    ref = cv2_decode(data)
    np.testing.assert_array_equal(decode_png_rows(data, None, unfilter), ref)
    rows = min(height, 37)
    np.testing.assert_array_equal(decode_png_rows(data, rows, unfilter), ref[:rows])


@pytest.mark.parametrize('filters', ['none', 'sub', 'up', 'average', 'paeth', 'mixed'])
@pytest.mark.parametrize('shape', [(1, 1), (2, 1), (7, 2), (37, 17), (64, 2048)])
@pytest.mark.parametrize('channels', [3, 4])
def test_each_filter_equals_cv2(unfilter, filters, shape, channels):
    h, w = shape
    img = np.clip(smooth_image(h, w, channels).astype(int) + random_image(h, w, channels) // 8, 0, 255)
    img = img.astype(np.uint8)
    rng = np.random.default_rng(h * w)
    names = ['none', 'sub', 'up', 'average', 'paeth']
    ftypes = list(rng.integers(0, 5, h)) if filters == 'mixed' else [names.index(filters)] * h
    data = encode(img, ftypes)
    ref = cv2_decode(data)
    np.testing.assert_array_equal(ref, img[..., 2::-1])  # the test encoder is right
    np.testing.assert_array_equal(decode_png_rows(data, None, unfilter), ref)


@pytest.mark.parametrize('num_rows', [0, 1, 37, 100, 101, 500])
def test_partial_rows(unfilter, num_rows):
    img = random_image(100, 33, 3)
    data = encode(img, [1, 4, 4, 2, 3, 4] * 16 + [4] * 4, idat_size=512)
    got = decode_png_rows(data, num_rows, unfilter)
    assert got.shape == (min(num_rows, 100), 33, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, cv2_decode(data)[:num_rows])


CV2_IGNORES = {  # ancillary chunks with which cv2's IMREAD_COLOR pixels stay the stored ones
    'gAMA': struct.pack('>I', 100000), 'sBIT': bytes([4, 4, 4]), 'tRNS': struct.pack('>HHH', 1, 2, 3),
    'bKGD': struct.pack('>HHH', 1, 2, 3), 'sRGB': b'\x00', 'pHYs': struct.pack('>IIB', 1000, 1000, 1),
    'cHRM': struct.pack('>8I', 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000),
    'iCCP': b'profile\x00\x00' + zlib.compress(b'\x00' * 200), 'PLTE': bytes(range(48)),
    'tEXt': b'Comment\x00hello', 'zTXt': b'Comment\x00\x00' + zlib.compress(b'hello'),
}


@pytest.mark.parametrize('name', sorted(CV2_IGNORES))
def test_ignored_chunks(unfilter, name):
    img = random_image(9, 11, 3)
    data = encode(img, [4] * 9, chunks_before=[(name.encode(), CV2_IGNORES[name])])
    np.testing.assert_array_equal(cv2_decode(data), img[..., ::-1])
    np.testing.assert_array_equal(decode_png_rows(data, None, unfilter), img[..., ::-1])


# ---- unsupported: None, for cv2 to decode -------------------------------------------------------

def pil_png(img: np.ndarray, mode: str) -> bytes:
    pil = pytest.importorskip('PIL.Image')
    buf = io.BytesIO()
    image = pil.fromarray(img)
    (image.quantize(16) if mode == 'P' else image.convert(mode)).save(buf, format='PNG')
    return buf.getvalue()


def adam7(img: np.ndarray) -> bytes:
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    subs = [img[y0::dy, x0::dx] for x0, y0, dx, dy in passes]
    raw = b''.join(filter_rows(np.ascontiguousarray(s), [0] * s.shape[0]) for s in subs if s.size)
    return encode(img, interlace=1, zdata=zlib.compress(raw))


def unsupported_files():
    img = random_image(16, 16, 3)
    files = {
        'interlaced': adam7(img),
        'animated': encode(img, chunks_before=[(b'acTL', struct.pack('>II', 1, 0))]),
        'eXIf before IDAT': encode(img, chunks_before=[(b'eXIf', exif_orientation(6))]),
        'eXIf after IDAT': encode(img, chunks_after=[(b'eXIf', exif_orientation(6))]),
        'EXIF text': encode(img, chunks_after=[(b'tEXt', b'Raw profile type exif\x00\nexif\n 10\n00')]),
        'unknown critical chunk': encode(img, chunks_before=[(b'ABCD', b'')]),
        'JPEG': cv2.imencode('.jpg', img)[1].tobytes(),
        'grey': cv2.imencode('.png', img[..., 0])[1].tobytes(),
        '16-bit': cv2.imencode('.png', img.astype(np.uint16) * 257)[1].tobytes(),
    }
    try:
        import PIL  # noqa: F401
        files.update({'palette': pil_png(img, 'P'), 'grey+alpha': pil_png(img, 'LA')})
    except ImportError:
        files.update({'palette': encode(img[..., :1], color_type=3, chunks_before=[(b'PLTE', bytes(768))])})
    return files


@pytest.mark.parametrize('name', sorted(unsupported_files()))
def test_unsupported_gives_none(unfilter, name):
    data = unsupported_files()[name]
    assert decode_png_rows(data, None, unfilter) is None
    assert decode_png_rows(data, 3, unfilter) is None
    assert png_fast_size(data) is None  # known from the chunk headers, before any inflating
    if name == 'interlaced':  # the test's Adam7 file is right: cv2 reads it
        np.testing.assert_array_equal(cv2_decode(data), random_image(16, 16, 3)[..., ::-1])
    if name == 'JPEG':
        assert png_header(data) is None


# ---- corrupt files: DataError naming the file ---------------------------------------------------

def corrupt_files():
    img = random_image(40, 30, 3)
    good = encode(img, [4] * 40, idat_size=256)
    first, _ = chunk_offsets(good, b'IDAT')[0]
    flipped = bytearray(good)
    flipped[first + 20] ^= 0x10
    bad_filter = encode(img, [4] * 40, zdata=zlib.compress(filter_rows(img, [4] * 40).replace(b'\x04', b'\x07', 1)))
    garbage = encode(img, zdata=b'\x78\x9c' + bytes(range(7, 250)))
    short_stream = encode(img, zdata=zlib.compress(filter_rows(img[:20], [1] * 20)))
    no_idat = good[:33] + chunk(b'IEND', b'')
    bad_ihdr = bytearray(good)
    bad_ihdr[20] ^= 1
    return {
        'truncated in IDAT': (good[:len(good) // 2], 'file ends'),
        'flipped IDAT byte': (bytes(flipped), 'CRC error in the IDAT chunk'),
        'bad filter type': (bad_filter, 'row 0 has invalid filter type 7'),
        'bad zlib data': (garbage, 'bad compressed image data'),
        'zlib stream too short': (short_stream, 'compressed image data ends after 20 of 40 rows'),
        'IEND before IDAT': (no_idat, 'IEND before any image data'),
        'IEND too early': (good[:chunk_offsets(good, b'IDAT')[2][0]] + chunk(b'IEND', b''),
                             'image data ends after .* of 40 rows \\(IEND'),
        'bad IHDR CRC': (bytes(bad_ihdr), 'CRC error in IHDR'),
        'invalid chunk type': (encode(img, chunks_before=[(b'te1t', b'')]), 'invalid chunk type te1t at byte 33'),
        'bad signature': (good[:4] + b'\n\x1a\n' + good[8:], 'bad signature'),
    }


@pytest.mark.parametrize('name', sorted(corrupt_files()))
def test_corrupt_raises(unfilter, name):
    data, message = corrupt_files()[name]
    assert cv2_decode(data) is None  # cv2 refuses them too
    with pytest.raises(DataError, match=f'corrupt PNG data/img_0\\.png: .*{message}'):
        decode_png_rows(data, None, unfilter, filename='data/img_0.png')


def test_truncated_after_needed_rows_decodes(unfilter):
    """Allowed: the rows returned come from IDAT chunks whose CRCs were checked."""
    img = random_image(200, 64, 3)
    data = encode(img, [4] * 200, idat_size=1024)
    truncated = data[:len(data) - 2000]
    assert cv2_decode(truncated) is None
    np.testing.assert_array_equal(decode_png_rows(truncated, 50, unfilter), img[:50, :, ::-1])
    with pytest.raises(DataError, match='file ends'):
        decode_png_rows(truncated, None, unfilter)


# ---- the compiled op itself ---------------------------------------------------------------------

@pytest.mark.parametrize('channels', [1, 2, 3, 4])
def test_unfilter_unchanged_order(unfilter, channels):
    img = random_image(23, 19, channels)
    ftypes = list(np.random.default_rng(1).integers(0, 5, 23))
    raw = torch.frombuffer(bytearray(filter_rows(img, ftypes)), dtype=torch.uint8)
    np.testing.assert_array_equal(unfilter(raw, 23, 19, channels, False).numpy(), img)
    np.testing.assert_array_equal(unfilter(raw, 5, 19, channels, False).numpy(), img[:5])
    if channels >= 3:
        np.testing.assert_array_equal(unfilter(raw, 23, 19, channels, True).numpy(), img[..., 2::-1])


def test_unfilter_checks(unfilter):
    scanlines = bytearray(filter_rows(random_image(4, 5, 3), [4, 4, 4, 4]))
    scanlines[2 * 16] = 9  # the filter type of row 2
    raw = torch.frombuffer(scanlines, dtype=torch.uint8)
    assert unfilter(raw, 2, 5, 3, True).shape == (2, 5, 3)
    with pytest.raises(RuntimeError, match='row 2 has invalid filter type 9'):
        unfilter(raw, 4, 5, 3, True)
    with pytest.raises(RuntimeError, match='raw holds 4 scanlines of 16 bytes, 5 needed'):
        unfilter(raw, 5, 5, 3, True)
    with pytest.raises(RuntimeError, match='bgr needs 3 or 4 channels'):
        unfilter(raw, 1, 5, 1, True)
    with pytest.raises(RuntimeError, match='1-D uint8'):
        unfilter(raw.float(), 1, 5, 3, True)


def test_fast_size_of_decodable_files():
    img = random_image(7, 11, 3)
    assert png_fast_size(encode(img)) == (7, 11)
    assert png_fast_size(cv2.imencode('.png', random_image(5, 9, 4))[1].tobytes()) == (5, 9)
    assert png_fast_size(encode(img)[:40]) is None  # broken: left to the decoder to report
