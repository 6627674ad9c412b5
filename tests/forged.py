"""Forged files for the tests of bad input: a PNG header that claims any size."""

from __future__ import annotations

import struct
import zlib


def png_header(width: int, height: int, colour: int = 0, tail: int = 16) -> bytes:
    """A PNG signature and an IHDR chunk (8 bits, ``colour`` type) claiming ``width`` x
    ``height``, then ``tail`` zero bytes where the image data would start."""
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", 13)
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\x00" * tail
    )
