"""Pillow's ``ImageFilter.Kernel`` arithmetic, so that ``--like pillow`` gives its bytes.

Pillow (``libImaging/Filter.c``, read for this and measured) stores the
weights as float32 and divides each by the scale in float32; it starts each
sum at ``offset + 0.5`` in float32, adds the kernel's rows one at a time (each
row's products added left to right, in float32), and truncates the clipped
result: a float32 "round half up". It reads the kernel's first row over the
image row *below* the output; the preset reverses the rows for that, so the
kernel here is a correlation kernel. Pixels the kernel cannot cover keep
their input, and every band (alpha too) is filtered alike. Its own
``BoxBlur`` and ``GaussianBlur`` are integer box passes
(:func:`pillow_box_blur`).

Rounded in float64 instead, 70 of 168,000 samples of random 3x3 and 5x5
kernels came out one level off Pillow 13.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.engine.settings import FilterSettings
from flipconv.core.kernels.kernel import Filterable, Kernel
from flipconv.core.kernels.specs import builtin_parameters


def pillow_sums(
    pixels: Any, kernel: Filterable, s: FilterSettings, by_region: bool = False
) -> np.ndarray:
    """An 8-bit image filtered as Pillow filters it, where Pillow has the filter.

    ``box:N`` is ``ImageFilter.BoxBlur((N - 1) / 2)`` and ``gaussian:S`` is
    ``ImageFilter.GaussianBlur(S)`` (:func:`pillow_box_blur`: Pillow's own
    blurs, edges repeated); any other 3x3 or 5x5 kernel is
    ``ImageFilter.Kernel`` (:func:`pillow_filter`). Options Pillow has no
    counterpart for are refused, naming them.
    """
    if by_region or not isinstance(pixels, np.ndarray):
        raise OptionError("Pillow's arithmetic filters whole images in memory, not in tiles")
    if not isinstance(kernel, Kernel):
        raise OptionError("Pillow's arithmetic takes one kernel, not a chain or a combination")
    blur = own_blur(kernel)
    checks = {
        "mode": (s.mode, ("nearest", "unfiltered") if blur else ("unfiltered",)),
        "scale": (s.scale, (1.0,)),
        "bias": (s.bias, (0.0,) if blur else (s.bias,)),
        "out_range": (s.out_range, ("clip",)),
        "dtype": (np.dtype(s.dtype or pixels.dtype).name, ("uint8",)),
    }
    for name, (value, pillows) in checks.items():
        if value not in pillows:
            raise OptionError(
                f"Pillow's arithmetic has `{name}` {' or '.join(map(str, pillows))} only, "
                f"not {value} (Pillow has no other; --arithmetic float64 takes any)"
            )
    if blur is not None:
        return pillow_box_blur(pixels, *blur)
    used = kernel.reflected() if s.operation == "convolve" else kernel
    return pillow_filter(pixels, used, normalize=s.normalize, offset=s.bias + kernel.offset)


def own_blur(kernel: Kernel) -> tuple[float, int] | None:
    """The (radius, passes) of Pillow's own blur that ``kernel``'s built-in names, if any."""
    found = builtin_parameters(kernel.spec) if kernel.spec else None
    if found is None:
        return None
    name, values = found
    if name == "box":
        return (float(values["size"]) - 1.0) / 2.0, 1
    if name == "gaussian" and values["truncate"] == 4.0 and values["radius"] is None:
        return pillow_gaussian_radius(float(values["sigma"])), 3
    return None


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


def pillow_gaussian_radius(sigma: float, passes: int = 3) -> float:
    """The box radius Pillow's ``GaussianBlur(sigma)`` runs ``passes`` times, in float32 as
    Pillow computes it (a box of ``2r+1`` taps whose two end taps have weight ``r``'s
    fraction: the extended box of Gwosdek et al., 2011).

    >>> pillow_gaussian_radius(2.0)
    1.375
    """
    f32 = np.float32
    sigma2 = f32(f32(sigma) * f32(sigma)) / f32(passes)
    length = f32(np.sqrt(12.0 * float(sigma2) + 1.0))
    whole = f32(np.floor((float(length) - 1.0) / 2.0))
    part = f32(f32(2) * whole + f32(1)) * f32(whole * f32(whole + f32(1)) - f32(3) * sigma2)
    part = part / f32(f32(6) * f32(sigma2 - f32(whole + f32(1)) * f32(whole + f32(1))))
    return float(f32(whole + part))


def pillow_box_blur(pixels: np.ndarray, radius: float, passes: int = 1) -> np.ndarray:
    """Pillow's ``box_blur(radius, passes)``, to the byte: rows first, then columns.

    Each pass, along one axis: the ``2R+1`` samples around each (``R`` the
    radius's integer part, edges repeated) weigh ``ww = 2^24 / (2r + 1)``
    (float32, truncated), the two beyond weigh what is left of ``2^24``
    halved, and the integer sum over ``2^24`` is rounded half up, back to
    8 bits before the next pass.

    >>> line = np.array([[0, 0, 255, 0, 0]], dtype=np.uint8)
    >>> pillow_box_blur(line, 1.0).tolist()
    [[0, 85, 85, 85, 0]]
    """
    if pixels.dtype != np.uint8:
        raise OptionError(f"Pillow's box blur is for 8-bit images, not {pixels.dtype}")
    whole = int(radius)
    ww = int(np.float32(1 << 24) / np.float32(np.float32(radius) * np.float32(2) + np.float32(1)))
    fw = ((1 << 24) - (2 * whole + 1) * ww) // 2
    out = pixels
    for axis in (1, 0):
        for _ in range(passes if radius != 0 else 0):
            out = _box_pass(out, axis, whole, ww, fw)
    return out.copy() if out is pixels else out


def _box_pass(samples: np.ndarray, axis: int, whole: int, ww: int, fw: int) -> np.ndarray:
    """One pass of Pillow's extended box along ``axis``, edges repeated."""
    n = samples.shape[axis]
    pad = [(0, 0)] * samples.ndim
    pad[axis] = (whole + 1, whole + 1)
    padded = np.pad(samples.astype(np.int64), pad, mode="edge")
    sums = np.cumsum(padded, axis=axis)
    zero = np.zeros_like(np.take(sums, [0], axis=axis))
    sums = np.concatenate([zero, sums], axis=axis)  # sums[i]: the first i padded samples
    upper = np.take(sums, np.arange(n) + 2 * whole + 2, axis=axis)
    lower = np.take(sums, np.arange(n) + 1, axis=axis)
    near = upper - lower  # the 2R+1 around each sample
    far = np.take(padded, np.arange(n), axis=axis) + np.take(
        padded, np.arange(n) + 2 * whole + 2, axis=axis
    )
    return ((near * ww + far * fw + (1 << 23)) >> 24).astype(np.uint8)
