"""OpenCV's float64 filters: the engine's fast primitives, exact where it matters.

``cv2.filter2D`` and ``cv2.sepFilter2D`` with ``ddepth=CV_64F`` compute in
float64 straight from the input's samples. Measured on this project's
machine (4K plane): bit-identical to scipy.ndimage for direct kernels, and 3
to 9 times faster. Two facts shape this module:

* ``filter2D`` switches to its DFT from :data:`DFT_TAPS` taps on, and its DFT
  works in the *source's* precision: from uint8 samples it was off by 7e-9
  of the result's scale, from float64 by 1e-15. So such kernels get float64
  input.
* OpenCV's borders map onto scipy's modes (:data:`BORDERS`) except ``wrap``
  (``filter2D`` has none) and a constant ``cval`` other than 0 (it has no
  border value); those, and kernels that reach past a tiny image, are padded
  here first (:func:`flipconv.core.engine.borders.pad`) and filtered inside.

Correlation is what both functions compute; ``anchor`` is the kernel's
origin as (column, row). scipy.ndimage (:mod:`flipconv.core.engine.scipy_backend`) stays the
reference the tests compare with, and the fallback for what OpenCV cannot do
here: direct summation of :data:`DFT_TAPS` taps or more (``method='direct'``),
and the FFT of a kernel too small for OpenCV's DFT (``method='fft'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flipconv.core._shared.vocabulary import Mode
from flipconv.core.engine.borders import pad
from flipconv.core.engine.pixels import count_outside
from flipconv.core.kernels.kernel import Kernel

#: ``filter2D`` with float64 output uses its DFT from this many taps on
#: (OpenCV's ``dft_filter_size``), and direct summation below it.
DFT_TAPS = 50

#: Sample types OpenCV filters into float64 as they are (not float32: it refuses
#: that pair); others are converted to float64, exactly.
NATIVE = ("uint8", "uint16", "int16", "float64")


def _cv2() -> Any:
    import cv2

    return cv2


def borders() -> dict[str, int]:
    """scipy.ndimage's modes and OpenCV's border types that extend alike."""
    cv2 = _cv2()
    return {
        "reflect": cv2.BORDER_REFLECT,
        "mirror": cv2.BORDER_REFLECT_101,
        "nearest": cv2.BORDER_REPLICATE,
        "constant": cv2.BORDER_CONSTANT,
    }


def set_threads(threads: int) -> None:
    """OpenCV's thread count (process-wide). Results do not depend on it."""
    _cv2().setNumThreads(max(1, int(threads)))


def _prepared(
    plane: np.ndarray, kernel: Kernel, mode: Mode, cval: float, as_float: bool
) -> tuple[np.ndarray, tuple[slice, slice] | None, int]:
    """The plane as OpenCV should read it, the part of the result to keep, the border."""
    if as_float or plane.dtype.name not in NATIVE:
        plane = plane.astype(np.float64)
    rows, cols = kernel.reach()
    far = max(rows) >= plane.shape[0] or max(cols) >= plane.shape[1]
    if mode == "wrap" or (mode == "constant" and cval != 0) or far:
        padded = pad(plane, (rows, cols), mode, cval)
        keep = (slice(rows[0], rows[0] + plane.shape[0]), slice(cols[0], cols[0] + plane.shape[1]))
        return np.ascontiguousarray(padded), keep, borders()["constant"]
    return np.ascontiguousarray(plane), None, borders()[mode]


def _kept(out: np.ndarray, keep: tuple[slice, slice] | None) -> np.ndarray:
    return out if keep is None else np.ascontiguousarray(out[keep])


def _dst(out: np.ndarray | None, keep: tuple[slice, slice] | None, shape: tuple[int, ...]) -> Any:
    """``out`` when OpenCV can write the result straight into it, else None (a new array)."""
    if out is None or keep is not None or out.shape != shape or out.dtype != np.float64:
        return None
    return out


def correlate(
    plane: np.ndarray, kernel: Kernel, mode: Mode, cval: float, out: np.ndarray | None = None
) -> np.ndarray:
    """Correlate one plane by ``filter2D`` (direct below :data:`DFT_TAPS` taps, else its DFT).

    The weighted sum only (no offset), float64, the plane's shape; written
    into ``out`` when it is given and fits.
    """
    cv2 = _cv2()
    taps = kernel.shape[0] * kernel.shape[1]
    src, keep, border = _prepared(plane, kernel, mode, cval, as_float=taps >= DFT_TAPS)
    anchor = (kernel.origin[1], kernel.origin[0])
    result = cv2.filter2D(
        src,
        cv2.CV_64F,
        kernel.values,
        dst=_dst(out, keep, src.shape),
        anchor=anchor,
        borderType=border,
    )
    return _kept(result, keep)


