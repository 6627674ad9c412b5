"""From a probe's verdict to the flipconv command that reproduces the tool, checked.

:func:`conventions_of` turns what :func:`flipconv.core.peers.probing.probe` found
into :class:`~flipconv.core.peers.presets.Conventions` (and says what flipconv has
no setting for); :func:`reproduce` runs those settings and the tool on a
fresh random image and measures the largest difference.
"""

from __future__ import annotations

import shlex
from typing import Any, Literal, cast

import numpy as np
from flipconv.core._shared.errors import FlipconvError
from flipconv.core._shared.vocabulary import FilterMode, format_number
from flipconv.core.engine.filters import filter_image
from flipconv.core.kernels.kernel import Kernel, origin_by_rule
from flipconv.core.kernels.notation import matrix_spec
from flipconv.core.peers.presets import Conventions, OriginRule
from flipconv.core.peers.report import ProbeReport, Reproduction

#: The probe's border verdicts (their first word) as flipconv modes.
_MODES: dict[str, FilterMode] = {
    "zero": "constant",
    "nearest": "nearest",
    "reflect": "reflect",
    "mirror": "mirror",
    "wrap": "wrap",
    "left": "unfiltered",
}


def conventions_of(
    report: ProbeReport, full: float = 255.0
) -> tuple[Conventions, tuple[int, int] | None]:
    """The conventions the probe found, and an explicit origin where no rule names it.

    ``full`` is the probe images' full scale (255 or 65535).
    """
    unmatched: list[str] = []
    operation: Literal["convolve", "correlate"] = "correlate"
    if report.orientation.endswith("convolution"):
        operation = "convolve"
    if report.orientation not in ("convolution", "correlation"):
        unmatched.append(
            f"the tool {report.description}; flipconv turns a kernel only by 180 degrees: "
            "give it the kernel mirrored or transposed as the tool uses it"
        )
    rule, anchor = _origin(report)
    mode = _mode(report, unmatched)
    dtype, scale, out_range = _samples(report, full, unmatched)
    conventions = Conventions(
        operation,
        rule or "down-right",
        mode,
        normalize=report.normalization.startswith("divided"),
        scale=float(format_number(scale)) if abs(scale - 1) > 1e-9 else 1.0,
        out_range=out_range,
        dtype=dtype,
        unmatched=tuple(unmatched),
    )
    return conventions, anchor


def _origin(report: ProbeReport) -> tuple[OriginRule | None, tuple[int, int] | None]:
    """The even-origin rule found (or implied), and the origin where no rule names it."""
    shape = (len(report.kernel), len(report.kernel[0]))
    origin = tuple(report.origin)
    up_left = origin_by_rule(shape, "up-left")
    anchor = None
    if origin != origin_by_rule(shape, "down-right") and origin != up_left:
        anchor = (int(origin[0]), int(origin[1]))
    rule: OriginRule | None = None
    if report.even_rule in ("down-right", "up-left"):
        rule = cast(OriginRule, report.even_rule)
    if rule is None and origin == up_left and shape[0] % 2 == 0:
        rule = "up-left"
    return rule, anchor


def _mode(report: ProbeReport, unmatched: list[str]) -> FilterMode:
    """flipconv's border mode for the tool's, or reflect and a line in ``unmatched``."""
    mode = _MODES.get(report.border.split(" ")[0])
    if mode is not None:
        return mode
    if report.border.startswith("valid"):
        unmatched.append(
            "the tool crops its output to where the kernel fits (valid); flipconv keeps "
            "the size: crop the result yourself"
        )
    else:
        unmatched.append(f"the border is {report.border}: flipconv has no such rule")
    return "reflect"


def _samples(
    report: ProbeReport, full: float, unmatched: list[str]
) -> tuple[str | None, float, Literal["clip", "abs"]]:
    """The output sample type, the scale, and what becomes of negative results."""
    out_range: Literal["clip", "abs"] = "clip"
    if report.negatives.startswith("absolute"):
        out_range = "abs"
    elif report.negatives.startswith("wrapped"):
        unmatched.append(
            "negative results wrap around (modulo the sample range); flipconv clips them"
        )
    if report.float_output:
        # flipconv writes floats in 0..1: the rest of the factor is --scale
        return "float64", report.scale * full, out_range
    if abs(report.scale - 1.0) > 0.02:
        return None, report.scale, out_range
    return None, 1.0, out_range


def reproduce(
    report: ProbeReport, tool: Any, kernel: Kernel, dtype: np.dtype, size: int
) -> Reproduction:
    """Run the reproduction and the tool on one random image; report the largest difference."""
    full = float(np.iinfo(dtype).max)
    conventions, anchor = conventions_of(report, full)
    args = conventions.arguments()
    if anchor is not None:  # an explicit element, instead of a rule
        if "--origin" in args:
            del args[args.index("--origin") : args.index("--origin") + 2]
        args[1:1] = ["--origin", f"{anchor[0]},{anchor[1]}"]
    shown = [*args[:1], "-k", kernel.spec or matrix_spec(kernel.values), *args[1:]]
    command = "flipconv " + " ".join(shlex.quote(a) for a in shown)
    rng = np.random.default_rng(20261202)
    kh, kw = kernel.shape
    shape = (max(size + 13, 3 * kh + 2) if kh > 1 else 1, max(size + 20, 3 * kw + 2))
    weights = kernel.values
    # results within range, so that the check sees rounding, not clipping (or a
    # tool's wrapping): the probe's kernel is scaled, a tool's own cannot be, so
    # the image is dimmed instead
    gain = float(np.abs(weights).sum())
    if report.normalization.startswith("divided") and float(weights.sum()):
        gain /= abs(float(weights.sum()))
    dim = tool.own is not None and gain > 1 and not report.float_output
    top = max(1, int(full / gain)) if dim else int(full)
    image = rng.integers(0, top + 1, shape).astype(dtype)
    if tool.own is None:
        weights = weights / float(np.abs(weights).sum())
    try:
        theirs = tool(image, weights)
        origin = anchor or origin_by_rule(weights.shape, conventions.origin or "down-right")
        ours = filter_image(
            image,
            Kernel(weights, origin),
            operation=cast(Literal["convolve", "correlate"], conventions.operation),
            mode=conventions.mode,
            cval=conventions.cval,
            normalize=conventions.normalize,
            scale=conventions.scale,
            out_range=conventions.out_range,
            dtype=conventions.dtype,
        ).astype(np.float64)
    except FlipconvError as exc:
        return Reproduction(shown, command, None, f"not run: {exc}", list(conventions.unmatched))
    (rb, ra), (cb, ca) = Kernel(weights, origin).reach(conventions.operation)
    interior = (slice(rb, shape[0] - ra), slice(cb, shape[1] - ca))
    levels = "" if top == int(full) else f" (levels 0..{top}, so that nothing clips)"
    compared = f"every pixel of a {shape[1]}x{shape[0]} random image{levels}"
    if theirs.shape != ours.shape:
        return Reproduction(
            shown, command, None, "not compared: the sizes differ", list(conventions.unmatched)
        )
    if report.border.split(" ")[0] not in _MODES:  # no flipconv border: compare inside
        theirs, ours = theirs[interior], ours[interior]
        where = "valid part" if report.border.startswith("valid") else "interior"
        compared = f"the {where} of a {shape[1]}x{shape[0]} random image"
    difference = float(np.abs(theirs - ours).max()) if theirs.size else 0.0
    return Reproduction(shown, command, difference, compared, list(conventions.unmatched))
