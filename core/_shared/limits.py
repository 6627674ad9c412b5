"""Resource limits: free memory, sizes like ``2GiB``, and a working-memory estimate.

Filtering is checked *before* it starts: :func:`working_memory` estimates the
peak bytes the in-memory path needs for an image, and
:func:`check_working_memory` refuses with a message that says how much would
be needed, what the limit is, and what to do instead.
"""

from __future__ import annotations

import math
import os
import re

from flipconv.core._shared.errors import OptionError, ResourceLimitError

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")

#: Working bytes of the in-memory path: per sample, the input and output
#: samples (at most 8 bytes together); per pixel, up to five float64 planes
#: alive at once (the FFT path's padded plane, two spectra and the result,
#: while a channel is converted). Channels are filtered one at a time.
#: Measured peak RSS for 12 MP RGB: 397-431 MB above the interpreter for the
#: direct and separable paths, 547-554 MB for FFT; this estimate says 768 MB.
BYTES_PER_SAMPLE = 8
BYTES_PER_PIXEL = 40


def parse_size(text: str) -> int:
    """Bytes in a size such as ``1GiB``, ``512M``, ``1.5GB`` or ``1000000``.

    ``KiB/MiB/GiB/TiB`` and bare ``K/M/G/T`` are powers of 1024; ``KB/MB/GB/TB``
    are powers of 1000.

    >>> parse_size("1GiB"), parse_size("512M"), parse_size("1.5GB"), parse_size("4096")
    (1073741824, 536870912, 1500000000, 4096)
    """
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise OptionError(f"{text!r} is not a size (e.g. 2GiB, 512MiB, 1.5GB, 1000000)")
    value = float(match.group(1)) * _UNITS[unit]
    if value < 1:
        raise OptionError(f"{text!r} is not a positive size")
    return int(value)


def format_size(n: float) -> str:
    """``1.5 GiB`` style.

    >>> format_size(1536 * 1024 * 1024), format_size(1000)
    ('1.5 GiB', '1000 B')
    """
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{int(n)} B"


def available_memory() -> int | None:
    """Bytes of memory available to this process now (Linux), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def working_memory(shape: tuple[int, ...]) -> int:
    """Estimated peak bytes to filter an image of ``shape`` in memory.

    >>> working_memory((1000, 1000, 3))
    64000000
    """
    pixels = shape[0] * shape[1]
    channels = shape[2] if len(shape) == 3 else 1
    return pixels * (BYTES_PER_SAMPLE * channels + BYTES_PER_PIXEL)


def check_working_memory(shape: tuple[int, ...], limit: int, *, label: str = "image") -> None:
    """Raise :class:`ResourceLimitError` if filtering ``shape`` would need more than ``limit``."""
    need = working_memory(shape)
    if need > limit:
        size = "x".join(str(n) for n in (shape[1], shape[0]))
        channels = shape[2] if len(shape) == 3 else 1
        side = math.sqrt(limit / need)
        raise ResourceLimitError(
            f"{label}: filtering {size} with {channels} channel(s) needs about "
            f"{format_size(need)} of memory, over the limit of {format_size(limit)}; "
            f"raise `memory_limit` or scale the image by at most "
            f"{side:.2f} per side; a TIFF, NPY or Zarr file is filtered in tiles "
            "instead (flipconv[dask]), so convert other formats to a tiled TIFF"
        )


def default_threads() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


#: Largest side a kernel may have, in taps (built-in, inline or from a file).
MAX_KERNEL_SIDE = 10_001


#: Largest number of elements a kernel may have (32 MiB of float64).
MAX_KERNEL_ELEMENTS = 1 << 22
