"""Sample types: what flipconv reads, computes in, and writes.

Policy, in one place:

1. Samples are read as ``uint8``, ``uint16``, ``float32`` or ``float64``
   (1-bit images become ``uint8`` 0/255). Each type has a nominal full
   scale: 255, 65535, and 1.0 for floats.
2. Filtering happens in float64 in the input's own units.
3. :func:`finish` then applies, in this order: ``value * scale + bias`` (bias
   in input units); conversion to the output type's units (times
   ``full_scale(out) / full_scale(in)``, so an 8-bit 255 becomes a 16-bit
   65535 or a float 1.0); the out-of-range policy; and for integer outputs
   rounding to nearest (ties to even) and a cast.

Non-finite values (only possible from float inputs holding NaN or inf, or
overflowing float64) follow IEEE arithmetic; integer outputs store NaN as 0
and infinities as the type's limits.

Out-of-range policies: ``clip`` (integers are clipped to the type's range;
floats are stored as computed, negative and above-1 values included, so
float chains lose nothing), ``abs`` (magnitude, e.g. for edge kernels, then as
clip), ``rescale`` (the result's min..max, over all colour channels jointly,
is mapped onto 0..full scale; a constant result maps to 0).
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import (
    OUT_RANGES,
    SAMPLE_TYPES,
    OutRange,
    RoundingRule,
    check_choice,
)


def full_scale(dtype: np.dtype | type | str) -> float:
    """The sample value that means "full intensity" for a sample type.

    >>> full_scale("uint8"), full_scale("uint16"), full_scale("float32")
    (255.0, 65535.0, 1.0)
    """
    dt = np.dtype(dtype)
    if dt == np.uint8:
        return 255.0
    if dt == np.uint16:
        return 65535.0
    if dt.kind == "f":
        return 1.0
    raise OptionError(f"sample type {dt} is not supported ({', '.join(SAMPLE_TYPES)})")


def check_sample_type(dtype: np.dtype | type | str) -> np.dtype:
    """Return ``dtype`` if flipconv stores it, else raise :class:`OptionError`."""
    dt = np.dtype(dtype)
    if dt.name not in SAMPLE_TYPES:
        raise OptionError(
            f"sample type {dt} is not supported (flipconv uses {', '.join(SAMPLE_TYPES)})"
        )
    return dt


def finish(
    values: np.ndarray,
    *,
    in_dtype: np.dtype | type | str,
    out_dtype: np.dtype | type | str,
    scale: float = 1.0,
    bias: float = 0.0,
    out_range: OutRange = "clip",
    alpha: int | None = None,
    rounding: RoundingRule = "nearest",
) -> np.ndarray:
    """Turn float64 filter results into output samples.

    Parameters
    ----------
    values : numpy.ndarray
        Filter output in input units, ``(H, W)`` or ``(H, W, C)``.
    in_dtype, out_dtype
        The input's and the output's sample types.
    scale, bias : float
        ``value * scale + bias``, bias in input units (colour channels only).
    out_range : {'clip', 'abs', 'rescale'}
        See the module docstring.
    alpha : int or None
        Index of the alpha channel; alpha is only converted (and clipped).
    rounding : {'nearest', 'half-up', 'truncate'}
        How an integer output rounds (:func:`round_samples`); alpha always to nearest.

    Returns
    -------
    numpy.ndarray
        Of ``out_dtype``.

    Examples
    --------
    >>> finish(np.array([-3.0, 0.4, 0.5, 1.5, 254.6, 300.0]), in_dtype="uint8",
    ...        out_dtype="uint8").tolist()
    [0, 0, 0, 2, 255, 255]
    >>> finish(np.array([-3.0, 2.5]), in_dtype="uint8", out_dtype="uint8",
    ...        out_range="abs").tolist()
    [3, 2]
    >>> finish(np.array([255.0]), in_dtype="uint8", out_dtype="uint16").tolist()
    [65535]
    """
    src = check_sample_type(in_dtype)
    dst = check_sample_type(out_dtype)
    check_choice("out_range", out_range, OUT_RANGES)
    for name, number in (("scale", scale), ("bias", bias)):
        if not np.isfinite(number):
            raise OptionError(f"{name} {number!r} must be a finite number")
    factor = full_scale(dst) / full_scale(src)
    out = np.empty(values.shape, dtype=dst)
    # (channel, is colour); a 2-D image is one colour plane, channel None
    planes: list[tuple[int | None, bool]] = [(None, True)]
    if values.ndim == 3:
        planes = [(c, c != alpha) for c in range(values.shape[2])]
    if out_range == "rescale":
        colour = [c for c, is_colour in planes if is_colour and c is not None]
        chosen = values[..., colour] if values.ndim == 3 else values
        rescaled = _rescale((chosen * scale + bias) * factor, full_scale(dst))
        if values.ndim == 3:
            out[..., colour] = _store(rescaled, dst, rounding=rounding)
        else:
            out[...] = _store(rescaled, dst, rounding=rounding)
        planes = [(c, False) for c, is_colour in planes if not is_colour]
    for c, is_colour in planes:
        plane = values if c is None else values[..., c]
        target = out if c is None else out[..., c]
        finish_plane(
            plane.astype(np.float64, copy=True),
            in_dtype=src,
            out_dtype=dst,
            scale=scale,
            bias=bias,
            out_range=out_range if is_colour else "clip",
            colour=is_colour,
            out=target,
            rounding=rounding if is_colour else "nearest",
        )
    return out


def finish_plane(
    plane: np.ndarray,
    *,
    in_dtype: np.dtype,
    out_dtype: np.dtype,
    scale: float = 1.0,
    bias: float = 0.0,
    out_range: OutRange = "clip",
    colour: bool = True,
    out: np.ndarray | None = None,
    clipped: list[tuple[int, int]] | None = None,
    rounding: RoundingRule = "nearest",
) -> np.ndarray:
    """:func:`finish` for one float64 plane, **in place** (``plane`` is overwritten).

    ``out_range`` may be ``clip`` or ``abs`` (``rescale`` needs every channel:
    use :func:`finish`). ``colour=False`` (alpha) skips scale, bias and abs.
    Writes into ``out`` when given and returns it. ``clipped``, given, gets
    how many samples an integer output clipped (below 0, above full scale),
    counting those more than half a step outside, which rounding would not
    have brought in.
    """
    dst = np.dtype(out_dtype)
    if colour and out_range == "rescale":
        raise OptionError("rescale needs every channel; use finish()")
    _scale_in_place(plane, scale if colour else 1.0, bias if colour else 0.0,
                    full_scale(dst) / full_scale(in_dtype))  # fmt: skip
    if colour and out_range == "abs":
        np.abs(plane, out=plane)
    if clipped is not None and dst.kind != "f":
        clipped.append(count_outside(plane, -0.5, full_scale(dst) + 0.5))
    if out is None:
        return _store(plane, dst, in_place=True, rounding=rounding)
    return _store_into(out, plane, np.dtype(in_dtype), dst, rounding)


def _scale_in_place(plane: np.ndarray, scale: float, bias: float, factor: float) -> None:
    """``(plane * scale + bias) * factor``, skipping the steps that change nothing."""
    if scale != 1.0:
        plane *= scale
    if bias != 0.0:
        plane += bias
    if factor != 1.0:
        plane *= factor


def _store_into(
    out: np.ndarray,
    plane: np.ndarray,
    in_dtype: np.dtype,
    dst: np.dtype,
    rounding: RoundingRule = "nearest",
) -> np.ndarray:
    """``plane`` rounded and clipped to ``dst`` samples, written into ``out``."""
    if dst.kind == "f":
        np.copyto(out, plane, casting="same_kind")
        return out
    if rounding != "nearest":
        round_samples(plane, full_scale(dst), rounding)
        np.copyto(out, plane, casting="unsafe")
        return out
    if in_dtype.kind == "u":  # integer samples and finite weights: no NaN
        converted = _opencv_round(plane, dst)
        if converted is not None:
            np.copyto(out, converted)
            return out
    _clip_round(plane, full_scale(dst))
    np.copyto(out, plane, casting="unsafe")  # converted while copied: no extra array
    return out


def _opencv_round(plane: np.ndarray, dst: np.dtype) -> np.ndarray | None:
    """Round to nearest (ties to even) and saturate to ``dst`` in one OpenCV pass.

    The same numbers as :func:`_clip_round` for every value but NaN (OpenCV
    gives the top of the range, numpy's path 0), so it is only used where no
    NaN can arise: integer inputs. About 3x faster than the three numpy
    passes. None without OpenCV, or for a plane OpenCV cannot take.
    """
    try:
        import cv2
    except ImportError:
        return None
    depth = {np.dtype(np.uint8): cv2.CV_8U, np.dtype(np.uint16): cv2.CV_16U}.get(dst)
    if depth is None or plane.ndim != 2 or not plane.flags.c_contiguous or plane.size < 64:
        return None  # OpenCV reads an array of four values or fewer as a scalar
    out = cv2.add(plane, 0.0, dtype=depth)
    return out if out.shape == plane.shape else None


def count_outside(values: np.ndarray, low: float, high: float) -> tuple[int, int]:
    """How many of ``values`` lie below ``low`` and above ``high``.

    The minimum and maximum come first (two passes, no temporary array): the
    usual result, nothing outside, costs no more than that.

    >>> count_outside(np.array([-3.0, 0.0, 9.0, 12.0]), 0.0, 10.0)
    (1, 1)
    """
    if values.size == 0:
        return 0, 0
    below = int(np.count_nonzero(values < low)) if values.min() < low else 0
    above = int(np.count_nonzero(values > high)) if values.max() > high else 0
    return below, above


def _rescale(values: np.ndarray, top: float) -> np.ndarray:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros_like(values)
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.zeros_like(values)
    return (values - lo) * (top / (hi - lo))


def _store(
    values: np.ndarray, dst: np.dtype, *, in_place: bool = False, rounding: RoundingRule = "nearest"
) -> np.ndarray:
    if dst.kind == "f":
        return values.astype(dst)
    if not in_place:
        values = values.copy()
    round_samples(values, full_scale(dst), rounding)
    return values.astype(dst)


#: How close below an integer (or a half, rounding half up) a float64 sum may
#: fall and count as on it: its rounding error is about 1e-13 of a level, so a
#: sum that is exactly 100 (say) is not truncated to 99 for a last-bit error.
ROUNDING_SLACK = 1e-7


def round_samples(values: np.ndarray, top: float, rounding: RoundingRule = "nearest") -> None:
    """Clip to 0..top and round by ``rounding``, in place.

    >>> v = np.array([-2.0, 2.5, 3.5, 99.99999999999, 254.7, 300.0])
    >>> for rule in ("nearest", "half-up", "truncate", "q16"):
    ...     w = v.copy(); round_samples(w, 255.0, rule); print(rule, w.tolist())
    nearest [0.0, 2.0, 4.0, 100.0, 255.0, 255.0]
    half-up [0.0, 3.0, 4.0, 100.0, 255.0, 255.0]
    truncate [0.0, 2.0, 3.0, 100.0, 254.0, 255.0]
    q16 [0.0, 2.0, 3.0, 100.0, 254.0, 255.0]
    >>> w = np.array([41.998, 41.9982]); round_samples(w, 255.0, "q16"); w.tolist()
    [41.0, 42.0]
    """
    if rounding == "nearest":
        _clip_round(values, top)
        return
    np.fmax(values, 0.0, out=values)
    np.fmin(values, top, out=values)
    if rounding == "q16":  # ImageMagick Q16: a 16-bit quantum, rounded; its top byte
        quantum = (65535.0 / top) if top != 65535.0 else 1.0
        values *= quantum
        values += 0.5 + ROUNDING_SLACK
        np.floor(values, out=values)
        values /= quantum
        values += ROUNDING_SLACK  # exact quanta are whole levels: 257 n / 257
        np.floor(values, out=values)
        return
    values += ROUNDING_SLACK + (0.5 if rounding == "half-up" else 0.0)
    np.floor(values, out=values)
    np.fmin(values, top, out=values)


def _clip_round(values: np.ndarray, top: float) -> None:
    """Clip to 0..top and round to nearest, ties to even, in place."""
    # fmax/fmin clip and send NaN (only possible from float inputs) to 0, in one pass each
    np.fmax(values, 0.0, out=values)
    np.fmin(values, top, out=values)
    np.rint(values, out=values)
