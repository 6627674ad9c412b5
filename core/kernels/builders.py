"""The matrices of the built-in kernels, one builder per family.

Each builder returns ``(values, factors)``: a 2-D float64 matrix and, when it
is known by construction to be rank one, its column and row vectors (the
engine then filters in two 1-D passes). Each imports numpy when it runs, so
that the registry (:mod:`flipconv.core.kernels.builtins`) stays free of numpy at
import time and ``flipconv kernels`` and completion stay instant.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.limits import MAX_KERNEL_ELEMENTS, MAX_KERNEL_SIDE

if TYPE_CHECKING:
    import numpy as np

    Factors = tuple[np.ndarray, np.ndarray] | None
    Built = tuple[np.ndarray, Factors]


def check_side(name: str, side: int) -> None:
    """Refuse a kernel side past :data:`MAX_KERNEL_SIDE`."""
    if side > MAX_KERNEL_SIDE:
        raise KernelError(f"{name}: kernel side {side} exceeds the limit of {MAX_KERNEL_SIDE} taps")


def check_shape(name: str, height: int, width: int) -> None:
    """Refuse a matrix over the kernel limits *before* it is allocated."""
    check_side(name, max(height, width))
    if height * width > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"{name}: a {height}x{width} kernel has {height * width} elements, over the limit "
            f"of {MAX_KERNEL_ELEMENTS}"
        )


def outer(col: Any, row: Any, name: str = "kernel") -> Built:
    """The outer product ``col x row``, with its factors kept."""
    import numpy as np

    check_shape(name, len(col), len(row))
    col = np.asarray(col, dtype=np.float64)
    row = np.asarray(row, dtype=np.float64)
    return np.outer(col, row), (col, row)


def identity(size: int) -> Built:
    """A centred 1 in a square of zeros."""
    check_side("identity", size)
    impulse = [0.0] * size
    impulse[size // 2] = 1.0
    return outer(impulse, impulse, "identity")


def box(size: int) -> Built:
    """The ``size`` x ``size`` mean."""
    check_side("box", size)
    return outer([1.0 / size] * size, [1.0 / size] * size, "box")


def gaussian_1d(sigma: float, radius: int) -> Any:
    """scipy.ndimage's sampled Gaussian, normalised to sum 1."""
    import numpy as np

    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def radius_for(name: str, sigma: float, truncate: float, radius: int | None) -> int:
    """``truncate * sigma`` rounded (scipy's rule), or the radius given."""
    r = int(truncate * sigma + 0.5) if radius is None else radius
    check_side(name, 2 * r + 1)
    return r


def gaussian(sigma: float, truncate: float, radius: int | None) -> Built:
    """The separable Gaussian, as scipy.ndimage.gaussian_filter weighs."""
    w = gaussian_1d(sigma, radius_for("gaussian", sigma, truncate, radius))
    return outer(w, w, "gaussian")


def derivative(smooth: tuple[float, ...], axis: str) -> Built:
    """A gradient along ``axis``: central difference times ``smooth`` across it."""
    edge = (-1.0, 0.0, 1.0)
    return outer(smooth, edge) if axis == "x" else outer(edge, smooth)


def matrix(rows: list[list[float]]) -> Built:
    """A matrix from its rows, with no factors."""
    import numpy as np

    return np.array(rows, dtype=np.float64), None


def laplacian(neighbours: int) -> Built:
    """The 4- or 8-neighbour Laplacian."""
    if neighbours == 4:
        return matrix([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    return matrix([[1, 1, 1], [1, -8, 1], [1, 1, 1]])


def log(sigma: float, truncate: float, radius: int | None) -> Built:
    """The Laplacian of Gaussian, with zero sum."""
    import numpy as np

    r = radius_for("log", sigma, truncate, radius)
    check_shape("log", 2 * r + 1, 2 * r + 1)
    x = np.arange(-r, r + 1, dtype=np.float64)
    rr = x[:, None] ** 2 + x[None, :] ** 2
    g = np.exp(-rr / (2 * sigma * sigma))
    g /= g.sum()
    values = g * (rr - 2 * sigma * sigma) / sigma**4
    return values - values.mean(), None


def sharpen(amount: float) -> Built:
    """Identity plus ``amount`` times the negative Laplacian."""
    a = amount
    return matrix([[0, -a, 0], [-a, 1 + 4 * a, -a], [0, -a, 0]])


DIRECTIONS = {
    "n": (0, -1),
    "ne": (1, -1),
    "e": (1, 0),
    "se": (1, 1),
    "s": (0, 1),
    "sw": (-1, 1),
    "w": (-1, 0),
    "nw": (-1, -1),
}


def emboss(direction: str) -> Built:
    """A relief toward ``direction``: a gradient plus the identity (sums to 1)."""
    dx, dy = DIRECTIONS[direction]
    rows = [[float(dx * (c - 1) + dy * (r - 1)) for c in range(3)] for r in range(3)]
    rows[1][1] += 1.0
    return matrix(rows)


def motion(length: int, angle: float) -> Built:
    """A trail of ``length`` samples from the centre at ``angle`` degrees, summing to 1."""
    import numpy as np

    check_shape("motion", 2 * length + 1, 2 * length + 1)
    theta = math.radians(angle)
    dx, dy = math.cos(theta), -math.sin(theta)  # screen y grows downwards
    half = length
    grid = np.zeros((2 * half + 1, 2 * half + 1))
    for t in range(length):
        x, y = half + t * dx, half + t * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, xx, w in (
            (y0, x0, (1 - fx) * (1 - fy)),
            (y0, x0 + 1, fx * (1 - fy)),
            (y0 + 1, x0, (1 - fx) * fy),
            (y0 + 1, x0 + 1, fx * fy),
        ):
            if w > 1e-12:
                grid[yy, xx] += w
    grid /= grid.sum()
    # Crop all-zero borders symmetrically so the origin stays at the centre.
    rows = np.flatnonzero(grid.any(axis=1))
    cols = np.flatnonzero(grid.any(axis=0))
    rr = max(half - rows[0], rows[-1] - half)
    rc = max(half - cols[0], cols[-1] - half)
    values = grid[half - rr : half + rr + 1, half - rc : half + rc + 1].copy()
    if values.shape[0] == 1:
        return values, (np.ones(1), values[0].copy())
    if values.shape[1] == 1:
        return values, (values[:, 0].copy(), np.ones(1))
    return values, None


def shift(dx: int, dy: int) -> Built:
    """Moves the image by ``dx`` right and ``dy`` down (convolve)."""
    col = [0.0] * (2 * abs(dy) + 1)
    row = [0.0] * (2 * abs(dx) + 1)
    col[abs(dy) + dy] = 1.0
    row[abs(dx) + dx] = 1.0
    return outer(col, row, "shift")
