"""``flipconv kernels`` and ``flipconv kernels show``: the built-ins, one matrix, exports."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import click
from flipconv.cli.options import (
    CONTEXT,
    KERNEL,
    ORIGIN,
    PICTURE,
    apply_origin,
    json_option,
)
from flipconv.cli.output import binary, is_terminal, print_json, stderr
from flipconv.core._shared.vocabulary import EXPORT_FORMATS, format_number


@click.group(
    invoke_without_command=True,
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv kernels --json
  flipconv kernels show motion:9,30
  flipconv kernels show emboss --as vips > emboss.mat
""",
)
@json_option
@click.pass_context
def kernels(ctx: click.Context, as_json: bool) -> None:
    """List the built-in kernels (or 'kernels show SPEC' for one matrix)."""
    if ctx.invoked_subcommand is not None:
        return
    from flipconv.core.kernels.builtins import BUILTINS, NAMED_STACKS

    if as_json:
        stacks = [
            {"name": name, "kernels": list(parts), "combine": combine}
            for name, (parts, combine) in NAMED_STACKS.items()
        ]
        doc = {"kernels": [b.to_json() for b in BUILTINS.values()], "stacks": stacks}
        print_json(doc, indent=2)
        return
    rows = [("name", "parameters (defaults)", "shape", "symmetry", "separable")]
    for b in BUILTINS.values():
        params = ", ".join(f"{p.name}={format_number(p.default)}" for p in b.params) or "-"
        rows.append(
            (
                b.name,
                params,
                f"{b.shape[0]}x{b.shape[1]}",
                b.symmetry,
                "yes" if b.separable else "no",
            )
        )
    for name, (parts, combine) in NAMED_STACKS.items():
        rows.append((name, f"{combine} of {' and '.join(parts)}", "3x3", "-", "-"))
    _table(rows)
    click.echo(
        "\nShapes and classes are at the defaults. 'flipconv kernels show NAME' prints the "
        "matrix;\nsobel, prewitt and scharr are edge magnitudes of two kernels (--combine)."
    )


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv presets
  flipconv correlate --like torch -k "1,2;3,4" x.npy -o y.npy
  flipconv convolve --like imagemagick-morphology -k motion:9 a.png -o b.png
""",
)
@json_option
def presets(as_json: bool) -> None:
    """List the --like presets: each tool's measured conventions."""
    from flipconv.core.peers.presets import PRESETS

    if as_json:
        print_json({"presets": [p.to_json() for p in PRESETS.values()]}, indent=2)
        return
    rows = [("name", "tool does", "even origin", "border", "normalise", "as flipconv options")]
    for p in PRESETS.values():
        doc = p.to_json()
        rows.append(
            (
                p.name,
                doc["operation"],
                doc["even_origin"].split(" ")[0]
                if p.conventions.origin is None
                else doc["even_origin"],
                doc["mode"],
                "yes" if doc["normalize"] else "no",
                " ".join(doc["arguments"]) or "(flipconv's defaults)",
            )
        )
    _table(rows)
    click.echo(
        "\n'refused': the tool takes odd sizes only. 'flipconv presets --json' has each "
        "tool's call and notes."
    )


@kernels.command(
    "show",
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv kernels show gaussian:1.5
  flipconv kernels show "1,2;4,8" --origin 0,0 --as imagemagick
  flipconv kernels show emboss --picture emboss.png
""",
)
@click.argument("spec", type=KERNEL)
@click.option("--origin", type=ORIGIN, default=None, help="Origin ROW,COL to show instead.")
@click.option(
    "--picture",
    type=PICTURE,
    default=None,
    help="Also write the kernel as a heat map PNG (values printed, origin boxed).",
)
@click.option(
    "--as",
    "export",
    type=click.Choice(EXPORT_FORMATS),
    help="Print the kernel for another tool (or for -k): txt, csv, npy, json, "
    "imagemagick (convert -morphology Convolve), vips (.mat).",
)
@json_option
def kernels_show(
    spec: Any,
    origin: tuple[int, int] | None,
    picture: str | None,
    export: str | None,
    as_json: bool,
) -> None:
    """Print a kernel's matrix, origin, symmetry and separability.

    The origin element is shown in [brackets]. With --as the kernel is
    written in another notation; reading it back with -k gives the same
    filter exactly (formats without an origin get zero padding instead).

    \b
    convert in.png -morphology Convolve \
        "$(flipconv kernels show gaussian:2 --as imagemagick)" out.png
    flipconv kernels show emboss --as vips > emboss.mat && vips conv in.png out.png emboss.mat
    """
    from flipconv.core.kernels.kernel import describe

    k = apply_origin(spec, origin)
    if picture is not None:
        from flipconv.core.io.guard import check_picture
        from flipconv.core.io.writers import write_image
        from flipconv.core.lessons.render import kernel_picture

        check_picture(picture, [k])
        write_image(kernel_picture(k.values, k.origin, k.spec), picture, fmt="png")
    if export is not None:
        from flipconv.core.kernels.specs import export_kernel

        if as_json:
            raise click.UsageError("--json and --as both choose the output; give one")
        if export == "npy" and is_terminal(sys.stdout):
            raise click.UsageError("refusing to write .npy bytes to a terminal; redirect stdout")
        if k.offset and export not in ("vips", "json"):
            stderr(f"flipconv: note: {export} has no offset; {k.offset:g} is left out")
        out = binary(sys.stdout)
        out.write(export_kernel(k, export))
        out.flush()
        return
    doc = describe(k)
    if as_json:
        print_json(doc, indent=2)
        return
    cells = [[f"{v:.6g}" for v in row] for row in k.values]
    width = max(len(c) for row in cells for c in row)
    click.echo(
        f"{k.spec}: {k.shape[0]}x{k.shape[1]}, origin {k.origin[0]},{k.origin[1]}, "
        f"sum {doc['sum']:.6g}, {doc['symmetry']} (convolve and correlate "
        f"{doc['prediction']}), {'separable' if doc['separable'] else 'not separable'}"
    )
    for r, row in enumerate(cells):
        line = []
        for c, cell in enumerate(row):
            mark = ("[", "]") if (r, c) == k.origin else (" ", " ")
            line.append(f"{mark[0]}{cell.rjust(width)}{mark[1]}")
        click.echo(" ".join(line).rstrip())
