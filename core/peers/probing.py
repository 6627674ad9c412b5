"""Find out what another tool's "convolve" does, with impulses, and reproduce it.

A linear, shift-invariant filter is known by its response to one bright
pixel (an impulse). :func:`probe` feeds a tool small images and reads back
what it wrote:

1. **Orientation and scale.** An impulse in the middle of a dark image; the
   response is matched with the kernel under six treatments
   (:mod:`flipconv.core.peers.impulses`), which also gives where the origin
   landed. If the weak impulse (value 1) vanishes, stronger ones are tried:
   normalising tools need them.
2. **Kernel use and normalisation.** The same impulse with the kernel
   rotated (a tool that gives the same answer ignores the kernel), and with
   the kernel halved: a tool that divides by the kernel's sum gives the
   same answer, one that uses the weights as given half of it. What is
   left of the scale is the output's **units**: the input's, or 0..1 (a
   float output divided by the input's full scale), or another factor.
3. **Even origin** (``even=True``): a 2x2 kernel (1x2 for row kernels)
   names the origin rule for even sizes: ``down-right`` (``shape//2``) or
   ``up-left`` (``(shape-1)//2``).
4. **Border.** Impulses on and next to the edges, filtered with a tent
   (the same under every flip; a one-row tent for row kernels) placed with
   the origin found in 1; the output is compared with every border rule
   simulated here.
5. **Negative results**, when the kernel has negative weights: clipped,
   magnitude, kept, or wrapped.
6. **Reproduction.** The flipconv command line with these conventions,
   run against the tool on a fresh random image: the largest difference is
   reported, and what flipconv has no setting for is said plainly.

The default kernel, ``1,2,4;8,16,32;64,128,0``, holds distinct powers of two,
so no two treatments look alike and the scale is exact in 8 bits.

What ``func`` may be
--------------------
* ``func(image, kernel) -> image``: ``image`` is 2-D uint8 (``depth=8``) or
  uint16, ``kernel`` a 2-D float64 matrix; the result a 2-D (or H x W x C:
  the first channel is read) array of any real type.
* A PyTorch module or a Keras layer with a 2-D convolution's weights: its
  own first kernel (``weight[0, 0]``, ``kernel[:, :, 0, 0]``) is probed,
  fed float images of one channel.
* ``func(image) -> image`` with its own kernel: pass that kernel as
  ``kernel``. The kernel cannot be varied then, so the even-origin,
  kernel-use and halving tests are skipped and the border test uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.kernels.kernel import Kernel, symmetry
from flipconv.core.kernels.notation import matrix_spec
from flipconv.core.kernels.specs import parse_kernel_spec
from flipconv.core.peers.borders import (
    BORDER_SIDE,
    border_image,
    border_kernel,
    classify_border,
    tent_origin,
    tolerance,
)
from flipconv.core.peers.impulses import (
    DEFAULT_KERNEL,
    DESCRIBE,
    EVEN_KERNEL,
    ORIENTATIONS,
    Fit,
    InconsistentToolError,
    ProbeError,
    even_convention,
    fit_impulse,
    negatives,
)
from flipconv.core.peers.measuring import measure_kernel
from flipconv.core.peers.report import ProbeReport
from flipconv.core.peers.reproduce import reproduce
from flipconv.core.peers.tool import Tool, adapt

__all__ = ["ORIENTATIONS", "Filter", "ProbeError", "ProbeReport", "probe"]

Filter = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: The least peak, in 8-bit levels (16-bit ones in proportion), of an integer tool's
#: impulse response that fixes its scale: a rounding of half a level is at most 3% of it.
PEAK_LEVELS = 16


# ---------------------------------------------------------------- the steps


def _impulse(tool: Tool, kernel: np.ndarray, size: int, dtype: np.dtype, full: float) -> Fit:
    at = (size // 2, size // 2) if kernel.shape[0] > 1 else (0, size // 2)
    rows = size if kernel.shape[0] > 1 else 1
    fits: list[tuple[bool, Fit]] = []
    positives = int((kernel > 0).sum())
    # 1 suits tools that use the weights as given, full scale those that divide
    # by the sum; other scales need something between. Smallest first, so that the
    # output stays in the input's range (G'MIC writes 16 bits once it leaves it),
    # skipping ahead to where a response's peak would stand clear of the rounding.
    amplitudes = [float(2**i) for i in range(16) if 2**i < full] + [full]
    least, peak = 0.0, PEAK_LEVELS * full / 255.0  # 16 of 255; 4112 of 65535
    for amplitude in amplitudes:
        if amplitude < least and amplitude != full:
            continue
        image = np.zeros((rows, size), dtype=dtype)
        image[at] = amplitude
        out = tool(image, kernel)
        if out.shape != image.shape:
            raise ProbeError(
                f"the tool returned {out.shape[1]}x{out.shape[0]} for a "
                f"{size}x{rows} image; probe with a `size` larger than the kernel"
            )
        if np.count_nonzero(out) == 0:
            least = amplitude * 16  # a normalising tool rounds a weak impulse away
            continue
        least = amplitude * peak / max(float(np.abs(out).max()), 1e-9) / 2
        fit = fit_impulse(out, kernel, at, amplitude, full)
        whole = np.count_nonzero(out) >= positives and (tool.float_output or out.max() < full)
        # rounded to integers, a weak response says little of the scale (1.25 rounds
        # to 1: "scaled by 0.8"): the peak must stand well clear of the rounding
        clear = tool.float_output or out.max() >= peak or amplitude >= full
        good = whole and clear and fit.error <= tolerance(out)
        fits.append((bool(good), fit))
        if good:
            break
    if not fits:
        raise ProbeError("the impulse left nothing in the output, even at full intensity")
    usable = [f for good, f in fits if good] or [f for _, f in fits]
    return min(usable, key=lambda f: f.error / max(1.0, float(np.abs(f.response).max())))


def _at(fit: Fit) -> tuple[int, int]:
    rows, cols = fit.response.shape
    return (rows // 2, cols // 2) if rows > 1 else (0, cols // 2)


def _uses_kernel(tool: Tool, kernel: np.ndarray, fit: Fit, dtype: np.dtype) -> bool:
    """False when a rotated kernel (not point-symmetric) gives the very same response."""
    if np.array_equal(kernel, kernel[::-1, ::-1]):
        return True
    image = np.zeros(fit.response.shape, dtype=dtype)
    image[_at(fit)] = fit.amplitude
    return not np.array_equal(tool(image, kernel[::-1, ::-1]), fit.response)


def _normalised(
    tool: Tool, kernel: np.ndarray, fit: Fit, dtype: np.dtype, full: float
) -> bool | None:
    """Whether the tool divides by the kernel's sum: halving the kernel changes nothing.

    The impulse is doubled with the halved kernel where it can be, so that a
    tool using the weights as given writes the very same samples (nothing
    new to round) and a normalising one twice as much.
    """
    amplitude = fit.amplitude * 2 if fit.amplitude * 2 <= full else fit.amplitude
    image = np.zeros(fit.response.shape, dtype=dtype)
    image[_at(fit)] = amplitude
    try:
        half = fit_impulse(tool(image, kernel / 2), kernel, _at(fit), amplitude, full)
    except InconsistentToolError:
        raise
    except ProbeError:
        return None
    ratio = half.scale / fit.scale if fit.scale else 0.0
    if abs(ratio - 1.0) < 0.1:
        return True
    if abs(ratio - 0.5) < 0.1:
        return False
    return None


_NORMALISATION = {
    True: "divided by the kernel sum",
    False: "none: the weights are used as given",
    None: "unknown",
}


def _description(orientation: str, given_used: bool, source: str) -> str:
    if source == "measured":
        why = "ignores the kernel it is given and" if not given_used else ""
        return f"{why} holds its own kernel, measured from its impulse response".strip()
    return DESCRIBE[orientation]


def _unclear(fit: Fit) -> bool:
    """Whether an impulse response does not match the kernel under any treatment."""
    peak = max(float(np.abs(fit.response).max()), tolerance(fit.response))
    return fit.error > 0.1 * peak


#: How far a float tool's scale may sit from 1 or 1/full and be taken for it:
#: a float32 layer's sums measure its factor 1 as 1 +- 1e-7.
SCALE_SNAP = 1e-6


def _snapped(factor: float, full: float) -> float:
    """The measured scale, 1 or ``1/full`` where it is that to float32 precision."""
    if abs(factor - 1.0) <= SCALE_SNAP:
        return 1.0
    if abs(factor * full - 1.0) <= SCALE_SNAP:
        return 1.0 / full
    return factor


def _units(factor: float, full: float) -> str:
    if abs(factor - 1.0) <= 0.02:
        return "the input's"
    if abs(factor * full - 1.0) <= 0.02:
        return f"0..1: the input's divided by {full:g} (full scale)"
    return f"scaled by {factor:.4g}"


def _border(
    tool: Tool, values: np.ndarray, fit: Fit, factor: float, normalised: bool, dtype: np.dtype
) -> tuple[str, list[str]]:
    """The border rule, tested with a tent placed as the tool placed the kernel's origin."""
    row_only = values.shape[0] == 1
    if tool.own is not None:  # the tool's kernel is fixed: test the border with it
        tent_values = values
    else:
        tent_values = border_kernel(BORDER_SIDE, rows=1 if row_only else None)
    operation = "convolve" if fit.orientation.endswith("convolution") else "correlate"
    origin = tent_origin(fit.origin, values.shape, tent_values.shape)
    tent = Kernel(tent_values, origin)
    edges = border_image(21, fit.amplitude, dtype, rows=1 if row_only else None)
    out = tool(edges, tent_values)
    if tool.cropped:  # this call, or the impulse's, returned only the valid part
        return "valid (no border: the output is cropped by the kernel)", ["valid"]
    total = float(tent_values.sum())
    scale = factor / total if normalised and total else factor
    finish = None
    if not tool.float_output and (tent_values < 0).any():
        full = float(np.iinfo(dtype).max)
        seen = negatives(fit, values, _at(fit), full)
        magnitude = seen.startswith("absolute")

        def finish(model: np.ndarray) -> np.ndarray:  # as the tool writes its samples
            return np.clip(np.rint(np.abs(model) if magnitude else model), 0, full)

    return classify_border(out, edges.astype(np.float64), tent, operation, scale, finish)


