"""Kernels: the :class:`Kernel` type, the spec grammar, symmetry and flips.

A kernel is a 2-D float64 matrix plus an *origin*: the (row, col) index of the
element that sits over the output pixel. The default origin is ``shape // 2``
per axis, the centre for odd sizes and the element below/right of the centre
for even sizes, as in ``scipy.ndimage`` and OpenCV.

Spec grammar (``-k/--kernel`` on the command line)::

    gaussian                      built-in at its defaults
    gaussian:2                    positional parameters, in the listed order
    motion:length=9,angle=30      named parameters
    "1,0,-1;2,0,-2;1,0,-1"        inline matrix: rows by ';', values by ',' or spaces
    @weights.txt   weights.csv    a file (@ optional when the path exists):
    weights.npy                   .txt/.csv rows of numbers ('#' comments), .npy arrays
    blur.mat                      a libvips matrix, its scale and offset applied
    "3x3+1+1: 1,2,1,..."          ImageMagick's user kernel; +X+Y is the origin
    Sobel:90  Gaussian:0x2        ImageMagick's built-ins by its names and arguments
    im:Gaussian:2                 ImageMagick's meaning where a name is also ours

Where a name is both flipconv's and ImageMagick's (gaussian, laplacian),
arguments that flipconv reads are flipconv's (``gaussian:2`` is sigma 2) and
the rest are ImageMagick's (``Gaussian:0x2``, ``Laplacian:0``); ``im:``
decides. See :mod:`flipconv.core.interop`.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
from flipconv.core.builtins import (
    BUILTINS,
    MAX_KERNEL_ELEMENTS,
    MAX_KERNEL_SIDE,
    canonical_name,
    lookup,
)
from flipconv.core.errors import KernelError, OptionError

SymmetryClass = Literal["symmetric", "antisymmetric", "asymmetric"]
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
        if not math.isfinite(self.offset):
            raise KernelError(f"kernel {short(self.spec)}: offset {self.offset!r} is not finite")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "offset", float(self.offset))
        object.__setattr__(self, "origin", validate_origin(self.origin, values.shape))

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    def with_origin(self, origin: tuple[int, int] | None) -> Kernel:
        """The same matrix with another origin (``None`` keeps this one)."""
        if origin is None:
            return self
        return Kernel(self.values, origin, self.spec, self.factors, self.offset)

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
                "(edge and Laplacian kernels do; drop --normalize)"
            )
        factors = None
        if self.factors is not None:
            col, row = self.factors
            factors = (col / col.sum(), row / row.sum())
        return Kernel(self.values / total, self.origin, self.spec, factors, self.offset)


def short(spec: str, limit: int = 60) -> str:
    """A spec quoted for messages, cut to ``limit`` characters."""
    return repr(spec if len(spec) <= limit else spec[: limit - 3] + "...")


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
    if len(origin) != 2:
        raise OptionError(f"origin {origin!r} must be two integers ROW,COL")
    out = (int(origin[0]), int(origin[1]))
    for axis, (o, n) in enumerate(zip(out, shape, strict=True)):
        if not 0 <= o < n:
            name = "row" if axis == 0 else "column"
            raise OptionError(
                f"origin {out[0]},{out[1]} is outside the {shape[0]}x{shape[1]} kernel: "
                f"the {name} must be between 0 and {n - 1}"
            )
    return out


# ---------------------------------------------------------------- symmetry


def centred(kernel: Kernel) -> np.ndarray:
    """Zero-pad the kernel so its origin is the exact centre of an odd matrix."""
    (h, w), (r, c) = kernel.shape, kernel.origin
    rh, rw = max(r, h - 1 - r), max(c, w - 1 - c)
    out = np.zeros((2 * rh + 1, 2 * rw + 1))
    out[rh - r : rh - r + h, rw - c : rw - c + w] = kernel.values
    return out


def symmetry(kernel: Kernel) -> SymmetryClass:
    """Classify the kernel by point symmetry about its origin.

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
    p = centred(kernel)
    flipped = p[::-1, ::-1]
    tol = 1e-12 * float(np.abs(p).max(initial=0.0))
    if np.abs(p - flipped).max() <= tol:
        return "symmetric"
    if np.abs(p + flipped).max() <= tol:
        return "antisymmetric"
    return "asymmetric"


def is_separable(kernel: Kernel, *, rtol: float = 1e-10) -> bool:
    """True when the matrix has numerical rank one (an outer product)."""
    if kernel.factors is not None or min(kernel.shape) == 1:
        return True
    s = np.linalg.svd(kernel.values, compute_uv=False)
    return bool(s[0] == 0 or s[1] <= rtol * s[0])


# ---------------------------------------------------------------- spec grammar

_NUMBER_START = re.compile(r"^\s*[-+.\d\[]")
_TOKEN = re.compile(r"[^,\s]+")


