"""FFT and low-rank sums settled to the direct sums' bytes where their rounding is in doubt.

An FFT or a sum of separable passes differs from the direct sum (each
window's products added in order) by float64 rounding: about ``1e-12`` of
the result's scale. Rounded to integers that is invisible, except for sums
that sit that close to a rounding tie (``k + 0.5``): on real photos 10 to 350
samples a picture came out one level off the direct sums. Decimal weights
make exact ties common (a tenth of the sums of one-decimal weights end in
``.5``), and there the direct sum's own rounding decides.

So, as the certified route does for float32 (:mod:`~flipconv.core.engine.certified`):

* :func:`fft_bound` and :func:`lowrank_bound` bound ``|route - direct|``
  a priori, from the kernel, the plane's largest sample and its size;
* :func:`doubtful` finds the samples whose final value (scaled, biased,
  converted as :func:`~flipconv.core.engine.pixels.finish_plane` does) lies
  within that bound of a tie, inside the output's range;
* :func:`direct_sums` computes those again exactly as the direct route
  adds them.

Then every route gives the direct route's bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.vocabulary import Mode
from flipconv.core.engine.borders import map_positions
from flipconv.core.engine.pixels import full_scale
from flipconv.core.engine.scipy_backend import prescale
from flipconv.core.kernels.kernel import Filterable, Kernel

#: float64's unit roundoff.
U64 = 2.0**-53
#: Doubtful samples summed per batch (bounds the gathered windows' memory).
BATCH = 4096
#: Largest denominator looked for in the weights (see :func:`tie_share`).
TIE_DENOMINATOR = 1000
#: What summing a doubtful sample again costs, per live tap (ns, numpy, measured on
#: astronaut with a 13x13 one-decimal kernel: 78,000 samples, 169 taps, 0.11 s).
RESUM_TAP_NS = 8.0


@dataclass(frozen=True)
class Rounding:
    """How a plane's sums become integers: ``rint(((sum * scale) + bias) * factor)``,
    then clipped to ``0..top`` (``absolute``: the magnitude first)."""

    scale: float
    bias: float
    factor: float
    top: float
    absolute: bool = False


def rounding_for(
    kernel: Filterable,
    in_dtype: np.dtype,
    out_dtype: np.dtype,
    scale: float,
    bias: float,
    out_range: str,
    rule: str = "nearest",
) -> Rounding | None:
    """How a single kernel's sums become integers of ``out_dtype``; None where they do
    not (a float output, ``rescale``, a chain of kernels, which is rounded once at the end).

    ``bias`` includes the kernel's own offset, as the finishing step adds it.
    """
    if not isinstance(kernel, Kernel) or np.dtype(out_dtype).kind == "f" or rule != "nearest":
        return None  # (another rule's boundaries are not ties: it keeps a slack instead)
    if out_range not in ("clip", "abs"):
        return None
    top = full_scale(np.dtype(out_dtype))
    factor = top / full_scale(np.dtype(in_dtype))
    return Rounding(scale, bias, factor, top, absolute=out_range == "abs")


def _largest(plane: np.ndarray, mode: Mode, cval: float) -> float:
    peak = float(np.abs(plane).max(initial=0.0)) if plane.size else 0.0
    return max(peak, abs(cval)) if mode == "constant" else peak


def direct_error(kernel: Kernel, largest: float) -> float:
    """A bound on the direct sum's own rounding: ``(n + 1) u sum|K| max|x|``."""
    live = int(np.count_nonzero(kernel.values))
    return (live + 1) * U64 * float(np.abs(kernel.values).sum()) * largest