@dataclass
class _Session:
    """One probe: the tool, the images' size and sample type, and the notes so far."""

    tool: Tool
    size: int
    dtype: np.dtype
    full: float
    notes: list[str]

    def impulse(self, values: np.ndarray) -> Fit:
        return _impulse(self.tool, values, self.size, self.dtype, self.full)

    def measure(self) -> Kernel:
        return measure_kernel(self.tool, self.size, self.dtype, self.full, self.notes)


@dataclass
class _Found:
    """The kernel the probe settled on, where it came from, and its impulse fit."""

    kernel: Kernel
    source: str
    fit: Fit
    uses: bool  # the sums follow the kernel (given, the tool's own, or measured)
    given_used: bool  # the tool uses the kernel it is handed
    fixed: bool  # the kernel is the tool's own: it cannot be varied


def probe(
    func: Callable[..., Any],
    kernel: Kernel | str | None = None,
    *,
    size: int = 11,
    even: bool = False,
    depth: int = 8,
    check: bool = True,
    pair: tuple[int, int] = (0, 0),
) -> ProbeReport:
    """Probe a filter: ``func(image, kernel_matrix) -> image``, a layer, or ``func(image)``.

    See the module docstring for what ``func`` may be and what is measured.
    ``check`` runs the reproduction against the tool on a random image.
    ``pair`` picks a layer's kernel: output channel, input channel.

    Examples
    --------
    >>> import scipy.ndimage as ndi
    >>> probe(lambda im, k: ndi.correlate(im.astype(float), k)).orientation
    'correlation'
    >>> probe(lambda im, k: ndi.convolve(im.astype(float), k, mode="wrap")).border
    'wrap (the image tiles)'
    """
    if depth not in (8, 16):
        raise OptionError(f"`depth` must be 8 or 16, not {depth}")
    dtype = np.dtype(np.uint8 if depth == 8 else np.uint16)
    tool = adapt(func, pair)
    session = _Session(tool, size, dtype, 255.0 if depth == 8 else 65535.0, list(tool.notes))
    _find_bias(session, kernel)
    k, source = _kernel_to_probe(session, kernel)
    found = _settle(session, k, source)
    values = found.kernel.values
    normalised = _normalisation(session, found)
    total = float(values.sum())
    factor = _snapped(found.fit.scale * total if normalised and total else found.fit.scale,
                      session.full)  # fmt: skip
    even_found = _even_origin(session, found) if even else (None, None, None)
    border, candidates = _border_rule(session, found, factor, bool(normalised))
    report = _report(session, found, normalised, factor, even_found, border, candidates)
    if check and found.uses and report.orientation != "unknown":
        report.reproduction = reproduce(report, session.tool, found.kernel, dtype, size)
        _held_to_its_check(report)
    report.runs = session.tool.runs
    return report


