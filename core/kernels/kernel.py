"""The :class:`Kernel` value type: weights, origin, and what follows from them.

Also :class:`Stack`: several kernels as one filter, applied in turn (a
chain, ``-k box:3 -k sobel-x``: float64 in between, only the end rounded),
or each alone and combined per pixel (``magnitude``:
``sqrt(a**2 + b**2 + ...)``, ``sum``, ``max``, ``min``). The names
``sobel``, ``prewitt`` and ``scharr`` stand for the gradient magnitude of
their x and y kernels.

A kernel is a 2-D float64 matrix plus an *origin*: the (row, col) index of the
element that sits over the output pixel. The default origin is ``shape // 2``
per axis, the centre for odd sizes and the element below/right of the centre
for even sizes, as in ``scipy.ndimage`` and OpenCV.

This module knows nothing of notations (spec strings, files, other tools'
formats: :mod:`flipconv.core.kernels.specs`); everything that filters builds on it.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from flipconv.core._shared.errors import KernelError, OptionError
from flipconv.core._shared.limits import MAX_KERNEL_ELEMENTS, MAX_KERNEL_SIDE
from flipconv.core._shared.vocabulary import COMBINES, Combine, excerpt

SymmetryClass = Literal["symmetric", "antisymmetric", "asymmetric"]
#: An origin: a (row, col) index, a rule (``down-right``, ``up-left``), or None (keep).
OriginLike = tuple[int, int] | str | None
#: scipy.ndimage's ``origin=``: an offset from ``shape // 2``, one int or one per axis.
OffsetLike = int | tuple[int, int] | list[int] | None


Prediction = Literal["agree", "negated", "differ"]


#: What each symmetry class predicts for convolve versus correlate.
PREDICTION: dict[str, Prediction] = {
    "symmetric": "agree",
    "antisymmetric": "negated",
    "asymmetric": "differ",
}


@dataclass(frozen=True, eq=False)
class Kernel:
    """A 2-D kernel with its origin.

    Attributes
    ----------
    values : numpy.ndarray
        2-D, float64, finite, read-only.
    origin : tuple of int
        (row, col) index into ``values`` of the element over the output pixel.
    spec : str
        The text it was made from (for reports).
    factors : tuple of numpy.ndarray or None
        Column and row vectors whose outer product is ``values``, when the
        kernel is rank one by construction.
    offset : float
        Added to every result, in image units (libvips matrix files carry
        one); 0 for every other source.
    """

    values: np.ndarray
    origin: tuple[int, int]
    spec: str = ""
    factors: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    offset: float = 0.0

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)  # private copy
        if values.ndim != 2 or values.size == 0:
            raise KernelError(f"kernel {short(self.spec)}: must be a non-empty 2-D matrix")
        check_kernel_size(values.shape, self.spec)
        if not np.isfinite(values).all():
            raise KernelError(f"kernel {short(self.spec)}: contains NaN or infinite values")
        with np.errstate(over="ignore"):
            total = float(np.abs(values).sum())
        if not math.isfinite(total):
            raise KernelError(
                f"kernel {short(self.spec)}: its weights overflow float64 (the sum of their "
                "magnitudes is infinite); scale them down"
            )
        if not math.isfinite(self.offset):
            raise KernelError(f"kernel {short(self.spec)}: offset {self.offset!r} is not finite")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "offset", float(self.offset))
        object.__setattr__(self, "origin", validate_origin(self.origin, values.shape))

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)``."""
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    def with_origin(self, origin: OriginLike) -> Kernel:
        """The same matrix with another origin (``None`` keeps this one).

        ``origin`` is a (row, col) index, or a rule for any size:
        ``down-right`` is ``shape // 2``, ``up-left`` ``(shape - 1) // 2``
        (the two differ for even sizes only).

        >>> Kernel(np.ones((2, 3)), (1, 1)).with_origin("up-left").origin
        (0, 1)
        """
        if origin is None:
            return self
        if isinstance(origin, str):
            origin = origin_by_rule(self.shape, origin)
        return Kernel(self.values, origin, self.spec, self.factors, self.offset)

    def with_offset(self, offset: OffsetLike) -> Kernel:
        """The same matrix with its origin ``offset`` from the centre, as scipy.ndimage says it.

        ``offset`` is scipy's ``origin=``: an int for both axes or one per
        axis (row, col), each from ``-(n // 2)`` to ``(n - 1) // 2``; the
        origin is then the element ``n // 2 + offset``. ``None`` keeps this
        one.

        >>> Kernel(np.ones((3, 3)), (1, 1)).with_offset(-1).origin
        (0, 0)
        >>> Kernel(np.ones((2, 4)), (1, 2)).with_offset((-1, 1)).origin
        (0, 3)
        """
        if offset is None:
            return self
        return self.with_origin(origin_from_offset(offset, self.shape))

    def reflected(self) -> Kernel:
        """The kernel rotated 180 degrees about its origin.

        The matrix is flipped on both axes and the origin moves to
        ``shape - 1 - origin``, so ``convolve(I, K) == correlate(I, K.reflected())``.

        Examples
        --------
        >>> k = Kernel([[1.0, 2.0], [4.0, 8.0]], (1, 1))
        >>> r = k.reflected()
        >>> r.values.tolist(), r.origin
        ([[8.0, 4.0], [2.0, 1.0]], (0, 0))
        """
        (h, w), (r, c) = self.shape, self.origin
        factors = None
        if self.factors is not None:
            factors = (self.factors[0][::-1].copy(), self.factors[1][::-1].copy())
        return Kernel(
            self.values[::-1, ::-1], (h - 1 - r, w - 1 - c), self.spec, factors, self.offset
        )

    def reach(self, operation: str = "correlate") -> tuple[tuple[int, int], tuple[int, int]]:
        """Rows and columns the kernel reaches (before, after) the output pixel, per axis.

        Correlation reaches ``o`` before and ``shape - 1 - o`` after; convolution
        the other way round (its kernel is rotated about the origin).

        Examples
        --------
        >>> k = Kernel(np.ones((2, 5)), (0, 1))
        >>> k.reach("correlate")
        ((0, 1), (1, 3))
        >>> k.reach("convolve")
        ((1, 0), (3, 1))
        """
        (h, w), (r, c) = self.shape, self.origin
        rows, cols = (r, h - 1 - r), (c, w - 1 - c)
        if operation == "correlate":
            return rows, cols
        if operation == "convolve":
            return rows[::-1], cols[::-1]
        raise OptionError(f"operation {operation!r} is not one of convolve, correlate")

    def normalized(self) -> Kernel:
        """The kernel divided by its sum.

        Raises
        ------
        KernelError
            If the sum is zero (or too close to it to divide by).
        """
        total = float(self.values.sum())
        scale = float(np.abs(self.values).sum())
        if abs(total) <= 1e-12 * scale:
            raise KernelError(
                f"kernel {short(self.spec)}: cannot normalize, its values sum to 0 "
                "(edge and Laplacian kernels do; drop `normalize`)"
            )
        factors = None
        if self.factors is not None:
            col, row = self.factors
            factors = (col / col.sum(), row / row.sum())
        return Kernel(self.values / total, self.origin, self.spec, factors, self.offset)


