"""``flipconv convolve`` and ``flipconv correlate``: one file, a pipe, a batch, or tiles."""

from __future__ import annotations

import sys
from typing import Any

import click
from flipconv.cli.options import (
    CONTEXT,
    FILTER,
    FINITE,
    FiniteFloat,
    batch_options,
    border_options,
    choice,
    combine_option,
    engine_options,
    io_options,
    join_kernels,
    quiet_option,
    scale_options,
)
from flipconv.cli.output import (
    Progress,
    binary,
    is_terminal,
    print_json,
    redirected_file,
    stderr,
    with_flags,
)
from flipconv.core._shared.vocabulary import (
    ALPHA_POLICIES,
    ARITHMETICS,
    OUT_RANGES,
    ROUNDINGS,
    Operation,
)

FILTER_EPILOG = """\b
Kernel SPEC: a built-in (gaussian, gaussian:2, motion:length=9,angle=30; see
'flipconv kernels'), an inline matrix ("1,0,-1;2,0,-2;1,0,-1": rows by ';'),
or a file (@k.txt, k.csv, k.npy). Several -k run in turn (float64 between,
rounded once), or with --combine each alone, joined per pixel. sobel,
prewitt and scharr name the gradient magnitude of their -x and -y kernels.

\b
Examples:
  flipconv OP -k gaussian:2 photo.png -o blurred.png
  flipconv OP -k sobel photo.png -o edges.png
  flipconv OP -k gaussian:1 -k sobel-x --bias 128 < a.png > dx.png
  flipconv OP --like torch -k "1,2;3,4" image.npy -o out.npy
"""


def filter_command(operation: Operation) -> click.Command:
    """The ``convolve`` or ``correlate`` command: the same options, one orientation."""
    summary = {
        "convolve": "Convolve an image with a kernel (the kernel is rotated 180 degrees).",
        "correlate": "Cross-correlate an image with a kernel (no rotation; CNN 'convolution').",
    }[operation]

    @click.command(
        operation,
        help=summary,
        epilog=FILTER_EPILOG.replace("OP", operation),
        context_settings=CONTEXT,
    )
    @click.option(
        "-k",
        "--kernel",
        type=FILTER,
        required=True,
        multiple=True,
        help="Kernel SPEC (see below); repeat to apply several in turn.",
    )
    @combine_option(
        "Filter with each -k alone and join the results per pixel: magnitude "
        "(sqrt of the sum of squares), sum, max or min."
    )
    @click.option(
        "--like",
        metavar="TOOL",
        default=None,
        help="Another tool's conventions: origin rule, border, normalisation "
        "(torch, opencv, imagemagick, ...; see 'flipconv presets'). Options given "
        "explicitly win; the command still decides the orientation.",
    )
    @io_options
    @border_options
    @click.option(
        "--normalize/--no-normalize",
        default=False,
        help="Divide the kernel by its sum (--no-normalize: not, whatever --like says).",
    )
    @click.option(
        "--scale", type=FINITE, default=1.0, show_default=True, help="Multiply the result."
    )
    @click.option(
        "--bias",
        type=FINITE,
        default=0.0,
        show_default=True,
        help="Add to the result, in image units (128 centres a zero-sum kernel such "
        "as sobel-x on 8-bit images).",
    )
    @click.option(
        "--input-scale",
        type=FiniteFloat(above=0),
        default=None,
        help="Full intensity of a float input [default: 1.0]; 255 for a float TIFF "
        "that holds 0..255.",
    )
    @choice(
        "--out-range",
        OUT_RANGES,
        "clip",
        "Out-of-range results: clip, abs (magnitude), rescale (min..max).",
    )
    @choice(
        "--rounding",
        ROUNDINGS,
        "nearest",
        "Integer outputs: nearest (ties to even), half-up (Pillow), truncate "
        "(GraphicsMagick, vips, G'MIC), q16 (ImageMagick); --like sets the tool's.",
    )
    @choice(
        "--arithmetic",
        ARITHMETICS,
        "float64",
        "Whose sums: float64; pillow (its Kernel, BoxBlur, GaussianBlur), vips (gaussblur) "
        "or scipy (gaussian_filter) for gaussian:S, to the byte on 8-bit images; --like "
        "sets it.",
    )
    @choice(
        "--alpha",
        ALPHA_POLICIES,
        "auto",
        "keep: alpha as is; filter: alpha filtered, colours weighted by it; auto: "
        "filter for a blur (weights >= 0 summing to 1), else keep.",
    )
    @engine_options
    @scale_options
    @batch_options
    @quiet_option
    def command(**opts: Any) -> None:
        _apply_preset(operation, opts)
        status = _run(operation, opts)
        if status:
            sys.exit(status)

    return command


