"""The certified route's doubtful sums again in float64, as the float64 route sums them.

The certified route (:mod:`flipconv.core.engine.certified`) must give the float64
route's bytes to the bit, so a doubtful sample is summed again exactly as
that route's OpenCV call sums it (measured here, bit for bit, on direct,
separable, symmetric and antisymmetric kernels): ``filter2D`` adds the
non-zero weights' products in row-major order from 0; ``sepFilter2D`` adds a
row's products in order, then the column's, where a centred symmetric
(antisymmetric) column kernel adds (subtracts) the pairs of rows before it
weighs them. That matters where a sum's exact value is a tie, as decimal
weights (0.1, 0.2, ...) make a tenth of them: there float64 rounding
decides, and only the same operations decide alike.
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.vocabulary import Mode
from flipconv.core.engine.borders import map_positions
from flipconv.core.kernels.kernel import Kernel

#: Doubtful samples recomputed per batch (bounds the gathered windows' memory).
BATCH = 4096


def recompute(
    src: np.ndarray,
    kernel: Kernel,
    ys: np.ndarray,
    xs: np.ndarray,
    cs: np.ndarray,
    mode: Mode,
    factors: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """The float64 route's sums at ``(ys, xs)`` of channel ``cs``, operation for operation.

    ``factors`` (column, row) for ``sepFilter2D``, None for ``filter2D``;
    see the module docstring for the order each adds in.
    """
    out = np.empty(ys.size)
    for begin in range(0, ys.size, BATCH):
        part = slice(begin, begin + BATCH)
        g = _windows(src, kernel, ys[part], xs[part], cs[part], mode)  # (n, h, w) uint8: exact
        oy = kernel.origin[0]
        out[part] = _direct(g, kernel.values) if factors is None else _separable(g, *factors, oy)
    return out


def _windows(
    src: np.ndarray, kernel: Kernel, ys: np.ndarray, xs: np.ndarray, cs: np.ndarray, mode: Mode
) -> np.ndarray:
    """The ``(n, h, w)`` samples each sum at ``(ys, xs)`` of channel ``cs`` reads.

    A window inside the image is read from it in place; one that crosses its
    edge takes its rows and columns through the border rule, as OpenCV
    extends the image (reflect, mirror, nearest, 0). A padded copy of the
    whole image (52 ms on the 4K scene, for a few thousand windows) is not made.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    (h, w), (oy, ox) = kernel.shape, kernel.origin
    height, width = src.shape[:2]
    g = np.empty((ys.size, h, w), np.uint8)
    inner = (ys >= oy) & (ys < height - (h - 1 - oy)) & (xs >= ox) & (xs < width - (w - 1 - ox))
    inside = np.flatnonzero(inner)
    if inside.size:  # (a window fits wherever some sum's window lies inside)
        views = sliding_window_view(src, (h, w), axis=(0, 1))  # (H', W'[, C], h, w)
        at: tuple[np.ndarray, ...] = (ys[inside] - oy, xs[inside] - ox)
        if src.ndim == 3:
            at = (*at, cs[inside])
        g[inside] = views[at]
    edge = np.flatnonzero(~inner)
    if edge.size:
        rows, row_in = map_positions(ys[edge, None] + np.arange(-oy, h - oy), height, mode)
        cols, col_in = map_positions(xs[edge, None] + np.arange(-ox, w - ox), width, mode)
        pick: tuple[np.ndarray, ...] = (rows[:, :, None], cols[:, None, :])
        if src.ndim == 3:
            pick = (*pick, cs[edge, None, None])
        g[edge] = src[pick] * (row_in[:, :, None] & col_in[:, None, :])  # 0 outside, constant
    return g


def _direct(g: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``filter2D``: the non-zero weights' products, row-major, added from 0."""
    s = np.zeros(g.shape[0])
    for (i, j), weight in np.ndenumerate(values):
        if weight != 0:
            s = s + weight * g[:, i, j]
    return s


def _separable(g: np.ndarray, col: np.ndarray, row: np.ndarray, anchor: int) -> np.ndarray:
    """``sepFilter2D``: each row's products in order, then the column filter.

    OpenCV's column filter pairs rows about the centre when the column
    kernel is odd, centred on the anchor and symmetric (or antisymmetric).
    """
    g = np.ascontiguousarray(np.moveaxis(g, 2, 0))  # (w, n, h): each tap's samples together
    t = row[0] * g[0]
    product = np.empty_like(t)
    for j in range(1, row.size):
        np.multiply(g[j], row[j], out=product)
        t += product
    n, c = col.size, col.size // 2
    centred = n % 2 == 1 and anchor == c
    if centred and np.array_equal(col, col[::-1]):
        s = col[c] * t[:, c]
        for k in range(1, c + 1):
            s = s + col[c + k] * (t[:, c + k] + t[:, c - k])
        return s
    if centred and np.array_equal(col, -col[::-1]):
        s = np.zeros(g.shape[0])
        for k in range(1, c + 1):
            s = s + col[c + k] * (t[:, c + k] - t[:, c - k])
        return s
    s = col[0] * t[:, 0]
    for i in range(1, n):
        s = s + col[i] * t[:, i]
    return s
