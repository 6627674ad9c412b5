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

from flipconv.core.errors import KernelError

if TYPE_CHECKING:
    import numpy as np

    Factors = tuple[np.ndarray, np.ndarray] | None
    Built = tuple[np.ndarray, Factors]

#: Largest side a kernel may have, in taps (built-in, inline or from a file).
MAX_KERNEL_SIDE = 10_001
#: Largest number of elements a kernel may have (32 MiB of float64).
MAX_KERNEL_ELEMENTS = 1 << 22

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
        where = f"{kernel}: parameter {self.name}={text!r}"
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
        return {p.name: p.default for p in self.params}

    def signature(self) -> str:
        """``name:param=default,...`` as shown by ``flipconv kernels``."""
        if not self.params:
            return self.name
        return self.name + ":" + ",".join(f"{p.name}={_fmt(p.default)}" for p in self.params)


def _fmt(value: Any) -> str:
    if value is None:
        return "auto"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _check_side(name: str, side: int) -> None:
    if side > MAX_KERNEL_SIDE:
        raise KernelError(f"{name}: kernel side {side} exceeds the limit of {MAX_KERNEL_SIDE} taps")


# ---------------------------------------------------------------- builders
# Each returns (values, factors): a 2-D float64 matrix and, when it is known
# by construction to be rank one, its column and row vectors.


def _outer(col: Any, row: Any) -> Built:
    import numpy as np

    col = np.asarray(col, dtype=np.float64)
    row = np.asarray(row, dtype=np.float64)
    return np.outer(col, row), (col, row)


