"""Rows in strips: a filter's sums over the whole image, one strip of rows at a time.

A strip's sums are written into one buffer that every strip reuses, so the
pages are faulted in once, instead of a fresh array the size of the image
(for 8-bit RGB 4K: 50 MB of int16 or 100 MB of float32 sums). Each strip is
filtered with ``h - 1`` more rows above and below it, as many as the kernel
is tall, so that a border reflected at the image's top or bottom finds its
rows too, and only its own rows are kept: a kept sum reads the rows it would
read in the whole image, in the same order, so the sums are those of one
call over all of it.

scipy's sums run in strips too, on threads (:func:`row_strips`, :func:`run_strips`):
short enough that Ctrl-C and SIGTERM are acted on between them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

#: The bytes of sums a strip holds, about. Measured on the 4K RGB scene
#: (2026-12-05): the certified route's first gaussian:2 in a process took a median 54 ms
#: against 60 ms for the whole image at once, and the run's peak fell from
#: 268 to 147 MiB; 4 MiB strips were slower (74 ms) for their extra halo rows.
#: OpenCV's int16 Sobel sums, counted and converted: 15-20 ms against 20-120 ms.
STRIP_BYTES = 16 << 20


def strip_bounds(
    height: int, row_bytes: int, kernel_height: int
) -> list[tuple[int, int, int, int]]:
    """``(r0, r1, a0, a1)`` per strip: rows ``r0:r1`` are kept from a filter of rows ``a0:a1``.

    A strip has at least ``4 h`` and 64 rows, else about :data:`STRIP_BYTES`
    of ``row_bytes`` rows; a last strip shorter than half of that joins the
    one before.

    >>> strip_bounds(10, 100, 3)
    [(0, 10, 0, 10)]
    >>> [b[:2] for b in strip_bounds(300, STRIP_BYTES // 100, 3)]
    [(0, 100), (100, 200), (200, 300)]
    """
    h = kernel_height
    rows = max(4 * h, 64, STRIP_BYTES // max(row_bytes, 1))
    starts = list(range(0, height, rows))
    if len(starts) > 1 and height - starts[-1] < rows // 2:
        starts.pop()
    return [
        (r0, r1, max(0, r0 - (h - 1)), min(height, r1 + h - 1))
        for r0, r1 in zip(starts, [*starts[1:], height], strict=True)
    ]


def add_counts(total: list[tuple[int, int]], part: list[tuple[int, int]], first: bool) -> None:
    """Add a strip's ``(below, above)`` counts per plane into the last planes of ``total``.

    The ``first`` strip's are appended (``total`` may hold other images' planes).
    """
    if first:
        total.extend(part)
        return
    start = len(total) - len(part)
    for i, (low, high) in enumerate(part):
        before = total[start + i]
        total[start + i] = (before[0] + low, before[1] + high)


# ---------------------------------------------------------------- scipy's strips on threads

#: Rows per strip at least, so small images are not cut into slivers.
MIN_STRIP_ROWS = 64
#: About how long one strip of scipy's sums may take (ns): Ctrl-C and SIGTERM are
#: acted on between strips, so a box:41 direct sum does not hold them for a plane.
STRIP_WORK_NS = 100e6


def row_strips(
    height: int, threads: int, row_ns: float = 0.0, halo: int = 0
) -> list[tuple[int, int]]:
    """Row ranges: at least one per thread, and short enough to stop between (``row_ns``:
    the cost of one row's sums), but at least eight ``halo``s high: a strip sums its
    halo rows too, and throws them away."""
    count = max(1, min(threads, height // MIN_STRIP_ROWS))
    if row_ns > 0:
        shortest = max(MIN_STRIP_ROWS, 8 * halo)
        wanted = math.ceil(height * row_ns / STRIP_WORK_NS)
        count = max(count, min(wanted, height // shortest))
    edges = [round(i * height / count) for i in range(count + 1)]
    return [(edges[i], edges[i + 1]) for i in range(count)]


def run_strips(
    pool: ThreadPoolExecutor, work: Callable[[tuple[int, int]], None], strips: list[tuple[int, int]]
) -> None:
    """``work`` on every strip; on Ctrl-C, SIGTERM or an error the strips not yet
    started are dropped, so the wait is for the few running, not the plane."""
    futures = [pool.submit(work, bounds) for bounds in strips]
    try:
        for future in futures:
            future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise
