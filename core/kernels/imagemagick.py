"""Kernels in ImageMagick's notation (``convert -morphology Convolve SPEC``).

Built-ins by IM's names and argument syntax (``Gaussian:0x2``, ``Sobel:90``,
``Laplacian:0``, ``Unity``, ...) and user kernels ``"WxH[+X+Y]: v,v,..."``.
The matrices equal those ImageMagick 6.9 prints with
``-define morphology:showKernel=1`` (``tests/test_notations.py`` compares them
where ImageMagick is installed). IM writes ``nan`` or ``-`` for elements
outside a shape; they weigh 0 here, as in IM's convolution. IM's origin for a
user kernel without ``+X+Y`` is ``(W-1)/2, (H-1)/2``, rounded down: the
element above/left of the centre for even sizes, where flipconv's own
default is below/right.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.vocabulary import format_number
from flipconv.core.kernels.kernel import Kernel, check_kernel_size, short

# ---------------------------------------------------------------- ImageMagick

#: ImageMagick kernel names flipconv builds, by their lower-case spelling.
IM_SUPPORTED = (
    "unity",
    "gaussian",
    "blur",
    "binomial",
    "laplacian",
    "sobel",
    "prewitt",
    "roberts",
    "compass",
    "kirsch",
    "square",
    "rectangle",
    "diamond",
)
#: Other names ImageMagick 6.9 knows, refused with a hint instead of "unknown".
IM_OTHER = (
    "dog",
    "log",
    "comet",
    "freichen",
    "disk",
    "octagon",
    "plus",
    "cross",
    "ring",
    "peaks",
    "edges",
    "corners",
    "diagonals",
    "lineends",
    "linejunctions",
    "ridges",
    "convexhull",
    "thinse",
    "skeleton",
    "chebyshev",
    "manhattan",
    "octagonal",
    "euclidean",
)

#: 3x3 bases of IM's named edge kernels, at angle 0 (as ``showKernel`` prints them).
_RING_BASES = {
    "sobel": ((1, 0, -1), (2, 0, -2), (1, 0, -1)),
    "prewitt": ((1, 0, -1), (1, 0, -1), (1, 0, -1)),
    "roberts": ((0, 0, 0), (1, -1, 0), (0, 0, 0)),
    "compass": ((1, 1, -1), (1, -2, -1), (1, 1, -1)),
    "kirsch": ((5, -3, -3), (5, 0, -3), (5, -3, -3)),
}

#: IM's Laplacian types (``Laplacian:N``). IM 6.9 quietly gives type 0 for any
#: other number; flipconv refuses them instead.
_LAPLACIANS: dict[int, tuple[tuple[int, ...], ...]] = {
    0: ((-1, -1, -1), (-1, 8, -1), (-1, -1, -1)),
    1: ((0, -1, 0), (-1, 4, -1), (0, -1, 0)),
    2: ((-2, 1, -2), (1, 4, 1), (-2, 1, -2)),
    3: ((1, -2, 1), (-2, 4, -2), (1, -2, 1)),
    5: (
        (-4, -1, 0, -1, -4),
        (-1, 2, 3, 2, -1),
        (0, 3, 4, 3, 0),
        (-1, 2, 3, 2, -1),
        (-4, -1, 0, -1, -4),
    ),
    7: (
        (-10, -5, -2, -1, -2, -5, -10),
        (-5, 0, 3, 4, 3, 0, -5),
        (-2, 3, 6, 7, 6, 3, -2),
        (-1, 4, 7, 8, 7, 4, -1),
        (-2, 3, 6, 7, 6, 3, -2),
        (-5, 0, 3, 4, 3, 0, -5),
        (-10, -5, -2, -1, -2, -5, -10),
    ),
    15: (
        (0, 0, -1, 0, 0),
        (0, -1, -2, -1, 0),
        (-1, -2, 16, -2, -1),
        (0, -1, -2, -1, 0),
        (0, 0, -1, 0, 0),
    ),
    19: (
        (0, -1, -1, -2, -2, -2, -1, -1, 0),
        (-1, -2, -4, -5, -5, -5, -4, -2, -1),
        (-1, -4, -5, -3, 0, -3, -5, -4, -1),
        (-2, -5, -3, 12, 24, 12, -3, -5, -2),
        (-2, -5, 0, 24, 40, 24, 0, -5, -2),
        (-2, -5, -3, 12, 24, 12, -3, -5, -2),
        (-1, -4, -5, -3, 0, -3, -5, -4, -1),
        (-1, -2, -4, -5, -5, -5, -4, -2, -1),
        (0, -1, -1, -2, -2, -2, -1, -1, 0),
    ),
}

#: ImageMagick Q16's quantum scale: its automatic Gaussian radius stops there.
_QUANTUM_SCALE = 1.0 / 65535.0
_EPSILON = 1e-12  # IM's MagickEpsilon
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_USER = re.compile(
    r"^\s*(?P<w>\d+)(?:x(?P<h>\d+))?(?:(?P<x>[-+]\d+)(?P<y>[-+]\d+))?\s*:(?P<values>.*)$", re.S
)
_ARG_TOKEN = re.compile(rf"[x,]|{_NUMBER}")


def is_imagemagick_name(name: str) -> bool:
    """True for a name ImageMagick's ``-morphology`` knows (any case)."""
    key = name.strip().lower()
    return key in IM_SUPPORTED or key in IM_OTHER


def looks_like_imagemagick_user_kernel(text: str) -> bool:
    """True for ``"WxH[+X+Y]: values"`` (IM's user-kernel syntax)."""
    return _USER.match(text) is not None


def parse_imagemagick(text: str, spec: str | None = None) -> Kernel:
    """Build the kernel ImageMagick builds for ``text``.

    Raises
    ------
    KernelError
        For a malformed string, an unsupported IM kernel (with how to get its
        matrix from IM), or a list of several kernels.

    Examples
    --------
    >>> k = parse_imagemagick("2x2: 1,2,3,4")
    >>> k.values.tolist(), k.origin
    ([[1.0, 2.0], [3.0, 4.0]], (0, 0))
    >>> parse_imagemagick("Sobel:90").values.astype(int).tolist()
    [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    >>> parse_imagemagick("Gaussian:0x1").shape
    (9, 9)
    """
    spec = text if spec is None else spec
    body = text.strip()
    if body.lower().startswith("im:"):
        body = body[3:].strip()
    if ";" in body.rstrip("; \t\n"):
        raise KernelError(
            f"kernel {short(spec)}: lists several ImageMagick kernels (';'); give one"
        )
    body = body.rstrip("; \t\n")
    match = _USER.match(body)
    if match:
        return _im_user(match, spec)
    name, _, args = body.partition(":")
    key = name.strip().lower()
    if key in IM_OTHER:
        raise KernelError(
            f"ImageMagick kernel {name.strip()!r} is not built by flipconv; print its matrix "
            f"with convert xc: -precision 17 -define morphology:showKernel=1 -morphology "
            f"Convolve '{body}' null: and pass it as \"WxH+X+Y: values\""
        )
    if key not in IM_SUPPORTED:
        raise KernelError(f"kernel {short(spec)}: {name.strip()!r} is not an ImageMagick kernel")
    values = _im_args(args, spec)
    matrix, origin = _IM_BUILDERS[key](values, spec)
    matrix = np.nan_to_num(matrix, nan=0.0)
    matrix[np.abs(matrix) < _EPSILON] = 0.0  # IM zeroes weights below its epsilon
    return Kernel(matrix, origin, spec)


def _im_user(match: re.Match[str], spec: str) -> Kernel:
    w = int(match["w"])
    h = int(match["h"]) if match["h"] else w
    if w < 1 or h < 1:
        raise KernelError(f"kernel {short(spec)}: size {w}x{h} must be at least 1x1")
    check_kernel_size((h, w), spec)
    x = int(match["x"]) if match["x"] else (w - 1) // 2
    y = int(match["y"]) if match["y"] else (h - 1) // 2
    if not (0 <= x < w and 0 <= y < h):
        raise KernelError(f"kernel {short(spec)}: offset +{x}+{y} lies outside the {w}x{h} kernel")
    tokens = [t for t in re.split(r"[,\s]+", match["values"].strip()) if t]
    if len(tokens) != w * h:
        raise KernelError(
            f"kernel {short(spec)}: {w}x{h} needs {w * h} values, found {len(tokens)}"
        )
    values = []
    for token in tokens:
        if token == "-" or token.lower() == "nan":
            values.append(0.0)  # IM: not part of the kernel's shape
            continue
        try:
            value = float(token)
        except ValueError:
            raise KernelError(f"kernel {short(spec)}: {token!r} is not a number") from None
        if not math.isfinite(value):
            raise KernelError(f"kernel {short(spec)}: {token!r} is not a finite number")
        values.append(value)
    return Kernel(np.array(values).reshape(h, w), (y, x), spec)


