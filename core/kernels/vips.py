"""libvips matrices (``.mat`` files for ``vips conv``), read and written.

A header line ``width height [scale [offset]]``, then ``height`` rows of
``width`` numbers. vips computes ``sum / scale + offset`` with the origin at
``width//2, height//2`` (measured with an impulse: ``vips conv`` is a
correlation), so the kernel here is ``values / scale`` with that origin and
the offset kept in :attr:`Kernel.offset`.
"""

from __future__ import annotations

import math

import numpy as np
from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.vocabulary import format_number
from flipconv.core.kernels.kernel import Kernel, check_kernel_size, default_origin, short
from flipconv.core.kernels.notation import padded_to_default_origin


def _header(line: str, spec: str) -> tuple[int, int, float, float]:
    """``width height [scale [offset]]``, checked."""
    try:
        numbers = [float(t) for t in line.replace(",", " ").split()]
    except ValueError:
        raise KernelError(
            f"vips matrix {short(spec)}: line 1 is not a header 'width height [scale [offset]]' "
            "of numbers"
        ) from None
    if not 2 <= len(numbers) <= 4 or any(n != int(n) or n < 1 for n in numbers[:2]):
        raise KernelError(
            f"vips matrix {short(spec)}: line 1 is not a header 'width height [scale "
            "[offset]]' with whole, positive width and height"
        )
    w, h = int(numbers[0]), int(numbers[1])
    check_kernel_size((h, w), spec)
    scale = numbers[2] if len(numbers) > 2 else 1.0
    offset = numbers[3] if len(numbers) > 3 else 0.0
    if not (math.isfinite(scale) and math.isfinite(offset)) or scale == 0:
        raise KernelError(f"vips matrix {short(spec)}: scale must be finite and non-zero")
    return w, h, scale, offset


def _row(row: str, number: int, w: int, spec: str) -> list[float]:
    """One matrix row of ``w`` finite numbers."""
    tokens = row.replace(",", " ").split()
    if len(tokens) != w:
        raise KernelError(
            f"vips matrix {short(spec)}: row {number} has {len(tokens)} values, the header says {w}"
        )
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise KernelError(f"vips matrix {short(spec)}: row {number} is not numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise KernelError(f"vips matrix {short(spec)}: row {number} has NaN or infinity")
    return values


def parse_vips_matrix(text: str, spec: str) -> Kernel:
    """Read a libvips matrix (``.mat``) as ``vips conv`` applies it.

    Examples
    --------
    >>> k = parse_vips_matrix("2 1 4 10\\n1 3\\n", "k.mat")
    >>> k.values.tolist(), k.origin, k.offset
    ([[0.25, 0.75]], (0, 1), 10.0)
    """
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise KernelError(f"vips matrix {short(spec)} is empty")
    w, h, scale, offset = _header(lines[0], spec)
    rows = lines[1:]
    if len(rows) != h:
        raise KernelError(f"vips matrix {short(spec)}: header says {h} rows, found {len(rows)}")
    parsed = [_row(row, number, w, spec) for number, row in enumerate(rows, start=1)]
    matrix = np.array(parsed, dtype=np.float64)
    if scale != 1.0:
        matrix = matrix / scale
    return Kernel(matrix, default_origin(matrix.shape), spec, offset=offset)


def looks_like_vips_matrix(text: str) -> bool:
    """True when the first line is a consistent ``width height [scale [offset]]`` header."""
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 2:
        return False
    header = lines[0].replace(",", " ").split()
    if not 2 <= len(header) <= 4 or not all(t.isdigit() for t in header[:2]):
        return False
    w, h = int(header[0]), int(header[1])
    return len(lines) == h + 1 and all(len(r.replace(",", " ").split()) == w for r in lines[1:])


def export_vips(kernel: Kernel) -> bytes:
    """The kernel as a vips matrix, zero-padded so that vips' origin is the kernel's.

    >>> print(export_vips(Kernel([[1.0, 2.0], [4.0, 8.0]], (0, 0))).decode(), end="")
    3 3 1 0
    0 0 0
    0 1 2
    0 4 8
    """
    matrix = padded_to_default_origin(kernel)
    h, w = matrix.shape
    rows = "".join(" ".join(format_number(v) for v in row) + "\n" for row in matrix)
    return (f"{w} {h} 1 {format_number(kernel.offset)}\n" + rows).encode()
