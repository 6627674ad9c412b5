"""``flipconv convolve`` and ``flipconv correlate``: one file, a pipe, a batch, or tiles."""

from __future__ import annotations

import json
import os
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
    combine_option,
    engine_options,
    io_options,
    join_kernels,
    quiet_option,
    scale_options,
)
from flipconv.cli.output import Progress, binary, is_terminal, redirected_file, stderr, with_flags
from flipconv.core._shared.vocabulary import ALPHA_POLICIES, OUT_RANGES, Operation

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
    @click.option(
        "--out-range",
        type=click.Choice(OUT_RANGES),
        default="clip",
        show_default=True,
        help="Out-of-range results: clip, abs (magnitude), rescale (min..max).",
    )
    @click.option(
        "--alpha",
        type=click.Choice(ALPHA_POLICIES),
        default="keep",
        show_default=True,
        help="Keep alpha as is, or filter with colours weighted by alpha.",
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


#: Options that become :class:`flipconv.core.files.pipeline.Settings` fields.
SETTINGS = (
    "mode",
    "cval",
    "alpha",
    "scale",
    "bias",
    "out_range",
    "dtype",
    "normalize",
    "method",
    "threads",
    "quality",
    "compression",
    "max_pixels",
    "memory_limit",
    "input_scale",
)


def _apply_preset(operation: Operation, opts: dict[str, Any]) -> None:
    """``--like TOOL``: the tool's conventions, for every option not given explicitly."""
    name = opts.pop("like")
    if name is None:
        return
    from flipconv.core._shared.errors import OptionError
    from flipconv.core.peers.presets import lookup_preset, orientation_note

    try:
        preset = lookup_preset(name)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--like") from None
    ctx = click.get_current_context()
    conventions = preset.conventions
    wanted = {**conventions.settings(), "origin": conventions.origin}
    for option, value in wanted.items():
        source = ctx.get_parameter_source(option)
        if source in (None, click.core.ParameterSource.DEFAULT) and value is not None:
            opts[option] = value
    normalize_source = ctx.get_parameter_source("normalize")
    try:
        for k in opts["kernel"]:
            if opts.get("origin") is None:
                preset.check_kernel(k)
            if normalize_source in (None, click.core.ParameterSource.DEFAULT):
                preset.check_normalize(k)
    except OptionError as exc:
        raise click.BadParameter(with_flags(str(exc)), param_hint="--like") from None
    note = orientation_note(preset, operation)
    if note and not opts["quiet"]:
        stderr(f"flipconv: note: {note}")


def _run(operation: Operation, opts: dict[str, Any]) -> int:
    """Parse the options into settings, then one core call for the kind of job."""
    from flipconv.core.files.pipeline import Settings

    kernel = join_kernels(opts.pop("kernel"), opts.pop("combine"), opts.pop("origin"))
    values = {name: opts.pop(name) for name in SETTINGS}
    settings = Settings(operation, **values)
    paths = list(opts.pop("inputs")) or ["-"]
    output: str = opts["output"]
    if "@-" in kernel.spec and "-" in paths:
        raise click.UsageError(
            "-k @- reads the kernel from stdin, so the image must come from a file"
        )
    is_folder = output != "-" and (output.endswith(("/", os.sep)) or os.path.isdir(output))
    in_place, template = opts["in_place"], opts["template"]
    # Without -o, --in-place and --output-template write next to each input.
    if len(paths) > 1 or is_folder or template is not None or (in_place and output == "-"):
        if output == "-" and not in_place and template is None:
            raise click.UsageError(_several_inputs_hint(paths))
        return _batch(paths, kernel, settings, opts)
    if opts["as_json"] and output == "-":
        raise click.UsageError("--json prints a report on stdout, so the image needs -o FILE")
    tiling = _tiling(paths[0], settings, opts)
    if tiling is not None:
        return _in_tiles(paths[0], kernel, settings, opts)
    return _one(paths[0], kernel, settings, opts)


def _several_inputs_hint(paths: list[str]) -> str:
    """What to say when several inputs meet no output folder.

    ImageMagick's habit puts the output last (``in.png out.png``): when the
    last of two names does not exist and names an image format, that is what
    was meant. The hint never suggests a flag that would replace an input the
    user may have meant as an output.
    """
    from pathlib import Path

    from flipconv.core.io.formats import EXTENSIONS

    last = paths[-1]
    if len(paths) == 2 and not os.path.lexists(last) and Path(last).suffix.lower() in EXTENSIONS:
        return f"{last}: no such input; did you mean -o {last}?"
    return (
        f"{len(paths)} inputs write {len(paths)} files: give -o FOLDER/ for one output "
        "each, --output-template to write each beside its input, or -o FILE with a "
        "single input"
    )


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
        click.echo(json.dumps(result.to_json()))
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


def _tiling(src: str, settings: Any, opts: dict[str, Any]) -> Any:
    """Whether to filter in tiles; says so on stderr when the memory limit decided."""
    from flipconv.core.files.pipeline import plan_tiles

    output, chunk = opts["output"], opts["chunk"]
    if chunk is not None and "-" in (src, output):
        raise click.UsageError("--chunk streams from a file to a file; give INPUT and -o FILE")
    if src == "-":
        return None
    tiling = plan_tiles(src, settings, chunk)
    if tiling is not None and tiling.need is not None:
        if output == "-":
            raise click.UsageError(
                tiling.note(src).replace(
                    "filtering it in tiles",
                    "streaming in tiles needs -o FILE (.tif, .npy or .zarr)",
                )
            )
        if not opts["quiet"]:
            stderr(f"flipconv: note: {tiling.note(src)}")
    return tiling


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
        click.echo(json.dumps(result.to_json()))
    return 0


def _batch(paths: list[str], kernel: Any, settings: Any, opts: dict[str, Any]) -> int:
    """Many files: planned first (nothing written if any is wrong), then run and reported."""
    import contextlib
    import time

    from flipconv.core._shared.limits import default_threads
    from flipconv.core.files.batch import plan_batch
    from flipconv.core.files.pipeline import check_dtype_for_format
    from flipconv.core.files.scheduler import connect, is_cluster
    from flipconv.core.files.workers import run_batch

    output, fmt, scheduler = opts["output"], opts["fmt"], opts["scheduler"]
    jobs = plan_batch(
        paths,
        out_dir=None if output == "-" else output,
        template=opts["template"],
        fmt=fmt.lower() if fmt else None,
        in_place=opts["in_place"],
        mkdir=opts["mkdir"],
    )
    for job in jobs:
        if job.fmt is not None:
            check_dtype_for_format(settings.dtype, job.fmt)
    workers = opts["jobs"] or default_threads()
    if scheduler in ("synchronous", "sync"):
        workers = 1
    client = connect(scheduler) if is_cluster(scheduler) else None
    quiet, as_json = opts["quiet"], opts["as_json"]
    bar = Progress("filtering", total=len(jobs)) if not quiet and is_terminal(sys.stderr) else None
    say = bar.print if bar is not None else stderr
    started, done, failed = time.perf_counter(), 0, 0
    results = run_batch(
        jobs, kernel, settings, workers=workers, client=client, keep_going=opts["keep_going"]
    )
    try:
        with contextlib.closing(results):
            for result in results:
                done += 1
                if result.error is not None:
                    failed += 1
                    result.error = with_flags(result.error)
                    say(f"flipconv: error: {result.error}")
                else:
                    result.notes = [with_flags(note) for note in result.notes]
                    for note in result.notes if not quiet else []:
                        say(f"flipconv: note: {result.input}: {note}")
                if as_json:
                    click.echo(json.dumps(result.to_json()))
                    sys.stdout.flush()
                if bar is not None:
                    bar.advance(result.input, done)
    finally:
        if bar is not None:
            bar.close()
        if client is not None:
            client.close()
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