#: Largest difference, in the probe images' levels, a reproduction may show and the
#: verdict still be called exact: the 8-bit tools that truncate are one level off.
CHECK_LEVELS = 1.0


def _held_to_its_check(report: ProbeReport) -> None:
    """A verdict never claims more than its check shows: where the reproduction
    (every convention matched) differs from the tool by more than
    :data:`CHECK_LEVELS`, it is not exact."""
    checked = report.reproduction
    if checked is None or checked.max_difference is None or checked.unmatched:
        return  # (with conventions flipconv has no setting for, it is not a reproduction)
    if checked.max_difference > CHECK_LEVELS:
        report.exact = False
        report.max_error = max(report.max_error, checked.max_difference)
        report.notes.append(
            f"the reproduction differs from the tool by up to {checked.max_difference:g}: "
            "this verdict does not explain every sample"
        )


def _find_bias(session: _Session, kernel: Kernel | str | None) -> None:
    """A constant the tool adds to every output (a layer's bias), taken off from here on."""
    tool = session.tool
    if tool.own is not None:
        values = tool.own
    elif isinstance(kernel, Kernel):
        values = kernel.values
    else:
        values = parse_kernel_spec(kernel or DEFAULT_KERNEL).values
    rows = session.size if values.shape[0] > 1 else 1
    offset = tool.find_offset(np.zeros((rows, session.size), session.dtype), values)
    if offset:
        session.notes.append(
            f"the tool adds {offset:.9g} to every output (a bias: a black image gives it "
            "everywhere); it is taken off before measuring, and reproduced by --bias"
        )


