"""The image formats flipconv reads and writes, and how a format is recognised.

Free of numpy at import time: the command line checks names and formats
here before it loads anything heavy.

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
never trusted from the file name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flipconv.core._shared.errors import ImageReadError, ImageWriteError
from flipconv.core._shared.vocabulary import SAMPLE_TYPES, WRITE_FORMATS

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


#: Channels an image may have: gray, gray+alpha, RGB, RGBA.
MAX_CHANNELS = 4


def check_channels(count: int, label: str) -> None:
    """Refuse (:class:`ImageReadError`) more channels than flipconv filters, as early as
    a header tells: a small file can declare a thousand samples per pixel."""
    if count > MAX_CHANNELS:
        raise ImageReadError(
            f"{label}: {count} channels; flipconv filters gray, gray+alpha, RGB and RGBA images"
        )


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
            f"(use one of {known}, or `fmt`)"
        )
    return EXTENSIONS[suffix]


def check_writable(pixels_dtype: Any, channels: int, fmt: str) -> None:
    """Raise :class:`ImageWriteError` if ``fmt`` cannot store such an image.

    ``pixels_dtype`` is a sample type's name or a numpy dtype.

    >>> check_writable("float32", 3, "png")
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.ImageWriteError: PNG cannot store float32 samples ...
    """
    if fmt not in WRITE_FORMATS:
        raise ImageWriteError(
            f"cannot write {fmt!r} images (output formats: {', '.join(WRITE_FORMATS)})"
        )
    name = pixels_dtype if isinstance(pixels_dtype, str) else pixels_dtype.name
    allowed = WRITE_TYPES[fmt]
    if name not in allowed:
        fix = "TIFF or NPY" if name.startswith("float") else "PNG, TIFF, PNM or NPY"
        raise ImageWriteError(
            f"{fmt.upper()} cannot store {name} samples (it stores {', '.join(allowed)}); "
            f"choose `dtype` {allowed[0]} or write {fix}"
        )
    if fmt in ("jpeg", "bmp") and channels in (2, 4):
        raise ImageWriteError(
            f"{fmt.upper()} cannot store an alpha channel; write PNG, TIFF or NPY instead"
        )