def fft_bound(plane: np.ndarray, kernel: Kernel, mode: Mode, cval: float) -> float:
    """A bound on ``|FFT sum - direct sum|`` for every sample of ``plane``.

    Three real transforms of ``n`` points, each within ``c log2(n) u`` of
    exact in the 2-norm (Higham, *Accuracy and Stability of Numerical
    Algorithms*, ch. 24), and the products of the spectra: the result's
    error is at most about ``3 c log2(n) u sum|K| ||x||_2`` in the 2-norm, so
    in each sample; ``||x||_2 <= max|x| sqrt(n)`` over the padded plane.
    ``c = 8`` where the theorem's constant is near 1, and the whole doubled;
    measured errors are 100-1000 times smaller.
    """
    h, w = kernel.shape
    n = 2.0 * (plane.shape[0] + h) * (plane.shape[1] + w)  # next_fast_len's growth included
    largest = _largest(plane, mode, cval)
    weight = float(np.abs(kernel.values).sum())
    spread = 2.0 * 3 * 8 * math.log2(n) * U64 * weight * largest * math.sqrt(n)
    return spread + direct_error(kernel, largest)


def lowrank_bound(
    plane: np.ndarray,
    kernel: Kernel,
    terms: tuple[tuple[np.ndarray, np.ndarray], ...],
    mode: Mode,
    cval: float,
) -> float:
    """A bound on ``|low-rank sum - direct sum|``: the terms' own distance from the
    kernel (the dropped singular values, the SVD's rounding), each term's two
    passes (``h + w + 2`` roundings of ``sum|c| sum|r|``) and the adding of
    the terms; doubled."""
    largest = _largest(plane, mode, cval)
    rebuilt = np.zeros(kernel.shape)
    passes = 0.0
    for col, row in terms:
        outer = np.outer(col, row)
        rebuilt += outer
        passes += float(np.abs(col).sum() * np.abs(row).sum())
    h, w = kernel.shape
    gap = float(np.abs(kernel.values - rebuilt).sum()) + len(terms) * U64 * passes
    rounding = (h + w + 2 + len(terms)) * U64 * passes
    return 2.0 * (gap + rounding) * largest + direct_error(kernel, largest)


def doubtful(result: np.ndarray, rounding: Rounding, bound: float) -> np.ndarray:
    """Flat indices of ``result``'s samples whose integer could move within ``bound``.

    Those within ``margin`` of a tie ``k + 0.5``: ``|v + 0.5 - rint(v + 0.5)| <= margin``,
    with one margin for the whole plane (the bound carried through the scale,
    and the finishing step's own roundings at the largest value). Worked in
    strips that stay in the cache: whole-plane temporaries cost more than
    the sums (0.5 s against 0.2 s for gaussian:10 on a 4K plane).
    """
    r = rounding
    gain = abs(r.scale * r.factor)
    largest = float(np.abs(result).max(initial=0.0)) if result.size else 0.0
    if not math.isfinite(largest):
        largest = 0.0  # non-finite samples are no integers to settle; the rest are bounded
    margin = gain * bound + 8 * U64 * (gain * largest + abs(r.bias * r.factor) + 1.0)
    plain = (r.scale, r.bias, r.factor, r.absolute) == (1.0, 0.0, 1.0, False)
    if plain and r.top == 255.0 and result.ndim == 2 and result.flags.c_contiguous:
        fast = _doubtful_u8(result, margin)
        if fast is not None:
            return fast
    flat = result.reshape(-1)
    step = 1 << 16
    value = np.empty(min(step, flat.size))
    near = np.empty(value.size)
    found: list[np.ndarray] = []
    for begin in range(0, flat.size, step):
        part = flat[begin : begin + step]
        v, t = value[: part.size], near[: part.size]
        np.multiply(part, r.scale, out=v)
        v += r.bias
        v *= r.factor
        if r.absolute:
            np.abs(v, out=v)
        v += 0.5
        np.rint(v, out=t)
        v -= t
        np.abs(v, out=v)
        hits = np.flatnonzero(v <= margin)
        if hits.size:
            found.append(hits + begin)
    return np.concatenate(found) if found else np.empty(0, np.intp)


def _doubtful_u8(result: np.ndarray, margin: float) -> np.ndarray | None:
    """:func:`doubtful` for sums that are the bytes themselves, by OpenCV (threaded):
    where ``sum - margin`` and ``sum + margin`` round (and saturate) to two bytes."""
    try:
        import cv2 as opencv
    except ImportError:
        return None
    cv2: Any = opencv  # (its stubs take no scalar operand)
    low = cv2.subtract(result, margin, dtype=cv2.CV_8U)
    high = cv2.add(result, margin, dtype=cv2.CV_8U)
    found = cv2.findNonZero(cv2.compare(low, high, cv2.CMP_NE, dst=low))
    if found is None:
        return np.empty(0, np.intp)
    found = found.reshape(-1, 2).astype(np.intp)  # (x, y) pairs
    return found[:, 1] * result.shape[1] + found[:, 0]


