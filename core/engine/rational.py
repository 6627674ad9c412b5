"""Rational kernels on 8-bit images in exact integers: the rational route.

A kernel of integer weights over one divisor ``d`` (``box:5`` is ones over
25, libvips' sharpen mask integers over 8) gives 8-bit sums ``S / d`` with
``S`` an integer. OpenCV sums the integer weights in int16, exactly while
``sum |weights| <= 128`` (:data:`EXACT_WEIGHT_SUM`), and rounds ``S / d`` to
nearest. That is the float64 route's byte wherever ``S / d`` is not a tie
(ending in exactly ``.5``): such a sum is at least ``1 / 2d`` from one, far
beyond either route's rounding error. An odd ``d`` has no ties. A power of
two whose weights are exactly ``n / d`` has exact float64 sums (binary
fractions), so a tie rounds to even in both. Any other even ``d`` (``0.1``
weights are over 10) is left to the other routes: there the float64 route's
last bit decides a tie, and summing the ties again cost more than it saved
(50 ms against 6 ms on a 1060x1060 RGB image).

>>> import numpy as np
>>> from flipconv.core.kernels.kernel import Kernel
>>> rational_form(Kernel(np.array([[-1.0, -1, -1], [-1, 16, -1], [-1, -1, -1]]) / 8, (1, 1)))
(array([[-1., -1., -1.],
       [-1., 16., -1.],
       [-1., -1., -1.]]), 8)
>>> rational_form(Kernel(np.array([[0.5, np.pi]]), (0, 0))) is None
True
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.vocabulary import Mode, OutRange
from flipconv.core.engine import opencv_backend as opencv
from flipconv.core.engine.strips import add_counts, strip_bounds
from flipconv.core.kernels.kernel import Kernel

#: The largest sum of |integer weights| whose 8-bit sums int16 holds exactly.
EXACT_WEIGHT_SUM = opencv.INT16_WEIGHT_SUM
#: The largest divisor looked for.
LARGEST_DIVISOR = 4096


def rational_form(kernel: Kernel) -> tuple[np.ndarray, int] | None:
    """``kernel``'s weights as integers (float64) over the smallest divisor, or None.

    Only where no tie can go the float64 route's other way (see the module's
    text): an odd divisor (weights within ``1e-12``, relative, of ``n / d``),
    or a power of two whose weights are exactly ``n / d``.
    """
    values = kernel.values
    peak = float(np.abs(values).max())
    if peak == 0 or kernel.offset:
        return None
    for divisor in range(1, LARGEST_DIVISOR + 1):
        scaled = values * divisor
        whole = np.rint(scaled)
        if np.abs(scaled - whole).max() <= 1e-12 * max(1.0, float(np.abs(scaled).max())):
            if np.abs(whole).sum() > EXACT_WEIGHT_SUM:
                return None
            power = divisor & (divisor - 1) == 0
            if divisor % 2 == 0 and not (power and np.array_equal(whole / divisor, values)):
                return None  # ties the float64 route may round either way
            return whole, divisor
    return None


def rational_u8(
    pixels: np.ndarray,
    kernel: Kernel,
    whole: np.ndarray,
    divisor: int,
    mode: Mode,
    out_range: OutRange,
    counts: list[tuple[int, int]] | None = None,
    alpha_index: int | None = None,
) -> np.ndarray:
    """8-bit ``pixels`` correlated with ``kernel`` (``whole / divisor``, see
    :func:`rational_form`): the float64 route's bytes.

    The alpha channel (``alpha_index``) is copied as it is; ``counts`` gets the
    clipped samples per colour plane, as the float64 route counts them.
    """
    cv2 = opencv._cv2()
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    src = np.ascontiguousarray(pixels if channels > 1 else pixels.reshape(pixels.shape[:2]))
    anchor = (kernel.origin[1], kernel.origin[0])
    border = opencv.borders()[mode]
    out = np.empty(src.shape, np.uint8)
    bounds = strip_bounds(src.shape[0], src[0].size * 2, kernel.shape[0])
    buffer = np.empty((max(a1 - a0 for *_, a0, a1 in bounds), *src.shape[1:]), np.int16)
    for r0, r1, a0, a1 in bounds:
        sums = cv2.filter2D(src[a0:a1], cv2.CV_16S, whole, dst=buffer[: a1 - a0],
                            anchor=anchor, borderType=border)[r0 - a0 : r1 - a0]  # fmt: skip
        if out_range == "abs":  # (|S| <= 128 * 255: no int16 overflow)
            np.abs(sums, out=sums)
        if counts is not None:  # per colour plane, more than half a level outside
            found = opencv.count_outside_channels(sums, channels, -0.5 * divisor,
                                                  255.5 * divisor)  # fmt: skip
            add_counts(counts, [n for c, n in enumerate(found) if c != alpha_index], r0 == 0)
        rows = sums.reshape(r1 - r0, -1)
        target = out[r0:r1].reshape(r1 - r0, -1)
        # S / d rounded to nearest (ties to even) and saturated. A tie is exact in float
        # (d a power of two); any other S / d is at least 1 / 2d from one, far beyond
        # float32's error on S * (1 / d)
        if rows.size < 64:  # OpenCV's binding reads an array of up to 4 values as a scalar
            values = np.abs(rows) if out_range == "abs" else rows
            target[...] = np.clip(np.rint(values / divisor), 0, 255)
        elif out_range == "abs":
            cv2.convertScaleAbs(rows, dst=target, alpha=1.0 / divisor)
        else:
            cv2.addWeighted(rows, 1.0 / divisor, rows, 0.0, 0.0, dst=target, dtype=cv2.CV_8U)
    out = out.reshape(pixels.shape)
    if alpha_index is not None:
        out[..., alpha_index] = pixels[..., alpha_index]
    return out