def _im_args(args: str, spec: str) -> list[float | None]:
    """IM's up to four numeric arguments (rho, sigma, xi, psi) of ``name:args``."""
    text = args.strip()
    if not text:
        return []
    if any(ch in text for ch in "%!^<>@"):
        raise KernelError(f"kernel {short(spec)}: ImageMagick scaling flags are not supported")
    out: list[float | None] = []
    expect_value = True
    position = 0
    for match in _ARG_TOKEN.finditer(text):
        if text[position : match.start()].strip():
            break
        position = match.end()
        token = match.group()
        if token in ("x", ","):
            if expect_value:
                out.append(None)
            expect_value = True
            continue
        out.append(float(token))
        expect_value = False
    if text[position:].strip() or len(out) > 4:
        raise KernelError(f"kernel {short(spec)}: cannot read ImageMagick arguments {text!r}")
    return out


def _arg(values: list[float | None], index: int, default: float) -> float:
    value = values[index] if index < len(values) else None
    return default if value is None else value


def _width(radius: float, spec: str) -> int:
    if radius > 5000:
        raise KernelError(f"kernel {short(spec)}: radius {radius:g} is too large")
    return int(2.0 * radius + 1.0)


def _auto_width(sigma: float, dims: int) -> int:
    """IM's automatic width: grow until the edge weight falls below 1/65535."""
    gamma = abs(sigma)
    if gamma <= _EPSILON:
        return 3
    alpha = 1.0 / (2.0 * gamma * gamma)
    width = 5
    while width < 2 * 5000 + 1:
        j = (width - 1) // 2
        u = np.arange(-j, j + 1, dtype=np.float64)
        norm = float(np.exp(-(u * u) * alpha).sum()) ** dims  # the 2-D sum factorises
        edge = math.exp(-(j * j) * alpha)  # the weight at (j, 0), over the peak's
        if edge / norm < _QUANTUM_SCALE or edge / norm < _EPSILON:
            break
        width += 2
    return width - 2


#: Largest sigma taken: beyond it every weight of the widest kernel is the same
#: to float64 precision, and 2 pi sigma^2 heads for overflow.
MAX_SIGMA = 1e6


def _check_sigma(sigma: float, spec: str) -> None:
    if not math.isfinite(sigma) or sigma > MAX_SIGMA:
        raise KernelError(
            f"kernel {short(spec)}: sigma {sigma:g} is over the limit of {MAX_SIGMA:g}"
        )


