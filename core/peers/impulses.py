"""Reading impulse responses: which treatment of the kernel a tool applied.

A linear, shift-invariant filter's response to one bright pixel is the kernel
as the tool used it. :func:`fit_impulse` compares a response with the kernel
under six treatments (as written: ``convolution``; rotated 180 degrees:
``correlation``; its columns reversed: ``mirrored-left-right``; its rows
reversed: ``mirrored-top-bottom``; transposed, then correlated or convolved)
and finds the scale and where the kernel's origin landed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from flipconv.core._shared.errors import FlipconvError
from flipconv.core.peers.borders import tolerance

DEFAULT_KERNEL = "1,2,4;8,16,32;64,128,0"
EVEN_KERNEL = "1,2;4,8"
ORIENTATIONS = (
    "convolution",
    "correlation",
    "mirrored-left-right",
    "mirrored-top-bottom",
    "transposed",
    "transposed-convolution",
)

#: What each treatment makes of the kernel in the impulse response.
_TREATMENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "convolution": lambda k: k,
    "correlation": lambda k: k[::-1, ::-1],
    "mirrored-left-right": lambda k: k[::-1, :],  # correlate with k[:, ::-1]
    "mirrored-top-bottom": lambda k: k[:, ::-1],  # correlate with k[::-1, :]
    "transposed": lambda k: k.T[::-1, ::-1],  # correlate with k.T
    "transposed-convolution": lambda k: k.T,  # convolve with k.T
}
DESCRIBE = {
    "convolution": "rotates the kernel 180 degrees: true convolution",
    "correlation": "uses the kernel as written: cross-correlation (CNN 'convolution')",
    "mirrored-left-right": "reverses the kernel's columns (a left-right mirror), then correlates",
    "mirrored-top-bottom": "reverses the kernel's rows (a top-bottom mirror), then correlates",
    "transposed": "transposes the kernel (rows read as columns), then correlates",
    "transposed-convolution": "transposes the kernel, then convolves",
}


class ProbeError(FlipconvError):
    """The tool failed, timed out, or wrote nothing readable."""


class InconsistentToolError(ProbeError):
    """The tool behaved so that no measurement holds (its output changed size):
    never taken as one test's outcome, the probe stops."""


@dataclass
class Fit:
    """The best match of one impulse response."""

    orientation: str
    scale: float
    error: float
    origin: tuple[int, int]
    ties: list[str]
    response: np.ndarray
    amplitude: float


# ---------------------------------------------------------------- analysis


