"""Other tools' conventions as flipconv settings: ``--like NAME``, and the probe's reproduction.

A tool's "convolve" is known by a handful of conventions (see
:mod:`flipconv.core.peers.probing`): which way it turns the kernel, where an even
kernel's origin lands, how it treats the border, whether it divides by the
kernel's sum, and what it does with results out of range. A
:class:`Conventions` holds them as flipconv settings; :data:`PRESETS` names
the conventions of the tools measured with ``flipconv probe``.

The preset sets the conventions, the command the orientation: ``flipconv
convolve --like torch`` still convolves, with PyTorch's border and origin.

This module is free of numpy at import time, so listing the presets stays
instant.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import (
    Arithmetic,
    FilterMode,
    Operation,
    RoundingRule,
    format_number,
)

#: Where an even-sized kernel's origin lands: ``down-right`` is ``shape // 2``
#: (scipy.ndimage, OpenCV, libvips, flipconv's default), ``up-left`` is
#: ``(shape - 1) // 2`` (ImageMagick, scipy.signal, PyTorch, TensorFlow, JAX).
#: Both are the centre of an odd size.
OriginRule = Literal["down-right", "up-left"]
#: What the tool does itself: one orientation, both under two names, or
#: (Pillow) correlation with the kernel's rows reversed first.
ToolOperation = Literal["convolve", "correlate", "both", "mirrored-top-bottom"]


@dataclass(frozen=True)
class Conventions:
    """A tool's conventions as flipconv settings.

    ``origin`` is the rule for the kernel as given (flipconv rotates about
    that origin to convolve); ``None`` for a tool that refuses even kernels.
    ``scale`` multiplies the result (``1/255`` for a tool writing 0..1
    floats from 8-bit samples is expressed by ``dtype`` instead).
    ``unmatched`` lists what flipconv has no setting for.
    """

    operation: ToolOperation
    origin: OriginRule | None = "down-right"
    mode: FilterMode = "reflect"
    cval: float = 0.0
    normalize: bool = False
    scale: float = 1.0
    out_range: Literal["clip", "abs"] = "clip"
    dtype: str | None = None
    unmatched: tuple[str, ...] = ()
    bias: float = 0.0
    rounding: RoundingRule = "nearest"
    #: Pillow reads a kernel's rows bottom to top: the preset reverses them.
    mirror_rows: bool = False
    arithmetic: Arithmetic = "float64"

    def arguments(self, operation: Operation | None = None) -> list[str]:
        """The flipconv command-line options for these conventions (defaults left out).

        >>> Conventions("correlate", "up-left", "constant").arguments()
        ['correlate', '--origin', 'up-left', '--mode', 'constant']
        """
        op = operation or (
            self.operation if self.operation in ("convolve", "correlate") else "correlate"
        )
        args: list[str] = [op]
        if self.origin == "up-left":
            args += ["--origin", "up-left"]
        if self.mode != "reflect":
            args += ["--mode", self.mode]
        if self.mode == "constant" and self.cval != 0:
            args += ["--cval", format_number(self.cval)]
        if self.normalize:
            args.append("--normalize")
        if self.scale != 1.0:
            args += ["--scale", format_number(self.scale)]
        if self.bias != 0.0:
            args += ["--bias", format_number(self.bias)]
        if self.out_range != "clip":
            args += ["--out-range", self.out_range]
        if self.dtype:
            args += ["--dtype", self.dtype]
        return args + self._sums()

    def _sums(self) -> list[str]:
        """The options for how sums are taken and rounded, where not flipconv's own."""
        args = ["--rounding", self.rounding] if self.rounding != "nearest" else []
        if self.arithmetic != "float64":
            args += ["--arithmetic", self.arithmetic]
        return args

    def settings(self) -> dict[str, Any]:
        """The :class:`flipconv.core.files.pipeline.Settings` fields these conventions set."""
        return {
            "mode": self.mode,
            "cval": self.cval,
            "normalize": self.normalize,
            "scale": self.scale,
            "bias": self.bias,
            "out_range": self.out_range,
            "rounding": self.rounding,
            "arithmetic": self.arithmetic,
        }