def _kernel_to_probe(session: _Session, kernel: Kernel | str | None) -> tuple[Kernel, str]:
    """The kernel to probe with, and where it comes from (see ``ProbeReport.kernel_source``)."""
    tool = session.tool
    if tool.own is not None:
        if kernel is not None:
            raise OptionError("this layer probes its own weights; give no `kernel`")
        centre = (tool.own.shape[0] // 2, tool.own.shape[1] // 2)
        return Kernel(tool.own, centre, matrix_spec(tool.own)), "the tool's own"
    if tool.image_only:
        if kernel is None:
            k, source = session.measure(), "measured"
        else:
            k = kernel if isinstance(kernel, Kernel) else parse_kernel_spec(kernel)
            source = "the tool's own, as given"
        tool.own = k.values
        return k, source
    k = kernel if isinstance(kernel, Kernel) else parse_kernel_spec(kernel or DEFAULT_KERNEL)
    return k, "given"


def _settle(session: _Session, k: Kernel, source: str) -> _Found:
    """The first impulse, and the kernel measured instead where the tool does not use
    the one it is given, or holds one that is not the given one turned."""
    values = k.values
    if session.size < 2 * max(values.shape) + 1:
        raise OptionError(
            f"`size` {session.size} is too small for a {values.shape[0]}x{values.shape[1]} "
            f"kernel; use at least {2 * max(values.shape) + 1}"
        )
    fit = session.impulse(values)
    fixed = session.tool.own is not None
    uses = True if fixed else _uses_kernel(session.tool, values, fit, session.dtype)
    given_used = uses
    if not uses:
        # the tool holds a kernel of its own (a trained layer, a matrix in its
        # command line): measure it and go on with that
        session.notes.append(
            "the tool does not use the kernel it is given (a rotated kernel gave the very "
            "same output): its own kernel, measured from the impulse response, is reported"
        )
        k, source = session.measure(), "measured"
    elif source == "the tool's own, as given" and _unclear(fit):
        measured = session.measure()
        session.notes.append(
            f"the tool's kernel is not {k.spec} as written, rotated, mirrored or transposed; "
            f"measured from its impulse response, as correlate uses it, it is {measured.spec}"
        )
        k, source = measured, "measured"
    if source == "measured":
        session.tool.own = k.values
        fit = session.impulse(k.values)
        fixed = uses = True
    return _Found(k, source, fit, uses, given_used, fixed)


def _normalisation(session: _Session, found: _Found) -> bool | None:
    """Whether the tool divides by the kernel's sum (None: cannot tell)."""
    values, fit = found.kernel.values, found.fit
    if found.source == "measured":
        session.notes.append(
            "the kernel is the tool's own, measured: its weights include any scaling"
        )
        return False
    if found.fixed:
        total = float(values.sum())
        session.notes.append(
            "the kernel is the tool's own: normalisation assumed from the scale alone"
        )
        return total != 0 and abs(fit.scale * total - 1.0) <= 0.02
    if not found.uses:
        return None
    return _normalised(session.tool, values, fit, session.dtype, session.full)


def _even_origin(
    session: _Session, found: _Found
) -> tuple[list[int] | None, str | None, str | None]:
    """Where a 2x2 (or 1x2) kernel's origin lands: the index, the label, the rule."""
    if found.fixed:
        session.notes.append("the even origin needs a kernel of the probe's choosing: not tested")
        return None, None, None
    if not found.uses:
        return None, None, None
    values = found.kernel.values
    even_k = parse_kernel_spec("1,2" if values.shape[0] == 1 else EVEN_KERNEL).values
    try:
        even_fit = session.impulse(even_k)
    except InconsistentToolError:
        raise
    except ProbeError as exc:  # GraphicsMagick and Pillow, for two, refuse even kernels
        return None, f"refused: {exc}", None
    rule, label = even_convention(even_fit.origin, even_k.shape)
    if even_fit.orientation != found.fit.orientation:
        session.notes.append(f"the even kernel looked like {even_fit.orientation}")
    return list(even_fit.origin), label, rule


def _border_rule(
    session: _Session, found: _Found, factor: float, normalised: bool
) -> tuple[str, list[str]]:
    """The border rule that explains the edges, and every rule that fits equally."""
    try:
        border, candidates = _border(session.tool, found.kernel.values, found.fit, factor,
                                     normalised, session.dtype)  # fmt: skip
    except InconsistentToolError:
        raise
    except ProbeError as exc:
        return f"unknown ({exc})", []
    if len(candidates) > 1:
        session.notes.append("border rules that fit equally: " + ", ".join(candidates))
    return border, candidates


def _report(
    session: _Session,
    found: _Found,
    normalised: bool | None,
    factor: float,
    even_found: tuple[list[int] | None, str | None, str | None],
    border: str,
    candidates: list[str],
) -> ProbeReport:
    """The verdict as plain data."""
    fit, k, values = found.fit, found.kernel, found.kernel.values
    tol = tolerance(fit.response)
    peak = max(float(np.abs(fit.response).max()), tol)
    orientation = fit.orientation if fit.error <= 0.1 * peak and found.uses else "unknown"
    if fit.ties and symmetry(k) != "asymmetric":
        session.notes.append(
            f"{symmetry(k)} kernels cannot tell these apart; probe with an asymmetric one"
        )
    even_origin, even_label, even_rule = even_found
    return ProbeReport(
        kernel=values.tolist(),
        orientation=orientation,
        description=_description(fit.orientation, found.given_used, found.source),
        exact=fit.error <= tol and found.uses,
        max_error=fit.error,
        ties=fit.ties,
        normalization=_NORMALISATION[normalised],
        units=_units(factor, session.full) if found.uses else "unknown",
        scale=factor,
        uses_kernel=found.given_used,
        origin=list(fit.origin),
        even_origin=even_origin,
        even_convention=even_label,
        even_rule=even_rule,
        border=border,
        border_candidates=candidates,
        negatives=negatives(fit, values, _at(fit), session.full),
        response=fit.response.tolist(),
        impulse_value=fit.amplitude,
        impulse_at=list(_at(fit)),
        float_output=session.tool.float_output,
        runs=0,
        bias=session.tool.offset,
        notes=session.notes,
        kernel_source=found.source,
    )