def _identity(size: int) -> Built:
    _check_side("identity", size)
    impulse = [0.0] * size
    impulse[size // 2] = 1.0
    return _outer(impulse, impulse)


def _box(size: int) -> Built:
    _check_side("box", size)
    return _outer([1.0 / size] * size, [1.0 / size] * size)


def _gaussian_1d(sigma: float, radius: int) -> Any:
    import numpy as np

    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def _radius(name: str, sigma: float, truncate: float, radius: int | None) -> int:
    r = int(truncate * sigma + 0.5) if radius is None else radius
    _check_side(name, 2 * r + 1)
    return r


def _gaussian(sigma: float, truncate: float, radius: int | None) -> Built:
    w = _gaussian_1d(sigma, _radius("gaussian", sigma, truncate, radius))
    return _outer(w, w)


def _derivative(smooth: tuple[float, ...], axis: str) -> Built:
    edge = (-1.0, 0.0, 1.0)
    return _outer(smooth, edge) if axis == "x" else _outer(edge, smooth)


def _matrix(rows: list[list[float]]) -> Built:
    import numpy as np

    return np.array(rows, dtype=np.float64), None


def _laplacian(neighbours: int) -> Built:
    if neighbours == 4:
        return _matrix([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    return _matrix([[1, 1, 1], [1, -8, 1], [1, 1, 1]])


def _log(sigma: float, truncate: float, radius: int | None) -> Built:
    import numpy as np

    r = _radius("log", sigma, truncate, radius)
    x = np.arange(-r, r + 1, dtype=np.float64)
    rr = x[:, None] ** 2 + x[None, :] ** 2
    g = np.exp(-rr / (2 * sigma * sigma))
    g /= g.sum()
    values = g * (rr - 2 * sigma * sigma) / sigma**4
    return values - values.mean(), None


def _sharpen(amount: float) -> Built:
    a = amount
    return _matrix([[0, -a, 0], [-a, 1 + 4 * a, -a], [0, -a, 0]])


_DIRECTIONS = {
    "n": (0, -1),
    "ne": (1, -1),
    "e": (1, 0),
    "se": (1, 1),
    "s": (0, 1),
    "sw": (-1, 1),
    "w": (-1, 0),
    "nw": (-1, -1),
}


def _emboss(direction: str) -> Built:
    dx, dy = _DIRECTIONS[direction]
    rows = [[float(dx * (c - 1) + dy * (r - 1)) for c in range(3)] for r in range(3)]
    rows[1][1] += 1.0
    return _matrix(rows)


def _motion(length: int, angle: float) -> Built:
    import numpy as np

    _check_side("motion", 2 * length + 1)
    theta = math.radians(angle)
    dx, dy = math.cos(theta), -math.sin(theta)  # screen y grows downwards
    half = length
    grid = np.zeros((2 * half + 1, 2 * half + 1))
    for t in range(length):
        x, y = half + t * dx, half + t * dy
        x0, y0 = math.floor(x), math.floor(y)
        fx, fy = x - x0, y - y0
        for yy, xx, w in (
            (y0, x0, (1 - fx) * (1 - fy)),
            (y0, x0 + 1, fx * (1 - fy)),
            (y0 + 1, x0, (1 - fx) * fy),
            (y0 + 1, x0 + 1, fx * fy),
        ):
            if w > 1e-12:
                grid[yy, xx] += w
    grid /= grid.sum()
    # Crop all-zero borders symmetrically so the origin stays at the centre.
    rows = np.flatnonzero(grid.any(axis=1))
    cols = np.flatnonzero(grid.any(axis=0))
    rr = max(half - rows[0], rows[-1] - half)
    rc = max(half - cols[0], cols[-1] - half)
    values = grid[half - rr : half + rr + 1, half - rc : half + rc + 1].copy()
    if values.shape[0] == 1:
        return values, (np.ones(1), values[0].copy())
    if values.shape[1] == 1:
        return values, (values[:, 0].copy(), np.ones(1))
    return values, None


def _shift(dx: int, dy: int) -> Built:
    col = [0.0] * (2 * abs(dy) + 1)
    row = [0.0] * (2 * abs(dx) + 1)
    col[abs(dy) + dy] = 1.0
    row[abs(dx) + dx] = 1.0
    return _outer(col, row)


# ---------------------------------------------------------------- catalogue

_SIGMA = Param("sigma", float, 1.0, "standard deviation in pixels", 0.0, True, 1000.0)
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
                    lambda s=smooth, a=axis: _derivative(s, a),
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
            _identity,
            (1, 1),
            "symmetric",
            True,
        ),
        Builtin(
            "box",
            "mean over a size x size square (normalised)",
            (Param("size", int, 3, "side in taps", 1, False, MAX_KERNEL_SIDE),),
            _box,
            (3, 3),
            "symmetric",
            True,
        ),
        Builtin(
            "gaussian",
            "Gaussian blur, the same taps as scipy.ndimage.gaussian_filter",
            (_SIGMA, _TRUNCATE, _RADIUS),
            _gaussian,
            (9, 9),
            "symmetric",
            True,
        ),
        *_derivative_builtins(),
        Builtin(
            "roberts-x",
            "Roberts cross, diagonal from top-left (2x2: even size)",
            (),
            lambda: _matrix([[1, 0], [0, -1]]),
            (2, 2),
            "asymmetric",
            False,
        ),
        Builtin(
            "roberts-y",
            "Roberts cross, diagonal from top-right (2x2: even size)",
            (),
            lambda: _matrix([[0, 1], [-1, 0]]),
            (2, 2),
            "asymmetric",
            False,
        ),
        Builtin(
            "laplacian",
            "discrete Laplacian, 4- or 8-neighbour (sums to 0)",
            (Param("neighbours", int, 4, "4 or 8", choices=(4, 8)),),
            _laplacian,
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
            _log,
            (13, 13),
            "symmetric",
            False,
        ),
        Builtin(
            "sharpen",
            "identity plus amount times the negated 4-neighbour Laplacian",
            (Param("amount", float, 1.0, "strength (0 is identity)", -1000.0, False, 1000.0),),
            _sharpen,
            (3, 3),
            "symmetric",
            False,
        ),
        Builtin(
            "emboss",
            "relief lit from a direction (n, ne, e, se, s, sw, w, nw)",
            (
                Param(
                    "direction", str, "se", "side with positive weights", choices=tuple(_DIRECTIONS)
                ),
            ),
            _emboss,
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
            _motion,
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
            _shift,
            (1, 3),
            "asymmetric",
            True,
        ),
    ]
}


def canonical_name(name: str) -> str:
    """Fold case and ``_`` so ``Sobel_X`` finds ``sobel-x``."""
    return name.strip().lower().replace("_", "-")


def closest_names(name: str, n: int = 3) -> list[str]:
    """Built-in names close to ``name``, for "did you mean" messages."""
    import difflib

    return difflib.get_close_matches(canonical_name(name), list(BUILTINS), n=n, cutoff=0.6)


def lookup(name: str) -> Builtin:
    """Return the built-in called ``name`` or raise :class:`KernelError` with suggestions."""
    key = canonical_name(name)
    if key in BUILTINS:
        return BUILTINS[key]
    hint = closest_names(name)
    suggestion = f"; did you mean {' or '.join(hint)}?" if hint else ""
    raise KernelError(f"unknown kernel {name!r}{suggestion} (see 'flipconv kernels' for the list)")
