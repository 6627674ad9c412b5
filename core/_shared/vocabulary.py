"""The words every layer shares: border modes, operations, alpha policies, methods.

Free of numpy at import time, so the command line can build its choices and
check values from here without paying for the numeric stack.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar, cast

from flipconv.core._shared.errors import OptionError

Mode = Literal["reflect", "constant", "nearest", "mirror", "wrap"]
#: The border modes, and ``unfiltered``: pixels the kernel cannot cover keep their input.
FilterMode = Literal["reflect", "constant", "nearest", "mirror", "wrap", "unfiltered"]
Operation = Literal["convolve", "correlate"]
AlphaPolicy = Literal["auto", "keep", "filter"]
OutRange = Literal["clip", "abs", "rescale"]
Method = Literal["auto", "direct", "separable", "lowrank", "fft"]
Combine = Literal["magnitude", "sum", "max", "min"]
#: How a result becomes an integer sample: to nearest (ties to even), half up
#: (``floor(x + 0.5)``: Pillow), or truncated (``floor(x)`` of a result clipped
#: at 0: GraphicsMagick, libvips and G'MIC write 8 bits so), or ``q16``: ImageMagick
#: Q16's, the result rounded to a 16-bit quantum whose top byte is written,
#: ``floor(floor(257 x + 0.5) / 257)``, truncation but within 1/514 of a level.
RoundingRule = Literal["nearest", "half-up", "truncate", "q16"]

#: How each border mode extends ``a b c d`` beyond its last sample
#: (scipy.ndimage's names and meanings).
MODES: tuple[Mode, ...] = ("reflect", "constant", "nearest", "mirror", "wrap")
FILTER_MODES: tuple[FilterMode, ...] = (*MODES, "unfiltered")
OPERATIONS: tuple[Operation, ...] = ("convolve", "correlate")
ALPHA_POLICIES: tuple[AlphaPolicy, ...] = ("auto", "keep", "filter")
OUT_RANGES: tuple[OutRange, ...] = ("clip", "abs", "rescale")
METHODS: tuple[Method, ...] = ("auto", "direct", "separable", "lowrank", "fft")
ROUNDINGS: tuple[RoundingRule, ...] = ("nearest", "half-up", "truncate", "q16")
#: Whose sums: flipconv's float64, or a tool's own arithmetic reproduced to the byte.
Arithmetic = Literal["float64", "pillow", "vips", "scipy"]
ARITHMETICS: tuple[Arithmetic, ...] = ("float64", "pillow", "vips", "scipy")
#: How ``--combine`` joins the results of several kernels per pixel.
COMBINES: tuple[Combine, ...] = ("magnitude", "sum", "max", "min")
SAMPLE_TYPES: tuple[str, ...] = ("uint8", "uint16", "float32", "float64")
#: Image formats flipconv writes (:mod:`flipconv.core.io.formats` has the details).
WRITE_FORMATS: tuple[str, ...] = ("png", "jpeg", "tiff", "bmp", "pnm", "npy")
#: Notations ``kernels show --as`` writes (:func:`flipconv.core.kernels.specs.export_kernel`).
EXPORT_FORMATS: tuple[str, ...] = ("txt", "csv", "npy", "json", "imagemagick", "vips")
#: Formats of the probe's images (:mod:`flipconv.core.peers.probing`).
PROBE_FORMATS: tuple[str, ...] = ("png", "pgm", "tiff", "npy")

_T = TypeVar("_T", bound=str)


def check_choice(name: str, value: Any, choices: tuple[_T, ...]) -> _T:
    """``value`` if it is one of ``choices``, else :class:`OptionError` naming the parameter.

    >>> check_choice("mode", "wrap", MODES)
    'wrap'
    >>> check_choice("mode", "edge", MODES)
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.OptionError: mode 'edge' is not one of reflect, constant, ...
    """
    if value not in choices:
        raise OptionError(f"{name} {value!r} is not one of {', '.join(choices)}")
    return cast(_T, value)


def is_dask_array(obj: object) -> bool:
    """True for a ``dask.array.Array``, without importing Dask."""
    return type(obj).__module__.split(".")[0] == "dask" and hasattr(obj, "chunks")


def format_number(value: float | int | str | None) -> str:
    """A parameter value as flipconv prints it: numbers in their shortest exact form.

    >>> format_number(2.0), format_number(0.1), format_number(3), format_number(None)
    ('2', '0.1', '3', 'auto')
    >>> format_number("se")
    'se'
    """
    if value is None:
        return "auto"
    if isinstance(value, (int, str)):
        return str(value)
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def excerpt(text: str, limit: int = 60) -> str:
    """``text`` quoted and escaped for a one-line message, cut to about ``limit`` characters.

    >>> excerpt("1,2;4,8"), excerpt("9" * 400, 12)
    ("'1,2;4,8'", "'999999999...'")
    >>> excerpt("a\\nb")
    "'a\\\\nb'"
    """
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