def parse_kernel_spec(spec: str, *, cwd: Path | None = None) -> Kernel:
    """Build a :class:`Kernel` from a spec string (see the module docstring).

    Raises
    ------
    KernelError
        Naming the bad token, row, file or parameter.

    Examples
    --------
    >>> parse_kernel_spec("1,2;4,8").values.tolist()
    [[1.0, 2.0], [4.0, 8.0]]
    >>> parse_kernel_spec("sobel-x").values.tolist()
    [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]
    >>> parse_kernel_spec("box:2").origin
    (1, 1)
    """
    from flipconv.core import interop

    text = spec.strip()
    if not text:
        raise KernelError("empty kernel spec")
    if text.startswith("@"):
        return _from_file(Path(text[1:]), spec, cwd)
    if text[:3].lower() == "im:" or interop.looks_like_imagemagick_user_kernel(text):
        return interop.parse_imagemagick(text, spec)
    first = text.split(";", 1)[0].partition(":")[0]
    if ";" in text and first.isalpha() and first.lower() not in BUILTINS:
        if interop.is_imagemagick_name(first):
            return interop.parse_imagemagick(text, spec)  # IM's kernel lists: refused there
    if ";" in text or _NUMBER_START.match(text):
        return _from_matrix_text(text, spec)
    name, _, args = text.partition(":")
    ours = canonical_name(name) in BUILTINS
    if not ours:
        path = (cwd or Path.cwd()) / text
        if path.suffix.lower() in _FILE_SUFFIXES and path.is_file():
            return _from_file(path, spec, cwd)
        if path.suffix.lower() in _FILE_SUFFIXES:
            raise KernelError(f"kernel file {text!r} does not exist")
    if not ours and interop.is_imagemagick_name(name):
        return interop.parse_imagemagick(text, spec)  # Sobel, Unity, Blur:0x2, ...
    try:
        return _from_builtin(name, args, spec)
    except KernelError:
        if not interop.is_imagemagick_name(name):
            raise
        try:  # gaussian:0x2, laplacian:0: IM's arguments to a name we share
            return interop.parse_imagemagick(text, spec)
        except KernelError:
            if re.search(r"\dx", args):  # IM's geometry syntax: its error is the relevant one
                raise
        raise


def parse_kernel_text(text: str, spec: str = "-") -> Kernel:
    """A kernel from the contents of a file or stdin, whatever its notation.

    Tried in order: an ImageMagick string (``WxH+X+Y: values`` or a name),
    flipconv's JSON export (``{"values": ..., "origin": ...}``), a libvips matrix
    (its header agrees with the rows that follow), then plain
    rows of numbers as in a ``.txt``/``.csv`` kernel file.

    Examples
    --------
    >>> parse_kernel_text("3x1+0+0: 1 2 3").origin
    (0, 0)
    >>> parse_kernel_text("2 1 2\\n1 3\\n").values.tolist()
    [[0.5, 1.5]]
    >>> parse_kernel_text("1 2\\n3 4\\n").values.tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    from flipconv.core import interop

    stripped = text.strip()
    if not stripped:
        raise KernelError(f"kernel {short(spec)} has no values")
    if interop.looks_like_imagemagick_user_kernel(stripped) or (
        stripped[:1].isalpha() and interop.is_imagemagick_name(stripped.partition(":")[0])
    ):
        return interop.parse_imagemagick(stripped, spec)
    if stripped.startswith("{"):
        return interop.parse_json_kernel(stripped, spec)
    if interop.looks_like_vips_matrix(text):
        return interop.parse_vips_matrix(text, spec)
    if stripped[:1].isalpha():  # a spec such as gaussian:2 piped in
        return parse_kernel_spec(stripped)
    return _rows_from_text(text, spec)


def parse_kernel_bytes(data: bytes, spec: str = "-") -> Kernel:
    """A kernel from raw bytes: an ``.npy`` array or text (see :func:`parse_kernel_text`)."""
    if data.startswith(b"\x93NUMPY"):
        import io

        return _npy_kernel(io.BytesIO(data), spec, spec)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KernelError(f"kernel {short(spec)} is neither text nor a .npy array") from None
    return parse_kernel_text(text, spec)


def _from_builtin(name: str, args: str, spec: str) -> Kernel:
    builtin = lookup(name)
    values = dict(builtin.defaults)
    given: set[str] = set()
    params = {p.name: p for p in builtin.params}
    positional_open = True
    for index, token in enumerate(t.strip() for t in args.split(",")) if args else []:
        if not token:
            raise KernelError(f"{builtin.name}: empty parameter in {short(spec)}")
        if "=" in token:
            positional_open = False
            key, _, raw = token.partition("=")
            key = key.strip().lower()
            if key not in params:
                known = ", ".join(params) or "none"
                raise KernelError(
                    f"{builtin.name}: unknown parameter {key!r} (parameters: {known})"
                )
        else:
            if not positional_open:
                raise KernelError(f"{builtin.name}: positional value {token!r} after a named one")
            if index >= len(builtin.params):
                raise KernelError(
                    f"{builtin.name}: too many values in {short(spec)} "
                    f"(takes {len(builtin.params)})"
                )
            key, raw = builtin.params[index].name, token
        if key in given:
            raise KernelError(f"{builtin.name}: parameter {key!r} given twice")
        given.add(key)
        values[key] = params[key].parse(raw.strip(), kernel=builtin.name)
    matrix, factors = builtin.build(**values)
    return Kernel(matrix, default_origin(matrix.shape), spec, factors)


def _from_matrix_text(text: str, spec: str) -> Kernel:
    text = text.strip().strip("[]")
    rows = [r for r in (row.strip().strip("[]") for row in text.split(";"))]
    if rows and rows[-1] == "":
        rows.pop()  # a trailing ';' is harmless
    return _from_rows(rows, spec, what="row")


def _from_rows(rows: list[str], spec: str, *, what: str) -> Kernel:
    parsed: list[list[float]] = []
    if len(rows) > MAX_KERNEL_SIDE:
        check_kernel_size((len(rows), 1), spec)
    for number, row in enumerate(rows, start=1):
        tokens: list[str] = []
        for match in _TOKEN.finditer(row):  # stop early on absurd rows
            tokens.append(match.group())
            if len(tokens) > MAX_KERNEL_SIDE:
                check_kernel_size((number, len(tokens)), spec)
        if not tokens:
            raise KernelError(f"kernel {short(spec)}: {what} {number} is empty")
        values = []
        for token in tokens:
            try:
                value = float(token)
            except ValueError:
                raise KernelError(
                    f"kernel {short(spec)}: {what} {number}: {token!r} is not a number"
                ) from None
            if not math.isfinite(value):
                raise KernelError(
                    f"kernel {short(spec)}: {what} {number}: {token!r} is not a finite number"
                )
            values.append(value)
        if parsed and len(values) != len(parsed[0]):
            raise KernelError(
                f"kernel {short(spec)}: {what} {number} has {len(values)} values, "
                f"{what} 1 has {len(parsed[0])}"
            )
        parsed.append(values)
        if len(parsed) * len(values) > MAX_KERNEL_ELEMENTS:
            check_kernel_size((len(parsed), len(values)), spec)
    if not parsed:
        raise KernelError(f"kernel {short(spec)} has no values")
    matrix = np.array(parsed, dtype=np.float64)
    return Kernel(matrix, default_origin(matrix.shape), spec)


_FILE_SUFFIXES = {".txt", ".csv", ".npy", ".kernel", ".mat", ".json"}
#: Largest kernel file read (a text file of MAX_KERNEL_ELEMENTS short numbers).
MAX_KERNEL_FILE_BYTES = 64 << 20


def _from_file(path: Path, spec: str, cwd: Path | None) -> Kernel:
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    try:
        size = os.stat(path).st_size
        if path.is_dir():
            raise KernelError(f"kernel file {str(path)!r} is a directory")
        if size > MAX_KERNEL_FILE_BYTES:
            raise KernelError(
                f"kernel file {str(path)!r} is {size} bytes; the limit is {MAX_KERNEL_FILE_BYTES}"
            )
        if path.suffix.lower() == ".npy":
            return _from_npy(path, spec)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".mat":
            from flipconv.core.interop import parse_vips_matrix

            return parse_vips_matrix(text, spec)
        if path.suffix.lower() == ".json":
            from flipconv.core.interop import parse_json_kernel

            return parse_json_kernel(text, spec)
    except FileNotFoundError:
        raise KernelError(f"kernel file {str(path)!r} does not exist") from None
    except UnicodeDecodeError:
        raise KernelError(f"kernel file {str(path)!r} is not text") from None
    except OSError as exc:
        raise KernelError(f"kernel file {str(path)!r}: {exc.strerror or exc}") from None
    return _rows_from_text(text, spec, label=f"kernel file {str(path)!r}")


def _rows_from_text(text: str, spec: str, label: str | None = None) -> Kernel:
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    rows = [line for line in lines if line]
    if not rows:
        raise KernelError(f"{label or f'kernel {short(spec)}'} has no values")
    return _from_rows(rows, spec, what="line")


def _from_npy(path: Path, spec: str) -> Kernel:
    return _npy_kernel(path, spec, str(path))


def _npy_kernel(source: Path | BinaryIO, spec: str, label: str) -> Kernel:
    path = label
    try:
        array = np.load(source, allow_pickle=False)
    except ValueError as exc:
        raise KernelError(f"kernel file {str(path)!r} is not a plain .npy array: {exc}") from None
    except (OSError, EOFError) as exc:
        raise KernelError(f"kernel file {str(path)!r} could not be read: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise KernelError(f"kernel file {str(path)!r} must hold real numbers")
    if array.ndim == 1:
        array = array[None, :]
    if array.ndim != 2:
        raise KernelError(f"kernel file {str(path)!r} must be 1-D or 2-D, not {array.ndim}-D")
    matrix = array.astype(np.float64)
    return Kernel(matrix, default_origin(matrix.shape), spec)
