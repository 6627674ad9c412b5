"""Notes for results that are not what the user may think: clipping, float scales.

Pure helpers for :func:`flipconv.core.engine.filters.filter_image`: each appends a
sentence to a list the caller prints (core names parameters as `` `name` ``;
the command line turns them into its flags).
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.engine.pixels import full_scale
from flipconv.core.kernels.kernel import Filterable, Kernel

#: Share of samples clipped above which the command line says so.
CLIP_NOTE_SHARE = 0.01


def declared_scale(
    input_scale: float, in_type: np.dtype, scale: float, bias: float
) -> tuple[float, float]:
    """``scale`` and ``bias`` for a float input whose full intensity is ``input_scale``."""
    if in_type.kind != "f":
        raise OptionError(
            f"`input_scale` is for float images; a {in_type} image's full scale is "
            f"{full_scale(in_type):g} by its type"
        )
    if not np.isfinite(input_scale) or input_scale <= 0:
        raise OptionError(f"`input_scale` {input_scale!r} must be a positive number")
    return scale / input_scale, bias / input_scale


def can_clip(
    kernel: Filterable,
    in_type: np.dtype,
    out_type: np.dtype,
    scale: float,
    bias: float,
    out_range: str,
) -> bool:
    """Whether any sample could leave the output's range, judged from the weights alone.

    An integer image's samples lie in 0..full scale, so one kernel's results
    lie between the sums of its negative and of its positive weights times
    that; a normalised blur stays in range and its samples need no counting.
    Stacks and float inputs: True (not bounded here).

    >>> u8 = np.dtype(np.uint8)
    >>> can_clip(Kernel(np.full((3, 3), 1 / 9), (1, 1)), u8, u8, 1.0, 0.0, "clip")
    False
    >>> can_clip(Kernel(np.array([[-1.0, 0.0, 1.0]]), (0, 1)), u8, u8, 1.0, 0.0, "clip")
    True
    """
    if not isinstance(kernel, Kernel) or in_type.kind == "f":
        return True
    full_in, top = full_scale(in_type), full_scale(out_type)
    weights = kernel.values
    ends = [
        float(weights[weights < 0].sum()) * full_in * scale + bias,
        float(weights[weights > 0].sum()) * full_in * scale + bias,
    ]
    low, high = (min(ends) * top / full_in, max(ends) * top / full_in)
    if out_range == "abs":
        low, high = 0.0, max(abs(low), abs(high))
    # half a level of slack for rounding, and float64's own error in the sums
    slack = 0.5 - 1e-9 * top
    return low < -slack or high > top + slack


def float_scale_note(pixels: np.ndarray) -> str | None:
    """A note when a float input looks like integer levels stored as floats, else None.

    A float TIFF that holds 0..255 has whole, non-negative samples above 1.0:
    it wants ``input_scale``. Signed or fractional values above 1.0 (a
    gradient from an earlier step) are results, not levels: no advice, and
    their clipping is counted like any other's.
    """
    if not pixels.size:
        return None
    peak = float(np.nanmax(pixels))
    if peak <= 1.0 or float(np.nanmin(pixels)) < 0:
        return None
    flat = pixels.reshape(-1)
    sample = flat[:: max(1, flat.size // 65536)]  # whole numbers: a strided look suffices
    if not bool(np.all(sample == np.floor(sample))):
        return None
    guess = 255 if peak <= 255 else 65535 if peak <= 65535 else None
    hint = f"; if its full scale is {guess}, give `input_scale` {guess}" if guess else ""
    return (
        f"the float input holds whole values up to {peak:.6g}, above 1.0, which flipconv "
        f"takes as full intensity for float images{hint}"
    )


def clipping_note(
    counts: list[tuple[int, int]] | None,
    pixels: np.ndarray,
    out_type: np.dtype,
    kernel: Filterable,
    bias: float = 0.0,
) -> str | None:
    """How many samples were clipped, when more than :data:`CLIP_NOTE_SHARE` were; else None.

    ``counts`` holds (below 0, above full scale) per colour plane. The advice
    fits the cause: a kernel that sums to about 0 (sobel-x) has signed
    results that ``out_range`` abs or a ``bias`` keep; one that sums to 1
    (a blur, the built-in emboss) keeps the image's brightness, so a ``bias``
    is what pushes it out of range; one that sums to more than 1 wants
    ``normalize``.
    """
    if not counts:
        return None
    low, high = sum(c[0] for c in counts), sum(c[1] for c in counts)
    total = len(counts) * pixels.shape[0] * pixels.shape[1]
    if total == 0 or (low + high) <= CLIP_NOTE_SHARE * total:
        return None
    top = full_scale(out_type)
    parts = []
    if low:
        parts.append(f"{100 * low / total:.1f}% below 0")
    if high:
        parts.append(f"{100 * high / total:.1f}% above {top:g}")
    weight = float(kernel.values.sum()) if isinstance(kernel, Kernel) else None
    magnitude = float(np.abs(kernel.values).sum()) if isinstance(kernel, Kernel) else 0.0
    zero_sum = weight is not None and abs(weight) <= 1e-9 * magnitude
    keeps_brightness = weight is not None and abs(weight - 1) <= 1e-9 * magnitude
    advice = []
    if keeps_brightness and bias and ((high and bias > 0) or (low and bias < 0)):
        advice.append(
            f"the kernel sums to 1, so it keeps the image's brightness and `bias` {bias:g} "
            "shifts it out of range; drop `bias` (it centres zero-sum kernels such as sobel-x)"
        )
    else:
        if low and (zero_sum or weight is None):
            advice.append("`out_range` abs or a `bias` keeps signed results")
        elif low:
            advice.append("`out_range` rescale keeps results below 0")
        if high and weight is not None and weight > 1 + 1e-9:
            advice.append(f"`normalize` divides by the kernel's sum ({weight:g})")
        elif high:
            advice.append("a `scale` below 1 or `out_range` rescale keeps large results")
    return f"{low + high} of {total} samples were clipped ({' and '.join(parts)}); " + "; ".join(
        advice
    )
