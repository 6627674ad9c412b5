"""Which route an image takes through the engine, and why: :func:`choose_route`.

Every route gives the float64 route's bytes; they differ in speed and
memory. The choice is made here alone, before any work starts, from the
image's shape and sample type, the kernel and the settings (as scipy.signal's
``choose_conv_method`` chooses before it convolves):

``pillow``
    ``arithmetic='pillow'`` on 8 bits: Pillow's own sums (:mod:`~flipconv.core.engine.pillow_sums`).
``vips``
    ``arithmetic='vips'`` and ``gaussian:S`` on 8 bits: libvips' own
    ``gaussblur`` (:mod:`~flipconv.core.engine.vips_sums`).
``tiles``
    a dask array, or a file read by region: blocks with halos
    (:mod:`~flipconv.core.engine.tiled`), each block asking this function
    for its own route (certified or float64).
``int16``
    8 bits in and out, an integer kernel whose 8-bit sums fit int16: OpenCV's
    exact integer sums (:mod:`~flipconv.core.engine.exact8`).
``rational``
    8 bits in and out, plain settings, integer weights over one divisor
    (boxes, ``.mat`` masks with a scale) whose divisor leaves no tie to
    float64's last bit: exact int16 sums (:mod:`~flipconv.core.engine.rational`).
``certified``
    8 bits in and out, plain settings, a kernel whose float32 error the
    bound certifies cheaply: float32 sums, the doubtful samples summed again
    in float64 (:mod:`~flipconv.core.engine.certified`).
``float64``
    everything else (:mod:`~flipconv.core.engine.routes`).

>>> import numpy as np
>>> from flipconv.core.engine.settings import FilterSettings
>>> from flipconv.core.kernels.specs import parse_kernel_spec
>>> choose_route((480, 640, 3), np.uint8, parse_kernel_spec("sobel-x"),
...              FilterSettings("correlate")).name
'int16'
>>> route = choose_route((480, 640), np.uint8, parse_kernel_spec("gaussian:2"),
...                      FilterSettings("convolve", scale=2.0))
>>> route.name, route.reason
('float64', 'a scale or bias: the fast 8-bit routes take plain sums only')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from flipconv.core.engine.certified import plan_certified
from flipconv.core.engine.opencv_backend import int16_refusal
from flipconv.core.engine.planner import Plan, has_opencv
from flipconv.core.engine.rational import rational_form
from flipconv.core.engine.scipy_backend import scipy_own_blur
from flipconv.core.engine.settings import FilterSettings
from flipconv.core.engine.vips_sums import own_blur as vips_own_blur
from flipconv.core.kernels.kernel import Filterable, Kernel

RouteName = Literal["pillow", "vips", "scipy", "tiles", "int16", "rational", "certified", "float64"]

#: How ``engine=`` and ``--json`` have named each route.
LABELS: dict[str, str] = {
    "pillow": "pillow arithmetic",
    "vips": "libvips gaussblur",
    "scipy": "scipy gaussian_filter",
    "tiles": "tiles",
    "int16": "int16 exact sums",
    "rational": "rational, exact integer sums",
    "certified": "float32, certified",
    "float64": "float64",
}


@dataclass(frozen=True)
class Route:
    """The route chosen, the reason in one line, the float64 plan the certified and
    rational routes follow, and the rational route's integer weights and divisor."""

    name: RouteName
    reason: str
    plan: Plan | None = None
    rational: tuple[np.ndarray, int] | None = None

    @property
    def label(self) -> str:
        """The route as ``engine=`` and ``--json`` name it."""
        return LABELS[self.name]


