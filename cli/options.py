"""Parameter types and option bundles shared by flipconv's commands.

Bad values fail here, in a :class:`click.ParamType`, as usage errors (exit 2).
Nothing heavy is imported until a value is actually converted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar, cast

import click
from click.shell_completion import CompletionItem
from flipconv.core._shared.vocabulary import (
    COMBINES,
    FILTER_MODES,
    METHODS,
    SAMPLE_TYPES,
    WRITE_FORMATS,
    Combine,
)

F = TypeVar("F", bound=Callable[..., Any])

#: Every command's context: -h as well as --help, and room for the help text.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class KernelSpecType(click.ParamType):
    """``-k SPEC``: a built-in, an inline matrix, or a kernel file.

    With ``stacks`` a name that stands for several kernels (``sobel``) is
    taken too, as a :class:`flipconv.core.kernels.kernel.Stack`.
    """

    name = "SPEC"

    def __init__(self, stacks: bool = False) -> None:
        self.stacks = stacks

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A Kernel (or a Stack) from the spec, or a usage error naming the problem."""
        if not isinstance(value, str):
            return value
        from flipconv.core._shared.errors import FlipconvError
        from flipconv.core.kernels.specs import (
            parse_filter_spec,
            parse_kernel_bytes,
            parse_kernel_spec,
        )

        try:
            if value.strip() == "@-":
                return parse_kernel_bytes(_read_kernel_stdin(param, ctx), "@-")
            return parse_filter_spec(value) if self.stacks else parse_kernel_spec(value)
        except FlipconvError as exc:
            self.fail(str(exc), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """The built-in kernels' names, then files."""
        from flipconv.core.kernels.builtins import BUILTINS

        return [
            CompletionItem(name, help=b.summary)
            for name, b in BUILTINS.items()
            if name.startswith(incomplete.lower())
        ] + [CompletionItem(incomplete, type="file")]


def _read_kernel_stdin(param: click.Parameter | None, ctx: click.Context | None) -> bytes:
    import sys

    from flipconv.cli.output import binary
    from flipconv.core.kernels.specs import MAX_KERNEL_FILE_BYTES

    stdin = binary(sys.stdin)
    try:
        interactive = stdin.isatty()
    except (AttributeError, ValueError):
        interactive = False
    if interactive:
        raise click.BadParameter(
            "@- reads the kernel from stdin, but stdin is a terminal; pipe the kernel in",
            ctx=ctx,
            param=param,
        )
    data = stdin.read(MAX_KERNEL_FILE_BYTES + 1)
    from flipconv.core.io.formats import sniff

    if not data.startswith(b"\x93NUMPY") and sniff(data[:64]) is not None:
        raise click.BadParameter(
            "stdin holds an image, not a kernel; with -k @- the image must come from a file",
            ctx=ctx,
            param=param,
        )
    if len(data) > MAX_KERNEL_FILE_BYTES:
        raise click.BadParameter(
            f"the kernel on stdin exceeds {MAX_KERNEL_FILE_BYTES} bytes", ctx=ctx, param=param
        )
    return data


class OriginType(click.ParamType):
    """``--origin ROW,COL``: absolute element index of the kernel's origin, or a rule.

    ``down-right`` (``shape // 2``, the default) and ``up-left``
    (``(shape - 1) // 2``) name where an even kernel's origin lands.
    """

    name = "ROW,COL|up-left|down-right"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """``(row, col)``, or a rule (``up-left``, ``down-right``) as it is."""
        if isinstance(value, tuple):
            return value
        if str(value).strip().lower() in ("up-left", "down-right"):
            return str(value).strip().lower()
        parts = str(value).replace(" ", "").split(",")
        try:
            row, col = (int(p, 10) for p in parts)
        except ValueError:
            self.fail(
                f"{value!r} is not two integers ROW,COL (e.g. 1,1), up-left or down-right",
                param,
                ctx,
            )
        if row < 0 or col < 0:
            self.fail(f"{value!r}: indices count from 0 and cannot be negative", param, ctx)
        return (row, col)


class FiniteFloat(click.ParamType):
    """A float that must be finite (no nan, no inf), optionally above a bound."""

    name = "FLOAT"

    def __init__(self, above: float | None = None, at_least: float | None = None) -> None:
        self.above, self.at_least = above, at_least

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A finite float within the bounds, or a usage error."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if number != number or number in (float("inf"), float("-inf")):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if self.above is not None and not number > self.above:
            self.fail(f"{value!r} must be above {self.above:g}", param, ctx)
        if self.at_least is not None and not number >= self.at_least:
            self.fail(f"{value!r} must be at least {self.at_least:g}", param, ctx)
        return number


class SizeType(click.ParamType):
    """A byte size such as ``2GiB``, ``512M``, ``1.5GB``."""

    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Bytes from ``2GiB``, ``512MB`` or a plain number, or a usage error."""
        if isinstance(value, int):
            return value
        from flipconv.core._shared.errors import OptionError
        from flipconv.core._shared.limits import parse_size

        try:
            return parse_size(str(value))
        except OptionError as exc:
            self.fail(str(exc), param, ctx)


class FormatType(click.Choice):
    """``-f FORMAT``: an output format, by the names its files' extensions use too."""

    #: What people type for a format flipconv names otherwise.
    ALIASES = {"jpg": "jpeg", "tif": "tiff", "ppm": "pnm", "pgm": "pnm", "pbm": "pnm"}

    def __init__(self) -> None:
        super().__init__(WRITE_FORMATS, case_sensitive=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The format's name, from it or from an alias (``jpg``)."""
        if isinstance(value, str):
            value = self.ALIASES.get(value.lower(), value)
        return super().convert(value, param, ctx)


FORMAT = FormatType()


class PictureType(click.ParamType):
    """``--picture FILE.png``: a PNG path (written atomically, like every output)."""

    name = "FILE.png"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A picture's path (PNG), never stdout."""
        text = str(value)
        if text == "-":
            self.fail("pictures are written to a file, not stdout", param, ctx)
        if not text.lower().endswith(".png"):
            self.fail(f"{text!r}: pictures are PNG; end the name in .png", param, ctx)
        return text

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        """Files only."""
        return [CompletionItem(incomplete, type="file")]


PICTURE = PictureType()
KERNEL = KernelSpecType()
FILTER = KernelSpecType(stacks=True)
SIZE = SizeType()
ORIGIN = OriginType()
FINITE = FiniteFloat()


def choice(flag: str, choices: tuple[str, ...], default: str, help_text: str) -> Any:
    """An option taking one of ``choices``, its default shown in ``--help``."""
    return click.option(
        flag, type=click.Choice(choices), default=default, show_default=True, help=help_text
    )


def _apply(options: list[Callable[[F], F]], f: F) -> F:
    for option in reversed(options):
        f = option(f)
    return f


def io_options(f: F) -> F:
    """INPUT, ``-o``, ``-f``, ``--dtype``, ``--max-pixels``, ``--memory-limit``, ``--quality``."""
    return _apply(
        [
            click.argument(
                "inputs",
                nargs=-1,
                metavar="[INPUT]...",
                # readable=False: core refuses an unreadable file, with exit 1 as documented
                type=click.Path(dir_okay=True, allow_dash=True, readable=False),
            ),
            click.option(
                "-o",
                "--output",
                default="-",
                show_default=True,
                metavar="PATH",
                help="Output file, or a folder (ending in '/') for one output per "
                "input; '-' writes to stdout (never to a terminal).",
            ),
            click.option(
                "-f",
                "--format",
                "fmt",
                type=FORMAT,
                help="Output format (jpg and tif are taken too). Default: from the "
                "output's extension, or on stdout the input's format.",
            ),
            click.option(
                "--dtype",
                type=click.Choice(SAMPLE_TYPES),
                help="Output sample type. Default: the input's. Float outputs hold 0..1 "
                "for full intensity (8-bit 255 is 1.0).",
            ),
            click.option(
                "--max-pixels",
                type=click.IntRange(min=1),
                default=None,
                envvar="FLIPCONV_MAX_PIXELS",
                help="Refuse larger images before decoding, and given, before streaming "
                "tiles too [default: 500000000 for whole images, no limit for tiles; env "
                "FLIPCONV_MAX_PIXELS].",
            ),
            click.option(
                "--memory-limit",
                type=SIZE,
                default=None,
                envvar="FLIPCONV_MEMORY_LIMIT",
                help="Work estimated to need more than SIZE (e.g. 4GiB) is done in "
                "tiles for TIFF/NPY/Zarr files, refused otherwise [default: the "
                "memory available at start; env FLIPCONV_MEMORY_LIMIT].",
            ),
            click.option(
                "--quality",
                type=click.IntRange(1, 100),
                default=95,
                show_default=True,
                help="JPEG quality.",
            ),
            click.option(
                "--compression",
                type=click.IntRange(0, 9),
                default=None,
                help="PNG deflate level 0-9 [default: 3]; higher levels save a few percent "
                "on some pictures, at more time.",
            ),
        ],
        f,
    )


def batch_options(f: F) -> F:
    """Options for many inputs: naming, folders, parallel jobs, failures, JSON."""
    return _apply(
        [
            click.option(
                "--output-template",
                "template",
                metavar="TEMPLATE",
                help="Output names in a batch: {stem} {suffix} {name} {parent} "
                "{index} [default: {stem}{suffix}].",
            ),
            click.option("--mkdir", is_flag=True, help="Create the output folder if missing."),
            click.option(
                "--in-place",
                is_flag=True,
                help="Allow outputs to replace their inputs (atomically).",
            ),
            click.option(
                "-j",
                "--jobs",
                type=click.IntRange(min=1),
                default=None,
                envvar="FLIPCONV_JOBS",
                help="Files processed in parallel [default: the number of cores, or "
                "1 for a batch under 16 MiB; env FLIPCONV_JOBS]. Outputs do not depend on it.",
            ),
            click.option(
                "--keep-going",
                is_flag=True,
                help="Report a failed file and go on with the rest (exit 1 at the "
                "end if any failed).",
            ),
            click.option(
                "--json",
                "as_json",
                is_flag=True,
                callback=_stdout_open,
                help="One JSON line per file on stdout (needs -o FILE or FOLDER).",
            ),
        ],
        f,
    )


def border_options(f: F) -> F:
    """``--mode``, ``--cval``, ``--origin``."""
    return _apply(
        [
            choice(
                "--mode",
                FILTER_MODES,
                "reflect",
                "How the image continues past its border (scipy.ndimage's names); "
                "unfiltered keeps the input where the kernel would reach past the edge.",
            ),
            click.option(
                "--cval",
                type=FINITE,
                default=0.0,
                show_default=True,
                help="Value outside the image with --mode constant, in image units "
                "(255 is white in 8-bit).",
            ),
            click.option(
                "--origin",
                type=ORIGIN,
                default=None,
                help="Kernel element over the output pixel, or a rule for even sizes: "
                "down-right is shape//2 (the default), up-left (shape-1)//2.",
            ),
        ],
        f,
    )


def engine_options(f: F) -> F:
    """``--method`` and ``--threads``."""
    return _apply(
        [
            click.option(
                "--method",
                type=click.Choice(METHODS),
                default="auto",
                show_default=True,
                help="Algorithm: auto picks the fastest; direct, separable (rank-1 "
                "kernels), lowrank, fft. All agree up to float64 rounding.",
            ),
            click.option(
                "--threads",
                type=click.IntRange(min=1),
                default=None,
                envvar="FLIPCONV_THREADS",
                help="Threads [default: all cores; env FLIPCONV_THREADS]. Results do "
                "not depend on it.",
            ),
        ],
        f,
    )


def scale_options(f: F) -> F:
    """``--chunk`` and ``--scheduler``: tiles and Dask for images bigger than memory."""
    return _apply(
        [
            click.option(
                "--chunk",
                type=click.IntRange(16, 1 << 16),
                default=None,
                help="Filter in tiles of N x N pixels, streaming the file (TIFF, NPY "
                "or Zarr in and out; Zarr, --scheduler processes or a cluster need "
                "flipconv[dask]) [default: only when the image would not fit "
                "--memory-limit, sized from it].",
            ),
            click.option(
                "--scheduler",
                default=None,
                envvar="DASK_SCHEDULER_ADDRESS",
                metavar="ADDRESS",
                help="Where tiles (or batch files) run: threads, processes, "
                "synchronous, or a dask.distributed scheduler address "
                "(tcp://host:8786) [env DASK_SCHEDULER_ADDRESS].",
            ),
        ],
        f,
    )


def quiet_option(f: F) -> F:
    """``-q/--quiet``: no notes or warnings on stderr."""
    return click.option("-q", "--quiet", is_flag=True, help="No notes or warnings on stderr.")(f)


def json_option(f: F) -> F:
    """``--json``: the report as JSON on stdout."""
    return click.option(
        "--json", "as_json", is_flag=True, callback=_stdout_open, help="Print JSON on stdout."
    )(f)


def _stdout_open(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """``--json`` with stdout closed (``>&-``) is refused before any work is done."""
    if value and sys.stdout is None:
        raise click.UsageError("stdout is closed, so --json has nowhere to print; open it")
    return value


def apply_origin(kernel: Any, origin: tuple[int, int] | str | None) -> Any:
    """The parsed ``-k`` kernel with the ``--origin`` given (a usage error if outside it)."""
    from flipconv.core._shared.errors import OptionError

    try:
        return kernel.with_origin(origin)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None


def combine_option(help_text: str) -> Callable[[F], F]:
    """``--combine RULE``: join several ``-k`` per pixel (the text says for what)."""
    return click.option("--combine", type=click.Choice(COMBINES), default=None, help=help_text)


def join_kernels(
    kernels: Any, combine: str | None, origin: Any = None, flag: str = "--combine"
) -> Any:
    """Several parsed ``-k`` as one filter: a chain, or combined; one ``-k`` as it is.

    ``flag`` names the option that asked for joining, for the usage error
    when there is only one kernel.
    """
    from flipconv.core._shared.errors import OptionError
    from flipconv.core.kernels.coercion import as_filter

    kernels = list(kernels)
    if len(kernels) < 2:
        if combine is not None or flag != "--combine":
            raise click.UsageError(f"{flag} joins several kernels: give two -k or more")
        return apply_origin(kernels[0], origin)
    try:
        joined = as_filter(kernels, combine=cast(Combine, combine))  # checked by its Choice
    except OptionError as exc:
        raise click.UsageError(str(exc)) from None
    return apply_origin(joined, origin)