def short(spec: str, limit: int = 60) -> str:
    """A spec quoted and escaped for messages, cut to ``limit`` characters."""
    return excerpt(spec, limit)


def check_kernel_size(shape: tuple[int, ...], spec: str) -> None:
    """Refuse kernels larger than :data:`MAX_KERNEL_SIDE` or :data:`MAX_KERNEL_ELEMENTS`."""
    if max(shape) > MAX_KERNEL_SIDE:
        raise KernelError(
            f"kernel {short(spec)}: shape {'x'.join(map(str, shape))} exceeds the limit of "
            f"{MAX_KERNEL_SIDE} taps per side"
        )
    if math.prod(shape) > MAX_KERNEL_ELEMENTS:
        raise KernelError(
            f"kernel {short(spec)}: {math.prod(shape)} elements exceed the limit of "
            f"{MAX_KERNEL_ELEMENTS}"
        )


def origin_by_rule(shape: tuple[int, int], rule: str) -> tuple[int, int]:
    """The origin ``down-right`` (``shape // 2``) or ``up-left`` (``(shape - 1) // 2``) gives."""
    if rule == "down-right":
        return (shape[0] // 2, shape[1] // 2)
    if rule == "up-left":
        return ((shape[0] - 1) // 2, (shape[1] - 1) // 2)
    raise OptionError(f"origin rule {rule!r} is not one of down-right, up-left")


def origin_from_offset(offset: object, shape: tuple[int, int]) -> tuple[int, int]:
    """The element index scipy.ndimage's ``origin=offset`` names in a kernel of ``shape``.

    Raises
    ------
    OptionError
        If ``offset`` is not an int or two ints, or puts the origin outside
        the kernel (scipy's rule: ``-(n // 2) <= offset <= (n - 1) // 2``).

    >>> origin_from_offset(0, (3, 3)), origin_from_offset((0, -1), (2, 2))
    ((1, 1), (1, 0))
    >>> origin_from_offset(1, (2, 2))
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.OptionError: `origin` 1 is out of range for the 2 rows ...
    """

    def whole(v: object) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool)

    pair: tuple[Any, ...] = ()
    if whole(offset):
        pair = (offset, offset)
    elif isinstance(offset, (tuple, list, np.ndarray)):
        pair = tuple(offset)
    if len(pair) != 2 or not all(whole(v) for v in pair):
        raise OptionError(
            f"`origin` {offset!r} must be an int or two ints (row, col): scipy's offset "
            "from the centre; `anchor` takes the element's index"
        )
    out = []
    for axis, (o, n) in enumerate(zip(pair, shape, strict=True)):
        o = int(o)
        low, high = -(n // 2), (n - 1) // 2
        if not low <= o <= high:
            name = ("row" if axis == 0 else "column") + ("" if n == 1 else "s")
            raise OptionError(
                f"`origin` {o} is out of range for the {n} {name} of a {shape[0]}x{shape[1]} "
                f"kernel: scipy's offset from the centre must be between {low} and {high}"
            )
        out.append(n // 2 + o)
    return (out[0], out[1])


def default_origin(shape: tuple[int, int]) -> tuple[int, int]:
    """``shape // 2`` per axis: the centre, or below/right of it for even sizes.

    >>> default_origin((3, 3)), default_origin((2, 4)), default_origin((1, 5))
    ((1, 1), (1, 2), (0, 2))
    """
    return (shape[0] // 2, shape[1] // 2)


def validate_origin(origin: tuple[int, int], shape: tuple[int, ...]) -> tuple[int, int]:
    """Check that ``origin`` indexes an element of a kernel of ``shape``.

    Raises
    ------
    OptionError
        Naming the origin, the shape and the valid range.
    """
    try:
        pair = tuple(origin)
    except TypeError:
        pair = ()
    whole = all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)
    if len(pair) != 2 or not whole:
        raise OptionError(f"origin {origin!r} must be two integers (row, col)")
    out = (int(pair[0]), int(pair[1]))
    for axis, (o, n) in enumerate(zip(out, shape, strict=True)):
        if not 0 <= o < n:
            name = "row" if axis == 0 else "column"
            raise OptionError(
                f"origin {out[0]},{out[1]} is outside the {shape[0]}x{shape[1]} kernel: "
                f"the {name} must be between 0 and {n - 1}"
            )
    return out


def centred(kernel: Kernel) -> np.ndarray:
    """Zero-pad the kernel so its origin is the exact centre of an odd matrix."""
    (h, w), (r, c) = kernel.shape, kernel.origin
    rh, rw = (max(side) for side in kernel.reach())
    out = np.zeros((2 * rh + 1, 2 * rw + 1))
    out[rh - r : rh - r + h, rw - c : rw - c + w] = kernel.values
    return out


def symmetry(kernel: Kernel | Stack) -> SymmetryClass:
    """Classify the kernel by point symmetry about its origin.

    A stack is classed by what rotating all its kernels does to its result:
    a chain multiplies the members' signs (any asymmetric member makes it
    asymmetric); a magnitude ignores signs, so members that are symmetric or
    antisymmetric leave it unchanged; a sum keeps a sign common to all
    members; a max or min of anything but symmetric members changes.

    ``symmetric`` when K reflected about the origin equals K, ``antisymmetric``
    when it equals -K (and K is not all zero), ``asymmetric`` otherwise.
    Elements the reflection moves outside the matrix count as zeros, so an
    even-sized kernel is asymmetric unless its values off the reflectable
    part are zero. Comparison tolerates 1e-12 of the largest magnitude.

    Examples
    --------
    >>> symmetry(Kernel([[1.0, 2.0, 1.0]], (0, 1)))
    'symmetric'
    >>> symmetry(Kernel([[-1.0, 0.0, 1.0]], (0, 1)))
    'antisymmetric'
    >>> symmetry(Kernel([[1.0, 1.0]], (0, 1)))
    'asymmetric'
    """
    if isinstance(kernel, Stack):
        return _stack_symmetry(kernel)
    p = centred(kernel)
    flipped = p[::-1, ::-1]
    tol = 1e-12 * float(np.abs(p).max(initial=0.0))
    if np.abs(p - flipped).max() <= tol:
        return "symmetric"
    if np.abs(p + flipped).max() <= tol:
        return "antisymmetric"
    return "asymmetric"


def _stack_symmetry(stack: Stack) -> SymmetryClass:
    kinds = [symmetry(k) for k in stack.kernels]
    if "asymmetric" in kinds:
        return "asymmetric"
    antisymmetric = kinds.count("antisymmetric")
    if stack.combine is None:
        return "antisymmetric" if antisymmetric % 2 else "symmetric"
    if stack.combine == "magnitude" or antisymmetric == 0:
        return "symmetric"
    if stack.combine == "sum" and antisymmetric == len(kinds):
        return "antisymmetric"
    return "asymmetric"


def is_separable(kernel: Kernel, *, rtol: float = 1e-10) -> bool:
    """True when the matrix has numerical rank one (an outer product)."""
    if kernel.factors is not None or min(kernel.shape) == 1:
        return True
    s = np.linalg.svd(kernel.values, compute_uv=False)
    return bool(s[0] == 0 or s[1] <= rtol * s[0])


def describe(kernel: Kernel) -> dict[str, Any]:
    """What ``kernels show --json`` reports: matrix, origin, sum, symmetry, separability.

    >>> d = describe(Kernel([[-1.0, 0.0, 1.0]], (0, 1)))
    >>> d["symmetry"], d["prediction"], d["separable"], d["sum"]
    ('antisymmetric', 'negated', True, 0.0)
    """
    kind = symmetry(kernel)
    return {
        "spec": kernel.spec,
        "shape": list(kernel.shape),
        "origin": list(kernel.origin),
        "values": kernel.values.tolist(),
        "sum": float(kernel.values.sum()),
        "symmetry": kind,
        "prediction": PREDICTION[kind],
        "separable": is_separable(kernel),
    }


# ---------------------------------------------------------------- stacks


@dataclass(frozen=True, eq=False)
class Stack:
    """Kernels applied in turn (``combine=None``), or each alone and then combined.

    A member may be a stack itself: ``gaussian:1`` then ``sobel`` blurs,
    then takes the gradient magnitude.

    Examples
    --------
    >>> box = Kernel(np.ones((1, 3)) / 3, (0, 1))
    >>> Stack((box, box)).reach("correlate")
    ((0, 0), (2, 2))
    >>> Stack((box, box), "max").reach("correlate")
    ((0, 0), (1, 1))
    """

    kernels: tuple[Kernel | Stack, ...]
    combine: Combine | None = None
    spec: str = ""

    def __post_init__(self) -> None:
        if not self.kernels:
            raise OptionError("a stack needs at least one kernel")
        if self.combine is not None and self.combine not in COMBINES:
            raise OptionError(f"`combine` {self.combine!r} is not one of {', '.join(COMBINES)}")
        if not self.spec:
            joined = " then ".join(k.spec or "kernel" for k in self.kernels)
            if self.combine is not None:
                joined = f"{self.combine} of " + ", ".join(k.spec or "kernel" for k in self.kernels)
            object.__setattr__(self, "spec", joined)

    #: The offsets of the kernels are applied step by step, not once at the end.
    offset = 0.0

    def reach(self, operation: str = "correlate") -> tuple[tuple[int, int], tuple[int, int]]:
        """Rows and columns reached (before, after) the output pixel: the whole stack's halo.

        A chain reaches as far as its kernels' reaches added up; combined
        kernels as far as the farthest of them.
        """
        reaches = [k.reach(operation) for k in self.kernels]
        fold = sum if self.combine is None else max
        return (
            (int(fold(r[0][0] for r in reaches)), int(fold(r[0][1] for r in reaches))),
            (int(fold(r[1][0] for r in reaches)), int(fold(r[1][1] for r in reaches))),
        )

    def with_origin(self, origin: OriginLike) -> Stack:
        """Every kernel with this origin (None keeps theirs)."""
        if origin is None:
            return self
        return Stack(tuple(k.with_origin(origin) for k in self.kernels), self.combine, self.spec)

    def with_offset(self, offset: OffsetLike) -> Stack:
        """Every kernel with scipy's ``origin=offset`` (None keeps theirs)."""
        if offset is None:
            return self
        return Stack(tuple(k.with_offset(offset) for k in self.kernels), self.combine, self.spec)

    def normalized(self) -> Stack:
        """Every kernel divided by its sum."""
        return Stack(tuple(k.normalized() for k in self.kernels), self.combine, self.spec)

    def reflected(self) -> Stack:
        """Every kernel rotated 180 degrees about its origin: convolve as correlate."""
        return Stack(tuple(k.reflected() for k in self.kernels), self.combine, self.spec)

    @property
    def shape(self) -> tuple[int, int]:
        """The extent of the stack's footprint, rows by columns."""
        (rb, ra), (cb, ca) = self.reach()
        return (rb + ra + 1, cb + ca + 1)

    @property
    def origin(self) -> tuple[int, int]:
        """Where the output pixel sits in the footprint (:attr:`shape`)."""
        (rb, _), (cb, _) = self.reach()
        return (rb, cb)


#: What a filter runs with: one kernel, or a stack of them.
Filterable = Kernel | Stack
