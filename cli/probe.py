"""``flipconv probe``: what another tool's "convolve" does, found with impulse images."""

from __future__ import annotations

from typing import Any

import click
from flipconv.cli.options import CONTEXT, KERNEL, FiniteFloat, json_option
from flipconv.cli.output import matrix_table, print_json, report_console
from flipconv.core._shared.vocabulary import PROBE_FORMATS


@click.command(
    context_settings={**CONTEXT, "ignore_unknown_options": True},
    epilog="""\b
Examples:
  flipconv probe -- convert {in} -convolve {kernel} {out}
  flipconv probe --even -- vips conv {in} {out} {kernel_mat}
  flipconv probe -f npy -- python3 wrap.py {in} {out} {kernel_txt}
""",
)
@click.option(
    "-k",
    "--kernel",
    type=KERNEL,
    default=None,
    help="Probe kernel [default: 1,2,4;8,16,32;64,128,0, distinct powers of two]; for a "
    "COMMAND with no kernel placeholder, the kernel it holds (default: measured).",
)
@click.option(
    "--size",
    type=click.IntRange(5, 4096),
    default=11,
    show_default=True,
    help="Side of the probe images.",
)
@click.option("--even", is_flag=True, help="Also probe a 2x2 kernel: where an even origin lands.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(PROBE_FORMATS),
    default="png",
    show_default=True,
    help="Format of {in} and {out}.",
)
@click.option(
    "--depth",
    type=click.Choice(["8", "16"]),
    default="8",
    show_default=True,
    help="Bits per sample of the probe images.",
)
@click.option("--shell", is_flag=True, help="Run COMMAND through the shell (one string).")
@click.option(
    "--timeout",
    type=FiniteFloat(at_least=0.1),
    default=60.0,
    show_default=True,
    help="Seconds each run of COMMAND may take.",
)
@json_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def probe(
    kernel: Any,
    size: int,
    even: bool,
    fmt: str,
    depth: str,
    shell: bool,
    timeout: float,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Find out what another tool's "convolve" does, with impulse images.

    flipconv writes small test images and the kernel, runs COMMAND with
    {in} {out} {kernel} {kernel_rows} {kernel_txt} {kernel_mat} {w} {h}
    filled in, reads {out} back, and reports the orientation (convolution,
    correlation, mirrored, transposed), normalisation, origin, border rule
    and what happened to negative results, then the flipconv command that
    reproduces the tool, checked on a random image. COMMAND runs in the
    current folder. Exit 0 when the probe ran, whatever the verdict; 1 when
    COMMAND failed or wrote nothing readable.
    """
    from flipconv.core.peers.probing import probe as run_probe
    from flipconv.core.peers.runner import adopt_orphans, command_filter, uses_kernel

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    adopt_orphans()  # this process is the probe's own: nothing the tool starts outlives it
    func = command_filter(argv, fmt=fmt, shell=shell, timeout=timeout)
    report = run_probe(func, kernel, size=size, even=even, depth=int(depth))
    if not uses_kernel(argv):
        how = (
            "-k states its own kernel, checked as written and rotated"
            if kernel is not None
            else "its own kernel is measured from its impulse response"
        )
        report.notes.insert(
            0,
            "the command has no kernel placeholder ({kernel}, {kernel_rows}, {kernel_txt}, "
            f"{{kernel_mat}}): {how}",
        )
    if as_json:
        print_json({"command": argv, **report.to_json()}, indent=2)
        return
    _print_probe(report, argv)


def _print_probe(r: Any, argv: list[str]) -> None:
    from rich.markup import escape

    console = report_console(110)
    console.print(f"[bold]probe[/] {escape(' '.join(argv))}")
    exact = "exactly" if r.exact else f"approximately (off by up to {r.max_error:.3g})"
    if r.orientation == "unknown":
        console.print(f"  orientation    [bold]cannot tell[/]: the tool {r.description}")
    else:
        console.print(
            f"  orientation    [bold]{r.orientation}[/]: the tool {r.description}, {exact}"
        )
    if r.kernel_source != "given":
        import numpy as np

        title = f"kernel: {r.kernel_source} (as correlate uses it; origin boxed)"
        if r.kernel_source != "measured":
            title = f"kernel: {r.kernel_source} (origin boxed)"
        console.print(matrix_table(title, np.array(r.kernel), tuple(r.origin)))
    if r.ties and r.uses_kernel:
        console.print(f"                 (the kernel also fits: {', '.join(r.ties)})")
    console.print(f"  normalisation  {r.normalization}")
    console.print(f"  units          {r.units}")
    if r.uses_kernel:
        console.print(
            f"  origin         element {r.origin[0]},{r.origin[1]} of the kernel lands on "
            "the filtered pixel"
        )
    _print_even_origin(console, r)
    console.print(f"  border         {r.border}")
    console.print(f"  negatives      {r.negatives}")
    for note in r.notes:
        console.print(f"  note           {escape(note)}")
    _print_response(console, r)
    _print_reproduction(console, r.reproduction)


def _print_even_origin(console: Any, r: Any) -> None:
    from rich.markup import escape

    if r.even_origin is not None:
        console.print(
            f"  even origin    2x2 kernel: element {r.even_origin[0]},"
            f"{r.even_origin[1]}: {r.even_convention}"
        )
    elif r.even_convention is not None:
        console.print(f"  even origin    2x2 kernel {escape(r.even_convention)}")


def _print_reproduction(console: Any, rep: Any) -> None:
    """The flipconv command that reproduces the tool, and how close it came."""
    from rich.markup import escape

    if rep is None:
        console.print("  flipconv       no reproduction: the verdict is not clear enough")
        return
    for line in rep.lines():
        console.print(f"  {escape(line)}")


def _print_response(console: Any, r: Any) -> None:
    """The response around the impulse; the impulse's pixel is boxed even where it is 0."""
    import numpy as np

    response = np.array(r.response)
    at = tuple(r.impulse_at)
    rows, cols = np.nonzero(response)
    top, bottom = min([*rows, at[0]]), max([*rows, at[0]])
    left, right = min([*cols, at[1]]), max([*cols, at[1]])
    window = response[top : bottom + 1, left : right + 1]
    title = f"response to one pixel of {r.impulse_value:g} (boxed: where it was)"
    console.print(matrix_table(title, window, (at[0] - top, at[1] - left)))
