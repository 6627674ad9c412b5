"""libvips' own Gaussian blur, to the byte: ``vips gaussblur IN OUT S`` on 8-bit images.

Re-derived from libvips 8.14's source (``create/gaussmat.c``,
``convolution/convsep.c`` and ``convi.c``) and checked against ``vips``:

* the mask is one row of ``rint(20 exp(-x^2 / 2S^2))`` for ``x`` from the
  centre out until the Gaussian falls below ``min_ampl`` (0.2), the row's
  width ``2 (x - 1) + 1``; its scale is its sum. Below ``S = 0.2`` it copies;
* the image is filtered by that row, then by its column, each pass back to
  8 bits before the next, edge pixels repeated;
* a pass runs libvips' vector path: the mask as 8-bit mantissas over one
  shared power of two, each product shifted right (rounded) before it is
  added to a 16-bit sum that starts at half the final step, and the sum
  shifted down to 8 bits; where that path would be more than 2 levels off on
  libvips' own check, the exact C path: ``(S + scale/2) / scale``.
"""

from __future__ import annotations

import math

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import builtin_parameters

#: libvips' default ``min_ampl`` for ``gaussblur``.
MIN_AMPL = 0.2


def own_blur(kernel: Kernel) -> float | None:
    """The sigma of ``gaussian:S`` (flipconv's default size), which is libvips' own blur."""
    found = builtin_parameters(kernel.spec) if kernel.spec else None
    if found is None:
        return None
    name, values = found
    if name == "gaussian" and values["truncate"] == 4.0 and values["radius"] is None:
        return float(values["sigma"])
    return None


def gaussblur_mask(sigma: float, min_ampl: float = MIN_AMPL) -> np.ndarray:
    """libvips' integer Gaussian row (``vips gaussmat S min_ampl --separable``).

    >>> gaussblur_mask(1.5).tolist()
    [8, 16, 20, 16, 8]
    """
    sig2 = 2.0 * sigma * sigma
    reach = 0
    limit = int(max(0.0, min(8.0 * sigma, 10000.0)))
    while reach < limit and math.exp(-(reach * reach) / sig2) >= min_ampl:
        reach += 1
    width = 2 * max(reach - 1, 0) + 1
    offsets = np.arange(width) - width // 2
    return np.rint(20.0 * np.exp(-(offsets.astype(np.float64) ** 2) / sig2)).astype(np.int64)


def vips_gaussblur(pixels: np.ndarray, sigma: float) -> np.ndarray:
    """``vips gaussblur`` of 8-bit ``pixels`` (``(H, W)`` or ``(H, W, C)``), to the byte."""
    if pixels.dtype != np.uint8:
        raise OptionError(f"libvips' arithmetic is for 8-bit images here, not {pixels.dtype}")
    if sigma < 0.2:
        return pixels.copy()
    mask = gaussblur_mask(sigma)
    if mask.size == 1:
        return pixels.copy()
    return _pass(_pass(pixels, mask, 1), mask, 0)


def _pass(samples: np.ndarray, mask: np.ndarray, axis: int) -> np.ndarray:
    """One ``vips conv`` of ``mask`` along ``axis``, integer precision, edges repeated."""
    n, scale = mask.size, int(mask.sum())
    reach = n // 2
    pad = [(reach, reach) if ax == axis else (0, 0) for ax in range(samples.ndim)]
    padded = np.pad(samples.astype(np.int64), pad, mode="edge")
    length = samples.shape[axis]
    taps = [np.take(padded, np.arange(length) + i, axis=axis) for i in range(n)]
    vector = _vector_form(mask / scale)
    if vector is None:  # libvips' C path: exact integer sums, rounded
        total = sum(int(c) * t for c, t in zip(mask, taps, strict=True))
        return np.clip((total + scale // 2) // scale, 0, 255).astype(np.uint8)
    mantissas, sexp, exp = vector
    total = np.full(samples.shape, 1 << (exp - 1), dtype=np.int64)
    for c, t in zip(mantissas, taps, strict=True):
        if c == 0:
            continue
        value = t * c
        if sexp > 0:
            value = (value + (1 << (sexp - 1))) >> sexp
        total = np.clip(total + value, -32768, 32767)  # a saturated 16-bit add
    return np.clip(total >> exp, 0, 255).astype(np.uint8)


def _vector_form(scaled: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """libvips' 8-bit mantissas, the per-product shift and the final one; None where
    libvips takes its C path instead (a mask too long, or too inaccurate)."""
    n = scaled.size
    shift = math.ceil(math.log2(float(scaled.max())) + 1)
    sexp = math.ceil(math.log2(n)) if n > 1 else 0
    if sexp > 10:
        return None
    exp = 7 - shift - sexp
    mantissas = np.rint(128 * scaled * 2.0**-shift).astype(np.int64)
    if mantissas.min() < -128 or mantissas.max() > 127 or exp <= 0:
        return None
    # libvips' own accuracy check, on a sum of 128 times each weight
    true = min(max(float((128 * scaled).sum()), 0.0), 255.0)
    total = 0
    for m in mantissas:
        value = int(128 * m)
        value = (value + (1 << (sexp - 1))) >> sexp if sexp > 0 else value
        total = min(max(total + value, -32768), 32767)
    approx = min(max((total + (1 << (exp - 1))) >> exp, 0), 255)
    if abs(int(true) - approx) > 2:
        return None
    return mantissas, sexp, exp
