"""flipconv's own kernel notations: rows of numbers, ``.npy`` arrays and JSON.

Rows of numbers are what an inline spec (``"1,2;4,8"``) and a ``.txt`` or
``.csv`` file hold; JSON is what ``kernels show --as json`` writes. Every
export here reads back to the same filter exactly: numbers are written with
Python's shortest repr, and formats without an origin get zero rows and
columns added so that their default origin lands on the kernel's origin.
"""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import BinaryIO

import numpy as np
from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.limits import MAX_KERNEL_ELEMENTS, MAX_KERNEL_SIDE
from flipconv.core._shared.vocabulary import format_number
from flipconv.core.kernels.kernel import Kernel, check_kernel_size, default_origin, short

_TOKEN = re.compile(r"[^,\s]+")


def kernel_from_rows(
    rows: list[tuple[int, str]],
    spec: str,
    *,
    what: str,
    label: str | None = None,
    echo: bool = True,
) -> Kernel:
    """A kernel from numbered rows of numbers (``(line or row number, text)``).

    Errors name the ``what`` (line or row), its number, the column, and, with
    ``echo`` (text the user typed), a short, escaped excerpt of the offending
    text. Without it (the contents of a file or stdin, which may be anything)
    nothing of the text is repeated.
    """
    label = label or f"kernel {short(spec)}"
    parsed: list[list[float]] = []
    if len(rows) > MAX_KERNEL_SIDE:
        check_kernel_size((len(rows), 1), spec)
    for number, row in rows:
        values = _row_values(row, f"{label}: {what} {number}", number, spec, echo)
        if not values:
            raise KernelError(f"{label}: {what} {number} is empty")
        if parsed and len(values) != len(parsed[0]):
            raise KernelError(
                f"{label}: {what} {number} has {len(values)} values, "
                f"{what} {rows[0][0]} has {len(parsed[0])}"
            )
        parsed.append(values)
        if len(parsed) * len(values) > MAX_KERNEL_ELEMENTS:
            check_kernel_size((len(parsed), len(values)), spec)
    if not parsed:
        raise KernelError(f"{label} has no values")
    matrix = np.array(parsed, dtype=np.float64)
    return Kernel(matrix, default_origin(matrix.shape), spec)


def _row_values(row: str, where: str, number: int, spec: str, echo: bool) -> list[float]:
    """The numbers of one row; ``where`` names the row in errors."""
    values: list[float] = []
    for match in _TOKEN.finditer(row):  # stop early on absurd rows
        if len(values) >= MAX_KERNEL_SIDE:
            check_kernel_size((number, len(values) + 1), spec)
        token = match.group()
        at = f"{where}, column {match.start() + 1}"
        try:
            value = float(token)
        except ValueError:
            if echo:
                raise KernelError(f"{at}: {short(token, 24)} is not a number") from None
            raise KernelError(f"{at}: expected a number") from None
        if not math.isfinite(value):  # it reads as a float: nothing private to repeat
            raise KernelError(f"{at}: {short(token, 24)} is not a finite number")
        values.append(value)
    return values


def kernel_from_lines(
    text: str, spec: str, label: str | None = None, *, echo: bool = False
) -> Kernel:
    """A kernel from a file's text: rows of numbers, ``#`` comments, blank lines skipped."""
    rows = [(n, line.split("#", 1)[0]) for n, line in enumerate(text.splitlines(), start=1)]
    rows = [(n, line) for n, line in rows if line.strip()]
    if not rows:
        raise KernelError(f"{label or f'kernel {short(spec)}'} has no values")
    return kernel_from_rows(rows, spec, what="line", label=label, echo=echo)


def kernel_from_npy(source: Path | BinaryIO, spec: str, label: str) -> Kernel:
    """A kernel from a 2-D ``.npy`` array of real numbers."""
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


