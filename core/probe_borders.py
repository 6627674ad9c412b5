"""The probe's border test: which rule explains what a tool did at the edges.

Impulses on and next to the edges of a small image are filtered with a tent
kernel; :func:`classify_border` compares the tool's output with every border
rule simulated (zero, nearest, reflect, mirror, wrap, left unfiltered, or
cropped to the valid part).
"""

from __future__ import annotations

import numpy as np
from flipconv.core.filters import convolve
from flipconv.core.kernel import Kernel
from flipconv.core.vocabulary import Mode

#: Side of the border probe's kernel.
BORDER_SIDE = 5


def tolerance(out: np.ndarray) -> float:
    """One step for integer samples (a tool may truncate), float rounding otherwise."""
    if out.dtype.kind != "f" or np.array_equal(out, np.rint(out)):
        return 1.0
    return 1e-6 * max(1.0, float(np.abs(out).max()))


def border_image(side: int, amplitude: float, dtype: np.dtype) -> np.ndarray:
    image = np.zeros((side, side), dtype=dtype)
    image[3, 0] = amplitude  # on the left edge
    image[9, 1] = amplitude  # next to it
    image[15, side - 1] = amplitude  # on the right edge (for wrap)
    image[side - 1, 10] = amplitude  # on the bottom edge
    return image


def border_kernel(size: int = BORDER_SIDE) -> np.ndarray:
    """The border probe's kernel: a tent, the same under every flip and transpose.

    Not a box: some tools take a shortcut for equal weights (netpbm's
    pnmconvol computes a mean), and the probe should see their general path.
    """
    ramp = np.minimum(np.arange(1, size + 1), np.arange(size, 0, -1)).astype(np.float64)
    return np.outer(ramp, ramp)


def _simulated_borders(image: np.ndarray, size: int) -> dict[str, np.ndarray]:
    box = Kernel(border_kernel(size), (size // 2, size // 2))
    # in this order: it decides between rules that fit equally well
    rules: tuple[Mode, ...] = ("constant", "nearest", "reflect", "mirror", "wrap")
    return {mode: convolve(image.astype(np.float64), box, mode=mode) for mode in rules}


_BORDER_NAMES = {
    "constant": "zero (constant 0 outside)",
    "nearest": "nearest (edge pixels repeated)",
    "reflect": "reflect (dcba|abcd, edge pixel repeated)",
    "mirror": "mirror (dcb|abcd, edge pixel not repeated)",
    "wrap": "wrap (the image tiles)",
    "unfiltered": "left unfiltered (border pixels copied from the input)",
}


def classify_border(
    out: np.ndarray, image: np.ndarray, size: int, scale: float | None = None
) -> tuple[str, list[str]]:
    """Name the border rule that explains ``out`` for the border probe ``image``.

    ``scale`` is the tool's factor for this kernel, if known (else fitted).
    """
    h, w = image.shape
    if out.shape != image.shape:
        if out.shape == (h - size + 1, w - size + 1):
            return "valid (no border: the output is cropped by the kernel)", ["valid"]
        return f"unknown (the output is {out.shape[1]}x{out.shape[0]}, not {w}x{h})", []
    sims = _simulated_borders(image, size)
    r = size // 2
    band = np.zeros(image.shape, bool)
    band[:r], band[-r:], band[:, :r], band[:, -r:] = True, True, True, True
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
        if name == "unfiltered":
            model[band] = image[band]
        scores[name] = float(np.abs(out - model).max())
    matches = [n for n, e in scores.items() if e <= tol]
    if not matches:
        best = min(scores, key=scores.__getitem__)
        return f"unknown (closest: {_BORDER_NAMES[best]}, off by {scores[best]:.3g})", []
    return _BORDER_NAMES[matches[0]], matches
