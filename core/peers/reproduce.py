"""From a probe's verdict to the flipconv command that reproduces the tool, checked.

:func:`conventions_of` turns what :func:`flipconv.core.peers.probing.probe` found
into :class:`~flipconv.core.peers.presets.Conventions` (and says what flipconv has
no setting for); :func:`reproduce` runs those settings and the tool on a
fresh random image and measures the largest difference.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
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
    # flipconv's --bias is in the input's units; a float output of 8-bit input is in 0..1
    bias = report.bias * full if report.float_output else report.bias
    conventions = Conventions(
        operation,
        rule or "down-right",
        mode,
        normalize=report.normalization.startswith("divided"),
        scale=float(format_number(scale)) if abs(scale - 1) > 1e-9 else 1.0,
        out_range=out_range,
        dtype=dtype,
        unmatched=tuple(unmatched),
        bias=float(format_number(bias)) if bias else 0.0,
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
        (top, bottom), (left, right) = _valid_margins(report)
        unmatched.append(
            "the tool crops its output to where the kernel fits (valid); flipconv keeps "
            f"the size: keep rows {top} to H-{bottom + 1} and columns {left} to "
            f"W-{right + 1} of its result (numpy: out{_crop(report)})"
        )
    else:
        unmatched.append(f"the border is {report.border}: flipconv has no such rule")
    return "reflect"


def _valid_margins(report: ProbeReport) -> tuple[tuple[int, int], tuple[int, int]]:
    """The rows above and below, columns left and right, that a 'valid' output lacks."""
    kh, kw = len(report.kernel), len(report.kernel[0])
    r, c = report.origin
    return (r, kh - 1 - r), (c, kw - 1 - c)


def _crop(report: ProbeReport) -> str:
    """The numpy slice that crops flipconv's result as the tool crops its own ('' if none)."""
    if not report.border.startswith("valid"):
        return ""
    (top, bottom), (left, right) = _valid_margins(report)
    return f"[{top}:{-bottom or ''}, {left}:{-right or ''}]"


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
    """Run the reproduction and the tool on one random image; report the largest difference.

    For a tool that writes floats, the reproduction for float images in the
    tool's own units (a layer's) is given and checked too, and for every
    tool the Python call.
    """
    full = float(np.iinfo(dtype).max)
    conventions, anchor = conventions_of(report, full)
    shown, command = _command(conventions, anchor, kernel)
    unmatched = list(conventions.unmatched)
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
    placed = Kernel(
        weights, anchor or origin_by_rule(weights.shape, conventions.origin or "down-right")
    )
    difference, compared = _compare(report, tool, placed, image, conventions)
    levels = (
        ""
        if top == int(full) or compared.startswith("not")
        else (f" (levels 0..{top}, so that nothing clips)")
    )
    done = Reproduction(shown, command, difference, compared + levels, unmatched)
    done.python, done.python_call = _python(report, conventions, placed.origin)
    if report.float_output:
        in_float = replace(conventions, scale=_number(report.scale), bias=_number(report.bias),
                           dtype=None)  # fmt: skip
        done.float_command = _command(in_float, anchor, kernel)[1]
        float_image = rng.random(shape)
        done.float_max_difference, _ = _compare(report, tool, placed, float_image, in_float)
    return done


def _number(value: float) -> float:
    """``value`` as printed in a command (its shortest exact form)."""
    return float(format_number(value))


def _command(
    conventions: Conventions, anchor: tuple[int, int] | None, kernel: Kernel
) -> tuple[list[str], str]:
    """The command line's arguments (after ``flipconv``) and the whole line, quoted."""
    args = conventions.arguments()
    if anchor is not None:  # an explicit element, instead of a rule
        if "--origin" in args:
            del args[args.index("--origin") : args.index("--origin") + 2]
        args[1:1] = ["--origin", f"{anchor[0]},{anchor[1]}"]
    shown = [*args[:1], "-k", kernel.spec or matrix_spec(kernel.values), *args[1:]]
    return shown, "flipconv " + " ".join(shlex.quote(a) for a in shown)


def _compare(
    report: ProbeReport, tool: Any, kernel: Kernel, image: np.ndarray, conventions: Conventions
) -> tuple[float | None, str]:
    """The largest difference between the tool and flipconv with ``conventions`` on ``image``."""
    try:
        theirs = tool(image, kernel.values) + tool.offset  # the bias taken off, back on
        ours = filter_image(
            image,
            kernel,
            operation=cast(Literal["convolve", "correlate"], conventions.operation),
            mode=conventions.mode,
            cval=conventions.cval,
            normalize=conventions.normalize,
            scale=conventions.scale,
            bias=conventions.bias,
            out_range=conventions.out_range,
            dtype=conventions.dtype,
        ).astype(np.float64)
    except FlipconvError as exc:
        return None, f"not run: {exc}"
    shape = image.shape
    if theirs.shape != ours.shape:
        return None, "not compared: the sizes differ"
    compared = f"every pixel of a {shape[1]}x{shape[0]} random image"
    if report.border.split(" ")[0] not in _MODES:  # no flipconv border: compare inside
        (rb, ra), (cb, ca) = kernel.reach(conventions.operation)
        theirs = theirs[rb : shape[0] - ra, cb : shape[1] - ca]
        ours = ours[rb : shape[0] - ra, cb : shape[1] - ca]
        where = "valid part" if report.border.startswith("valid") else "interior"
        compared = f"the {where} of a {shape[1]}x{shape[0]} random image"
    return (float(np.abs(theirs - ours).max()) if theirs.size else 0.0), compared


def _python(
    report: ProbeReport, conventions: Conventions, origin: tuple[int, int]
) -> tuple[str, dict[str, Any]]:
    """The Python call that gives the tool's float numbers for ``x``, as text and as data.

    ``K`` is the report's kernel; the result is in the image's units, before
    any rounding an integer tool does.
    """
    operation = conventions.operation if conventions.operation == "convolve" else "correlate"
    kwargs: dict[str, Any] = {"anchor": [int(origin[0]), int(origin[1])], "mode": conventions.mode}
    if conventions.mode == "constant" and conventions.cval:
        kwargs["cval"] = conventions.cval
    weights = "K / K.sum()" if conventions.normalize else "K"
    shown = ", ".join(
        f"{name}={tuple(value) if name == 'anchor' else repr(value)}"
        for name, value in kwargs.items()
    )
    text = f"flipconv.{operation}(x, {weights}, {shown})"
    if conventions.out_range == "abs":
        text = f"abs({text})"
    scale, bias = _number(report.scale), _number(report.bias)
    if scale != 1.0:
        text += f" * {format_number(scale)}"
    if bias:
        text += f" {'-' if bias < 0 else '+'} {format_number(abs(bias))}"
    crop = _crop(report)
    if crop:
        text = f"({text}){crop}" if scale != 1.0 or bias else text + crop
    call = {
        "function": operation,
        "kernel": "normalized" if conventions.normalize else "as reported",
        "kwargs": kwargs,
        "magnitude": conventions.out_range == "abs",
        "scale": scale,
        "bias": bias,
        "crop": list(_valid_margins(report)) if crop else None,
    }
    return text, call
