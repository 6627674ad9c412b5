"""``flipconv verify`` and ``flipconv explain``: where convolve and correlate differ, and why."""

from __future__ import annotations

import sys
from typing import Any, cast

import click
from flipconv.cli.options import (
    CONTEXT,
    FILTER,
    ORIGIN,
    PICTURE,
    SIZE,
    apply_origin,
    combine_option,
    join_kernels,
    json_option,
)
from flipconv.cli.output import binary, is_terminal, matrix_table, print_json, report_console
from flipconv.cli.status import ExitStatus
from flipconv.core._shared.vocabulary import MODES, Mode


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv verify
  flipconv verify -k emboss -k sobel --image photo.png --json
  flipconv verify -k box:3 -k sobel-x --chain --picture v.png
""",
)
@click.option(
    "-k",
    "--kernel",
    "kernels",
    type=FILTER,
    multiple=True,
    help="Kernel SPEC to verify (repeatable: one row each). Default: every built-in and "
    "asymmetric demonstrators.",
)
@click.option(
    "--chain",
    is_flag=True,
    help="Verify the -k kernels as one chain, applied in turn (as repeated -k filter).",
)
@combine_option("Verify the -k kernels as one filter, their results joined per pixel.")
@click.option(
    "--image",
    type=click.Path(dir_okay=False, allow_dash=True, readable=False),  # core says why
    help="Image to filter ('-' for stdin). Default: a generated test image.",
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="reflect",
    show_default=True,
    help="Border mode for both operations.",
)
@click.option("--origin", type=ORIGIN, default=None, help="Origin ROW,COL for every kernel.")
@click.option(
    "--max-pixels",
    type=click.IntRange(min=1),
    default=500_000_000,
    envvar="FLIPCONV_MAX_PIXELS",
    help="Refuse larger images before decoding.",
)
@click.option(
    "--memory-limit",
    type=SIZE,
    default=None,
    envvar="FLIPCONV_MEMORY_LIMIT",
    help="Refuse, from its header, an image whose verification would need more than SIZE "
    "[default: the memory available; env FLIPCONV_MEMORY_LIMIT].",
)
@click.option(
    "--picture",
    type=PICTURE,
    default=None,
    help="Also write a PNG: per kernel, the kernel, both results and their "
    "difference as heat maps.",
)
@json_option
def verify(
    kernels: tuple[Any, ...],
    chain: bool,
    combine: str | None,
    image: str | None,
    mode: str,
    origin: tuple[int, int] | None,
    max_pixels: int,
    memory_limit: int | None,
    picture: str | None,
    as_json: bool,
) -> None:
    """Show where convolve and correlate agree, where they differ, and why.

    For each kernel both operations run on real pixels; the kernel's point
    symmetry about its origin predicts the outcome (symmetric: agree,
    antisymmetric: negated, asymmetric: differ). Exit 0 when every prediction
    held, 3 when one did not.
    """
    from flipconv.core._shared.limits import available_memory
    from flipconv.core.io.readers import read_image
    from flipconv.core.kernels.specs import parse_kernel_spec
    from flipconv.core.lessons.verification import default_kernel_specs
    from flipconv.core.lessons.verification import verify as run_verify

    # the origin is applied here, once, so a bad one is a usage error naming --origin
    chosen = [
        apply_origin(k, origin) for k in kernels or map(parse_kernel_spec, default_kernel_specs())
    ]
    if chain and combine:
        raise click.UsageError("--chain and --combine are two ways to join kernels; pick one")
    if chain or combine:
        chosen = [join_kernels(chosen, combine, flag="--chain" if chain else "--combine")]
    if picture is not None:  # before anything is read: never onto an input
        from flipconv.core.io.guard import check_picture

        check_picture(picture, chosen, image)
    pixels = None
    if image is not None:
        source = binary(sys.stdin) if image == "-" else image
        if image == "-" and is_terminal(source):
            raise click.UsageError("no input image: give a file, or pipe an image into stdin")
        name = "stdin" if image == "-" else None
        # verify holds several float64 copies: the same guard as filtering, from the header
        pixels = read_image(
            source,
            max_pixels=max_pixels,
            name=name,
            memory_limit=memory_limit or available_memory(),
        ).pixels
    report = run_verify(chosen, image=pixels, source=image, mode=cast(Mode, mode))
    if picture is not None:
        from flipconv.core.io.writers import write_image
        from flipconv.core.lessons.verification import verify_picture

        assert report.pixels is not None
        sheet = verify_picture(report.kernels, report.pixels, mode=report.mode, source=report.image)
        write_image(sheet, picture, fmt="png")
    if as_json:
        print_json(report.to_json(), indent=2)
    else:
        _print_verify(report)
    sys.exit(ExitStatus.OK if report.ok else ExitStatus.MISMATCH)


def _print_verify(report: Any) -> None:
    from flipconv.core.lessons.verification import EXPLANATIONS
    from rich.table import Table

    # On a terminal rich fits the window; in a pipe or file it would assume 80
    # columns and cut kernel names, so give the report the width it needs.
    console = report_console(130)
    results, source, shape, mode = report.results, report.image, report.image_shape, report.mode
    table = Table(title=f"convolve vs correlate on {source} ({shape[1]}x{shape[0]}, mode {mode})")
    for column in (
        "kernel",
        "shape",
        "origin",
        "symmetry",
        "predicted",
        "measured",
        "max |conv-corr|",
        "flip identity",
        "ok",
    ):
        table.add_column(
            column,
            justify="right" if column.startswith("max") else "left",
            no_wrap=column == "kernel",
        )
    for r in results:
        spec = r.kernel if len(r.kernel) <= 28 else r.kernel[:25] + "..."
        style = "green" if r.ok else "bold red"
        table.add_row(
            spec,
            f"{r.shape[0]}x{r.shape[1]}",
            f"{r.origin[0]},{r.origin[1]}",
            r.symmetry,
            r.expected,
            r.measured,
            f"{r.max_abs_diff:.3g}",
            "holds" if r.identity_holds else "FAILS",
            f"[{style}]{'yes' if r.ok else 'NO'}[/]",
        )
    console.print(table)
    for kind in ("symmetric", "antisymmetric", "asymmetric"):
        if any(r.symmetry == kind for r in results):
            console.print(f"[bold]{kind}[/]: {EXPLANATIONS[kind]}")
    bad = sum(not r.ok for r in results)
    console.print(
        f"{len(results) - bad} of {len(results)} predictions held."
        if not bad
        else f"[bold red]{bad} of {len(results)} predictions did not hold.[/]"
    )


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv explain -k emboss
  flipconv explain -k "1,2;4,8" --origin up-left
  flipconv explain -k sobel --json
""",
)
@click.option(
    "-k",
    "--kernel",
    "kernels",
    type=FILTER,
    required=True,
    multiple=True,
    help="Kernel SPEC to explain; several are a chain (or --combine them).",
)
@combine_option("Explain the -k kernels joined per pixel instead of applied in turn.")
@click.option("--origin", type=ORIGIN, default=None, help="Origin ROW,COL instead of the default.")
@json_option
def explain(
    kernels: tuple[Any, ...], combine: str | None, origin: tuple[int, int] | None, as_json: bool
) -> None:
    """A short lesson on one kernel: rotation, symmetry, origin, impulse response.

    Shows the kernel and the kernel rotated 180 degrees about its origin
    (what correlate needs to reproduce convolve), what its symmetry predicts,
    where an even kernel's origin lands, and both operations on one bright
    pixel.
    """
    from flipconv.core.kernels.kernel import Stack
    from flipconv.core.lessons.explanation import explain as explain_kernel
    from flipconv.core.lessons.explanation import explain_stack

    chosen = join_kernels(kernels, combine, origin)
    facts = explain_stack(chosen) if isinstance(chosen, Stack) else explain_kernel(chosen)
    if as_json:
        print_json(facts.to_json(), indent=2)
        return
    _print_explanation(facts)


