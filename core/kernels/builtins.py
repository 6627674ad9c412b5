"""The registry of built-in kernels.

This module is deliberately free of numpy at import time: the catalogue
(names, parameters, defaults, shape, symmetry, separability at the defaults)
is plain data, so ``flipconv kernels`` and shell completion stay instant.
Each builder imports numpy when it runs. ``tests/test_builtins.py`` checks
that the declared catalogue facts match the matrices the builders make.

Sign conventions (what a user can rely on):

* ``sobel-x``, ``scharr-x``, ``prewitt-x`` are positive on the right column,
  so **correlate** gives a positive response where brightness increases to the
  right (+x); **convolve** gives the negated response. ``*-y`` likewise for
  brightness increasing downwards (+row).
* ``shift:dx,dy`` moves image content by ``(dx, dy)`` (right, down) under
  **convolve**, and by ``(-dx, -dy)`` under correlate.
* ``motion:length,angle`` is a one-sided streak from the origin towards
  ``angle`` (degrees, counter-clockwise from +x, as seen on screen); convolve
  smears a bright point along ``angle``, correlate along the opposite way.
* ``emboss:direction`` has positive weights on the ``direction`` side, so
  correlate lights up edges whose bright side faces ``direction``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.limits import MAX_KERNEL_SIDE
from flipconv.core._shared.vocabulary import excerpt, format_number
from flipconv.core.kernels import builders

if TYPE_CHECKING:
    import numpy as np

    Factors = tuple[np.ndarray, np.ndarray] | None
    Built = tuple[np.ndarray, Factors]


Symmetry = str  # "symmetric" | "antisymmetric" | "asymmetric"


@dataclass(frozen=True)
class Param:
    """One parameter of a built-in kernel, with its type, default and rule."""

    name: str
    kind: type
    default: Any
    help: str
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    allow_none: bool = False

    def rule(self) -> str:
        """Describe the accepted values in words, for help and error messages."""
        if self.choices is not None:
            return "one of " + ", ".join(str(c) for c in self.choices)
        noun = "an integer" if self.kind is int else "a number"
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.exclusive_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        return noun + (" " + " and ".join(parts) if parts else "")

    def parse(self, text: str, *, kernel: str) -> Any:
        """Convert ``text`` to this parameter's type and check its rule.

        Raises
        ------
        KernelError
            Naming the kernel, the parameter, the bad value and the rule.
        """
        where = f"{kernel}: parameter {self.name}={excerpt(text)}"
        if self.allow_none and text.lower() in {"none", "auto"}:
            return None
        if self.kind is str:
            value: Any = text.lower()
        else:
            try:
                value = int(text, 10) if self.kind is int else float(text)
            except ValueError:
                raise KernelError(f"{where} is not {self.rule()}") from None
            if self.kind is float and not math.isfinite(value):
                raise KernelError(f"{where} is not a finite number")
        if self.choices is not None and value not in self.choices:
            raise KernelError(f"{where} must be {self.rule()}")
        if self.minimum is not None and (
            value < self.minimum or (self.exclusive_minimum and value == self.minimum)
        ):
            raise KernelError(f"{where} must be {self.rule()}")
        if self.maximum is not None and value > self.maximum:
            raise KernelError(f"{where} must be {self.rule()}")
        return value


@dataclass(frozen=True)
class Builtin:
    """A named kernel family: its parameters and facts at the defaults."""

    name: str
    summary: str
    params: tuple[Param, ...]
    build: Callable[..., Built]
    shape: tuple[int, int]
    symmetry: Symmetry
    separable: bool

    @property
    def defaults(self) -> dict[str, Any]:
        """Each parameter's default."""
        return {p.name: p.default for p in self.params}

    def signature(self) -> str:
        """``name:param=default,...`` as shown by ``flipconv kernels``."""
        if not self.params:
            return self.name
        return (
            self.name + ":" + ",".join(f"{p.name}={format_number(p.default)}" for p in self.params)
        )

    def to_json(self) -> dict[str, Any]:
        """This family as ``flipconv kernels --json`` lists it."""
        return {
            "name": self.name,
            "summary": self.summary,
            "signature": self.signature(),
            "params": [
                {
                    "name": p.name,
                    "type": p.kind.__name__,
                    "default": p.default,
                    "rule": p.rule(),
                    "help": p.help,
                }
                for p in self.params
            ],
            "shape": list(self.shape),
            "symmetry": self.symmetry,
            "separable": self.separable,
        }


# ---------------------------------------------------------------- catalogue

# Below 0.01 pixel every Gaussian is the identity to float64 precision, and
# sigma squared underflows (gaussian:1e-308 divided by zero).
_SIGMA = Param("sigma", float, 1.0, "standard deviation in pixels", 0.01, False, 1000.0)
_TRUNCATE = Param("truncate", float, 4.0, "radius in sigmas, as scipy", 0.0, True, 100.0)
_RADIUS = Param(
    "radius",
    int,
    None,
    "half-width in taps (overrides truncate)",
    0,
    False,
    5000.0,
    allow_none=True,
)
_SMOOTH = {"sobel": (1.0, 2.0, 1.0), "scharr": (3.0, 10.0, 3.0), "prewitt": (1.0, 1.0, 1.0)}


