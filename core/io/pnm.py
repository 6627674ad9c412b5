"""PNM (netpbm) images: flipconv's own exact codec, so 16-bit and PAM survive.

Reads PBM, PGM, PPM (plain and raw) and PAM up to 16 bits; writes P5/P6, and
P7 when there is alpha. Samples with a maxval other than 255 or 65535 are
scaled to the full 8 or 16 bits with exact rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from flipconv.core._shared.errors import ImageReadError


@dataclass
class _PnmHeader:
    magic: bytes
    width: int
    height: int
    depth: int
    maxval: int
    offset: int


def pnm_header(data: bytes) -> _PnmHeader:
    """The header of a PNM or PAM file, or ImageReadError."""
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


def _samples(h: _PnmHeader, body: bytes, count: int, label: str) -> np.ndarray:
    """The raster's ``count`` samples, plain (ASCII) or raw, as read."""
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
        return values[:count]
    if h.magic == b"P4":
        stride = (h.width + 7) // 8
        need = stride * h.height
        if len(body) < need:
            raise ImageReadError(f"{label}: truncated PBM ({len(body)} of {need} bytes)")
        bits = np.unpackbits(np.frombuffer(body, np.uint8, need).reshape(h.height, stride), axis=1)
        return bits[:, : h.width].reshape(-1)
    dtype = np.dtype(np.uint8) if h.maxval < 256 else np.dtype(">u2")
    need = count * dtype.itemsize
    if len(body) < need:
        raise ImageReadError(f"{label}: truncated PNM ({len(body)} of {need} raster bytes)")
    return np.frombuffer(body, dtype, count)


def decode_pnm(data: bytes, label: str) -> np.ndarray:
    """Pixels of a PNM file: uint8 or uint16, channels last (gray has none)."""
    h = pnm_header(data)
    count = h.width * h.height * h.depth
    values = _samples(h, data[h.offset :], count, label)
    if h.magic in (b"P1", b"P4"):  # 1 is black in a bitmap
        pixels = np.where(values.reshape(h.height, h.width) > 0, 0, 255).astype(np.uint8)
        return pixels
    out_type = np.uint8 if h.maxval < 256 else np.uint16
    top = 255 if h.maxval < 256 else 65535
    values = values.astype(np.int64)
    if values.max(initial=0) > h.maxval:
        raise ImageReadError(f"{label}: PNM sample above its maxval {h.maxval}")
    if values.min(initial=0) < 0:  # a plain (ASCII) PNM can say -1
        raise ImageReadError(f"{label}: PNM sample below 0")
    if h.maxval != top:
        values = (values * top + h.maxval // 2) // h.maxval  # exact rounding
    pixels = values.astype(out_type).reshape(h.height, h.width, h.depth)
    return pixels if h.depth > 1 else pixels[:, :, 0]


def encode_pnm(pixels: np.ndarray) -> bytes:
    """Raw PGM/PPM (gray, RGB) or PAM (with alpha), 8 or 16 bits."""
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
