"""Find out what another tool's "convolve" does, with impulses.

A linear, shift-invariant filter is known by its response to one bright
pixel (an impulse). :func:`probe` feeds a tool small images and reads back
what it wrote:

1. **Orientation and scale.** An impulse in the middle of a dark image. The
   response is compared with the kernel under six treatments: as written
   (``convolution``: convolving an impulse paints the kernel), rotated 180
   degrees (``correlation``), mirrored left-right only
   (``mirrored-horizontally``: the tool flips columns, then correlates),
   mirrored top-bottom only (``mirrored-vertically``), and transposed (rows
   read as columns; then correlated or convolved). The best fit also gives
   the scale (1: weights used as given; ``1/sum``: divided by the kernel
   sum) and where the kernel's origin landed. If the weak impulse (value 1)
   vanishes, a full-scale one is tried: normalising tools need it.
2. **Even origin** (``even=True``): the same with a 2x2 kernel, so the origin
   an even-sized kernel gets can be named: ``shape//2`` (below/right of the
   centre: scipy, OpenCV, flipconv) or ``(shape-1)//2`` (above/left:
   ImageMagick's user kernels).
3. **Border.** Impulses on and next to the left edge and on the right edge,
   filtered with a 5x5 tent (the same under every flip); the output is compared with every
   border rule
   simulated here (``constant`` zero, ``nearest``, ``reflect``, ``mirror``,
   ``wrap``, and borders ``left unfiltered``); a smaller output means
   ``valid`` (no border: the result is cropped).
4. **Negative results**, when the kernel has negative weights: whether the
   tool clipped them to 0, took their magnitude, kept them (float output),
   or let them wrap around.

The default kernel, ``1,2,4;8,16,32;64,128,0``, holds distinct powers of two,
so no two treatments look alike and the scale is exact in 8 bits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flipconv.core.errors import FlipconvError, OptionError
from flipconv.core.kernel import Kernel
from flipconv.core.pixels import full_scale
from flipconv.core.probe_borders import (
    BORDER_SIDE,
    border_image,
    border_kernel,
    classify_border,
    tolerance,
)
from flipconv.core.specs import parse_kernel_spec

DEFAULT_KERNEL = "1,2,4;8,16,32;64,128,0"
EVEN_KERNEL = "1,2;4,8"
ORIENTATIONS = (
    "convolution",
    "correlation",
    "mirrored-horizontally",
    "mirrored-vertically",
    "transposed",
    "transposed-convolution",
)

#: What each treatment makes of the kernel in the impulse response.
_TREATMENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "convolution": lambda k: k,
    "correlation": lambda k: k[::-1, ::-1],
    "mirrored-horizontally": lambda k: k[::-1, :],  # correlate with k[:, ::-1]
    "mirrored-vertically": lambda k: k[:, ::-1],  # correlate with k[::-1, :]
    "transposed": lambda k: k.T[::-1, ::-1],  # correlate with k.T
    "transposed-convolution": lambda k: k.T,  # convolve with k.T
}
_DESCRIBE = {
    "convolution": "rotates the kernel 180 degrees: true convolution",
    "correlation": "uses the kernel as written: cross-correlation (CNN 'convolution')",
    "mirrored-horizontally": "mirrors the kernel left-right only, then correlates",
    "mirrored-vertically": "mirrors the kernel top-bottom only, then correlates",
    "transposed": "transposes the kernel (rows read as columns), then correlates",
    "transposed-convolution": "transposes the kernel, then convolves",
}


class ProbeError(FlipconvError):
    """The tool failed, timed out, or wrote nothing readable."""


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


@dataclass
class ProbeReport:
    """What the probe found (the keys of ``flipconv probe --json``)."""

    kernel: list[list[float]]
    orientation: str
    description: str
    exact: bool
    max_error: float
    ties: list[str]
    normalization: str
    scale: float
    origin: list[int]
    even_origin: list[int] | None
    even_convention: str | None
    border: str
    border_candidates: list[str]
    negatives: str
    response: list[list[float]]
    impulse_value: float
    runs: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


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


def _normalization(scale: float, total: float) -> str:
    if abs(scale - 1.0) <= 0.02:
        return "none: the weights are used as given"
    if total != 0 and abs(scale * total - 1.0) <= 0.02:
        return "divided by the kernel sum"
    return f"scaled by {scale:.4g}"


def _even_convention(origin: tuple[int, int], shape: tuple[int, int]) -> str:
    if origin == tuple(s // 2 for s in shape):
        return "shape//2: below/right of the centre (scipy, OpenCV, flipconv)"
    if origin == tuple((s - 1) // 2 for s in shape):
        return "(shape-1)//2: above/left of the centre (ImageMagick user kernels)"
    return f"element {origin[0]},{origin[1]}"


def _negatives(fit: Fit, kernel: np.ndarray, at: tuple[int, int], full: float) -> str:
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


# ---------------------------------------------------------------- running


Filter = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _as_plane(out: Any, in_dtype: np.dtype) -> np.ndarray:
    array = np.asarray(out)
    if array.ndim == 3:
        array = array[..., 0]
    if array.ndim != 2:
        raise ProbeError(f"the tool returned a {array.ndim}-D image; expected 2-D")
    if array.dtype.kind in "ui" and in_dtype.kind == "u" and array.dtype != in_dtype:
        return array.astype(np.float64) * (full_scale(in_dtype) / full_scale(array.dtype))
    return array.astype(np.float64) if array.dtype.kind != "f" else array


def _impulse(
    func: Filter, kernel: np.ndarray, size: int, dtype: np.dtype, full: float
) -> tuple[Fit, int]:
    at = (size // 2, size // 2)
    runs = 0
    fits: list[tuple[bool, Fit]] = []
    positives = int((kernel > 0).sum())
    # 1 suits tools that use the weights as given, full scale those that divide
    # by the sum; other scales need something between.
    amplitudes = [1.0, full] + [float(2**i) for i in range(1, 16) if 2**i < full]
    for amplitude in amplitudes:
        image = np.zeros((size, size), dtype=dtype)
        image[at] = amplitude
        out = _as_plane(func(image, kernel), dtype)
        runs += 1
        if out.shape != image.shape:
            raise ProbeError(
                f"the tool returned {out.shape[1]}x{out.shape[0]} for a "
                f"{size}x{size} image; probe with a `size` larger than the kernel"
            )
        if np.count_nonzero(out) == 0:
            continue  # a normalising tool rounds a weak impulse away
        fit = fit_impulse(out, kernel, at, amplitude, full)
        whole = np.count_nonzero(out) >= positives and (dtype.kind == "f" or out.max() < full)
        good = whole and fit.error <= tolerance(out)
        fits.append((bool(good), fit))
        if good:
            break
    if not fits:
        raise ProbeError("the impulse left nothing in the output, even at full intensity")
    usable = [f for good, f in fits if good] or [f for _, f in fits]
    best = min(usable, key=lambda f: f.error / max(1.0, float(np.abs(f.response).max())))
    return best, runs


def probe(
    func: Filter,
    kernel: Kernel | str | None = None,
    *,
    size: int = 11,
    even: bool = False,
    depth: int = 8,
) -> ProbeReport:
    """Probe a filter function ``func(image, kernel_matrix) -> image``.

    ``image`` is a 2-D array (uint8 for ``depth=8``, uint16 for 16); the
    kernel is a 2-D float64 array of weights. Wrap ``cv2.filter2D``,
    ``torch.nn.functional.conv2d`` or a tool of your own to match.

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> probe(lambda im, k: ndi.correlate(im.astype(float), k)).orientation
    'correlation'
    >>> probe(lambda im, k: ndi.convolve(im.astype(float), k, mode="wrap")).border
    'wrap (the image tiles)'
    """
    if depth not in (8, 16):
        raise OptionError(f"depth must be 8 or 16, not {depth}")
    k = parse_kernel_spec(kernel or DEFAULT_KERNEL) if not isinstance(kernel, Kernel) else kernel
    values = k.values
    if size < 2 * max(values.shape) + 1:
        raise OptionError(
            f"`size` {size} is too small for a {values.shape[0]}x{values.shape[1]} "
            f"kernel; use at least {2 * max(values.shape) + 1}"
        )
    dtype = np.dtype(np.uint8 if depth == 8 else np.uint16)
    full = 255.0 if depth == 8 else 65535.0
    fit, runs = _impulse(func, values, size, dtype, full)
    even_origin = even_convention = None
    notes = []
    if even:
        even_k = parse_kernel_spec(EVEN_KERNEL).values
        try:
            even_fit, more = _impulse(func, even_k, size, dtype, full)
        except ProbeError as exc:  # GraphicsMagick, for one, refuses even kernels
            runs += 1
            even_convention = f"refused: {exc}"
        else:
            runs += more
            even_origin = list(even_fit.origin)
            even_convention = _even_convention(even_fit.origin, even_k.shape)
            if even_fit.orientation != fit.orientation:
                notes.append(f"the even kernel looked like {even_fit.orientation}")
    amplitude = fit.amplitude
    side = 21
    edges = border_image(side, amplitude, dtype)
    box = border_kernel()
    try:
        border_out = _as_plane(func(edges, box), dtype)
        runs += 1
        total = float(values.sum())
        normalising = total != 0 and abs(fit.scale * total - 1.0) <= 0.02
        factor = 1.0 / float(box.sum()) if normalising else fit.scale
        border, candidates = classify_border(
            border_out, edges.astype(np.float64), BORDER_SIDE, factor
        )
    except ProbeError as exc:
        border, candidates = f"unknown ({exc})", []
    if len(candidates) > 1:
        notes.append("border rules that fit equally: " + ", ".join(candidates))
    total = float(values.sum())
    tol = tolerance(fit.response)
    peak = max(float(np.abs(fit.response).max()), tol)
    return ProbeReport(
        kernel=values.tolist(),
        orientation=fit.orientation if fit.error <= 0.1 * peak else "unknown",
        description=_DESCRIBE[fit.orientation],
        exact=fit.error <= tol,
        max_error=fit.error,
        ties=fit.ties,
        normalization=_normalization(fit.scale, total),
        scale=fit.scale,
        origin=list(fit.origin),
        even_origin=even_origin,
        even_convention=even_convention,
        border=border,
        border_candidates=candidates,
        negatives=_negatives(fit, values, (size // 2, size // 2), full),
        response=fit.response.tolist(),
        impulse_value=amplitude,
        runs=runs,
        notes=notes,
    )