def _apply_preset(operation: Operation, opts: dict[str, Any]) -> None:
    """``--like TOOL``: the tool's conventions, for every option not given explicitly."""
    name = opts.pop("like")
    if name is None:
        return
    from flipconv.core._shared.errors import OptionError
    from flipconv.core.peers.presets import lookup_preset

    ctx = click.get_current_context()
    default = click.core.ParameterSource.DEFAULT
    explicit = {n for n in opts if ctx.get_parameter_source(n) not in (None, default)}
    try:
        preset = lookup_preset(name)
        merged, notes = preset.apply(opts, explicit, opts["kernel"], operation)
    except OptionError as exc:
        raise click.BadParameter(with_flags(str(exc)), param_hint="--like") from None
    opts.update(merged)
    for note in notes if not opts["quiet"] else []:
        stderr(f"flipconv: note: {note}")


def _run(operation: Operation, opts: dict[str, Any]) -> int:
    """Parse the options into settings, then one core call for the kind of job."""
    from dataclasses import fields

    from flipconv.core._shared.errors import OptionError
    from flipconv.core.files.pipeline import Settings
    from flipconv.core.files.run import job_kind, make_parent, plan_tiling

    kernel = join_kernels(opts.pop("kernel"), opts.pop("combine"), opts.pop("origin"))
    values = {f.name: opts.pop(f.name) for f in fields(Settings) if f.name != "operation"}
    settings = Settings(operation, **values)
    paths = list(opts.pop("inputs")) or ["-"]
    output: str = opts["output"]
    if "@-" in kernel.spec and "-" in paths:
        raise click.UsageError(
            "-k @- reads the kernel from stdin, so the image must come from a file"
        )
    try:
        kind = job_kind(paths, output, template=opts["template"], in_place=opts["in_place"])
        if kind == "batch":
            return _batch(paths, kernel, settings, opts)
        if opts["as_json"] and output == "-":
            raise click.UsageError("--json prints a report on stdout, so the image needs -o FILE")
        tiling = plan_tiling(paths[0], output, settings, opts["chunk"], kernel)
        make_parent(output, opts["mkdir"])
    except OptionError as exc:  # a usage mistake, said as one
        raise click.UsageError(str(exc)) from None
    if tiling is not None:
        if tiling.need is not None and not opts["quiet"]:
            stderr(f"flipconv: note: {tiling.note(paths[0])}")
        return _in_tiles(paths[0], kernel, settings, opts)
    return _one(paths[0], kernel, settings, opts)


def _one(src: str, kernel: Any, settings: Any, opts: dict[str, Any]) -> int:
    """One file, or stdin, to one file or stdout."""
    from flipconv.core.files.pipeline import filter_file

    output = opts["output"]
    if output == "-" and is_terminal(sys.stdout):
        raise click.UsageError(
            "refusing to write image bytes to a terminal; use -o FILE or redirect stdout"
        )
    source: Any = src
    if src == "-":
        source = binary(sys.stdin)
        if is_terminal(source):
            raise click.UsageError("no input image: give a file, or pipe an image into stdin")
    if output == "-" and sys.stdout is None:  # started with >&-
        raise click.UsageError("stdout is closed: give -o FILE")
    if src == "-" and sys.stdin is None:  # started with <&-
        raise click.UsageError("stdin is closed: give INPUT")
    target = binary(sys.stdout) if output == "-" else output
    fmt = opts["fmt"]
    if output == "-":
        fmt = _stdout_format(fmt, opts["quiet"])
    result = filter_file(
        source,
        target,
        kernel,
        settings,
        fmt=fmt,
        src_name=src,
        dst_name=output,
        in_place=opts["in_place"],
    )
    result.notes = [with_flags(note) for note in result.notes]  # as the command line says it
    if not opts["quiet"]:
        for note in result.notes:
            stderr(f"flipconv: note: {note}")
    if opts["as_json"]:
        print_json(result.to_json())
    return 0


