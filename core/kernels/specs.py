"""Kernel specs: the grammar of ``-k``, kernel files, and exports to other notations.

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

A name is flipconv's unless ``im:`` says otherwise (``im:Gaussian:2``,
``im:Sobel:90``), or the arguments use ImageMagick's geometry syntax, which
is not flipconv's (``Gaussian:0x2``, ``Blur:0x1``). A name only ImageMagick
has (``Sobel``, ``Blur``, ``Square``) is refused without ``im:``, and a bad
argument to a name both share (``gaussian:0``, ``laplacian:0``) gets
flipconv's rule and the ``im:`` spelling: nothing becomes another tool's
kernel silently. See :mod:`flipconv.core.kernels.imagemagick`, :mod:`flipconv.core.kernels.vips` and
:mod:`flipconv.core.kernels.notation` for the notations themselves.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Any, cast

from flipconv.core._shared.errors import KernelError
from flipconv.core._shared.vocabulary import EXPORT_FORMATS, Combine
from flipconv.core.kernels import imagemagick, vips
from flipconv.core.kernels.builtins import (
    BUILTINS,
    NAMED_STACKS,
    canonical_name,
    closest_names,
    lookup,
)
from flipconv.core.kernels.imagemagick import export_imagemagick
from flipconv.core.kernels.kernel import Filterable, Kernel, Stack, default_origin, short
from flipconv.core.kernels.notation import (
    export_notation,
    kernel_from_lines,
    kernel_from_npy,
    kernel_from_rows,
    parse_json_kernel,
)
from flipconv.core.kernels.vips import export_vips

# ---------------------------------------------------------------- spec grammar

_NUMBER_START = re.compile(r"^\s*[-+.\d\[]")


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
    text = spec.strip()
    if not text:
        raise KernelError("empty kernel spec")
    if text.startswith("@"):
        return _from_file(Path(text[1:]), spec, cwd)
    if _in_imagemagick_notation(text):
        return imagemagick.parse_imagemagick(text, spec)
    if ";" in text or _NUMBER_START.match(text):
        return _from_matrix_text(text, spec)
    return _from_name(text, spec, cwd)


def _in_imagemagick_notation(text: str) -> bool:
    """``im:...``, an ImageMagick user kernel (``3x3: ...``) or a list of its kernels."""
    if text[:3].lower() == "im:" or imagemagick.looks_like_imagemagick_user_kernel(text):
        return True
    first = text.split(";", 1)[0].partition(":")[0]
    # IM's kernel lists (Sobel;Blur) are refused there, with the reason
    return (
        ";" in text
        and first.isalpha()
        and first.lower() not in BUILTINS
        and imagemagick.is_imagemagick_name(first)
    )


def _from_name(text: str, spec: str, cwd: Path | None) -> Kernel:
    """A built-in (``gaussian:2``), a kernel file named without ``@``, or
    ImageMagick's geometry (``Gaussian:0x2``); another tool's name is refused."""
    name, _, args = text.partition(":")
    if canonical_name(text) in NAMED_STACKS:
        parts, combine = NAMED_STACKS[canonical_name(text)]
        raise KernelError(
            f"{short(text, 24)} is the {combine} of {' and '.join(parts)}, two kernels; "
            f"here one kernel is needed: {' or '.join(parts)}"
        )
    ours = canonical_name(name) in BUILTINS
    if not ours and Path(text).suffix.lower() in _FILE_SUFFIXES:
        path = (cwd or Path.cwd()) / text
        if not path.is_file():
            raise KernelError(f"kernel file {text!r} does not exist")
        return _from_file(path, spec, cwd)
    im_name = imagemagick.is_imagemagick_name(name)
    if im_name and re.search(r"\dx", args):  # IM's geometry syntax (Gaussian:0x2, Blur:0x1)
        return imagemagick.parse_imagemagick(text, spec)
    if not ours and im_name:  # Sobel, Blur, Square: another tool's kernel, never taken silently
        ours_like = _ALTERNATIVES.get(name.lower()) or " / ".join(closest_names(name))
        also = f", or flipconv's {ours_like}" if ours_like else ""
        raise KernelError(
            f"{short(name, 24)} is not a flipconv kernel but ImageMagick's: write "
            f"{short('im:' + text, 40)} for "
            f"ImageMagick's meaning{also} (see 'flipconv kernels')"
        )
    try:
        return _from_builtin(name, args, spec)
    except KernelError as exc:
        if im_name:  # gaussian:0, laplacian:0: flipconv's rule, and where IM's meaning is
            raise KernelError(
                f"{exc}; for ImageMagick's meaning write {short('im:' + text, 40)}"
            ) from None
        raise


def parse_filter_spec(spec: str, *, cwd: Path | None = None) -> Filterable:
    """A :class:`Kernel`, or a :class:`Stack` for a name that stands for one (``sobel``).

    Examples
    --------
    >>> s = parse_filter_spec("sobel")
    >>> [k.spec for k in s.kernels], s.combine
    (['sobel-x', 'sobel-y'], 'magnitude')
    """
    name = canonical_name(spec)
    if name in NAMED_STACKS:
        names, combine = NAMED_STACKS[name]
        return Stack(
            tuple(parse_kernel_spec(n) for n in names), cast(Combine, combine), spec.strip()
        )
    return parse_kernel_spec(spec, cwd=cwd)


def kernel_files(kernel: Filterable, *, cwd: Path | None = None) -> list[str]:
    """The files a parsed kernel was read from, as :func:`parse_kernel_spec` found them.

    ``-`` stands for stdin (``@-``). Built-ins and inline matrices read none.
    Each kernel keeps the spec it was parsed from, so a chain or a combination
    lists every member's file.

    >>> kernel_files(parse_filter_spec("sobel")), kernel_files(parse_kernel_spec("1,2;3,4"))
    ([], [])
    """
    if isinstance(kernel, Stack):
        return [path for member in kernel.kernels for path in kernel_files(member, cwd=cwd)]
    text = kernel.spec.strip()
    if text == "@-":
        return ["-"]
    if text.startswith("@"):
        path = Path(text[1:])
    elif (
        Path(text).suffix.lower() in _FILE_SUFFIXES
        and canonical_name(text.partition(":")[0]) not in BUILTINS
    ):
        path = Path(text)
    else:
        return []
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    return [os.fspath(path)]


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
    stripped = text.strip()
    if not stripped:
        raise KernelError(f"kernel {short(spec)} has no values")
    if imagemagick.looks_like_imagemagick_user_kernel(stripped) or (
        stripped[:1].isalpha() and imagemagick.is_imagemagick_name(stripped.partition(":")[0])
    ):
        return imagemagick.parse_imagemagick(stripped, spec)
    if stripped.startswith("{"):
        return parse_json_kernel(stripped, spec)
    if vips.looks_like_vips_matrix(text):
        return vips.parse_vips_matrix(text, spec)
    if stripped[:1].isalpha():  # a spec such as gaussian:2 piped in
        try:
            return parse_kernel_spec(stripped)
        except KernelError:  # say nothing of what the text holds: it may be anything
            raise KernelError(
                f"kernel {short(spec)}: line 1 is neither rows of numbers nor a kernel name "
                "flipconv knows (see 'flipconv kernels')"
            ) from None
    return kernel_from_lines(text, spec)


def parse_kernel_bytes(data: bytes, spec: str = "-") -> Kernel:
    """A kernel from raw bytes: an ``.npy`` array or text (see :func:`parse_kernel_text`)."""
    if data.startswith(b"\x93NUMPY"):
        import io

        return kernel_from_npy(io.BytesIO(data), spec, spec)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KernelError(f"kernel {short(spec)} is neither text nor a .npy array") from None
    return parse_kernel_text(text, spec)


def builtin_parameters(spec: str) -> tuple[str, dict[str, Any]] | None:
    """A built-in spec's family and every parameter's value (defaults filled in); None
    for anything else (a matrix, a file, an ImageMagick string).

    >>> builtin_parameters("gaussian:2")
    ('gaussian', {'sigma': 2.0, 'truncate': 4.0, 'radius': None})
    >>> builtin_parameters("1,2;3,4") is None
    True
    """
    text = spec.strip()
    if not text or text.startswith("@") or ";" in text or _NUMBER_START.match(text):
        return None
    if _in_imagemagick_notation(text):
        return None
    name, _, args = text.partition(":")
    if canonical_name(name) not in BUILTINS:
        return None
    builtin, values = _builtin_values(name, args, spec)
    return builtin.name, values


def _builtin_values(name: str, args: str, spec: str) -> tuple[Any, dict[str, Any]]:
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
    return builtin, values


def _from_builtin(name: str, args: str, spec: str) -> Kernel:
    builtin, values = _builtin_values(name, args, spec)
    matrix, factors = builtin.build(**values)
    return Kernel(matrix, default_origin(matrix.shape), spec, factors)


def _from_matrix_text(text: str, spec: str) -> Kernel:
    text = text.strip().strip("[]")
    rows = [r for r in (row.strip().strip("[]") for row in text.split(";"))]
    if rows and rows[-1] == "":
        rows.pop()  # a trailing ';' is harmless
    return kernel_from_rows(list(enumerate(rows, start=1)), spec, what="row")


#: flipconv's nearest kernels to ImageMagick's names (IM's Sobel is sobel-x negated).
_ALTERNATIVES = {
    "sobel": "sobel-x / sobel-y",
    "prewitt": "prewitt-x / prewitt-y",
    "blur": "gaussian (or box)",
    "binomial": "gaussian",
    "square": "box",
    "rectangle": "box",
    "unity": "identity",
}

_FILE_SUFFIXES = {".txt", ".csv", ".npy", ".kernel", ".mat", ".json"}
#: Largest kernel file read (a text file of MAX_KERNEL_ELEMENTS short numbers).
MAX_KERNEL_FILE_BYTES = 64 << 20


def _from_file(path: Path, spec: str, cwd: Path | None) -> Kernel:
    if not path.is_absolute() and cwd is not None:
        path = cwd / path
    label = f"kernel file {short(str(path))}"
    try:
        if path.is_dir():
            raise KernelError(f"{label} is a directory")
        data = read_bounded(path, MAX_KERNEL_FILE_BYTES, label)
    except FileNotFoundError:
        raise KernelError(f"{label} does not exist") from None
    except OSError as exc:
        raise KernelError(f"{label}: {exc.strerror or exc}") from None
    suffix = path.suffix.lower()
    if suffix == ".npy" or data.startswith(b"\x93NUMPY"):
        return kernel_from_npy(io.BytesIO(data), spec, str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise KernelError(f"{label} is not text") from None
    if suffix == ".mat":
        return vips.parse_vips_matrix(text, spec)
    if suffix == ".json":
        return parse_json_kernel(text, spec)
    return kernel_from_lines(text, spec, label=label)


def read_bounded(path: Path, limit: int, label: str) -> bytes:
    """At most ``limit`` bytes of ``path``, refusing more *while reading*.

    The size a file reports is no bound: it is 0 for a device or a FIFO
    (``/dev/zero`` never ends), so the read itself stops one byte past the
    limit, in chunks.
    """
    chunks: list[bytes] = []
    total = 0
    with open(path, "rb") as f:
        while total <= limit:
            chunk = f.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
    raise KernelError(f"{label} is larger than the limit of {limit} bytes")


# ---------------------------------------------------------------- export


def export_kernel(kernel: Kernel, fmt: str) -> bytes:
    """The kernel written in ``fmt`` (one of :data:`EXPORT_FORMATS`), as bytes.

    Reading the bytes back with :func:`parse_kernel_bytes` gives the same
    filter exactly. The offset of a vips matrix survives only in ``vips`` and
    ``json``.

    Examples
    --------
    >>> export_kernel(Kernel([[1.0, 2.0], [4.0, 8.0]], (0, 0)), "imagemagick").decode()
    '2x2+0+0: 1,2,4,8\\n'
    """
    if fmt == "imagemagick":
        return export_imagemagick(kernel)
    if fmt == "vips":
        return export_vips(kernel)
    if fmt in EXPORT_FORMATS:
        return export_notation(kernel, fmt)
    raise KernelError(f"export format {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
