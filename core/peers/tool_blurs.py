"""Other tools' own blurs as flipconv kernels: ``--like TOOL -k gaussian:S`` gives the tool's bytes.

flipconv's ``gaussian:S`` is scipy's (radius ``4 S``, weights in float64).
Each tool builds its own: another size rule, weights rounded to integers,
another rounding of the result. Learnt from each tool's documentation and
source, and checked against the tool (tests/test_tool_blurs.py):

OpenCV, ``cv2.GaussianBlur(img, (0, 0), S)`` on 8-bit images
    ``ksize = round(6 S + 1) | 1``; the 1-D weights ``exp(-x^2 / (2 S^2))``
    normalised in float64, then made integers over 256 (rounded in turn,
    each carrying the previous one's rounding error forward, the centre
    taking what makes the sum exactly 256). The image is filtered with
    those integers, rows then columns, in exact integer arithmetic, and
    the sum over ``2^16`` is rounded half up. Border: ``mirror``
    (BORDER_REFLECT_101). OpenCV documents this 8-bit path as bit-exact.
    ``gaussian:S,radius=R`` is ``GaussianBlur(img, (2R+1, 2R+1), S)``.

Since such a kernel's weights are integers over a power of two, flipconv's
float64 sums of 8-bit samples are exact on every route, and rounding half up
gives the tool's bytes.

ImageMagick 6 (Q16), ``convert IN -gaussian-blur 0xS OUT``
    One 2-D kernel ``exp(-(u^2 + v^2) / 2S^2)``, normalised, as wide as
    ImageMagick's "optimal width": the smallest odd width from 5 up whose
    edge weight, over the 2-D sum, falls below one 16-bit level (``1/65535``),
    less 2. Sums in double on 16-bit quanta, rounded to a quantum, the top
    byte written (``--rounding q16``). Border: edge pixels repeated.
    ``gaussian:S,radius=R`` is ``-gaussian-blur RxS``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.vocabulary import RoundingRule
from flipconv.core.kernels.kernel import Kernel, Stack
from flipconv.core.kernels.specs import builtin_parameters


@dataclass(frozen=True)
class ToolBlur:
    """A tool's own blur: the kernel it really uses, how it rounds, and its call."""

    kernel: Kernel
    rounding: RoundingRule
    call: str


def opencv_gaussian_taps(sigma: float, size: int | None = None) -> np.ndarray:
    """OpenCV's 8-bit Gaussian taps: integers summing to 256 (its fixed point, 8 bits).

    >>> opencv_gaussian_taps(1.0).tolist()
    [1, 14, 62, 102, 62, 14, 1]
    >>> int(opencv_gaussian_taps(2.0).sum())
    256
    """
    n = size if size is not None else int(round(sigma * 6 + 1)) | 1
    half = n // 2
    scale = -0.125 / (sigma * sigma)
    values = [math.exp(float(x * x) * scale) for x in range(1 - n, -1, 2)]  # x = 2 (i - half)
    total = 0.0
    for v in values:
        total += v
    total = total * 2.0 + 1.0
    unit = 1.0 / total
    taps = np.empty(n, dtype=np.int64)
    error, kept = 0.0, 0
    for i, v in enumerate(values):  # error diffusion from the tail in: the sum stays 256
        wanted = v * unit * 256.0 + error
        rounded = int(np.rint(wanted))
        error = wanted - rounded
        taps[i] = taps[n - 1 - i] = rounded
        kept += rounded
    taps[half] = 256 - 2 * kept
    return taps


def imagemagick_gaussian_width(sigma: float) -> int:
    """ImageMagick's 2-D "optimal" kernel width for ``sigma`` (Q16).

    >>> [imagemagick_gaussian_width(s) for s in (0.7, 1.0, 2.0, 3.3)]
    [7, 9, 15, 25]
    """
    alpha = 1.0 / (2.0 * sigma * sigma)
    beta = 1.0 / (2.0 * math.pi * sigma * sigma)
    width = 5
    while True:
        j = (width - 1) // 2
        steps = np.arange(-j, j + 1, dtype=np.float64)
        total = float(np.exp(-(steps[:, None] ** 2 + steps[None, :] ** 2) * alpha).sum()) * beta
        edge = math.exp(-(j * j) * alpha) * beta / total
        if edge < 1.0 / 65535.0 or edge < 1e-12:
            return width - 2
        width += 2


def _imagemagick_gaussian(kernel: Kernel, sigma: float, radius: int | None) -> ToolBlur:
    size = imagemagick_gaussian_width(sigma) if radius is None else 2 * radius + 1
    half = size // 2
    steps = np.arange(-half, half + 1, dtype=np.float64)
    values = np.exp(-(steps[:, None] ** 2 + steps[None, :] ** 2) / (2.0 * sigma * sigma))
    values /= values.sum()
    geometry = f"0x{sigma:g}" if radius is None else f"{radius}x{sigma:g}"
    return ToolBlur(
        Kernel(values, (half, half), kernel.spec),
        "q16",
        f"convert IN -gaussian-blur {geometry} OUT",
    )


