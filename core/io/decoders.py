"""One decoder per format, from the whole file's bytes to channels-last pixels.

OpenCV (libpng) for 8-bit and 16-bit gray, gray+alpha, RGB and RGBA PNG
(Pillow truncates 16-bit colour to 8 bits, and is slower on the rest);
Pillow for the other PNGs, JPEG, BMP and GIF (direct, with explicit mode
conversions: imageio's defaults drop palette transparency), tifffile for TIFF, our own
exact codecs for PNM and NPY, and imageio as a fallback for anything else
Pillow can read. :mod:`flipconv.core.io.readers` bounds the bytes first.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import sys
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.errors import ImageReadError
from flipconv.core._shared.vocabulary import SAMPLE_TYPES
from flipconv.core.io.formats import check_channels
from flipconv.core.io.pnm import decode_pnm


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


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


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
    if pixels.ndim == 3:
        check_channels(pixels.shape[2], label)
    if pixels.dtype.kind == "f":
        bad = int(pixels.size - np.count_nonzero(np.isfinite(pixels)))
        if bad:
            image.notes += (
                f"{label}: {bad} samples are NaN or infinite; every output whose kernel "
                "window holds one under a weight becomes NaN or infinite too",
            )
    image.pixels = np.ascontiguousarray(pixels)
    return image


def pillow() -> Any:
    """``PIL.Image``, with Pillow's own decompression-bomb limit off.

    flipconv checks its own ``max_pixels`` from the header before anything
    is decoded; Pillow's fixed limit (178,956,970 pixels) would otherwise
    refuse valid images the user allowed, and call them corrupt.
    """
    from PIL import Image as PILImage

    PILImage.MAX_IMAGE_PIXELS = None
    return PILImage


def _decode_pillow(data: bytes, label: str, fmt: str) -> Image:
    PILImage = pillow()
    notes: list[str] = []
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
    # IEND ends the file, bar trailing bytes: look at the end first (4 ms for the whole)
    if data.find(_PNG_END, max(33, len(data) - 4096)) < 0 and data.find(_PNG_END, 33) < 0:
        raise ImageReadError(f"{label}: truncated PNG (no IEND chunk)")
    depth, colour = _png_info(data)
    if (depth == 16 and colour in (2, 4, 6)) or (depth == 8 and colour in (0, 2, 4, 6)):
        decoded = _decode_png_opencv(data, label, colour, depth)
        if decoded is not None:
            return decoded
    return _decode_pillow(data, label, "png")


def _decode_png_opencv(data: bytes, label: str, colour: int, depth: int) -> Image | None:
    """8-bit and 16-bit colour PNG by OpenCV (libpng), or None where Pillow should decode.

    Pillow reads 16-bit colour as 8 bits, so OpenCV decodes those (exact, and
    12x faster than pypng). 8-bit gray, gray+alpha, RGB and RGBA go through
    OpenCV too: libpng decoded a 4K RGB file in 0.14 s, Pillow in 0.17 s
    plus two copies (2026-12-05). Every chunk's CRC is checked first, so a
    damaged file is refused in one line; what libpng prints about the rest
    (zlib errors in the pixel data, warnings) is caught off stderr and
    becomes the error or a note. An 8-bit file with a transparency key
    (tRNS) is left to Pillow, which reads the samples as stored; so is
    everything when OpenCV is missing.
    """
    try:
        import cv2
    except ImportError:
        if depth == 16:
            raise ImageReadError(f"{label}: 16-bit colour PNG needs OpenCV to decode") from None
        return None
    if "tRNS" in _check_png_chunks(data, label) and depth == 8:
        return None
    rgb = getattr(cv2, "IMREAD_COLOR_RGB", None) if colour == 2 else None
    flags = cv2.IMREAD_UNCHANGED
    if rgb is not None:  # libpng writes RGB order itself: no BGR copy to turn (10 ms of 4K)
        flags = rgb | cv2.IMREAD_ANYDEPTH | cv2.IMREAD_IGNORE_ORIENTATION
    with stderr_captured() as said:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    errors = [line.split(":", 1)[1].strip() for line in said if line.startswith("libpng error")]
    expected = np.uint16 if depth == 16 else np.uint8
    if decoded is None or decoded.dtype != expected or decoded.ndim != (2 if colour == 0 else 3):
        why = f"({errors[0][:120]})" if errors else "(its pixel data does not decode)"
        raise ImageReadError(f"{label}: corrupt PNG {why}")
    notes = tuple(
        f"PNG decoder warned: {line.split(':', 1)[1].strip()[:120]}"
        for line in said
        if line.startswith("libpng warning") and not _about_ancillary(line)
    )
    if colour == 4:  # gray+alpha comes back as BGRA with the gray repeated
        decoded = np.ascontiguousarray(decoded[..., [0, 3]])
    elif colour == 2 and rgb is None:  # BGR to RGB, in place
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB, dst=decoded)
    elif colour == 6:
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA, dst=decoded)
    return Image(decoded, "png", notes)


def _about_ancillary(line: str) -> bool:
    """Whether a libpng warning is about an ancillary chunk (colour profile, text, ...).

    flipconv reads the samples only; Pillow ignores those chunks silently too.
    """
    words = line.split(":")
    name = words[1].strip() if len(words) > 2 else ""
    return len(name) == 4 and name.isalpha() and name[0].islower()


_STDERR_LOCK = threading.Lock()


@contextlib.contextmanager
def stderr_captured() -> Iterator[list[str]]:
    """What C code prints on file descriptor 2 meanwhile, as lines; other lines go on to stderr.

    libpng prints its warnings and errors there itself. One capture at a time
    (a lock); what another thread writes meanwhile is written after it, not lost.
    """
    import tempfile  # (random, shutil: not for every import of the decoders)

    lines: list[str] = []
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            yield lines  # no stderr to take over
            return
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield lines
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode("utf-8", "replace")
        others: list[str] = []
        for line in text.splitlines():
            (lines if line.startswith("libpng ") else others).append(line)
        if others:
            sys.stderr.write("\n".join(others) + "\n")


def _check_png_chunks(data: bytes, label: str) -> set[str]:
    """Refuse a PNG whose chunks are cut short or fail their CRC; the chunks' names."""
    view = memoryview(data)
    names: set[str] = set()
    at = 8
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        end = at + 12 + length
        if end > len(data):
            raise ImageReadError(f"{label}: truncated PNG (a chunk runs past the end)")
        (crc,) = struct.unpack(">I", data[end - 4 : end])
        name = data[at + 4 : at + 8].decode("latin-1")
        if zlib.crc32(view[at + 4 : end - 4]) != crc:
            raise ImageReadError(f"{label}: corrupt PNG ({name!r} chunk fails its CRC)")
        names.add(name)
        if name == "IEND":
            return names
        at = end
    raise ImageReadError(f"{label}: truncated PNG (no IEND chunk)")


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def quiet_tifffile() -> Iterator[list[str]]:
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
    with quiet_tifffile() as complaints, tifffile.TiffFile(io.BytesIO(data)) as tif:
        pages = len(tif.pages)
        page = tif.pages.first
        if pages > 1:
            notes.append(f"{label}: has {pages} pages; using the first")
        try:
            if page.photometric == tifffile.PHOTOMETRIC.PALETTE:
                pixels = page.asrgb()
            else:
                pixels = page.asarray()
        except (ValueError, NotImplementedError, ImportError) as exc:
            if "imagecodecs" not in str(exc) and "requires" not in str(exc):
                raise
            # e.g. a floating-point predictor (ImageMagick's quantum:format=floating-point)
            raise ImageReadError(
                f"{label}: this TIFF needs a codec flipconv does not have "
                f"({str(exc)[:100]}); pip install imagecodecs adds it"
            ) from None
        axes = page.axes
    if complaints:
        notes.append(f"{label}: damaged TIFF read anyway ({complaints[0][:120]})")
    if "S" in axes and axes.index("S") < axes.index("Y"):
        pixels = np.moveaxis(pixels, axes.index("S"), -1)
    pixels = np.squeeze(pixels) if pixels.ndim > 3 else pixels
    return Image(pixels, "tiff", tuple(notes))


def npy_header(data: bytes) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """An ``.npy`` header: shape, Fortran order, dtype and where the data starts."""
    buf = io.BytesIO(data)
    version = np.lib.format.read_magic(buf)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(buf)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(buf)
    return shape, fortran, dtype, buf.tell()


def _decode_npy(data: bytes, label: str) -> Image:
    shape, fortran, dtype, offset = npy_header(data)
    if dtype.hasobject:
        raise ImageReadError(f"{label}: NPY holds Python objects, not pixels")
    count = int(np.prod(shape))
    need = count * dtype.itemsize
    if len(data) - offset < need:
        raise ImageReadError(f"{label}: truncated NPY ({len(data) - offset} of {need} data bytes)")
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    pixels = flat.reshape(shape, order="F" if fortran else "C").copy()
    return Image(pixels, "npy")


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
    "pnm": lambda d, n: Image(decode_pnm(d, n), "pnm"),
}
