"""The certified route: 8-bit filtering in float32 with a certified error bound.

The float64 route (:mod:`flipconv.core.engine.opencv_backend`) rounds each sum once, to
nearest. float32 alone does not give the same bytes: it moves some sums
across a rounding boundary (measured here: 39 to 435 samples of 8 MP). But
its error has an a-priori bound, from the taps, the weights and the input's
range, so most samples are certain:

* each sum is computed by OpenCV in float32, ``r32`` (``filter2D`` below its
  DFT's :data:`~flipconv.core.engine.opencv_backend.DFT_TAPS`, or ``sepFilter2D`` for a
  kernel that is one outer product);
* :func:`error_bound` bounds ``|r32 - r64|``, where ``r64`` is what the
  float64 route computes: the float32 rounding of the weights, of every
  product and partial sum (``n`` terms: at most ``n * 2**-24`` of the sum of
  their magnitudes; a separable kernel's two passes add up), float64's own
  rounding, and a factor of two to spare;
* where ``r32 - E`` and ``r32 + E`` round (and clip) to the same byte, that
  is the byte; elsewhere (a fraction of a percent of the samples, about
  ``2 E`` of them) the sum is computed again in float64, sample by sample.
  Where every weight is >= 0 every term is too, and the error is bounded
  relative to the sum itself (``E`` scaled by ``r32 / (sum|K| 255)``): most
  sums are well below 255, so about half as many samples are in doubt.

The bytes are those of the float64 route, to the bit: a doubtful sample is
summed again exactly as that route's OpenCV call sums it
(:mod:`flipconv.core.engine.recompute`).

Only the plain case is taken (uint8 in and out, no scale or bias, clip or
abs, colour planes only, a border OpenCV has, up to four channels, filtered
in one call); otherwise :func:`certified_u8` returns None and the float64
route runs. So does a kernel whose bound would leave too many samples to
recompute for the certified route to pay (:data:`SEPARABLE_BUDGET`,
:data:`DIRECT_BUDGET`): it takes boxes and gaussians up to sigma 3 and
small direct kernels, where it measured 0.45-0.87x of the float64 route's
filter time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.limits import default_threads
from flipconv.core._shared.vocabulary import Mode, Operation
from flipconv.core.engine import opencv_backend as opencv
from flipconv.core.engine.planner import Plan, _terms, has_opencv, plan
from flipconv.core.engine.recompute import recompute
from flipconv.core.engine.settle import tie_share
from flipconv.core.engine.strips import add_counts, strip_bounds
from flipconv.core.kernels.kernel import Kernel

#: float32's unit roundoff, and float64's.
U32 = 2.0**-24
U64 = 2.0**-53
#: the certified route pays where the float32 pass and the check save more than the
#: doubtful samples cost to recompute. Its gate compares the expected share
#: of doubtful samples (twice the bound, plus the ties the weights make, see
#: :func:`tie_share`) times the kernel's taps with the taps per pixel the
#: float64 route spends (``h + w`` separable, ``h * w`` direct) times this
#: budget. Measured on the 3072x2048 scene (benchmarks/engine3.py,
#: 2026-12-04; the certified route's filter time over the float64 route's, equal bytes):
#: separable box:5 0.45-0.52x, gaussian:1 0.59x, gaussian:2 0.66x,
#: gaussian:3 (need 0.04) 0.75x, box:31 (0.06) 0.99x, gaussian:5 (0.11)
#: 1.43x. Direct kernels gain little, as OpenCV's float32 ``filter2D`` is
#: barely faster than its float64: 3x3 (need 0.0006) 0.79-0.87x, 5x5 (0.0016)
#: 0.97-1.0x, 7x7 1.0-1.15x, decimal 3x3 weights (0.1) 1.9x.
SEPARABLE_BUDGET = 0.045
DIRECT_BUDGET = 0.001


@dataclass
class Certified:
    """How an 8-bit plane went through the certified route: samples, and those recomputed."""

    samples: int = 0
    recomputed: int = 0


def error_bound(kernel: Kernel, separable: bool, full: float = 255.0) -> float:
    """A bound on ``|float32 sum - float64 sum|`` for inputs in ``0..full``.

    Direct: ``n`` products and sums, each rounded once in float32, after the
    weights were rounded to float32: at most ``(n + 1) u sum|K| full``.
    Separable (column ``c`` times row ``r``): the row pass's bound, carried
    through the column weights, plus the column pass's own: at most
    ``(nr + nc + 3) u sum|c| sum|r| full``. float64's own error is added, and
    the whole doubled: a bound, not an estimate (measured errors are 10-30
    times smaller).

    >>> k = Kernel(np.full((3, 3), 1 / 9), (1, 1))
    >>> round(error_bound(k, False) / 255, 12)
    1.192e-06
    """
    values = kernel.values
    if separable:
        col, row = _terms(kernel)[0]
        weight = float(np.abs(col).sum() * np.abs(row).sum())
        steps = col.size + row.size + 3
    else:
        weight = float(np.abs(values).sum())
        steps = values.size + 1
    float64 = (max(values.size, values.shape[0] + values.shape[1]) + 4) * U64
    return 2.0 * (steps * U32 + float64) * weight * full


def plan_certified(
    kernel: Kernel, shape: tuple[int, int], budget: float | None = None
) -> Plan | None:
    """The float64 route's plan for ``kernel`` where the certified route can follow it, else None.

    the certified route follows OpenCV's direct ``filter2D`` (below its DFT's taps) and
    ``sepFilter2D`` of one outer product; not low-rank sums, the DFT, scipy,
    or a kernel reaching past the plane; nor a kernel whose expected
    recomputing would cost more than it saves (``budget``, by default
    :data:`SEPARABLE_BUDGET` or :data:`DIRECT_BUDGET`; ``math.inf`` takes
    every kernel it can follow).
    """
    rows, cols = kernel.reach()
    if max(rows) >= shape[0] or max(cols) >= shape[1] or kernel.offset:
        return None
    if not error_bound(kernel, False) < 0.5:  # weights near float32's limit: no use
        return None
    chosen = plan(kernel, shape)
    if chosen.backend != "opencv" or chosen.method not in ("direct", "separable"):
        return None
    separable = chosen.method == "separable"
    if budget is None:
        budget = SEPARABLE_BUDGET if separable else DIRECT_BUDGET
    (h, w), taps = kernel.shape, kernel.shape[0] * kernel.shape[1]
    cost = h + w if separable else taps
    share = 2.0 * error_bound(kernel, separable) + tie_share(kernel.values)
    return chosen if share * taps <= budget * cost else None


def certified_u8(
    pixels: np.ndarray,
    kernel: Kernel,
    operation: Operation,
    mode: Mode,
    cval: float,
    out_range: str,
    threads: int | None,
    counts: list[tuple[int, int]] | None = None,
    alpha_index: int | None = None,
    budget: float | None = None,
    method: str | None = None,
) -> tuple[np.ndarray, Certified] | None:
    """Filter 8-bit ``pixels`` to 8 bits through the certified route; None where it does not apply.

    ``counts``, given, gets the clipped samples per colour plane, as the
    float64 route counts them (more than half a level outside 0..255).
    The alpha plane (``alpha_index``) is copied as it is. ``budget``: see
    :func:`plan_certified`. ``method``, given, is the float64 route's method
    to match (a tile's, planned for the whole image): another plan declines.
    """
    if not _plain(pixels, mode, cval, out_range):
        return None
    used = kernel.reflected() if operation == "convolve" else kernel
    chosen = plan_certified(used, (pixels.shape[0], pixels.shape[1]), budget)
    if chosen is None or method not in (None, chosen.method):
        return None
    factors = chosen.terms[0] if chosen.method == "separable" else None
    border = opencv.borders()[mode]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    opencv.set_threads(threads or default_threads())
    src = np.ascontiguousarray(pixels if channels > 1 else pixels.reshape(pixels.shape[:2]))
    out = np.empty(pixels.shape, np.uint8)
    scratch = np.empty(out.size, np.uint8)  # each strip's lower bytes, on the same pages
    ys_all, xs_all = [], []
    for r0, r1, part in _strips(src, used, factors, border):
        if out_range == "abs":
            part = np.abs(part, out=part)
        if counts is not None:
            add_counts(counts, _outside(part, used, channels, alpha_index), r0 == 0)
        # one channel of rows x (W * channels): a scalar applies to every sample
        flat = part.reshape(r1 - r0, -1)
        low = scratch[: flat.size].reshape(flat.shape)
        ys, xs = _doubtful(flat, used, factors, out[r0:r1], low)
        ys_all.append(ys + r0)
        xs_all.append(xs)
    colours = channels - (alpha_index is not None)
    stats = Certified(samples=pixels.shape[0] * pixels.shape[1] * colours)
    ys, flat_x = np.concatenate(ys_all), np.concatenate(xs_all)
    if ys.size:
        xs, cs = flat_x // channels, flat_x % channels
        if alpha_index is not None:
            keep = cs != alpha_index
            ys, xs, cs = ys[keep], xs[keep], cs[keep]
        stats.recomputed = int(xs.size)
        exact = recompute(src, used, ys, xs, cs, mode, factors)
        if out_range == "abs":
            np.abs(exact, out=exact)
        where = (ys, xs) if pixels.ndim == 2 else (ys, xs, cs)
        out[where] = np.clip(np.rint(exact), 0, 255).astype(np.uint8)
    if alpha_index is not None:
        out[..., alpha_index] = pixels[..., alpha_index]
    return out, stats


def _strips(
    src: np.ndarray,
    kernel: Kernel,
    factors: tuple[np.ndarray, np.ndarray] | None,
    border: int,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(r0, r1, sums)``: the float32 sums of rows ``r0:r1``, strip by strip
    (:mod:`~flipconv.core.engine.strips`)."""
    bounds = strip_bounds(src.shape[0], src[0].size * 4, kernel.shape[0])
    # one buffer for every strip's sums: fresh pages would fault in strip after strip
    buffer = np.empty((max(a1 - a0 for *_, a0, a1 in bounds), *src.shape[1:]), np.float32)
    for r0, r1, a0, a1 in bounds:
        sums = _float32_sums(src[a0:a1], kernel, factors, border, buffer[: a1 - a0])
        yield r0, r1, sums[r0 - a0 : r1 - a0]


def _plain(pixels: np.ndarray, mode: Mode, cval: float, out_range: str) -> bool:
    """The case the certified route takes: 8 bits, clip or abs, an OpenCV border, <= 4 channels."""
    if pixels.dtype != np.uint8 or out_range not in ("clip", "abs") or not has_opencv():
        return False
    if mode == "wrap" or (mode == "constant" and cval != 0):
        return False
    # OpenCV filters up to four interleaved channels at once
    return pixels.ndim == 2 or pixels.shape[2] <= 4


def _float32_sums(
    src: np.ndarray,
    kernel: Kernel,
    factors: tuple[np.ndarray, np.ndarray] | None,
    border: int,
    dst: np.ndarray,
) -> np.ndarray:
    """Every channel's sums in float32 into ``dst`` (``src``'s shape), in one OpenCV call."""
    cv2: Any = opencv._cv2()
    anchor = (kernel.origin[1], kernel.origin[0])
    if factors is None:
        k32 = kernel.values.astype(np.float32)
        return cv2.filter2D(src, cv2.CV_32F, k32, dst=dst, anchor=anchor, borderType=border)
    col, row = (f.astype(np.float32) for f in factors)
    return cv2.sepFilter2D(src, cv2.CV_32F, row, col, dst=dst, anchor=anchor, borderType=border)


def _doubtful(
    flat: np.ndarray,
    kernel: Kernel,
    factors: tuple[np.ndarray, np.ndarray] | None,
    out: np.ndarray,
    low: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each float32 sum plus its bound, rounded and clipped into ``out``; where the sum
    less its bound (rounded into ``low``, uint8 of ``flat``'s shape) rounds to another
    byte, the sum is in doubt: those ``(rows, columns)``.
    """
    cv2: Any = opencv._cv2()
    weight = float(np.abs(kernel.values).sum())
    # r32 +- bound is taken in float32 too: allow for that rounding (sums < 2**16)
    spread = error_bound(kernel, factors is not None) + 8 * U32 * 256 * weight + 1e-12
    high = out.reshape(flat.shape)
    if _non_negative(kernel, factors):
        # every term is >= 0, so the error is relative to the sum itself
        # (error_bound over sum|K| * 255): most sums are well below 255
        relative = spread / (255.0 * weight) + 8 * U32
        low = cv2.convertScaleAbs(flat, dst=low, alpha=1.0 - relative, beta=-1e-9)
        cv2.convertScaleAbs(flat, dst=high, alpha=1.0 + relative, beta=1e-9)
    else:
        low = cv2.subtract(flat, spread, dst=low, dtype=cv2.CV_8U)
        cv2.add(flat, spread, dst=high, dtype=cv2.CV_8U)
    found = cv2.findNonZero(cv2.compare(low, high, cv2.CMP_NE, dst=low))
    if found is None:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    found = found.reshape(-1, 2)  # (x, y) pairs
    return found[:, 1].astype(np.intp), found[:, 0].astype(np.intp)


def _non_negative(kernel: Kernel, factors: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Whether every product and partial sum OpenCV forms is >= 0 (8-bit samples)."""
    if factors is None:
        return bool(kernel.values.min() >= 0)
    return bool(factors[0].min() >= 0 and factors[1].min() >= 0)


def _outside(
    r32: np.ndarray, kernel: Kernel, channels: int, alpha_index: int | None
) -> list[tuple[int, int]]:
    """Samples clipped below 0 and above 255 per colour plane, as the float64 route counts them.

    A kernel whose positive weights sum to at most 1 and that has no
    negative ones cannot leave 0..255, so nothing is counted. Near the
    limits (within the bound of -0.5 or 255.5) float32 cannot tell; those
    few are counted as float32 says, which can only move a note's share by a
    fraction of a percent.
    """
    values = kernel.values
    colours = [c for c in range(channels) if c != alpha_index]
    if values.min() >= 0 and values.sum() <= 1.0:
        return [(0, 0)] * len(colours)
    counts = opencv.count_outside_channels(r32, channels, -0.5, 255.5)
    return [counts[c] for c in colours]