@dataclass(frozen=True)
class Preset:
    """A named tool's conventions, the call they describe, and what differs."""

    name: str
    call: str
    conventions: Conventions
    notes: tuple[str, ...] = field(default=())

    def check_kernel(self, kernel: Any) -> None:
        """Refuse (:class:`OptionError`) an even-sized kernel for a tool that takes odd sizes only.

        ``kernel`` is a Kernel or a Stack (each of its kernels is checked).
        """
        if self.conventions.origin is not None:
            return
        for k in getattr(kernel, "kernels", (kernel,)):
            if any(side % 2 == 0 for side in k.shape):
                raise OptionError(
                    f"{self.name} takes odd-sized kernels only; {k.spec} is "
                    f"{k.shape[0]}x{k.shape[1]}"
                )

    def check_normalize(self, kernel: Any) -> None:
        """Refuse (:class:`OptionError`) a kernel summing to 0 for a tool that normalises.

        Such a tool divides by the kernel's sum, which is 0 for edge and
        Laplacian kernels: say that the preset asked for it and how to keep
        the weights as they are.
        """
        if not self.conventions.normalize:
            return
        for k in getattr(kernel, "kernels", (kernel,)):
            total, size = float(k.values.sum()), float(abs(k.values).sum())
            if abs(total) <= 1e-12 * size:
                raise OptionError(
                    f"{self.name} divides the kernel by its sum, and {k.spec} sums to 0; "
                    "`no_normalize` keeps its weights as they are"
                )

    def apply(
        self,
        options: Mapping[str, Any],
        explicit: Collection[str],
        kernels: Sequence[Any],
        operation: Operation,
    ) -> tuple[dict[str, Any], list[str]]:
        """``options`` with this tool's conventions wherever one was not given explicitly.

        ``explicit`` names the options the user gave (they win); ``kernels``
        are checked against the conventions that apply (odd sizes, a sum to
        divide by). Returns the merged options and the notes to show.

        >>> merged, notes = PRESETS["torch"].apply(
        ...     {"mode": "reflect", "origin": None}, {"mode"}, [], "correlate")
        >>> merged["mode"], merged["origin"], notes
        ('reflect', 'up-left', [])

        Raises
        ------
        OptionError
            For a kernel the tool would refuse, or one it would divide by 0.
        """
        wanted = {**self.conventions.settings(), "origin": self.conventions.origin}
        merged = dict(options)
        merged.update(
            {
                name: value
                for name, value in wanted.items()
                if name not in explicit and value is not None
            }
        )
        for kernel in kernels:
            if merged.get("origin") is None and not self._computed_own_way(kernel):
                self.check_kernel(kernel)
            if "normalize" not in explicit:
                self.check_normalize(kernel)
        from flipconv.core.peers import tool_blurs

        notes = tool_blurs.own_blurs(self.name, self.conventions.arithmetic, merged, explicit,
                                     kernels)  # fmt: skip
        if self.conventions.mirror_rows and "kernel" in merged:
            merged["kernel"] = tuple(tool_blurs.rows_reversed(k) for k in merged["kernel"])
        note = orientation_note(self, operation)
        return merged, [*notes, note] if note else notes

    def _computed_own_way(self, kernel: Any) -> bool:
        from flipconv.core.peers.tool_blurs import computed_own_way

        return computed_own_way(self.conventions.arithmetic, kernel)

    def to_json(self) -> dict[str, Any]:
        """The preset as ``flipconv presets --json`` prints it."""
        c = self.conventions
        return {
            "name": self.name,
            "call": self.call,
            "operation": c.operation,
            "even_origin": c.origin or "refused (odd sizes only)",
            "mode": c.mode,
            "cval": c.cval,
            "normalize": c.normalize,
            "negatives": {"clip": "clipped", "abs": "absolute value"}[c.out_range],
            "arguments": c.arguments()[1:],
            "notes": list(self.notes),
        }


def _p(name: str, call: str, *args: Any, notes: tuple[str, ...] = (), **kw: Any) -> Preset:
    return Preset(name, call, Conventions(*args, **kw), notes)


_FLOAT = "the tool computes in floating point: a float image is reproduced to float64 rounding"
_BYTE_ROUNDING = "8-bit results are rounded to nearest here, as the tool does"