def _print_explanation(e: Any) -> None:
    from rich.columns import Columns

    console = report_console(110)
    if hasattr(e, "members"):  # several kernels: how they join, then each one
        console.print(
            f"[bold]{e.spec}[/]: {len(e.members)} kernels, [bold]{e.symmetry}[/] as a whole "
            f"(convolve and correlate [bold]{e.prediction}[/])"
        )
        for line in e.lesson:
            console.print("- " + line)
        for member in e.members:
            console.print()
            _print_explanation(member)
        return
    console.print(
        f"[bold]{e.spec}[/]: {e.shape[0]}x{e.shape[1]}, origin {e.origin[0]},"
        f"{e.origin[1]}, [bold]{e.symmetry}[/] (convolve and correlate "
        f"[bold]{e.prediction}[/])"
    )
    console.print(
        Columns(
            [
                matrix_table(
                    f"kernel, origin {e.origin[0]},{e.origin[1]} [brackets]", e.values, e.origin
                ),
                matrix_table(
                    f"rotated 180 degrees, origin {e.reflected_origin[0]},{e.reflected_origin[1]}",
                    e.rotated,
                    e.reflected_origin,
                ),
            ],
            padding=(0, 4),
        )
    )
    for line in e.lesson[:-1]:
        console.print("- " + line)
    console.print("- " + e.lesson[-1])
    at = e.impulse_at
    console.print(
        Columns(
            [
                matrix_table(
                    f"convolve of a 1 at {at[0]},{at[1]} [brackets]", e.impulse_convolve, at
                ),
                matrix_table("correlate of the same image", e.impulse_correlate, at),
            ],
            padding=(0, 4),
        )
    )
