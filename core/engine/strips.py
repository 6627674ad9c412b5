"""Rows in strips: a filter's sums over the whole image, one strip of rows at a time.

A strip's sums are written into one buffer that every strip reuses, so the
pages are faulted in once, instead of a fresh array the size of the image
(for 8-bit RGB 4K: 50 MB of int16 or 100 MB of float32 sums). Each strip is
filtered with ``h - 1`` more rows above and below it, as many as the kernel
is tall, so that a border reflected at the image's top or bottom finds its
rows too, and only its own rows are kept: a kept sum reads the rows it would
read in the whole image, in the same order, so the sums are those of one
call over all of it.
"""

from __future__ import annotations

#: The bytes of sums a strip holds, about. Measured on the 4K RGB scene
#: (2026-12-05): Engine 3's first gaussian:2 in a process took a median 54 ms
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