def parse_json_kernel(text: str, spec: str) -> Kernel:
    """Read ``export_kernel(k, "json")``: ``values``, optional ``origin`` and ``offset``."""
    try:
        doc = json.loads(text)
        values = doc["values"]
    except RecursionError:
        raise KernelError(f"kernel {short(spec)}: JSON nested too deeply") from None
    except (ValueError, TypeError, KeyError):
        raise KernelError(f'kernel {short(spec)}: JSON needs a "values" matrix') from None
    try:
        matrix = np.array(values, dtype=np.float64)
    except (ValueError, TypeError, OverflowError, RecursionError):
        # a number too large for float64, or rows nested too deeply, are not a matrix
        raise KernelError(f'kernel {short(spec)}: "values" is not a matrix of numbers') from None
    if matrix.ndim != 2:
        raise KernelError(f'kernel {short(spec)}: "values" must be a list of rows')
    origin = doc.get("origin")
    if origin is None:
        origin = default_origin(matrix.shape)
    elif not (
        isinstance(origin, list) and len(origin) == 2 and all(isinstance(v, int) for v in origin)
    ):
        raise KernelError(f'kernel {short(spec)}: "origin" must be [row, col]')
    offset = doc.get("offset", 0.0)
    if not isinstance(offset, (int, float)):
        raise KernelError(f'kernel {short(spec)}: "offset" must be a number')
    return Kernel(matrix, (origin[0], origin[1]), spec, offset=float(offset))


def padded_to_default_origin(kernel: Kernel) -> np.ndarray:
    """The matrix with zeros added so that ``shape // 2`` is the kernel's origin.

    Formats without an origin (text, CSV, NPY, vips) assume ``shape // 2``;
    zeros weigh nothing, so the padded matrix filters identically.

    Examples
    --------
    >>> padded_to_default_origin(Kernel([[1.0, 2.0, 3.0]], (0, 0))).tolist()
    [[0.0, 0.0, 1.0, 2.0, 3.0]]
    """
    matrix = kernel.values
    pads = []
    for size, o in zip(matrix.shape, kernel.origin, strict=True):
        before, after = o, size - 1 - o  # reach on each side of the origin
        # shape//2 == before needs: total = 2*before + 1 or 2*before (even)
        if after > before:
            pads.append((after - before, 0))  # grow before so the centre moves right
        elif before > after + 1:
            pads.append((0, before - after - 1))  # an even size puts shape//2 past centre
        else:
            pads.append((0, 0))
    out = np.pad(matrix, pads)
    assert tuple(s // 2 for s in out.shape) == tuple(
        o + p[0] for o, p in zip(kernel.origin, pads, strict=True)
    )
    return out


def export_notation(kernel: Kernel, fmt: str) -> bytes:
    """The kernel as ``txt``, ``csv``, ``npy`` or ``json`` bytes.

    >>> export_notation(Kernel([[1.0, 2.5]], (0, 0)), "csv").decode()
    '0,1,2.5\\n'
    """
    if fmt == "json":
        doc = {
            "shape": list(kernel.shape),
            "origin": list(kernel.origin),
            "offset": kernel.offset,
            "values": kernel.values.tolist(),
        }
        return (json.dumps(doc) + "\n").encode()
    matrix = padded_to_default_origin(kernel)
    if fmt == "npy":
        buffer = io.BytesIO()
        np.save(buffer, matrix, allow_pickle=False)
        return buffer.getvalue()
    if fmt in ("txt", "csv"):
        sep = " " if fmt == "txt" else ","
        return "".join(sep.join(format_number(v) for v in row) + "\n" for row in matrix).encode()
    raise KernelError(f"export format {fmt!r} is not one of txt, csv, npy, json")


def matrix_spec(values: np.ndarray) -> str:
    """A matrix as a ``-k`` spec: rows by ``;``, numbers in their shortest exact form.

    >>> matrix_spec(np.array([[1.0, 0.5], [-2.0, 0.1]]))
    '1,0.5;-2,0.1'
    """
    return ";".join(",".join(format_number(float(v)) for v in row) for row in values)
