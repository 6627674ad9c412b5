"""What turned BEFORE into AFTER, from the two images alone: ``flipconv diff``.

No tool is run. Without a kernel, :func:`diff` says how the images differ:
identical or not, how much and how often, whether the differences sit in a
border band (and its width) or inside, a whole-pixel shift between them, a
constant scale or offset. With the kernel the tool was given, it finds the
tool's conventions as :func:`~flipconv.core.peers.probing.probe` does with
impulses, but from the pixels:

1. **Interior.** Where no window reaches the border, AFTER is matched with
   BEFORE filtered by the kernel as written, rotated 180 degrees
   (convolution), with its rows or its columns reversed, at every origin;
   a scale and an offset are fitted (least squares), then each rounding rule
   (none, nearest, half up, truncation) and what became of negative results
   (clipped, magnitude, wrapped). The best fit names the operation, origin,
   normalisation, scale, bias, rounding and range.
2. **Border.** With those, every flipconv border mode is tried on the whole
   image; the closest is the border.
3. **Check.** The flipconv command is run on BEFORE and compared with AFTER:
   the largest difference and the share of samples off.

Where no linear filter with that kernel explains AFTER (a median filter, a
gamma change, another kernel), the report says so, with the best fit's
error, and gives no command.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import format_number
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.pixels import round_samples
from flipconv.core.kernels.coercion import as_kernel
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.notation import matrix_spec

#: How the kernel may have been turned, as the correlation kernel each gives.
TURNS = {
    "correlation": lambda k: k,
    "convolution": lambda k: k[::-1, ::-1],
    "rows reversed, then correlation": lambda k: k[::-1, :],
    "columns reversed, then correlation": lambda k: k[:, ::-1],
}
#: The border modes tried, flipconv's names.
BORDERS = ("reflect", "constant", "nearest", "mirror", "wrap", "unfiltered")
#: A fit explains AFTER when at most this share of interior samples is off by more
#: than one level (integers: a tool's own float32 sums may land one off) or 1e-6 of
#: the range (floats).
EXPLAINED_SHARE = 0.005
#: Samples used to fit the scale and offset (a regular subsample of the interior).
FIT_SAMPLES = 50_000


@dataclass
class DiffReport:
    """What :func:`diff` found (``flipconv diff --json``'s keys)."""

    shape: list[int]
    identical: bool
    max_difference: float
    share_differing: float
    where: str
    band: int | None = None
    shift: list[int] | None = None
    scale: float | None = None
    offset: float | None = None
    explained: bool | None = None
    operation: str | None = None
    origin: list[int] | None = None
    border: str | None = None
    normalized: bool | None = None
    rounding: str | None = None
    negatives: str | None = None
    fit_error: float | None = None
    command: str | None = None
    arguments: list[str] | None = None
    reproduced_max_difference: float | None = None
    reproduced_share: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report as ``flipconv diff --json`` prints it."""
        return dict(self.__dict__)

    def __str__(self) -> str:
        """The verdict in plain lines."""
        lines = [f"images         {self.shape[1]}x{self.shape[0]}"]
        if self.identical:
            return "\n".join([*lines, "difference     none: the images are identical"])
        lines.append(
            f"difference     up to {self.max_difference:.4g} on "
            f"{100 * self.share_differing:.3g}% of samples, {self.where}"
        )
        if self.shift is not None:
            lines.append(f"shift          AFTER is BEFORE moved {self.shift[0]},{self.shift[1]}")
        if self.scale is not None:
            lines.append(f"level change   AFTER = {self.scale:.6g} x BEFORE + {self.offset:.6g}")
        if self.explained is not None:
            lines += self._verdict_lines()
        lines += [f"note           {n}" for n in self.notes]
        return "\n".join(lines)

    def _verdict_lines(self) -> list[str]:
        if not self.explained:
            return [
                f"verdict        no linear filter with this kernel explains AFTER (the best "
                f"fit, {self.operation}, is off by up to {self.fit_error:.4g}): no command"
            ]
        assert self.origin is not None
        lines = [
            f"operation      {self.operation}, origin {self.origin[0]},{self.origin[1]}",
            f"normalisation  {'divided by the kernel sum' if self.normalized else 'none'}",
            f"border         {self.border}",
            f"rounding       {self.rounding}; negatives {self.negatives}",
            f"flipconv       {self.command}",
        ]
        if self.reproduced_max_difference is not None and self.reproduced_share is not None:
            lines.append(
                f"               largest difference {self.reproduced_max_difference:.4g}, "
                f"{100 * self.reproduced_share:.3g}% of samples off, on these files"
            )
        return lines


def diff(before: Any, after: Any, kernel: Any = None) -> DiffReport:
    """Compare BEFORE and AFTER; with ``kernel``, find what filtered one into the other.

    ``before`` and ``after`` are arrays of one shape ``(H, W)`` or ``(H, W,
    C)``, both integers of one type or both floats.

    >>> import scipy.ndimage as ndi
    >>> rng = np.random.default_rng(0)
    >>> img = rng.integers(0, 200, (20, 24)).astype(np.uint8)
    >>> k = np.array([[1.0, 2, 0], [0, 1, 3], [1, 0, 0]])
    >>> after = ndi.convolve(img.astype(float), k / k.sum(), mode="wrap")
    >>> report = diff(img, np.rint(after).astype(np.uint8), k)
    >>> report.operation, report.border, report.normalized, report.reproduced_max_difference
    ('convolution', 'wrap', True, 0.0)
    """
    b, a = np.asarray(before), np.asarray(after)
    _check_pair(b, a)
    report = _describe(b, a)
    if kernel is not None:
        k = as_kernel(kernel)
        if k.shape[0] > b.shape[0] or k.shape[1] > b.shape[1]:
            raise OptionError(
                f"the kernel ({k.shape[1]}x{k.shape[0]}) is larger than the images "
                f"({b.shape[1]}x{b.shape[0]})"
            )
        _find_filter(b, a, k, report)
    return report


def diff_files(
    before: str, after: str, kernel: Any = None, picture: str | None = None
) -> DiffReport:
    """:func:`diff` of two image files; the command reproduces AFTER next to it
    (``AFTER-stem.flipconv.EXT``, never over AFTER). ``picture``, given, gets
    :func:`difference_picture` as PNG; it may be none of the files read."""
    from pathlib import Path

    from flipconv.core.io.guard import check_picture
    from flipconv.core.io.readers import read_image
    from flipconv.core.io.writers import write_image

    if picture is not None:  # before anything is read: never onto an input or the kernel
        check_picture(picture, [as_kernel(kernel)] if kernel is not None else [], before, after)
    b, a = read_image(before).pixels, read_image(after).pixels
    report = diff(b, a, kernel)
    if picture is not None:
        write_image(difference_picture(b, a), picture, fmt="png")
    if report.command is not None:
        out = Path(after)
        reproduced = str(out.with_name(f"{out.stem}.flipconv{out.suffix or '.png'}"))
        report.command = report.command.replace(
            "BEFORE -o AFTER", f"{shlex.quote(before)} -o {shlex.quote(reproduced)}"
        )
    return report


def difference_picture(before: Any, after: Any) -> np.ndarray:
    """Where two images differ, as an 8-bit grey picture: each pixel's largest
    difference over its channels, the largest of all white, none black.

    >>> difference_picture(np.array([[0, 5], [5, 5]]), np.array([[0, 5], [7, 9]])).tolist()
    [[0, 0], [128, 255]]
    """
    b, a = np.asarray(before, dtype=np.float64), np.asarray(after, dtype=np.float64)
    _check_pair(np.asarray(before), np.asarray(after))
    delta = np.abs(a - b)
    if delta.ndim == 3:
        delta = delta.max(axis=2)
    peak = float(delta.max())
    if peak == 0:
        return np.zeros(delta.shape, np.uint8)
    return np.rint(delta * (255.0 / peak)).astype(np.uint8)


def _check_pair(b: np.ndarray, a: np.ndarray) -> None:
    if b.shape != a.shape:
        raise OptionError(
            f"BEFORE is {_size(b)} and AFTER {_size(a)}: diff compares images of one size"
        )
    if b.ndim not in (2, 3) or b.size == 0:
        raise OptionError(f"images must be (H, W) or (H, W, C), not of shape {b.shape}")
    kinds = (b.dtype.kind == "f", a.dtype.kind == "f")
    if kinds[0] != kinds[1] or (not kinds[0] and b.dtype != a.dtype):
        raise OptionError(
            f"BEFORE holds {b.dtype} samples and AFTER {a.dtype}: compare images of one "
            "sample type (a float AFTER of an 8-bit BEFORE has another scale)"
        )


def _size(x: np.ndarray) -> str:
    return f"{x.shape[1]}x{x.shape[0]}" + (f"x{x.shape[2]}" if x.ndim == 3 else "")


def _describe(b: np.ndarray, a: np.ndarray) -> DiffReport:
    """Identical or not, how much, where; a shift; a level change."""
    bf, af = b.astype(np.float64), a.astype(np.float64)
    delta = np.abs(af - bf)
    differs = delta > 0
    report = DiffReport(
        shape=list(b.shape),
        identical=not bool(differs.any()),
        max_difference=float(delta.max()),
        share_differing=float(differs.mean()),
        where="",
    )
    if report.identical:
        report.where = "nowhere"
        return report
    plane = differs if differs.ndim == 2 else differs.any(axis=2)
    rows, cols = np.nonzero(plane)
    h, w = plane.shape
    depth = int(np.minimum.reduce([rows, h - 1 - rows, cols, w - 1 - cols]).max()) + 1
    if depth <= max(1, min(h, w) // 4):
        report.band, report.where = depth, f"all within {depth} pixel(s) of the edge"
    else:
        report.where = "in the interior too"
    report.shift = _shift(bf, af)
    fit = np.polyfit(bf.ravel(), af.ravel(), 1) if bf.std() > 0 else None
    if fit is not None and report.shift is None:
        scale, offset = float(fit[0]), float(fit[1])
        residual = np.abs(af - (scale * bf + offset)).max()
        if residual <= (1.0 if a.dtype.kind != "f" else 1e-6) and (
            abs(scale - 1) > 1e-9 or abs(offset) > 1e-9
        ):
            report.scale, report.offset = round(scale, 9), round(offset, 9)
    return report


def _shift(b: np.ndarray, a: np.ndarray, reach: int = 3) -> list[int] | None:
    """The whole-pixel move (rows, columns) that makes AFTER equal BEFORE inside, if any."""
    h, w = b.shape[:2]
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            if (dy, dx) == (0, 0) or h <= 2 * reach or w <= 2 * reach:
                continue
            moved = a[reach + dy : h - reach + dy, reach + dx : w - reach + dx]
            if np.array_equal(moved, b[reach : h - reach, reach : w - reach]):
                return [dy, dx]
    return None


def _valid_sums(b: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Correlation sums where the whole window lies inside (top-left indexed), per channel."""
    from numpy.lib.stride_tricks import sliding_window_view

    windows = sliding_window_view(b, weights.shape, axis=(0, 1))
    return (
        np.einsum("...ij,ij->...", windows, weights)
        if b.ndim == 2
        else np.einsum("hwcij,ij->hwc", windows, weights)
    )


def _finish(values: np.ndarray, rule: str, negatives: str, top: float | None) -> np.ndarray:
    """Float sums made samples as a tool would: no rounding for floats."""
    out = values.copy()
    if negatives == "magnitude":
        np.abs(out, out=out)
    if top is None:
        return out
    if negatives == "wrapped":  # rounded by the rule, then modulo the range, not clipped
        low, high = float(out.min()), float(out.max())
        shifted = out - np.floor(low / (top + 1)) * (top + 1) if low < 0 else out
        round_samples(shifted, max(high, top) + (top + 1) * 64, rule)  # type: ignore[arg-type]
        return shifted % (top + 1)
    round_samples(out, top, rule)  # type: ignore[arg-type]
    return out


def _find_filter(b: np.ndarray, a: np.ndarray, k: Kernel, report: DiffReport) -> None:
    """Steps 1-3 of the module's text, into ``report``."""
    top = None if a.dtype.kind == "f" else float(np.iinfo(a.dtype).max)
    bf, af = b.astype(np.float64), a.astype(np.float64)
    kh, kw = k.shape
    tolerance = 1.0 if top is not None else 1e-6 * max(1.0, float(np.abs(af).max()))
    gain = float(k.values.sum())
    ranked = []
    for turn, make in TURNS.items():
        sums = _valid_sums(bf, make(k.values))
        for r in range(kh):
            for c in range(kw):
                target = af[r : r + sums.shape[0], c : c + sums.shape[1]]
                *score, _ = _fit(sums, target, top, tolerance, gain, quick=True)
                ranked.append((tuple(score), turn, (r, c), sums, target))
    ranked.sort(key=lambda item: item[0])
    best: Any = None
    for _, turn, origin, sums, target in ranked[:4]:  # the closest placements, in full
        *score, fit = _fit(sums, target, top, tolerance, gain)
        if best is None or tuple(score) < best[0]:
            best = (tuple(score), {"turn": turn, "origin": origin, **fit})
    (share, _, error), fit = best
    report.fit_error = error
    report.operation = fit["turn"]
    report.explained = share <= EXPLAINED_SHARE
    if not report.explained:
        return
    _settle_verdict(b, a, k, report, fit, top)


def _fit(
    sums: np.ndarray, target: np.ndarray, top: float | None, tolerance: float, gain: float,
    *, quick: bool = False,
) -> Any:  # fmt: skip
    """The best scale, offset, rounding and range for one placement.

    Returns ``(share off by more than the tolerance, share off at all, largest
    error, fit)``, measured on a regular subsample of the interior. The
    least-squares line through rounded samples is a little off the tool's, so
    the short numbers near it are tried too: ``1/gain`` (the kernel's sum), 1,
    an offset of 0 or a whole or half level. ``quick``: the fitted line,
    rounded to nearest, only (to rank placements).
    """
    step = max(1, sums.size // FIT_SAMPLES)
    xs, ys = sums.ravel()[::step], target.ravel()[::step]
    unclipped = (ys > 0) & (ys < top) if top is not None else np.ones(ys.shape, bool)
    if unclipped.sum() < 2 or np.ptp(xs[unclipped]) == 0:
        return (1.0, 1.0, float("inf"), {})
    fitted, shift = (float(v) for v in np.polyfit(xs[unclipped], ys[unclipped], 1))
    scales, offsets = [_snap(fitted)], [_snap(shift)]
    if not quick:  # the short numbers first: a later candidate must do strictly better
        scales = [v for v in (1.0 / gain if gain else None, 1.0) if v is not None] + scales
        offsets = [0.0, float(round(shift)), round(2 * shift) / 2] + offsets
    rules = (
        ("none",) if top is None else ("nearest",) if quick else ("nearest", "half-up", "truncate")
    )
    ranges = ("clipped",) if quick else ("clipped", "magnitude", "wrapped")
    exact = 0.5 if top is not None else tolerance
    best: Any = (1.0, 1.0, float("inf"), {})
    for scale in dict.fromkeys(scales):
        for offset in dict.fromkeys(offsets):
            for rule in rules:
                for negatives in ranges:
                    off = np.abs(_finish(xs * scale + offset, rule, negatives, top) - ys)
                    fit = {"scale": scale, "offset": offset, "rounding": rule,
                           "negatives": negatives}  # fmt: skip
                    candidate = (float((off > tolerance).mean()), float((off > exact).mean()),
                                 float(off.max()), fit)  # fmt: skip
                    if candidate[:3] < best[:3]:
                        best = candidate
    return best


def _snap(value: float) -> float:
    """A fitted number as the short one it almost is (least squares leaves 1e-12)."""
    for digits in range(0, 10):
        rounded = round(value, digits)
        if abs(rounded - value) <= 1e-9 * max(1.0, abs(value)):
            return rounded
    return value


def _settle_verdict(
    b: np.ndarray, a: np.ndarray, k: Kernel, report: DiffReport, fit: dict[str, Any],
    top: float | None,
) -> None:  # fmt: skip
    """The border, the command, and its check on the files."""
    turn, (r, c) = fit["turn"], fit["origin"]
    weights = TURNS[turn](k.values)
    total = float(weights.sum())
    normalized = total != 0 and abs(fit["scale"] * total - 1.0) <= 1e-6
    scale = 1.0 if normalized else fit["scale"]
    operation, spec_values, origin = "correlate", weights, (r, c)
    if turn == "convolution":  # flipconv turns the kernel as given, about its origin
        operation, spec_values = "convolve", k.values
        origin = (k.shape[0] - 1 - r, k.shape[1] - 1 - c)
    options: dict[str, Any] = {
        "normalize": normalized,
        "scale": scale,
        "bias": fit["offset"],
        "rounding": fit["rounding"] if fit["rounding"] != "none" else "nearest",
        "out_range": "abs" if fit["negatives"] == "magnitude" else "clip",
    }
    kernel = Kernel(spec_values, origin)
    results = {}
    for mode in BORDERS:
        try:
            out = filter_image(b, kernel, operation=operation, mode=mode, **options)  # type: ignore[arg-type]
        except OptionError:
            continue
        off = np.abs(out.astype(np.float64) - a.astype(np.float64))
        results[mode] = (float((off > 0).mean()), float(off.max()))
    border = min(results, key=lambda m: results[m])
    share, worst = results[border]
    equal = [m for m in results if results[m] == results[border]]
    if len(equal) > 1:
        report.notes.append(
            "border rules that fit these files equally (the kernel reaches too little "
            "past the edge to tell): " + ", ".join(equal)
        )
    report.origin, report.border, report.normalized = [r, c], border, normalized
    report.rounding = "none (float)" if top is None else fit["rounding"]
    report.negatives = fit["negatives"]
    if fit["negatives"] == "wrapped":
        report.notes.append("negative results wrap around modulo the range; flipconv clips them")
    args = [operation, "-k", matrix_spec(spec_values), "--origin", f"{origin[0]},{origin[1]}"]
    args += ["--mode", border] if border != "reflect" else []
    args += ["--normalize"] if normalized else []
    args += ["--scale", format_number(scale)] if scale != 1.0 else []
    args += ["--bias", format_number(fit["offset"])] if fit["offset"] else []
    args += ["--rounding", options["rounding"]] if options["rounding"] != "nearest" else []
    args += ["--out-range", "abs"] if options["out_range"] == "abs" else []
    report.arguments = args
    report.command = "flipconv " + " ".join(shlex.quote(x) for x in args) + " BEFORE -o AFTER"
    report.reproduced_max_difference, report.reproduced_share = worst, share