def _index_grid(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.indices(shape)
    return np.stack([rows, cols], axis=-1)


def fit_impulse(
    out: np.ndarray, kernel: np.ndarray, at: tuple[int, int], amplitude: float, full: float = 255.0
) -> Fit:
    """Match the response ``out`` to an impulse of ``amplitude`` at ``at``.

    The scale is fitted on the positive weights; where a weight is negative
    the output may hold the value, 0 (clipped), its magnitude, or the value
    wrapped modulo ``full + 1``, whichever is closest.
    """
    positive = kernel > 0
    best: list[tuple[float, str, float, tuple[int, int]]] = []
    H, W = out.shape
    for name, treat in _TREATMENTS.items():
        pattern = treat(kernel)
        mask = treat(positive.astype(np.int8)).astype(bool)
        ph, pw = pattern.shape
        for top in range(max(0, at[0] - ph + 1), min(at[0], H - ph) + 1):
            for left in range(max(0, at[1] - pw + 1), min(at[1], W - pw) + 1):
                placed = np.zeros(out.shape)
                placed[top : top + ph, left : left + pw] = np.where(mask, pattern, 0.0)
                keep = np.ones(out.shape, bool)  # judge all but the negative weights
                keep[top : top + ph, left : left + pw] = mask | (pattern == 0)
                denom = float((placed[keep] ** 2).sum())
                if denom == 0:
                    continue
                scale = float((placed[keep] * out[keep]).sum()) / denom
                if scale <= 0:
                    continue  # the pattern is not there at all
                error = float(np.abs(out[keep] - scale * placed[keep]).max())
                neg = np.zeros(out.shape, bool)
                neg[top : top + ph, left : left + pw] = pattern < 0
                if neg.any():
                    v = np.zeros(out.shape)
                    v[top : top + ph, left : left + pw] = pattern
                    value = scale * v[neg]
                    hypotheses = np.stack(
                        [value, 0 * value, np.abs(value), np.mod(np.rint(value), full + 1)]
                    )
                    error = max(error, float(np.abs(out[neg] - hypotheses).min(axis=0).max()))
                index = _index_grid(kernel.shape)
                treated = np.stack([treat(index[..., 0]), treat(index[..., 1])], axis=-1)
                found = treated[at[0] - top, at[1] - left]
                best.append((error, name, scale / amplitude, (int(found[0]), int(found[1]))))
    if not best:
        raise ProbeError("the kernel has no positive weights to find; give one that does")
    tol = tolerance(out)
    floor = max(min(b[0] for b in best), tol)
    good = [b for b in best if b[0] <= floor]
    # Several placements can explain the response when only part of the kernel
    # is visible (clipped negatives): prefer the kernel's default origin, then
    # the order of ORIENTATIONS.
    centre = tuple(s // 2 for s in kernel.shape)
    good.sort(key=lambda b: (b[3] != centre, ORIENTATIONS.index(b[1]), b[0]))
    error, name, scale, origin = good[0] if good else min(best, key=lambda b: b[0])
    if not good:
        good = [min(best, key=lambda b: b[0])]
    ties = sorted({b[1] for b in good if b[1] != name and (b[3] == centre) == (origin == centre)})
    return Fit(name, scale, error, origin, ties, out, amplitude)


def even_convention(origin: tuple[int, int], shape: tuple[int, int]) -> tuple[str | None, str]:
    """The rule (``down-right``, ``up-left`` or None) of an even origin, and a label."""
    if origin == tuple(s // 2 for s in shape):
        return "down-right", (
            "down-right, shape//2: below/right of the centre (scipy.ndimage, OpenCV, libvips, "
            "flipconv's default)"
        )
    if origin == tuple((s - 1) // 2 for s in shape):
        return "up-left", (
            "up-left, (shape-1)//2: above/left of the centre (ImageMagick, G'MIC, scipy.signal, "
            "PyTorch, TensorFlow, JAX)"
        )
    return None, f"element {origin[0]},{origin[1]}, neither rule"


def negatives(fit: Fit, kernel: np.ndarray, at: tuple[int, int], full: float) -> str:
    """What the tool does with negative results: clipped, magnitude, kept or wrapped."""
    if not (kernel < 0).any():
        return "not tested (the kernel has no negative weights)"
    treat = _TREATMENTS[fit.orientation]
    pattern = treat(kernel)
    # where the origin landed: find the placement again from the fitted origin
    index = _index_grid(kernel.shape)
    treated = np.stack([treat(index[..., 0]), treat(index[..., 1])], axis=-1)
    where = np.argwhere((treated == np.array(fit.origin)).all(axis=-1))[0]
    top, left = at[0] - int(where[0]), at[1] - int(where[1])
    expected, seen = [], []
    for r, c in np.argwhere(pattern < 0):
        y, x = top + r, left + c
        if 0 <= y < fit.response.shape[0] and 0 <= x < fit.response.shape[1]:
            expected.append(fit.scale * fit.amplitude * pattern[r, c])
            seen.append(float(fit.response[y, x]))
    if not expected:
        return "not observed"
    e, s = np.array(expected), np.array(seen)
    tol = 1.0 if fit.response.dtype.kind != "f" else 1e-6 * max(1.0, float(np.abs(e).max()))
    if np.abs(s - e).max() <= tol:
        return "kept (negative results survive)"
    if np.abs(s).max() <= tol:
        return "clipped at 0"
    if np.abs(s - np.abs(e)).max() <= tol:
        return "absolute value taken"
    if full > 1 and np.abs(s - np.mod(np.rint(e), full + 1)).max() <= tol:
        return "wrapped around (modulo)"
    return f"changed: expected {e[0]:.4g}, found {s[0]:.4g}"
