"""The ``flipconv`` command: the group, the error edge, and the entry point.

Each command (:mod:`~flipconv.cli.filtering`, :mod:`~flipconv.cli.lessons`,
:mod:`~flipconv.cli.kernels`, :mod:`~flipconv.cli.probe`) parses its options,
makes one call into :mod:`flipconv.core`, and formats the result. Errors are
translated once, in :meth:`FlipconvGroup.main`, into one or two lines on
stderr (core's `parameter` names become flags) and an
:class:`~flipconv.cli.status.ExitStatus`.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click
from flipconv.cli.diff import diff
from flipconv.cli.filtering import filter_command
from flipconv.cli.kernels import kernels, presets
from flipconv.cli.lessons import explain, verify
from flipconv.cli.options import CONTEXT
from flipconv.cli.output import ROOT, silence_stdout, stderr, with_flags
from flipconv.cli.probe import probe
from flipconv.cli.status import ExitStatus


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("flipconv", "numpy", "scipy", "imageio", "pillow", "tifffile"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def _memory_advice(argv: list[str]) -> str:
    """Advice for a MemoryError that the command in ``argv`` can follow."""
    command = next((a for a in argv if not a.startswith("-")), "")
    if command in ("convolve", "correlate"):
        return (
            " (a large kernel costs memory by its taps: try --method fft; a large image: "
            "--memory-limit or --chunk filters it in tiles)"
        )
    return " (try a smaller kernel, or a smaller --image)" if command == "verify" else ""


class FlipconvGroup(click.Group):
    """A group that turns every failure into a short message and an exit status."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; every failure becomes one line on stderr and an exit status."""
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or bool(os.environ.get("FLIPCONV_DEBUG"))
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, False, **extra)
        try:
            status = super().main(argv, prog_name or "flipconv", complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "flipconv"
            stderr(f"{where}: error: {with_flags(exc.format_message())}")
            stderr(f"Try '{where} --help' for help.")
            sys.exit(ExitStatus.USAGE)
        except click.ClickException as exc:
            stderr(f"flipconv: error: {with_flags(exc.format_message())}")
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            stderr("flipconv: interrupted")
            sys.exit(ExitStatus.INTERRUPTED)
        except BrokenPipeError:
            silence_stdout()
            sys.exit(ExitStatus.BROKEN_PIPE)
        except Exception as exc:
            if debug:
                raise
            _fail(exc, argv)
        sys.exit(status if isinstance(status, int) else ExitStatus.OK)

    def invoke(self, ctx: click.Context) -> Any:
        # click would swallow EPIPE and exit 0; a cut pipeline must not look
        # successful to `set -o pipefail`, so exit as if killed by SIGPIPE.
        """Invoke the command; a reader gone away exits as SIGPIPE would."""
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            silence_stdout()
            raise click.exceptions.Exit(ExitStatus.BROKEN_PIPE) from None


def _fail(exc: Exception, argv: list[str]) -> NoReturn:
    """Exit with one line for an exception that reached the top."""
    from flipconv.core._shared.errors import FlipconvError, KernelError, OptionError

    if isinstance(exc.__cause__, KeyboardInterrupt):  # Ctrl-C inside an import's
        stderr("flipconv: interrupted")  # class set-up comes wrapped in a RuntimeError
        sys.exit(ExitStatus.INTERRUPTED)
    if isinstance(exc, FlipconvError):
        usage = isinstance(exc, (KernelError, OptionError))
        stderr(f"flipconv: error: {with_flags(str(exc))}")
        sys.exit(ExitStatus.USAGE if usage else ExitStatus.ERROR)
    if isinstance(exc, MemoryError):
        stderr(f"flipconv: error: out of memory{_memory_advice(argv)}")
        sys.exit(ExitStatus.ERROR)
    stderr(
        f"flipconv: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)"
    )
    sys.exit(ExitStatus.ERROR)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version())
        ctx.exit()


@click.group(
    cls=FlipconvGroup,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv convolve -k gaussian:2 photo.png -o blurred.png
  flipconv correlate -k sobel < photo.png > edges.png
  flipconv verify --picture v.png
""",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the versions of flipconv and its libraries.",
)
@click.option("--debug", is_flag=True, help="Show a traceback when something fails.")
def cli(debug: bool) -> None:
    """Exact image convolution and correlation, and why they differ.

    \b
    convolve   out[n] = sum_m K[o+m] * I[n-m]   (the kernel is rotated 180 degrees)
    correlate  out[n] = sum_m K[o+m] * I[n+m]   (what CNN libraries call convolution)

    Images flow through pipes: INPUT defaults to stdin and -o to stdout.
    """


for command in (
    filter_command("convolve"),
    filter_command("correlate"),
    verify,
    explain,
    probe,
    diff,
    kernels,
    presets,
):
    cli.add_command(command)
ROOT.append(cli)  # core messages' `names` become these commands' flags (output.flags)


def _terminate(signum: int, frame: Any) -> None:
    # Unwind like an exception so the atomic writer removes its temporary file.
    raise SystemExit(ExitStatus.TERMINATED)


def main() -> NoReturn:
    """Run the command line in this process; it ends by raising SystemExit."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    cli.main(prog_name="flipconv")
    raise AssertionError("unreachable")  # main always exits


def run() -> NoReturn:
    """The installed command (and ``python -m flipconv.cli``): :func:`main` as a process.

    The process is set up for one command (:func:`~flipconv.cli.process.prepare`)
    and ends without the interpreter's teardown where that is safe
    (:func:`~flipconv.cli.process.quick_exit_status`).
    """
    from flipconv.cli.process import exit_now, prepare, quick_exit_status

    prepare()
    try:
        main()
    except SystemExit as done:
        status = quick_exit_status(done.code)
        if status is not None:
            exit_now(status)
        raise  # (not `raise done` from a frame that holds it: a cycle for the GC)
