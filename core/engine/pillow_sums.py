"""Pillow's ``ImageFilter.Kernel`` arithmetic, so that ``--like pillow`` gives its bytes.

Pillow (``libImaging/Filter.c``, read for this and measured) stores the
weights as float32 and divides each by the scale in float32; it starts each
sum at ``offset + 0.5`` in float32, adds the kernel's rows one at a time (each
row's products added left to right, in float32), and truncates the clipped
result: a float32 "round half up". It reads the kernel's first row over the
image row *below* the output; the preset reverses the rows for that, so the
kernel here is a correlation kernel. Pixels the kernel cannot cover keep
their input, and every band (alpha too) is filtered alike.

Rounded in float64 instead, 70 of 168,000 samples of random 3x3 and 5x5
kernels came out one level off Pillow 12.
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.kernels.kernel import Kernel


def pillow_filter(
    pixels: np.ndarray, kernel: Kernel, *, normalize: bool, offset: float = 0.0
) -> np.ndarray:
    """``pixels`` (uint8, ``(H, W)`` or ``(H, W, C)``) correlated as Pillow filters them.

    ``kernel`` is a 3x3 or 5x5 correlation kernel centred on its middle;
    ``normalize`` divides by its sum as Pillow's default ``scale`` does (a sum
    of 0 divides by 1, as Pillow); ``offset`` is Pillow's ``offset``.

    >>> img = np.arange(25, dtype=np.uint8).reshape(5, 5) * 10
    >>> pillow_filter(img, Kernel(np.ones((3, 3)), (1, 1)), normalize=True)[1:4, 1:4].tolist()
    [[60, 70, 80], [110, 120, 130], [160, 170, 180]]
    """
    if pixels.dtype != np.uint8:
        raise OptionError(
            f"Pillow's arithmetic is for 8-bit images, as its Kernel filter is, not {pixels.dtype}"
        )
    kh, kw = kernel.shape
    if (kh, kw) not in ((3, 3), (5, 5)) or kernel.origin != (kh // 2, kw // 2):
        raise OptionError(
            f"Pillow's Kernel filter takes 3x3 and 5x5 kernels centred on their middle, "
            f"not {kh}x{kw} with origin {kernel.origin[0]},{kernel.origin[1]}"
        )
    total = float(kernel.values.sum())
    divisor = np.float32(total if normalize and total != 0 else 1.0)
    weights = kernel.values.astype(np.float32) / divisor  # float32 / float32, as Pillow
    start = np.float32(np.float32(offset) + 0.5)
    out = pixels.copy()
    planes = [pixels] if pixels.ndim == 2 else [pixels[..., c] for c in range(pixels.shape[2])]
    for c, plane in enumerate(planes):
        target = out if pixels.ndim == 2 else out[..., c]
        target[...] = _filter_plane(plane, weights, start)
    return out


def _filter_plane(plane: np.ndarray, weights: np.ndarray, start: np.float32) -> np.ndarray:
    """One band: float32 sums in Pillow's order, half up by truncation, borders kept."""
    r = weights.shape[0] // 2
    height, width = plane.shape
    out = plane.copy()
    if height <= 2 * r or width <= 2 * r:
        return out  # no pixel the kernel covers: Pillow copies the image
    samples = plane.astype(np.float32)
    inner = (height - 2 * r, width - 2 * r)
    total = np.full(inner, start, dtype=np.float32)
    for i in reversed(range(weights.shape[0])):  # Pillow adds the image row below first
        rows = samples[i : i + inner[0]]
        row_sum = rows[:, 0 : inner[1]] * weights[i, 0]
        for j in range(1, weights.shape[1]):
            row_sum = row_sum + rows[:, j : j + inner[1]] * weights[i, j]
        total = total + row_sum
    np.clip(total, 0.0, 255.0, out=total)
    out[r : height - r, r : width - r] = total.astype(np.uint8)  # truncation, as C's cast
    return out
