"""The probe's border test: which rule explains what a tool did at the edges.

Impulses on and next to the edges of a small image are filtered with a tent
kernel; :func:`classify_border` compares the tool's output with every border
rule simulated (zero, nearest, reflect, mirror, wrap, left unfiltered, or
cropped to the valid part).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from flipconv.core._shared.vocabulary import Mode
from flipconv.core.engine.filters import convolve, correlate
from flipconv.core.kernels.kernel import Kernel

#: Side of the border probe's kernel.
BORDER_SIDE = 5


def tolerance(out: np.ndarray) -> float:
    """One step for integer samples (a tool may truncate), float rounding otherwise."""
    if out.dtype.kind != "f" or np.array_equal(out, np.rint(out)):
        return 1.0
    return 1e-6 * max(1.0, float(np.abs(out).max()))


def border_image(
    side: int, amplitude: float, dtype: np.dtype, rows: int | None = None
) -> np.ndarray:
    """Impulses on and next to the edges of a ``rows`` x ``side`` image (square by default).

    A one-row image (for tools that take row kernels only) has impulses on
    the left edge, next to it, and on the right edge.
    """
    rows = side if rows is None else rows
    image = np.zeros((rows, side), dtype=dtype)
    if rows == 1:
        image[0, 0] = image[0, side // 2] = image[0, side - 1] = amplitude
        image[0, 1] = image[0, side - 2] = amplitude
        return image
    image[3, 0] = amplitude  # on the left edge
    image[9, 1] = amplitude  # next to it
    image[15, side - 1] = amplitude  # on the right edge (for wrap)
    image[9, side - 2] = amplitude  # next to it (an anchor at the top left reads only there)
    image[rows - 1, 10] = amplitude  # on the bottom edge
    image[rows - 2, 4] = amplitude  # next to it
    return image


def border_kernel(size: int = BORDER_SIDE, rows: int | None = None) -> np.ndarray:
    """The border probe's kernel: a tent, the same under every flip and transpose.

    Not a box: some tools take a shortcut for equal weights (netpbm's
    pnmconvol computes a mean), and the probe should see their general path.
    ``rows=1`` gives a one-row tent for row-only tools.
    """
    ramp = np.minimum(np.arange(1, size + 1), np.arange(size, 0, -1)).astype(np.float64)
    column = ramp if rows is None else np.ones(rows)
    return np.outer(column, ramp)


def tent_origin(
    origin: tuple[int, int], shape: tuple[int, int], tent: tuple[int, int]
) -> tuple[int, int]:
    """Where a tool that put ``origin`` on a ``shape`` kernel puts the tent's, per axis.

    The centre maps to the centre, the first and last elements to the tent's
    (an anchor at a corner stays at the corner), others keep their offset.
    """
    out = []
    for o, n, t in zip(origin, shape, tent, strict=True):
        if n == 1 or t == 1:
            out.append(0 if t == 1 else t // 2)
        elif o == n // 2:
            out.append(t // 2)
        elif o == 0:
            out.append(0)
        elif o == n - 1:
            out.append(t - 1)
        else:
            out.append(min(max(t // 2 + o - n // 2, 0), t - 1))
    return (out[0], out[1])


def _simulated_borders(image: np.ndarray, tent: Kernel, operation: str) -> dict[str, np.ndarray]:
    run = convolve if operation == "convolve" else correlate
    # in this order: it decides between rules that fit equally well
    rules: tuple[Mode, ...] = ("constant", "nearest", "reflect", "mirror", "wrap")
    return {mode: run(image.astype(np.float64), tent, mode=mode) for mode in rules}


_BORDER_NAMES = {
    "constant": "zero (constant 0 outside)",
    "nearest": "nearest (edge pixels repeated)",
    "reflect": "reflect (dcba|abcd, edge pixel repeated)",
    "mirror": "mirror (dcb|abcd, edge pixel not repeated)",
    "wrap": "wrap (the image tiles)",
    "unfiltered": "left unfiltered (border pixels copied from the input)",
}


def classify_border(
    out: np.ndarray,
    image: np.ndarray,
    tent: Kernel,
    operation: str = "convolve",
    scale: float | None = None,
    finish: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[str, list[str]]:
    """Name the border rule that explains ``out`` for the border probe ``image``.

    ``tent`` is the probe's kernel with the origin the tool gives it, and
    ``operation`` how the tool turns it; ``scale`` is the tool's factor for
    this kernel, if known (else fitted). ``finish``, given, does to each
    simulated result what the tool does to its own (an 8-bit tool clips
    negative results and the top), so that a kernel with negative weights
    is judged as the tool wrote it.
    """
    h, w = image.shape
    kh, kw = tent.shape
    if out.shape != image.shape:
        if out.shape == (h - kh + 1, w - kw + 1):
            return "valid (no border: the output is cropped by the kernel)", ["valid"]
        return f"unknown (the output is {out.shape[1]}x{out.shape[0]}, not {w}x{h})", []
    sims = _simulated_borders(image, tent, operation)
    (rb, ra), (cb, ca) = tent.reach(operation)
    band = np.zeros(image.shape, bool)
    band[:rb], band[h - ra :], band[:, :cb], band[:, w - ca :] = True, True, True, True
    unfiltered = sims["constant"].copy()
    scores = {}
    tol = tolerance(out)
    interior = ~band
    for name, sim in {**sims, "unfiltered": unfiltered}.items():
        if scale is None:
            denom = float((sim[interior] ** 2).sum())
            factor = float((sim[interior] * out[interior]).sum()) / denom if denom else 1.0
        else:
            factor = scale
        model = factor * sim
        if finish is not None:
            model = finish(model)
        if name == "unfiltered":
            model[band] = image[band]
        scores[name] = float(np.abs(out - model).max())
    matches = [n for n, e in scores.items() if e <= tol]
    if not matches:
        best = min(scores, key=scores.__getitem__)
        return f"unknown (closest: {_BORDER_NAMES[best]}, off by {scores[best]:.3g})", []
    return _BORDER_NAMES[matches[0]], matches
