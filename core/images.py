"""Reading and writing images: formats, sniffing, limits and atomic output.

Formats and the sample types they store:

=========  ==========================  ===================================
format     read                        write
=========  ==========================  ===================================
png        1/2/4/8/16-bit, palette     uint8, uint16 (gray, gray+alpha,
                                       RGB, RGBA)
jpeg       8-bit gray, RGB (CMYK→RGB)  uint8 gray, RGB (quality 95)
tiff       uint8/16, float32/64        uint8, uint16, float32, float64
bmp        8-bit                       uint8 gray, RGB
pnm        PBM/PGM/PPM/PAM, ≤16-bit    uint8, uint16 (P5, P6; P7 with alpha)
gif        first frame (8-bit)         –
npy        uint8/16, float32/64, bool  any of the four sample types
=========  ==========================  ===================================

Where a format cannot store what is asked (16-bit JPEG, float PNG, alpha in
JPEG or BMP) writing fails with a message that says what would work; nothing
is ever converted silently. On input the format is sniffed from the bytes,
never trusted from the file name. Every read checks the pixel count from the
header before decoding (decompression bombs). Files are written atomically.

Decoders: Pillow for PNG/JPEG/BMP/GIF (direct, with explicit mode
conversions: imageio's defaults drop palette transparency), pypng to read 16-bit
colour and gray+alpha PNG (Pillow truncates them to 8 bits), tifffile for
TIFF, our own exact codecs for PNM and NPY, and imageio as a fallback for
anything else Pillow can read.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from flipconv.core.errors import ImageReadError, ImageWriteError, ResourceLimitError
from flipconv.core.limits import available_memory
from flipconv.core.vocabulary import SAMPLE_TYPES, WRITE_FORMATS

#: Default largest image, in pixels (width x height), decoded into memory.
DEFAULT_MAX_PIXELS = 500_000_000

#: Output formats and the file name extensions that select them.
EXTENSIONS: dict[str, str] = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".bmp": "bmp",
    ".pnm": "pnm",
    ".pgm": "pnm",
    ".ppm": "pnm",
    ".pbm": "pnm",
    ".pam": "pnm",
    ".npy": "npy",
}
WRITE_TYPES: dict[str, tuple[str, ...]] = {
    "png": ("uint8", "uint16"),
    "jpeg": ("uint8",),
    "tiff": SAMPLE_TYPES,
    "bmp": ("uint8",),
    "pnm": ("uint8", "uint16"),
    "npy": SAMPLE_TYPES,
}
#: The extension used for each format when a name must be made up.
SUFFIX = {
    "png": ".png",
    "jpeg": ".jpg",
    "tiff": ".tif",
    "bmp": ".bmp",
    "pnm": ".pnm",
    "npy": ".npy",
    "gif": ".gif",
}


@dataclass
class Image:
    """Decoded pixels, channels last, with where they came from.

    Attributes
    ----------
    pixels : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` of uint8, uint16, float32 or float64.
    format : str
        The sniffed source format (``png``, ``jpeg``, ``tiff``, ...).
    notes : tuple of str
        Things the reader did that a user should hear about (first frame of
        an animation taken, CMYK converted, ...).
    """

    pixels: np.ndarray
    format: str
    notes: tuple[str, ...] = ()


# ---------------------------------------------------------------- sniffing


def sniff(data: bytes) -> str | None:
    """The image format of ``data`` from its leading bytes, or None.

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n...."), sniff(b"P6 4 4 255\\n"), sniff(b"hello")
    ('png', 'pnm', None)
    """
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM"):
        return "bmp"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if len(head) >= 3 and head[0:1] == b"P" and head[1:2] in b"1234567" and head[2:3].isspace():
        return "pnm"
    return None


def format_for_path(path: str | os.PathLike[str]) -> str:
    """The output format chosen by a file name's extension.

    Raises
    ------
    ImageWriteError
        If the extension is missing or not one flipconv writes.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        known = " ".join(sorted(EXTENSIONS))
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise ImageWriteError(
            f"{os.fspath(path)}: {what} does not name an output format "
            f"(use one of {known}, or --format)"
        )
    return EXTENSIONS[suffix]


# ---------------------------------------------------------------- reading


def read_image(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
) -> Image:
    """Read an image from a path, bytes or a binary file object.

    Reading is bounded: the first chunk is sniffed and, where the format
    allows, its header checked against ``max_pixels`` before anything more is
    read; the rest may not exceed what an image of the claimed size could
    take (so ``/dev/zero``, an endless pipe or a lying header cannot exhaust
    memory).

    Parameters
    ----------
    source
        A path, the encoded bytes, or a readable binary file object.
    max_pixels : int
        Refuse images whose header claims more pixels than this, before
        decoding anything.
    name : str, optional
        How to call the source in messages (defaults to the path or "stdin").

    Raises
    ------
    ImageReadError
        Missing, unreadable, empty, corrupt, truncated or unsupported input.
    ResourceLimitError
        The header claims more than ``max_pixels`` pixels, or the input is
        longer than such an image could be.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        image = _read(source, max_pixels, name)
    if caught:
        first = str(caught[0].message).strip().splitlines()
        image.notes += (f"{image.format.upper()} decoder warned: {(first or ['?'])[0][:120]}",)
    return image


def _read(
    source: str | os.PathLike[str] | bytes | BinaryIO, max_pixels: int, name: str | None
) -> Image:
    stream, label, close = _open_source(source, name)
    try:
        head = _read_chunk(stream, _FIRST_CHUNK, label)
        if not head:
            raise ImageReadError(f"{label}: empty input, no image data")
        fmt = sniff(head)
        if fmt is None:
            fmt = _identify_other(head, label)
        size = _try_header_size(head, fmt)
        if size is not None:
            check_pixel_limit(*size, max_pixels, label)
        budget = _byte_budget(size, max_pixels)
        data = (
            head + _read_rest(stream, budget - len(head), label)
            if len(head) == _FIRST_CHUNK
            else head
        )
    finally:
        if close:
            stream.close()
    if size is None:
        size = _header_size(data, fmt, label)
        check_pixel_limit(*size, max_pixels, label)
    if fmt not in _DECODERS:
        return _read_fallback(data, label, fmt)
    try:
        image = _DECODERS[fmt](data, label)
    except (ImageReadError, ResourceLimitError):
        raise
    except MemoryError:
        raise ResourceLimitError(f"{label}: not enough memory to decode the image") from None
    except Exception as exc:  # decoders raise many types for corrupt data
        raise ImageReadError(f"{label}: corrupt or truncated {fmt.upper()} ({_why(exc)})") from None
    return _normalise(image, label)


#: Bytes read before the format and header are checked.
_FIRST_CHUNK = 1 << 20
#: Raw bytes per pixel at most (float64 RGBA NPY): bounds a file's length.
_MAX_BYTES_PER_PIXEL = 32


def check_pixel_limit(width: int, height: int, max_pixels: int, label: str) -> None:
    """Raise unless ``0 < width * height <= max_pixels``."""
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{label}: the image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ResourceLimitError(
            f"{label}: {width}x{height} is {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (raise it with --max-pixels or FLIPCONV_MAX_PIXELS)"
        )


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _open_source(
    source: str | os.PathLike[str] | bytes | BinaryIO, name: str | None
) -> tuple[BinaryIO, str, bool]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), name or "input", True
    if hasattr(source, "read"):
        return source, str(name or getattr(source, "name", None) or "stdin"), False  # type: ignore[return-value]
    path = Path(source)  # type: ignore[arg-type]
    label = name or os.fspath(path)
    try:
        if path.is_dir():
            raise ImageReadError(f"{label}: is a directory, not an image file")
        return open(path, "rb"), label, True
    except FileNotFoundError:
        raise ImageReadError(f"{label}: no such file") from None
    except PermissionError:
        raise ImageReadError(f"{label}: permission denied") from None
    except OSError as exc:
        raise ImageReadError(f"{label}: cannot read ({exc.strerror or exc})") from None


def _read_chunk(stream: BinaryIO, size: int, label: str) -> bytes:
    parts: list[bytes] = []
    remaining = size
    try:
        while remaining > 0:
            part = stream.read(remaining)
            if not part:
                break
            parts.append(part)
            remaining -= len(part)
    except OSError as exc:
        raise ImageReadError(f"{label}: cannot read ({exc.strerror or exc})") from None
    return b"".join(parts)


def _read_rest(stream: BinaryIO, allowed: int, label: str) -> bytes:
    rest = _read_chunk(stream, allowed + 1, label)
    if len(rest) > allowed:
        raise ResourceLimitError(
            f"{label}: more data than an image of its size can hold "
            f"(stopped reading after {allowed + _FIRST_CHUNK:,} bytes)"
        )
    return rest


def _byte_budget(size: tuple[int, int] | None, max_pixels: int) -> int:
    pixels = size[0] * size[1] if size is not None else max_pixels
    budget = pixels * _MAX_BYTES_PER_PIXEL + (16 << 20)
    free = available_memory()
    return min(budget, max(free // 2, 64 << 20)) if free else budget


def _try_header_size(head: bytes, fmt: str) -> tuple[int, int] | None:
    try:
        return _header_size(head, fmt, "")
    except (ImageReadError, ResourceLimitError):
        return None


def _identify_other(head: bytes, label: str) -> str:
    """The format of something we do not sniff, if Pillow can tell from its start."""
    try:
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(head)) as im:
            return (im.format or "image").lower()
    except Exception:
        raise ImageReadError(
            f"{label}: not a recognised image (flipconv reads PNG, JPEG, TIFF, BMP, PNM, GIF, NPY)"
        ) from None


def _header_size(data: bytes, fmt: str, label: str) -> tuple[int, int]:
    """(width, height) from the header alone, without decoding pixels."""
    try:
        if fmt == "png":
            if len(data) < 33 or data[12:16] != b"IHDR":
                raise ValueError("no IHDR chunk")
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if fmt == "pnm":
            header = _pnm_header(data)
            return header.width, header.height
        if fmt == "npy":
            shape = _npy_header(data)[0]
            if len(shape) not in (2, 3):
                raise ValueError(f"array of shape {shape} is not an image (H, W[, C])")
            return shape[1], shape[0]
        if fmt == "tiff":
            import tifffile

            with _quiet_tifffile(), tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages.first
                return int(page.imagewidth), int(page.imagelength)
        from PIL import Image as PILImage

        with PILImage.open(io.BytesIO(data)) as im:
            return im.size
    except (ImageReadError, ResourceLimitError):
        raise
    except Exception as exc:
        raise ImageReadError(f"{label}: corrupt {fmt.upper()} header ({_why(exc)})") from None


def _normalise(image: Image, label: str) -> Image:
    pixels = image.pixels
    if pixels.dtype == bool:
        pixels = pixels.astype(np.uint8) * np.uint8(255)
    if pixels.dtype.byteorder not in ("=", "|"):
        pixels = pixels.astype(pixels.dtype.newbyteorder("="))
    if pixels.dtype.name not in SAMPLE_TYPES:
        raise ImageReadError(
            f"{label}: {pixels.dtype} samples are not supported "
            f"(flipconv reads {', '.join(SAMPLE_TYPES)})"
        )
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or pixels.size == 0:
        raise ImageReadError(f"{label}: array of shape {pixels.shape} is not an image")
    if pixels.ndim == 3 and pixels.shape[2] > 4:
        raise ImageReadError(
            f"{label}: {pixels.shape[2]} channels; flipconv filters gray, gray+alpha, RGB "
            "and RGBA images"
        )
    if pixels.dtype.kind == "f":
        bad = int(pixels.size - np.count_nonzero(np.isfinite(pixels)))
        if bad:
            image.notes += (
                f"{label}: {bad} samples are NaN or infinite; filtering spreads "
                "them to their neighbours",
            )
    image.pixels = np.ascontiguousarray(pixels)
    return image


def _decode_pillow(data: bytes, label: str, fmt: str) -> Image:
    from PIL import Image as PILImage

    notes: list[str] = []
    PILImage.MAX_IMAGE_PIXELS = None  # flipconv checks its own limit from the header
    with PILImage.open(io.BytesIO(data)) as im:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            notes.append(f"{label}: has {frames} frames; using the first")
        im.seek(0)
        mode = im.mode
        if mode == "P" or mode == "PA":
            has_alpha = mode == "PA" or "transparency" in im.info
            im = im.convert("RGBA" if has_alpha else "RGB")
        elif mode == "1":
            im = im.convert("L")
        elif mode == "CMYK":
            notes.append(f"{label}: CMYK converted to RGB")
            im = im.convert("RGB")
        elif mode in ("I;16B", "I;16L", "I;16N"):
            im = im.convert("I;16")
        elif mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
            raise ImageReadError(f"{label}: {fmt.upper()} pixel mode {mode} is not supported")
        im.load()
        pixels = np.asarray(im)
    return Image(pixels.copy(), fmt, tuple(notes))


def _png_info(data: bytes) -> tuple[int, int]:
    return data[24], data[25]  # bit depth, colour type


_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _decode_png(data: bytes, label: str) -> Image:
    # Pillow decodes a PNG cut short after its pixel data (no checksum, no
    # IEND) without complaint; a file cut mid-write must not pass as whole.
    if _PNG_END not in data[33:]:
        raise ImageReadError(f"{label}: truncated PNG (no IEND chunk)")
    depth, colour = _png_info(data)
    if depth == 16 and colour in (2, 4, 6):
        import png

        width, height, rows, info = png.Reader(bytes=data).read()
        planes = info["planes"]
        pixels = np.empty((height, width * planes), dtype=np.uint16)
        count = 0
        for i, row in enumerate(rows):
            pixels[i] = row
            count += 1
        if count != height:
            raise ImageReadError(f"{label}: truncated PNG ({count} of {height} rows)")
        return Image(pixels.reshape(height, width, planes), "png")
    return _decode_pillow(data, label, "png")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _quiet_tifffile():  # type: ignore[no-untyped-def]
    """tifffile logs what it repairs or skips; keep that off stderr, and collect it."""
    logger = logging.getLogger("tifffile")
    collect = _Collect()
    propagate = logger.propagate
    logger.addHandler(collect)
    logger.propagate = False
    try:
        yield collect.messages
    finally:
        logger.removeHandler(collect)
        logger.propagate = propagate


def _decode_tiff(data: bytes, label: str) -> Image:
    import tifffile

    notes: list[str] = []
    with _quiet_tifffile() as complaints, tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = len(tif.pages)
        page = tif.pages.first
        if pages > 1:
            notes.append(f"{label}: has {pages} pages; using the first")
        if page.photometric == tifffile.PHOTOMETRIC.PALETTE:
            pixels = page.asrgb()
        else:
            pixels = page.asarray()
        axes = page.axes
    if complaints:
        notes.append(f"{label}: damaged TIFF read anyway ({complaints[0][:120]})")
    if "S" in axes and axes.index("S") < axes.index("Y"):
        pixels = np.moveaxis(pixels, axes.index("S"), -1)
    pixels = np.squeeze(pixels) if pixels.ndim > 3 else pixels
    return Image(pixels, "tiff", tuple(notes))


def _npy_header(data: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    buf = io.BytesIO(data)
    version = np.lib.format.read_magic(buf)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
    return shape, fortran, dtype, buf.tell()


def _decode_npy(data: bytes, label: str) -> Image:
    shape, fortran, dtype, offset = _npy_header(data)
    if dtype.hasobject:
        raise ImageReadError(f"{label}: NPY holds Python objects, not pixels")
    count = int(np.prod(shape))
    need = count * dtype.itemsize
    if len(data) - offset < need:
        raise ImageReadError(f"{label}: truncated NPY ({len(data) - offset} of {need} data bytes)")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    pixels = flat.reshape(shape, order="F" if fortran else "C").copy()
    return Image(pixels, "npy")


# ---- PNM (netpbm): our own exact codec, so 16-bit and PAM survive


@dataclass
class _PnmHeader:
    magic: bytes
    width: int
    height: int
    depth: int
    maxval: int
    offset: int


def _pnm_header(data: bytes) -> _PnmHeader:
    magic = data[:2]
    if magic == b"P7":
        return _pam_header(data)
    pos = 2
    fields: list[int] = []
    wanted = 2 if magic in (b"P1", b"P4") else 3
    while len(fields) < wanted:
        while pos < len(data) and (data[pos : pos + 1].isspace() or data[pos : pos + 1] == b"#"):
            if data[pos : pos + 1] == b"#":
                end = data.find(b"\n", pos)
                pos = len(data) if end < 0 else end + 1
            else:
                pos += 1
        start = pos
        while pos < len(data) and data[pos : pos + 1].isdigit():
            pos += 1
        if start == pos:
            raise ValueError("header ends early or holds a non-number")
        fields.append(int(data[start:pos]))
    pos += 1  # the single whitespace byte before the raster
    width, height = fields[0], fields[1]
    maxval = fields[2] if wanted == 3 else 1
    if not 0 < maxval < 65536:
        raise ValueError(f"maxval {maxval} outside 1..65535")
    depth = 3 if magic in (b"P3", b"P6") else 1
    return _PnmHeader(magic, width, height, depth, maxval, pos)


def _pam_header(data: bytes) -> _PnmHeader:
    end = data.find(b"ENDHDR\n")
    if end < 0:
        raise ValueError("PAM header has no ENDHDR")
    values: dict[str, int] = {}
    for line in data[3:end].decode("ascii", "replace").splitlines():
        parts = line.split("#", 1)[0].split()
        if len(parts) >= 2 and parts[0] in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"):
            values[parts[0]] = int(parts[1])
    missing = {"WIDTH", "HEIGHT", "DEPTH", "MAXVAL"} - values.keys()
    if missing:
        raise ValueError(f"PAM header lacks {', '.join(sorted(missing))}")
    if not 0 < values["MAXVAL"] < 65536 or not 0 < values["DEPTH"] <= 4:
        raise ValueError("PAM MAXVAL or DEPTH out of range")
    return _PnmHeader(
        b"P7",
        values["WIDTH"],
        values["HEIGHT"],
        values["DEPTH"],
        values["MAXVAL"],
        end + len(b"ENDHDR\n"),
    )


def _decode_pnm(data: bytes, label: str) -> Image:
    h = _pnm_header(data)
    count = h.width * h.height * h.depth
    body = data[h.offset :]
    if h.magic in (b"P1", b"P2", b"P3"):
        if h.magic == b"P1":
            text = b"".join(line.split(b"#", 1)[0] for line in body.splitlines())
            digits = bytes(c for c in text if c in b"01")
            values = np.frombuffer(digits, dtype=np.uint8) - ord("0")
        else:
            tokens = b" ".join(line.split(b"#", 1)[0] for line in body.splitlines()).split()
            values = np.array([int(t) for t in tokens[:count]], dtype=np.int64)
        if values.size < count:
            raise ImageReadError(f"{label}: truncated PNM ({values.size} of {count} samples)")
        values = values[:count]
    elif h.magic == b"P4":
        stride = (h.width + 7) // 8
        need = stride * h.height
        if len(body) < need:
            raise ImageReadError(f"{label}: truncated PBM ({len(body)} of {need} bytes)")
        bits = np.unpackbits(np.frombuffer(body, np.uint8, need).reshape(h.height, stride), axis=1)
        values = bits[:, : h.width].reshape(-1)
    else:
        dtype = np.dtype(np.uint8) if h.maxval < 256 else np.dtype(">u2")
        need = count * dtype.itemsize
        if len(body) < need:
            raise ImageReadError(f"{label}: truncated PNM ({len(body)} of {need} raster bytes)")
        values = np.frombuffer(body, dtype, count)
    if h.magic in (b"P1", b"P4"):  # 1 is black in a bitmap
        pixels = np.where(values.reshape(h.height, h.width) > 0, 0, 255).astype(np.uint8)
        return Image(pixels, "pnm")
    out_type = np.uint8 if h.maxval < 256 else np.uint16
    top = 255 if h.maxval < 256 else 65535
    values = values.astype(np.int64)
    if values.max(initial=0) > h.maxval:
        raise ImageReadError(f"{label}: PNM sample above its maxval {h.maxval}")
    if h.maxval != top:
        values = (values * top + h.maxval // 2) // h.maxval  # exact rounding
    pixels = values.astype(out_type).reshape(h.height, h.width, h.depth)
    return Image(pixels if h.depth > 1 else pixels[:, :, 0], "pnm")


def _read_fallback(data: bytes, label: str, fmt: str) -> Image:
    """Formats we do not sniff but Pillow knows (WebP, TGA, ...): decode through imageio."""
    try:
        import imageio.v3 as iio

        pixels = iio.imread(data, index=0)
    except Exception as exc:
        raise ImageReadError(f"{label}: cannot decode {fmt.upper()} ({_why(exc)})") from None
    return _normalise(Image(np.asarray(pixels), fmt), label)


_DECODERS = {
    "png": _decode_png,
    "jpeg": lambda d, n: _decode_pillow(d, n, "jpeg"),
    "bmp": lambda d, n: _decode_pillow(d, n, "bmp"),
    "gif": lambda d, n: _decode_pillow(d, n, "gif"),
    "tiff": _decode_tiff,
    "npy": _decode_npy,
    "pnm": _decode_pnm,
}


# ---------------------------------------------------------------- writing


def check_writable(pixels_dtype: np.dtype | str, channels: int, fmt: str) -> None:
    """Raise :class:`ImageWriteError` if ``fmt`` cannot store such an image."""
    if fmt not in WRITE_FORMATS:
        raise ImageWriteError(
            f"cannot write {fmt!r} images (output formats: {', '.join(WRITE_FORMATS)})"
        )
    name = np.dtype(pixels_dtype).name
    allowed = WRITE_TYPES[fmt]
    if name not in allowed:
        fix = "TIFF or NPY" if name.startswith("float") else "PNG, TIFF, PNM or NPY"
        raise ImageWriteError(
            f"{fmt.upper()} cannot store {name} samples (it stores {', '.join(allowed)}); "
            f"choose --dtype {allowed[0]} or write {fix}"
        )
    if fmt in ("jpeg", "bmp") and channels in (2, 4):
        raise ImageWriteError(
            f"{fmt.upper()} cannot store an alpha channel; write PNG, TIFF or NPY instead"
        )


def encode_image(
    pixels: np.ndarray,
    fmt: str,
    *,
    quality: int = 95,
    compression: int | None = None,
    threads: int | None = None,
) -> bytes:
    """Encode pixels in ``fmt`` and return the bytes (nothing is written).

    ``compression`` is the PNG zlib level (0-9, default
    :data:`flipconv.core.pngwrite.DEFAULT_LEVEL`); ``threads`` how many cores the
    PNG encoder may use (default: all).

    Raises
    ------
    ImageWriteError
        If the format cannot store the sample type or channels.
    """
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    check_writable(pixels.dtype, channels, fmt)
    buf = io.BytesIO()
    if fmt == "npy":
        np.save(buf, pixels, allow_pickle=False)
    elif fmt == "pnm":
        buf.write(_encode_pnm(pixels))
    elif fmt == "tiff":
        import tifffile

        photometric = "rgb" if channels in (3, 4) else "minisblack"
        extras = ["unassalpha"] if channels in (2, 4) else None
        tifffile.imwrite(buf, pixels, photometric=photometric, extrasamples=extras)
    elif fmt == "png":
        from flipconv.core.engine import default_threads
        from flipconv.core.pngwrite import DEFAULT_LEVEL, encode_png

        level = DEFAULT_LEVEL if compression is None else compression
        if not 0 <= level <= 9:
            raise ImageWriteError(f"PNG compression {level} is not between 0 and 9")
        buf.write(
            encode_png(
                pixels, level=level, threads=default_threads() if threads is None else threads
            )
        )
    else:
        from PIL import Image as PILImage

        if pixels.dtype == np.uint16:
            im = PILImage.fromarray(pixels.astype("<u2"), mode=None)
        else:
            im = PILImage.fromarray(pixels)
        options = {"quality": quality} if fmt == "jpeg" else {}
        im.save(buf, format=fmt.upper(), **options)
    return buf.getvalue()


def _encode_pnm(pixels: np.ndarray) -> bytes:
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    h, w = pixels.shape[:2]
    maxval = 255 if pixels.dtype == np.uint8 else 65535
    raster = pixels.astype(">u2").tobytes() if maxval == 65535 else pixels.tobytes()
    if channels in (1, 3):
        magic = "P5" if channels == 1 else "P6"
        return f"{magic}\n{w} {h}\n{maxval}\n".encode() + raster
    tupl = "GRAYSCALE_ALPHA" if channels == 2 else "RGB_ALPHA"
    header = (
        f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH {channels}\nMAXVAL {maxval}\nTUPLTYPE {tupl}\nENDHDR\n"
    )
    return header.encode() + raster


def write_bytes_atomic(data: bytes, path: str | os.PathLike[str]) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename.

    A reader never sees a partial file: on any failure (or Ctrl-C) the
    temporary file is removed and an existing ``path`` is left as it was.
    Writing over the input file is therefore safe.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ImageWriteError(f"{os.fspath(path)}: folder {os.fspath(folder)!r} does not exist")
    if target.is_dir():
        raise ImageWriteError(f"{os.fspath(path)}: is a directory")
    # Ctrl-C or SIGTERM between creating the temporary file and the try block
    # that removes it would leave it behind: hold them off (they are delivered
    # once the cleanup is in place).
    held = _hold_signals()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        _release_signals(held)
        raise ImageWriteError(f"{os.fspath(path)}: cannot write ({exc.strerror or exc})") from None
    try:
        _release_signals(held)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        mode = os.stat(target).st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ImageWriteError(
                f"{os.fspath(path)}: cannot write ({exc.strerror or exc})"
            ) from None
        raise


def _hold_signals() -> set[int] | None:
    import signal

    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _release_signals(held: set[int] | None) -> None:
    import signal

    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_stream(data: bytes, stream: BinaryIO) -> None:
    """Write all of ``data`` to a binary stream, surfacing a closed reader.

    A buffered ``write`` of one large block can return as if it succeeded
    when the reader of a pipe goes away mid-way; writing to the descriptor in
    a loop raises :class:`BrokenPipeError` instead, as it should.
    """
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        stream.write(data)
        stream.flush()
        return
    stream.flush()
    view = memoryview(data)
    while view:
        written = os.write(fd, view[: 1 << 20])
        view = view[written:]


def write_image(
    pixels: np.ndarray,
    dest: str | os.PathLike[str] | BinaryIO,
    *,
    fmt: str | None = None,
    quality: int = 95,
    compression: int | None = None,
    threads: int | None = None,
) -> str:
    """Encode and write an image; a path is written atomically.

    Parameters
    ----------
    dest
        A path (format from ``fmt`` or the extension) or a binary stream
        (``fmt`` required).

    Returns
    -------
    str
        The format written.
    """
    if fmt is None:
        if hasattr(dest, "write"):
            raise ImageWriteError("writing to a stream needs an explicit format")
        fmt = format_for_path(dest)  # type: ignore[arg-type]
    data = encode_image(pixels, fmt, quality=quality, compression=compression, threads=threads)
    if hasattr(dest, "write"):
        write_stream(data, dest)  # type: ignore[arg-type]
    else:
        write_bytes_atomic(data, dest)  # type: ignore[arg-type]
    return fmt