def correlate_separable(
    plane: np.ndarray,
    kernel: Kernel,
    terms: tuple[tuple[np.ndarray, np.ndarray], ...],
    mode: Mode,
    cval: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Correlate one plane with ``sum(outer(col, row))`` by ``sepFilter2D`` passes."""
    cv2 = _cv2()
    src, keep, border = _prepared(plane, kernel, mode, cval, as_float=False)
    anchor = (kernel.origin[1], kernel.origin[0])
    total = cv2.sepFilter2D(
        src,
        cv2.CV_64F,
        terms[0][1],
        terms[0][0],
        dst=_dst(out, keep, src.shape),
        anchor=anchor,
        borderType=border,
    )
    for col, row in terms[1:]:
        total += cv2.sepFilter2D(src, cv2.CV_64F, row, col, anchor=anchor, borderType=border)
    return _kept(total, keep)


#: The largest sum of |weights| whose 8-bit sums fit int16 exactly (255 * 128 < 32768).
INT16_WEIGHT_SUM = 128


def int16_refusal(values: np.ndarray) -> str | None:
    """Why these weights' 8-bit sums do not fit int16 exactly (see :data:`INT16_WEIGHT_SUM`),
    or None where they do.

    >>> int16_refusal(np.array([[1.0, -2.0, 1.0]])) is None
    True
    """
    if np.abs(values).max() > INT16_WEIGHT_SUM or not np.array_equal(values, np.round(values)):
        return "weights that are not small integers"  # (max first: 1e308s would overflow)
    if np.abs(values).sum() > INT16_WEIGHT_SUM:
        return f"integer weights summing past {INT16_WEIGHT_SUM} in magnitude: int16 would overflow"
    return None


def correlate_u8_exact(
    plane: np.ndarray, kernel: Kernel, mode: Mode, dst: np.ndarray | None = None
) -> np.ndarray | None:
    """Correlate an 8-bit plane with an integer kernel in int16: exact, and 4-6x faster.

    Sobel, Prewitt, Laplacian, unnormalised boxes, ``1,2;4,8``: every partial
    sum is an integer below 2**15 when ``sum|K| <= 128``, so OpenCV's int16
    output holds the exact result (no rounding at all). None when that does
    not apply (other sample types or kernels, wrap, a kernel reaching past
    the image); the caller then takes the float64 path, which gives the same
    numbers. ``dst``, given, is an int16 array of ``plane``'s shape to write into.
    """
    values = kernel.values
    if plane.dtype != np.uint8 or mode == "wrap" or kernel.offset:
        return None
    if int16_refusal(values) is not None:
        return None
    rows, cols = kernel.reach()
    if max(rows) >= plane.shape[0] or max(cols) >= plane.shape[1]:
        return None
    cv2 = _cv2()
    anchor = (kernel.origin[1], kernel.origin[0])
    return cv2.filter2D(
        np.ascontiguousarray(plane),
        cv2.CV_16S,
        values,
        dst=dst,
        anchor=anchor,
        borderType=borders()[mode],
    )


def magnitude(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``sqrt(x**2 + y**2)`` of two float64 planes, into ``x`` (3x numpy's in-place steps)."""
    return _cv2().magnitude(x, y, x)


def count_outside_channels(
    values: np.ndarray, channels: int, low: float, high: float
) -> list[tuple[int, int]]:
    """``(below low, above high)`` for each of the interleaved ``channels`` of ``values``.

    ``values`` is ``(H, W)`` or ``(H, W, channels)``, int16 or float32. One
    comparison makes a mask and OpenCV sums it per channel: 1.5 ms on the 4K
    RGB scene's Sobel sums, where numpy's ``count_nonzero(axis=0)`` took
    100 ms. More than four channels are counted plane by plane.

    >>> count_outside_channels(np.array([[[-1, 300], [0, 255]]], np.int16), 2, 0, 255)
    [(1, 0), (0, 1)]
    """
    if channels > 4 or values.size == 0:
        planes = values.reshape(*values.shape[:2], channels)
        return [count_outside(planes[..., c], low, high) for c in range(channels)]
    cv2 = _cv2()
    rows = np.ascontiguousarray(values).reshape(values.shape[0], -1)
    least, most = cv2.minMaxLoc(rows)[:2]
    found = [[0] * channels, [0] * channels]
    for side, (outside, bound, test) in enumerate(
        ((least < low, low, cv2.CMP_LT), (most > high, high, cv2.CMP_GT))
    ):
        if outside:
            mask = cv2.compare(rows, bound, test).reshape(values.shape[0], -1, channels)
            found[side] = [round(total / 255) for total in cv2.sumElems(mask)[:channels]]
    return list(zip(found[0], found[1], strict=True))