def tool_blur(tool: str, kernel: Kernel) -> ToolBlur | None:
    """``kernel`` as ``tool`` builds its own blur of that name, where flipconv knows it."""
    found = builtin_parameters(kernel.spec) if kernel.spec else None
    if found is None:
        return None
    name, values = found
    if tool == "opencv" and name == "gaussian" and values["truncate"] == 4.0:
        sigma, radius = float(values["sigma"]), values["radius"]
        taps = opencv_gaussian_taps(sigma, None if radius is None else 2 * int(radius) + 1)
        weights = taps / 256.0
        size = len(taps)
        ksize = "(0, 0)" if radius is None else f"({size}, {size})"
        return ToolBlur(
            Kernel(
                np.outer(weights, weights), (size // 2, size // 2), kernel.spec, (weights, weights)
            ),  # fmt: skip
            "half-up",
            f"cv2.GaussianBlur(img, {ksize}, {sigma:g})",
        )
    if tool == "imagemagick" and name == "gaussian" and values["truncate"] == 4.0:
        radius = values["radius"]
        return _imagemagick_gaussian(kernel, float(values["sigma"]), radius)
    return None


def computed_own_way(arithmetic: str, kernel: Any) -> bool:
    """Whether ``kernel`` names a blur that ``arithmetic`` (a tool's) computes its own way."""
    if not hasattr(kernel, "spec") or not hasattr(kernel, "values"):
        return False
    if arithmetic == "pillow":
        from flipconv.core.engine.pillow_sums import own_blur

        return own_blur(kernel) is not None
    if arithmetic == "vips":
        from flipconv.core.engine.vips_sums import own_blur as vips_blur

        return vips_blur(kernel) is not None
    if arithmetic == "scipy":
        from flipconv.core.engine.scipy_backend import scipy_own_blur

        return scipy_own_blur(kernel) is not None
    return False


def own_blurs(
    tool: str,
    arithmetic: str,
    merged: dict[str, Any],
    explicit: Collection[str],
    kernels: Sequence[Any],
) -> list[str]:
    """Built-in blurs under ``--like tool`` replaced by the tool's own (:func:`tool_blur`)
    in ``merged``, or left to its arithmetic; one note for each."""
    notes: list[str] = []
    replaced = []
    for kernel in kernels:
        blur = tool_blur(tool, kernel) if isinstance(kernel, Kernel) else None
        if blur is None:
            replaced.append(kernel)
            if computed_own_way(arithmetic, kernel):
                notes.append(f"{kernel.spec} is {tool}'s own here: {own_call(kernel, arithmetic)}")
            continue
        replaced.append(blur.kernel)
        if "rounding" not in explicit:
            merged["rounding"] = blur.rounding
        rows, cols = blur.kernel.shape
        notes.append(
            f"{kernel.spec} is {tool}'s own here, {blur.call}: {rows}x{cols} taps "
            f"as it builds them, rounded {blur.rounding.replace('-', ' ')}"
        )
    if "kernel" in merged and notes:
        merged["kernel"] = tuple(replaced)
    return notes


def own_call(kernel: Any, tool: str = "pillow") -> str:
    """The tool's own blur call that a built-in ``box`` or ``gaussian`` stands for."""
    found = builtin_parameters(kernel.spec)
    assert found is not None
    name, values = found
    if tool == "vips":
        return (
            f"vips gaussblur IN OUT {values['sigma']:g}: an integer mask, two passes in "
            "libvips 8.14's fixed point, edges repeated"
        )
    if tool == "scipy":
        return (
            f"scipy.ndimage.gaussian_filter(img, {values['sigma']:g}) of an 8-bit array: "
            "truncated to 8 bits after each axis"
        )
    if name == "box":
        radius = (values["size"] - 1) / 2
        return f"ImageFilter.BoxBlur({radius:g}), integer box passes, edges repeated"
    return (
        f"ImageFilter.GaussianBlur({values['sigma']:g}), three integer box passes, edges repeated"
    )


def rows_reversed(kernel: Any) -> Any:
    """``kernel`` (a Kernel or a Stack of them) with its rows in reverse order, as Pillow
    reads them; the origin's row is mirrored with them, the spec kept (it names a file).

    >>> import numpy as np
    >>> from flipconv.core.kernels.kernel import Kernel
    >>> k = rows_reversed(Kernel(np.array([[1.0, 2], [3, 4], [5, 6]]), (0, 1)))
    >>> k.values.tolist(), k.origin
    ([[5.0, 6.0], [3.0, 4.0], [1.0, 2.0]], (2, 1))
    """
    if isinstance(kernel, Stack):
        return Stack(tuple(rows_reversed(k) for k in kernel.kernels), kernel.combine, kernel.spec)
    if not isinstance(kernel, Kernel):
        return kernel
    rows = kernel.shape[0]
    return Kernel(
        kernel.values[::-1],
        (rows - 1 - kernel.origin[0], kernel.origin[1]),
        kernel.spec,
        offset=kernel.offset,
    )