def _stdout_format(fmt: str | None, quiet: bool) -> str | None:
    """The format for stdout: ``fmt``, else the one the file it is redirected to names.

    ``flipconv convolve ... photo.jpg > out.png`` writes PNG, as the name
    says; with ``-f`` the bytes follow ``-f``, and a name that says otherwise
    gets a note.
    """
    from pathlib import Path

    from flipconv.core.io.formats import EXTENSIONS

    name = redirected_file(sys.stdout)
    by_name = EXTENSIONS.get(Path(name).suffix.lower()) if name else None
    if fmt is None:
        return by_name
    if by_name is not None and by_name != fmt.lower() and not quiet:
        stderr(
            f"flipconv: note: writing {fmt.upper()} into {name} as --format says, though "
            f"the name says {by_name.upper()}"
        )
    return fmt


def _in_tiles(src: str, kernel: Any, settings: Any, opts: dict[str, Any]) -> int:
    """A file bigger than memory, block by block, with tile progress on a terminal."""
    from flipconv.core.files.pipeline import filter_file_in_tiles

    bar = Progress("tiles") if not opts["quiet"] and is_terminal(sys.stderr) else None
    try:
        result = filter_file_in_tiles(
            src,
            opts["output"],
            kernel,
            settings,
            fmt=opts["fmt"],
            chunk=opts["chunk"],
            scheduler=opts["scheduler"],
            progress=bar.update if bar else None,
            in_place=opts["in_place"],
        )
    finally:
        if bar:
            bar.close()
    if opts["as_json"]:
        print_json(result.to_json())
    return 0


def _batch(paths: list[str], kernel: Any, settings: Any, opts: dict[str, Any]) -> int:
    """Many files: planned first (nothing written if any is wrong), then run and reported."""
    import time

    from flipconv.core.files.run import plan_files, run_files

    jobs = plan_files(
        paths,
        opts["output"],
        settings,
        template=opts["template"],
        fmt=opts["fmt"],
        in_place=opts["in_place"],
        mkdir=opts["mkdir"],
        kernel=kernel,
    )
    quiet, as_json = opts["quiet"], opts["as_json"]
    bar = Progress("filtering", total=len(jobs)) if not quiet and is_terminal(sys.stderr) else None
    say = bar.print if bar is not None else stderr
    started, done, failed = time.perf_counter(), 0, 0
    results = run_files(
        jobs,
        kernel,
        settings,
        workers=opts["jobs"],
        scheduler=opts["scheduler"],
        keep_going=opts["keep_going"],
    )
    try:
        for result in results:
            done += 1
            failed += _report(result, say, quiet, as_json)
            if bar is not None:
                bar.advance(result.input, done)
    finally:
        results.close()
        if bar is not None:
            bar.close()
    if failed:
        left = len(jobs) - done
        tail = (
            f"; stopped at the first failure, {left} not processed (--keep-going goes on)"
            if left
            else ""
        )
        stderr(f"flipconv: {failed} of {len(jobs)} files failed{tail}")
        return 1
    if bar is not None:
        stderr(f"flipconv: {len(jobs)} files written in {time.perf_counter() - started:.1f} s")
    return 0


def _report(result: Any, say: Any, quiet: bool, as_json: bool) -> int:
    """Print one batch file's error or notes (and its JSON line); 1 if it failed."""
    if result.error is not None:
        result.error = with_flags(result.error)
        say(f"flipconv: error: {result.error}")
    else:
        result.notes = [with_flags(note) for note in result.notes]
        for note in result.notes if not quiet else []:
            say(f"flipconv: note: {result.input}: {note}")
    if as_json:
        print_json(result.to_json())
    return int(result.error is not None)
