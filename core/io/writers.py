"""Encoding images and writing them to a file (atomically) or a stream."""

from __future__ import annotations

import io
import os
from typing import BinaryIO

import numpy as np
from flipconv.core._shared.errors import ImageWriteError
from flipconv.core._shared.limits import default_threads
from flipconv.core.io.atomic import write_atomic, write_bytes_atomic, write_stream
from flipconv.core.io.formats import check_writable, format_for_path
from flipconv.core.io.pngwrite import DEFAULT_LEVEL, encode_png
from flipconv.core.io.pnm import encode_pnm


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
    :data:`flipconv.core.io.pngwrite.DEFAULT_LEVEL`); ``threads`` how many cores the
    PNG encoder may use (default: all).

    Raises
    ------
    ImageWriteError
        If the format cannot store the sample type or channels.
    """
    if pixels.ndim not in (2, 3) or 0 in pixels.shape:
        raise ImageWriteError(f"cannot write an image of shape {tuple(pixels.shape)}")
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    check_writable(pixels.dtype, channels, fmt)
    if fmt == "pnm":  # (the encoders' bytes as they are: no copy through a buffer)
        return encode_pnm(pixels)
    if fmt == "png":
        level = DEFAULT_LEVEL if compression is None else compression
        if not 0 <= level <= 9:
            raise ImageWriteError(f"PNG compression {level} is not between 0 and 9")
        workers = default_threads() if threads is None else threads
        return encode_png(pixels, level=level, threads=workers)
    buf = io.BytesIO()
    _encode_into(buf, pixels, fmt, quality)
    return buf.getvalue()


def _encode_into(stream: BinaryIO, pixels: np.ndarray, fmt: str, quality: int) -> None:
    """Encode a format whose library writes to a file object (not PNG or PNM)."""
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    if fmt == "npy":
        np.save(stream, pixels, allow_pickle=False)
    elif fmt == "tiff":
        import tifffile

        photometric = "rgb" if channels in (3, 4) else "minisblack"
        extras = ["unassalpha"] if channels in (2, 4) else None
        tifffile.imwrite(stream, pixels, photometric=photometric, extrasamples=extras)
    else:
        from PIL import Image as PILImage

        if pixels.dtype == np.uint16:
            im = PILImage.fromarray(pixels.astype("<u2"), mode=None)
        else:
            im = PILImage.fromarray(pixels)
        options = {"quality": quality} if fmt == "jpeg" else {}
        im.save(stream, format=fmt.upper(), **options)


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
    if isinstance(dest, (str, os.PathLike)):
        fmt = fmt or format_for_path(dest)
        if fmt in ("png", "pnm"):  # (their encoders return the file's bytes)
            data = encode_image(
                pixels, fmt, quality=quality, compression=compression, threads=threads
            )
            write_bytes_atomic(data, dest)
        else:  # written into the file itself: no copy through a buffer (25 MB for 4K TIFF)
            check_writable(pixels.dtype, pixels.shape[2] if pixels.ndim == 3 else 1, fmt)
            write_atomic(dest, lambda stream: _encode_into(stream, pixels, fmt, quality))
        return fmt
    if fmt is None:
        raise ImageWriteError("writing to a stream needs an explicit format")
    write_stream(
        encode_image(pixels, fmt, quality=quality, compression=compression, threads=threads), dest
    )
    return fmt
