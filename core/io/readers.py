"""Reading an image, bounded: from a path, bytes or a stream, with the pixel limit.

Every read checks the pixel count from the header before decoding
(decompression bombs), and never reads more bytes than an image of the
claimed size could take. The format is sniffed from the bytes
(:func:`flipconv.core.io.formats.sniff`); :mod:`flipconv.core.io.decoders` then
decodes the whole.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

from flipconv.core._shared.errors import ImageReadError, ResourceLimitError
from flipconv.core._shared.limits import available_memory, check_working_memory
from flipconv.core.io.decoders import (
    _DECODERS,
    Image,
    _normalise,
    _read_fallback,
    _why,
    npy_header,
    pillow,
    quiet_tifffile,
)
from flipconv.core.io.formats import DEFAULT_MAX_PIXELS, check_channels, sniff
from flipconv.core.io.pnm import pnm_header


def read_image(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    memory_limit: int | None = None,
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
    memory_limit : int, optional
        Refuse, from the header and before decoding, an image whose filtering
        would need more bytes than this (:func:`flipconv.core._shared.limits.working_memory`).

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
        image = _read(source, max_pixels, name, memory_limit)
    if caught:
        first = str(caught[0].message).strip().splitlines()
        image.notes += (f"{image.format.upper()} decoder warned: {(first or ['?'])[0][:120]}",)
    return image


def _read(
    source: str | os.PathLike[str] | bytes | BinaryIO,
    max_pixels: int,
    name: str | None,
    memory_limit: int | None,
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
            _check_limits(size, head, fmt, max_pixels, memory_limit, label)
        budget = _byte_budget(size, max_pixels)
        data = _read_all(stream, head, budget, label) if len(head) == _FIRST_CHUNK else head
    finally:
        if close:
            stream.close()
    if size is None:
        size = _header_size(data, fmt, label)
        _check_limits(size, data, fmt, max_pixels, memory_limit, label)
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


def _check_limits(
    size: tuple[int, int],
    head: bytes,
    fmt: str,
    max_pixels: int,
    memory_limit: int | None,
    label: str,
) -> None:
    """The pixel and memory limits, from the header alone (nothing decoded yet)."""
    check_pixel_limit(*size, max_pixels, label)
    if memory_limit:
        channels = _PNG_CHANNELS.get(head[25], 1) if fmt == "png" and len(head) > 25 else 1
        width, height = size
        check_working_memory((height, width, channels), memory_limit, label=label)


#: Channels of each PNG colour type (at least that many; 1 where unknown).
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}

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
            f"{max_pixels:,} (raise `max_pixels`)"
        )


def _open_source(
    source: str | os.PathLike[str] | bytes | BinaryIO, name: str | None
) -> tuple[BinaryIO, str, bool]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), name or "input", True
    if not isinstance(source, (str, os.PathLike)):
        return source, str(name or getattr(source, "name", None) or "stdin"), False
    path = Path(source)
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


def _read_all(stream: BinaryIO, head: bytes, budget: int, label: str) -> bytes:
    """The whole input, ``head`` first, or ResourceLimitError past ``budget`` bytes.

    A regular file within the budget is read again from its start in one
    call: one buffer, not the head and the rest joined (a copy of the file).
    """
    try:
        size = os.fstat(stream.fileno()).st_size if stream.seekable() else None
    except (OSError, AttributeError, ValueError):  # BytesIO, pipes, closed streams
        size = None
    if size is not None and len(head) < size <= budget:
        try:
            stream.seek(0)
            data = _read_chunk(stream, size + 1, label)
        except OSError:
            data = b""
        if len(head) <= len(data) <= budget and data.startswith(head):
            return data
        stream.seek(len(head))  # it changed meanwhile: the careful way below
    return head + _read_rest(stream, budget - len(head), label)


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
        with pillow().open(io.BytesIO(head)) as im:
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
            header = pnm_header(data)
            return header.width, header.height
        if fmt == "npy":
            shape = npy_header(data)[0]
            if len(shape) not in (2, 3):
                raise ValueError(f"array of shape {shape} is not an image (H, W[, C])")
            check_channels(shape[2] if len(shape) == 3 else 1, label)
            return shape[1], shape[0]
        if fmt == "tiff":
            import tifffile

            with quiet_tifffile(), tifffile.TiffFile(io.BytesIO(data)) as tif:
                page = tif.pages.first
                check_channels(int(page.samplesperpixel), label)
                return int(page.imagewidth), int(page.imagelength)
        with pillow().open(io.BytesIO(data)) as im:
            return im.size
    except (ImageReadError, ResourceLimitError):
        raise
    except Exception as exc:
        raise ImageReadError(f"{label}: corrupt {fmt.upper()} header ({_why(exc)})") from None


# ---- PNM (netpbm): our own exact codec, so 16-bit and PAM survive