def direct_sums(
    plane: np.ndarray,
    kernel: Kernel,
    flat: np.ndarray,
    mode: Mode,
    cval: float,
    *,
    scipy_rule: bool,
) -> np.ndarray:
    """The direct route's sums at the flat indices ``flat``, addition for addition.

    OpenCV's ``filter2D`` and scipy.ndimage both add the products of the
    weights they keep, in row-major order, from 0; ``filter2D`` keeps every
    non-zero weight, scipy (``scipy_rule``, from 50 taps) those above
    ``2**-52`` of the largest, whose power of two it divides out first and
    multiplies back after (exact).
    """
    (h, w), (oy, ox) = kernel.shape, kernel.origin
    height, width = plane.shape
    weights, power = prescale(kernel.values) if scipy_rule else (kernel.values, 1.0)
    keep = np.abs(weights) > np.finfo(np.float64).eps if scipy_rule else weights != 0
    live = np.flatnonzero(keep.reshape(-1))  # row-major, as both add them
    taps = weights.reshape(-1)[live]
    out = np.empty(flat.size)
    batch = max(1, (1 << 21) // max(1, h * w))  # the gathered windows: 16 MiB at most
    for begin in range(0, flat.size, batch):
        ys, xs = np.divmod(flat[begin : begin + batch], width)
        rows, row_in = map_positions(ys[:, None] + np.arange(-oy, h - oy), height, mode)
        cols, col_in = map_positions(xs[:, None] + np.arange(-ox, w - ox), width, mode)
        windows = plane[rows[:, :, None], cols[:, None, :]].astype(np.float64)
        if mode == "constant":
            windows[~(row_in[:, :, None] & col_in[:, None, :])] = cval
        products = windows.reshape(ys.size, -1)[:, live] * taps
        # cumsum adds in order, one term after another, as the direct sums do
        s = np.cumsum(products, axis=1)[:, -1] if live.size else np.zeros(ys.size)
        out[begin : begin + batch] = s * power if power != 1.0 else s
    return out


def tie_share(values: np.ndarray) -> float:
    """The share of sums that are exact ties (x.5) by construction of the weights.

    Weights that are multiples of ``1/q`` (decimals: ``q = 10``) make every
    sum of 8-bit samples a multiple of ``1/q``: for an even ``q`` one sum in
    ``q`` is a tie, which float32 can never settle. Odd ``q`` (``box:5``,
    1/25) never ties; weights with no small denominator tie by chance only.

    >>> tie_share(np.array([[0.1, 0.2], [0.3, 0.4]])), tie_share(np.full((5, 5), 1 / 25))
    (0.1, 0.0)
    """
    q = 1
    for weight in set(values.ravel().tolist()):  # (np.unique would import numpy.ma: 6 ms)
        denominator = _denominator(weight)
        if denominator is None:
            return 0.0  # no small denominator: ties by chance, covered by the bound
        q = math.lcm(q, denominator)
        if q > TIE_DENOMINATOR:
            return 0.0
    return 1.0 / q if q % 2 == 0 else 0.0


def _denominator(weight: float) -> int | None:
    """The least ``q <= TIE_DENOMINATOR`` with ``weight`` a multiple of ``1/q`` (to 1e-12), or None.

    Two fractions with such denominators differ by at least ``1e-6``, so the
    multiple, where there is one, is the only one that near.

    >>> _denominator(0.3), _denominator(1 / 25), _denominator(2**-0.5)
    (10, 25, None)
    """
    qs = np.arange(1, TIE_DENOMINATOR + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        near = np.abs(np.rint(weight * qs) / qs - weight) <= 1e-12 * max(1.0, abs(weight))
    hit = np.flatnonzero(near)
    return int(hit[0]) + 1 if hit.size else None