def choose_route(
    shape: tuple[int, ...],
    in_dtype: Any,
    kernel: Filterable,
    settings: FilterSettings,
    *,
    lazy: bool = False,
    alpha: str | None = None,
) -> Route:
    """The route an image of ``shape`` and ``in_dtype`` takes with ``kernel`` and ``settings``.

    ``kernel`` is the one filtered with (normalised already where asked);
    ``lazy``: the image is a dask array or read by region. ``alpha`` is the
    alpha policy as decided for this image (``auto`` resolved; default
    ``settings.alpha``). The settings' ``scale`` and ``bias`` are the
    finishing step's. See the module's text for the routes.
    """
    s = settings
    in_type = np.dtype(in_dtype)
    out_type = np.dtype(s.dtype) if s.dtype is not None else in_type
    tools = _tools_own(in_type, kernel, s)
    if tools is not None:
        return tools
    if lazy:
        return Route("tiles", "a dask array or a file read by region: blocks with halos")
    why_not = _fast_8bit_refusal(shape, in_type, out_type, kernel, s, alpha or s.alpha)
    if why_not is not None:
        return Route("float64", why_not)
    assert isinstance(kernel, Kernel)
    used = kernel.reflected() if s.operation == "convolve" else kernel
    int16 = _int16_refusal(used, shape, s)
    if int16 is None:
        return Route("int16", "8 bits and integer weights: exact sums in int16")
    if s.method != "auto":
        return Route("float64", f"method {s.method!r} asked for; {int16}")
    if len(shape) == 3 and shape[2] > 4:
        return Route("float64", "more than four channels: OpenCV takes at most four at once")
    if s.mode == "wrap" or (s.mode == "constant" and s.cval != 0):
        return Route("float64", f"{int16}; mode {s.mode} is not an OpenCV border")
    rational = _rational(used, shape)
    if rational is not None:
        return rational
    plan = plan_certified(used, (shape[0], shape[1]))
    if plan is None:
        return Route("float64", f"{int16}; float32 sums would need too much summing again")
    return Route("certified", "8 bits: float32 sums, certified, doubtful ones summed again", plan)


def _tools_own(in_type: np.dtype, kernel: Filterable, s: FilterSettings) -> Route | None:
    """A tool's own arithmetic (``arithmetic=``), where it takes this image and kernel."""
    if in_type != np.uint8 or s.arithmetic == "float64":
        return None
    if s.arithmetic == "pillow":
        return Route("pillow", "arithmetic='pillow' on 8 bits: Pillow's own sums")
    if s.arithmetic == "vips" and isinstance(kernel, Kernel) and vips_own_blur(kernel):
        return Route("vips", "arithmetic='vips' and gaussian:S on 8 bits: its gaussblur")
    if s.arithmetic == "scipy" and isinstance(kernel, Kernel) and scipy_own_blur(kernel):
        return Route("scipy", "arithmetic='scipy' and gaussian:S on 8 bits: gaussian_filter")
    return None


def _rational(used: Kernel, shape: tuple[int, ...]) -> Route | None:
    """The rational route, where the weights are small integers over one divisor that
    leaves no tie to the float64 route's last bit (:func:`rational_form`)."""
    form = rational_form(used)
    if form is None:
        return None
    rows, cols = used.reach()
    if max(rows) >= shape[0] or max(cols) >= shape[1]:
        return None
    reason = f"8 bits, small integer weights over {form[1]}: exact int16 sums"
    return Route("rational", reason, None, form)


def _fast_8bit_refusal(
    shape: tuple[int, ...],
    in_type: np.dtype,
    out_type: np.dtype,
    kernel: Filterable,
    s: FilterSettings,
    alpha: str,
) -> str | None:
    """Why neither 8-bit route applies, or None where one may."""
    if not isinstance(kernel, Kernel):
        return "a chain or a combination of kernels"
    if s.mode == "unfiltered":
        return "mode unfiltered needs the image's edge"
    if s.rounding != "nearest":
        return f"rounding {s.rounding}: the fast 8-bit routes round to nearest"
    if in_type != np.uint8 or out_type != np.uint8:
        return f"{in_type.name} to {out_type.name}: the fast routes are 8 bits in and out"
    if s.scale != 1.0 or s.bias != 0.0:
        return "a scale or bias: the fast 8-bit routes take plain sums only"
    if s.out_range not in ("clip", "abs"):
        return f"out_range {s.out_range} needs every sum first"
    if not has_opencv():
        return "OpenCV is not installed"
    if len(shape) == 3 and shape[2] in (2, 4) and alpha != "keep":
        return "colours weighted by alpha"
    return None


def _int16_refusal(used: Kernel, shape: tuple[int, ...], s: FilterSettings) -> str | None:
    """Why OpenCV's exact int16 sums do not apply to ``used`` (a correlation kernel), or None."""
    values = used.values
    if s.method not in ("auto", "direct"):
        return f"method {s.method!r}: int16 sums are direct"
    if s.mode == "constant" and s.cval != 0:
        return "a constant border other than 0"
    if s.mode == "wrap":
        return "OpenCV has no wrap border"
    if used.offset:
        return "the kernel carries an offset"
    weights = int16_refusal(values)
    if weights is not None:
        return weights
    rows, cols = used.reach()
    if max(rows) >= shape[0] or max(cols) >= shape[1]:
        return "a kernel reaching past the image"
    return None
