"""``flipconv diff``: what turned one image into another, from the two files alone."""

from __future__ import annotations

from typing import Any

import click
from flipconv.cli.options import CONTEXT, KERNEL, json_option
from flipconv.cli.output import print_json, report_console


@click.command(
    context_settings=CONTEXT,
    epilog="""\b
Examples:
  flipconv diff mine.png theirs.png
  flipconv diff photo.png blurred.png -k "1,2,1;2,4,2;1,2,1"
  flipconv diff a.png b.png -k sobel-x --json
""",
)
@click.option(
    "-k",
    "--kernel",
    type=KERNEL,
    default=None,
    help="The kernel the other tool was given: find its operation, origin, border, "
    "normalisation, scale and bias, rounding, and the flipconv command that does the same.",
)
@click.option(
    "--picture",
    default=None,
    metavar="FILE",
    help="Also write where they differ as a grey PNG (the largest difference white).",
)
@json_option
@click.argument("before")
@click.argument("after")
def diff(kernel: Any, picture: str | None, as_json: bool, before: str, after: str) -> None:
    """Say how AFTER differs from BEFORE; with -k, what filtered one into the other.

    No tool is run. Without -k: identical or not, the largest difference and
    the share of samples that differ, whether they lie in a border band, a
    whole-pixel shift, a constant scale or offset. With -k: the verdict, as
    probe gives it, and the flipconv command that reproduces AFTER from
    BEFORE, checked on the files; none where no linear filter with that
    kernel explains AFTER. Exit 0 when the comparison ran, whatever it found.
    """
    from flipconv.core.peers.diffing import diff_files

    report = diff_files(before, after, kernel, picture)
    if as_json:
        print_json({"before": before, "after": after, **report.to_json()}, indent=2)
        return
    from rich.markup import escape

    console = report_console(110)
    console.print(f"[bold]diff[/] {escape(before)} {escape(after)}")
    for line in str(report).splitlines():  # unwrapped: a command must paste whole
        console.print(f"  {escape(line)}", soft_wrap=True)