def _derivative_builtins() -> list[Builtin]:
    out = []
    for family, smooth in _SMOOTH.items():
        for axis, words in (("x", "to the right (+x)"), ("y", "downwards (+y)")):
            out.append(
                Builtin(
                    f"{family}-{axis}",
                    f"{family.capitalize()} derivative; correlate is positive where "
                    f"brightness increases {words}",
                    (),
                    lambda s=smooth, a=axis: builders.derivative(s, a),
                    (3, 3),
                    "antisymmetric",
                    True,
                )
            )
    return out


BUILTINS: Mapping[str, Builtin] = {
    b.name: b
    for b in [
        Builtin(
            "identity",
            "a single 1 at the centre: output equals input",
            (Param("size", int, 1, "side in taps", 1, False, MAX_KERNEL_SIDE),),
            builders.identity,
            (1, 1),
            "symmetric",
            True,
        ),
        Builtin(
            "box",
            "mean over a size x size square (normalised)",
            (Param("size", int, 3, "side in taps", 1, False, MAX_KERNEL_SIDE),),
            builders.box,
            (3, 3),
            "symmetric",
            True,
        ),
        Builtin(
            "gaussian",
            "Gaussian blur, the same taps as scipy.ndimage.gaussian_filter",
            (_SIGMA, _TRUNCATE, _RADIUS),
            builders.gaussian,
            (9, 9),
            "symmetric",
            True,
        ),
        *_derivative_builtins(),
        Builtin(
            "roberts-x",
            "Roberts cross, diagonal from top-left (2x2: even size)",
            (),
            lambda: builders.matrix([[1, 0], [0, -1]]),
            (2, 2),
            "asymmetric",
            False,
        ),
        Builtin(
            "roberts-y",
            "Roberts cross, diagonal from top-right (2x2: even size)",
            (),
            lambda: builders.matrix([[0, 1], [-1, 0]]),
            (2, 2),
            "asymmetric",
            False,
        ),
        Builtin(
            "laplacian",
            "discrete Laplacian, 4- or 8-neighbour (sums to 0)",
            (Param("neighbours", int, 4, "4 or 8", choices=(4, 8)),),
            builders.laplacian,
            (3, 3),
            "symmetric",
            False,
        ),
        Builtin(
            "log",
            "Laplacian of Gaussian, made to sum to 0",
            (
                Param("sigma", float, 1.4, "standard deviation in pixels", 0.0, True, 1000.0),
                _TRUNCATE,
                _RADIUS,
            ),
            builders.log,
            (13, 13),
            "symmetric",
            False,
        ),
        Builtin(
            "sharpen",
            "identity plus amount times the negated 4-neighbour Laplacian",
            (Param("amount", float, 1.0, "strength (0 is identity)", -1000.0, False, 1000.0),),
            builders.sharpen,
            (3, 3),
            "symmetric",
            False,
        ),
        Builtin(
            "emboss",
            "relief lit from a direction (n, ne, e, se, s, sw, w, nw)",
            (
                Param(
                    "direction",
                    str,
                    "se",
                    "side with positive weights",
                    choices=tuple(builders.DIRECTIONS),
                ),
            ),
            builders.emboss,
            (3, 3),
            "asymmetric",
            False,
        ),
        Builtin(
            "motion",
            "one-sided motion streak of length taps from the origin towards angle",
            (
                Param("length", int, 9, "taps along the streak", 1, False, 5000.0),
                Param(
                    "angle", float, 0.0, "degrees counter-clockwise from +x", -360.0, False, 360.0
                ),
            ),
            builders.motion,
            (1, 17),
            "asymmetric",
            True,
        ),
        Builtin(
            "shift",
            "moves content by (dx, dy) under convolve, the other way under correlate",
            (
                Param("dx", int, 1, "pixels to the right", -5000, False, 5000),
                Param("dy", int, 0, "pixels down", -5000, False, 5000),
            ),
            builders.shift,
            (1, 3),
            "asymmetric",
            True,
        ),
    ]
}


#: Names that stand for a stack: the gradient magnitude of the x and y kernels.
NAMED_STACKS: Mapping[str, tuple[tuple[str, ...], str]] = {
    name: ((f"{name}-x", f"{name}-y"), "magnitude") for name in ("sobel", "prewitt", "scharr")
}


def canonical_name(name: str) -> str:
    """Fold case and ``_`` so ``Sobel_X`` finds ``sobel-x``."""
    return name.strip().lower().replace("_", "-")


def closest_names(name: str, n: int = 3) -> list[str]:
    """Built-in names close to ``name``, for "did you mean" messages."""
    import difflib

    names = [*NAMED_STACKS, *BUILTINS]  # sobel before sobel-x: the name typed most
    return difflib.get_close_matches(canonical_name(name), names, n=n, cutoff=0.6)


def lookup(name: str) -> Builtin:
    """Return the built-in called ``name`` or raise :class:`KernelError` with suggestions."""
    key = canonical_name(name)
    if key in BUILTINS:
        return BUILTINS[key]
    hint = closest_names(name)
    suggestion = f"; did you mean {' or '.join(hint)}?" if hint else ""
    raise KernelError(f"unknown kernel {name!r}{suggestion} (see 'flipconv kernels' for the list)")
