"""NaN and infinities kept where the kernel puts them, on every route.

A direct sum spreads a non-finite sample only to the outputs whose kernel
window holds it under a weight; scipy.ndimage skips weights of magnitude at
most ``DBL_EPSILON``, so those are the taps that count (here, *live* taps).
An FFT spreads it over the whole plane, and a low-rank or separable pass
can turn ``inf * 0`` into NaN where the direct sum never multiplies them.

So a plane with non-finite samples is filtered with them set to 0, and the
outputs they reach are then set to what any direct sum gives there, which
depends on no order of addition:

- NaN if a NaN sample sits under a live tap, or if ``+inf`` and ``-inf``
  contributions meet (``inf - inf``);
- otherwise ``+inf`` or ``-inf``, the sign of ``weight * sample``.

Which outputs those are is counted by filtering 0/1 planes with 0/1
kernels through the same engine and border rule (counts are exact integers
to far better than 0.5, whatever the route).

>>> plane = np.zeros((1, 5)); plane[0, 2] = np.nan
>>> values = np.array([[1.0, 0.0, 2.0]])
>>> run = lambda p, k: np.array([[np.convolve(p[0], k[0, ::-1], "same")]])[0]
>>> marks = find(plane)
>>> out = np.zeros((1, 5))
>>> restore(out, marks, values, run)
>>> out.tolist()  # the zero weight does not carry the NaN to the centre
[[0.0, nan, 0.0, nan, 0.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Weights of at most this magnitude are skipped by a direct sum (scipy.ndimage's rule).
NEGLIGIBLE = float(np.finfo(np.float64).eps)

#: ``run(plane, kernel_values)``: the correlation of a finite plane with a kernel of
#: the same shape and origin as the one being applied, in the same border mode
#: (zero outside for ``constant``).
Correlate = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Marks:
    """Where a plane's non-finite samples are, by kind (None: there is none of that kind)."""

    nan: np.ndarray | None
    plus: np.ndarray | None
    minus: np.ndarray | None


def find(plane: np.ndarray) -> Marks | None:
    """The non-finite samples of ``plane``; None when every sample is finite.

    Integer planes cost nothing; a float plane one pass.
    """
    if plane.dtype.kind not in "fc" or np.isfinite(plane).all():
        return None

    def where(mask: np.ndarray) -> np.ndarray | None:
        return mask.astype(np.float64) if mask.any() else None

    return Marks(where(np.isnan(plane)), where(plane == np.inf), where(plane == -np.inf))


def finite(plane: np.ndarray, marks: Marks | None) -> np.ndarray:
    """``plane`` with its non-finite samples set to 0 (a new array), or itself."""
    if marks is None:
        return plane
    return np.where(np.isfinite(plane), plane, 0.0)


def restore(out: np.ndarray, marks: Marks, values: np.ndarray, run: Correlate) -> None:
    """Set the outputs that non-finite samples reach, in place (see the module docstring)."""
    positive = (values > NEGLIGIBLE).astype(np.float64)
    negative = (values < -NEGLIGIBLE).astype(np.float64)

    def count(samples: np.ndarray | None, taps: np.ndarray) -> np.ndarray | float:
        if samples is None or not taps.any():
            return 0.0
        return run(samples, taps)

    nan = count(marks.nan, positive + negative)
    plus = count(marks.plus, positive) + count(marks.minus, negative)
    minus = count(marks.plus, negative) + count(marks.minus, positive)
    up, down = np.greater(plus, 0.5), np.greater(minus, 0.5)
    out[up] = np.inf
    out[down] = -np.inf
    out[np.greater(nan, 0.5) | (up & down)] = np.nan