def _centre(shape: tuple[int, int]) -> tuple[int, int]:
    return ((shape[0] - 1) // 2, (shape[1] - 1) // 2)


def _im_gaussian(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    radius, sigma = _arg(values, 0, 0.0), abs(_arg(values, 1, 0.0))
    if radius >= 1.0 and radius != int(radius):
        raise KernelError(
            f"kernel {short(spec)}: ImageMagick's Gaussian needs a whole radius "
            f"(with {radius:g} its matrix is undefined)"
        )
    _check_sigma(sigma, spec)
    width = _width(radius, spec) if radius >= 1.0 else _auto_width(sigma, 2)
    check_kernel_size((width, width), spec)  # before the matrix is made
    r = (width - 1) // 2
    if sigma <= _EPSILON:
        matrix = np.zeros((width, width))
        matrix[r, r] = 1.0
    else:
        u = np.arange(-r, width - r, dtype=np.float64)
        matrix = np.exp(-(u[:, None] ** 2 + u[None, :] ** 2) / (2.0 * sigma * sigma))
        matrix /= 2.0 * math.pi * sigma * sigma
        matrix /= matrix.sum()
    return matrix, _centre(matrix.shape)


def _im_blur(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    radius, sigma = _arg(values, 0, 0.0), abs(_arg(values, 1, 0.0))
    angle = _arg(values, 2, 0.0)
    _check_sigma(sigma, spec)
    width = _width(radius, spec) if radius >= 1.0 else _auto_width(sigma, 1)
    check_kernel_size((1, width), spec)
    row = np.zeros(width)
    if sigma <= _EPSILON:
        row[(width - 1) // 2] = 1.0
    else:
        # IM samples three points per tap and sums them (its "KernelRank").
        rank = 3
        v = (width * rank - 1) // 2
        s = sigma * rank
        u = np.arange(-v, v + 1, dtype=np.float64)
        np.add.at(row, (np.arange(-v, v + 1) + v) // rank, np.exp(-(u * u) / (2.0 * s * s)))
        row /= row.sum()
    matrix = row[None, :]
    if angle % 90 != 0:
        raise KernelError(f"kernel {short(spec)}: ImageMagick turns Blur by multiples of 90 only")
    if angle % 180 == 90:  # IM 6.9 turns 1-D kernels by 90 and ignores 180
        matrix = matrix.T
    return matrix, _centre(matrix.shape)


def _im_ring(name: str) -> Callable[[list[float | None], str], tuple[np.ndarray, tuple[int, int]]]:
    def build(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
        angle = _arg(values, 0, 0.0)
        if angle % 45 != 0:
            raise KernelError(
                f"kernel {short(spec)}: give the angle in multiples of 45 "
                "(ImageMagick would round it)"
            )
        matrix = np.array(_RING_BASES[name], dtype=np.float64)
        ring = [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0)]
        steps = int(angle // 45) % 8
        old = [matrix[p] for p in ring]
        for i, p in enumerate(ring):  # clockwise on screen, one step per 45 degrees
            matrix[p] = old[(i - steps) % 8]
        return matrix, (1, 1)

    return build


def _im_unity(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    return np.array([[_arg(values, 0, 1.0)]]), (0, 0)


def _im_binomial(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    radius = _arg(values, 0, 0.0)
    width = 3 if radius < 1.0 else _width(radius, spec)
    check_kernel_size((width, width), spec)
    row = np.array([math.comb(width - 1, i) for i in range(width)], dtype=np.float64)
    return np.outer(row, row), _centre((width, width))


def _im_laplacian(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    kind = _arg(values, 0, 0.0)
    if kind not in _LAPLACIANS:
        types = ", ".join(str(t) for t in _LAPLACIANS)
        raise KernelError(f"kernel {short(spec)}: ImageMagick's Laplacian types are {types}")
    matrix = np.array(_LAPLACIANS[int(kind)], dtype=np.float64)
    return matrix, _centre(matrix.shape)


def _im_square(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    radius = _arg(values, 0, 1.0)
    width = 3 if radius < 1.0 else _width(radius, spec)
    check_kernel_size((width, width), spec)
    return np.ones((width, width)), _centre((width, width))


def _im_diamond(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    radius = _arg(values, 0, 1.0)
    width = 3 if radius < 1.0 else _width(radius, spec)
    check_kernel_size((width, width), spec)
    r = (width - 1) // 2
    u = np.abs(np.arange(width) - r)
    inside = (u[:, None] + u[None, :]) <= r
    return np.where(inside, 1.0, np.nan), (r, r)


def _im_rectangle(values: list[float | None], spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    w = int(_arg(values, 0, 3.0))
    h = int(_arg(values, 1, w))
    if w < 1 or h < 1:
        raise KernelError(f"kernel {short(spec)}: Rectangle size {w}x{h} must be at least 1x1")
    check_kernel_size((h, w), spec)
    x = int(_arg(values, 2, (w - 1) // 2))
    y = int(_arg(values, 3, (h - 1) // 2))
    if not (0 <= x < w and 0 <= y < h):
        raise KernelError(f"kernel {short(spec)}: offset +{x}+{y} lies outside {w}x{h}")
    return np.ones((h, w)), (y, x)


_IM_BUILDERS = {
    "unity": _im_unity,
    "gaussian": _im_gaussian,
    "blur": _im_blur,
    "binomial": _im_binomial,
    "laplacian": _im_laplacian,
    "square": _im_square,
    "rectangle": _im_rectangle,
    "diamond": _im_diamond,
    **{name: _im_ring(name) for name in _RING_BASES},
}


def export_imagemagick(kernel: Kernel) -> bytes:
    """The kernel as ImageMagick's user kernel ``WxH+X+Y: values``, origin included.

    >>> export_imagemagick(Kernel([[1.0, 2.0], [4.0, 8.0]], (0, 0))).decode()
    '2x2+0+0: 1,2,4,8\\n'
    """
    (h, w), (r, c) = kernel.shape, kernel.origin
    values = ",".join(format_number(v) for v in kernel.values.ravel())
    return f"{w}x{h}+{c}+{r}: {values}\n".encode()