#: Measured with ``flipconv probe --even`` (commands in docs/probe.md) and
#: checked by tests/test_presets.py against each tool where it is installed.
PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in [
        _p(
            "scipy",
            "scipy.ndimage.correlate / convolve(image, weights)",
            "both",
            "down-right",
            "reflect",
            arithmetic="scipy",
            notes=(
                _FLOAT,
                "scipy casts an 8-bit array's sums back into 8 bits by truncation (and wraps "
                "negatives); flipconv rounds and clips, except -k gaussian:S, which is "
                "gaussian_filter(img, (S, S, 0))'s bytes, truncated after each axis",
            ),
        ),
        _p(
            "scipy-signal",
            "scipy.signal.correlate2d / convolve2d(image, k, mode='same', boundary='fill')",
            "both",
            "up-left",
            "constant",
            notes=(_FLOAT, "boundary='symm' is --mode reflect, 'wrap' is --mode wrap"),
        ),
        _p(
            "opencv",
            "cv2.filter2D(image, -1, kernel)",
            "correlate",
            "down-right",
            "mirror",
            notes=(_BYTE_ROUNDING, "an anchor=(x, y) is --origin y,x"),
        ),
        _p(
            "torch",
            "torch.nn.functional.conv2d(x, w, padding='same')",
            "correlate",
            "up-left",
            "constant",
            notes=(_FLOAT,),
        ),
        _p(
            "tensorflow",
            "tf.nn.conv2d(x, w, strides=1, padding='SAME')",
            "correlate",
            "up-left",
            "constant",
            notes=(_FLOAT,),
        ),
        _p(
            "jax",
            "jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME')",
            "correlate",
            "up-left",
            "constant",
            notes=(_FLOAT, "jax.scipy.signal.convolve2d(mode='same') is --like scipy-signal"),
        ),
        _p(
            "pillow",
            "PIL.ImageFilter.Kernel(size, weights) (3x3 and 5x5 only)",
            "mirrored-top-bottom",
            None,
            "unfiltered",
            normalize=True,
            rounding="half-up",
            mirror_rows=True,
            arithmetic="pillow",
            notes=(
                "Pillow reads the kernel's first row over the row below: the preset reverses "
                "the rows, so -k is the list Pillow is given",
                "Pillow sums in float32 and rounds half up: --arithmetic pillow does too",
            ),
        ),
        _p(
            "imagemagick",
            "convert IN -convolve K OUT",
            "correlate",
            "up-left",
            "nearest",
            normalize=True,
            rounding="q16",
            notes=(
                "ImageMagick 6 (Q16) keeps a 16-bit quantum and writes its top byte: "
                "--rounding q16",
            ),
        ),
        _p(
            "imagemagick-morphology",
            "convert IN -morphology Convolve 'WxH: K' OUT",
            "convolve",
            "up-left",
            "nearest",
            rounding="q16",
            notes=(
                "ImageMagick 6 (Q16) keeps a 16-bit quantum and writes its top byte: "
                "--rounding q16",
            ),
        ),
        _p(
            "graphicsmagick",
            "gm convert IN -convolve K OUT",
            "correlate",
            None,
            "nearest",
            normalize=True,
            rounding="truncate",
        ),
        _p(
            "vips",
            "vips conv IN OUT K.mat",
            "correlate",
            "down-right",
            "nearest",
            rounding="truncate",
            arithmetic="vips",
            notes=("-k gaussian:S is vips gaussblur IN OUT S (libvips 8.14's arithmetic)",),
        ),
        _p(
            "gmic",
            "gmic IN '(K)' convolve[0] [1] keep[0] o OUT",
            "convolve",
            "up-left",
            "nearest",
            rounding="truncate",
            notes=("G'MIC lets negative 8-bit results wrap around: flipconv clips them",),
        ),
        _p(
            "netpbm",
            "pnmconvol -matrix=K IN > OUT",
            "correlate",
            None,
            "unfiltered",
        ),
    ]
}


_ALIASES = {
    "pytorch": "torch",
    "tf": "tensorflow",
    "cv2": "opencv",
    "pil": "pillow",
    "gm": "graphicsmagick",
    "im": "imagemagick",
    "libvips": "vips",
    "scipy.ndimage": "scipy",
    "scipy.signal": "scipy-signal",
    "pnmconvol": "netpbm",
}


def lookup_preset(name: str) -> Preset:
    """The preset called ``name``, or :class:`OptionError` with the list."""
    key = name.strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        import difflib

        close = difflib.get_close_matches(key, list(PRESETS), n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise OptionError(
            f"no preset {name!r}{hint} (one of {', '.join(PRESETS)}; see 'flipconv presets')"
        )
    return PRESETS[key]


def orientation_note(preset: Preset, operation: Operation) -> str | None:
    """One line when the command turns the kernel the other way from the tool."""
    tool = preset.conventions.operation
    if tool in ("both", operation):
        return None
    if tool == "mirrored-top-bottom":
        if operation == "correlate":
            return None  # the preset reverses the rows itself: this is the tool's call
        return (
            f"{preset.name} reverses the kernel's rows, then correlates; this reverses "
            f"them and convolves ('flipconv correlate --like {preset.name}' is the tool's call)"
        )
    does = "convolves" if tool == "convolve" else "correlates"
    return (
        f"{preset.name} {does}; this {operation}s with its conventions (use "
        f"'flipconv {tool} --like {preset.name}' for what {preset.name} itself gives)"
    )
