"""The ``flipconv`` command: convolve, correlate, verify, kernels.

Each command parses its options, makes one call into :mod:`flipconv.core`,
and formats the result. Errors are translated once, in
:meth:`FlipconvGroup.main`, into one or two lines on stderr and an
:class:`~flipconv.cli.status.ExitStatus`.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn

import click
from flipconv.cli.options import (
    KERNEL,
    MODES,
    ORIGIN,
    PICTURE,
    batch_options,
    border_options,
    engine_options,
    io_options,
    json_option,
    quiet_option,
    scale_options,
)
from flipconv.cli.status import ExitStatus
from flipconv.core.vocabulary import ALPHA_POLICIES, EXPORT_FORMATS, OUT_RANGES, PROBE_FORMATS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for name in ("flipconv", "numpy", "scipy", "imageio", "pillow", "tifffile"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} (not installed)")
    return ", ".join(parts)


def _stderr(message: str) -> None:
    click.echo(message, err=True)


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
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or bool(os.environ.get("FLIPCONV_DEBUG"))
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, False, **extra)
        try:
            status = super().main(argv, prog_name or "flipconv", complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "flipconv"
            _stderr(f"{where}: error: {exc.format_message()}")
            _stderr(f"Try '{where} --help' for help.")
            sys.exit(ExitStatus.USAGE)
        except click.ClickException as exc:
            _stderr(f"flipconv: error: {exc.format_message()}")
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt):
            _stderr("flipconv: interrupted")
            sys.exit(ExitStatus.INTERRUPTED)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(ExitStatus.BROKEN_PIPE)
        except Exception as exc:
            from flipconv.core.errors import FlipconvError, KernelError, OptionError

            if debug:
                raise
            if isinstance(exc, FlipconvError):
                usage = isinstance(exc, (KernelError, OptionError))
                _stderr(f"flipconv: error: {exc}")
                sys.exit(ExitStatus.USAGE if usage else ExitStatus.ERROR)
            if isinstance(exc, MemoryError):
                _stderr("flipconv: error: out of memory (try a smaller image or --dtype float32)")
                sys.exit(ExitStatus.ERROR)
            _stderr(
                f"flipconv: internal error: {type(exc).__name__}: {exc} "
                "(run with --debug for a traceback)"
            )
            sys.exit(ExitStatus.ERROR)
        sys.exit(status if isinstance(status, int) else ExitStatus.OK)

    def invoke(self, ctx: click.Context) -> Any:
        # click would swallow EPIPE and exit 0; a cut pipeline must not look
        # successful to `set -o pipefail`, so exit as if killed by SIGPIPE.
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            raise click.exceptions.Exit(ExitStatus.BROKEN_PIPE) from None


def _silence_stdout() -> None:
    # Python flushes stdout at exit; once the reader is gone that would raise
    # again, so point the descriptor at /dev/null (the documented recipe).
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version())
        ctx.exit()


@click.group(cls=FlipconvGroup, context_settings=CONTEXT)
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


# ---------------------------------------------------------------- filtering

FILTER_EPILOG = """\b
Kernel SPEC: a built-in (gaussian, gaussian:2, motion:length=9,angle=30; see
'flipconv kernels'), an inline matrix ("1,0,-1;2,0,-2;1,0,-1": rows by ';'),
or a file (@k.txt, k.csv, k.npy).

\b
Examples:
  flipconv OP -k gaussian:2 photo.png -o blurred.png
  flipconv OP -k sobel-x --out-range abs < a.png > edges.png
  cat a.png | flipconv convolve -k box:5 | flipconv correlate -k emboss --bias 128 > b.png
  flipconv OP -k sobel-x shots/*.png -o edges/ --mkdir --output-template "{stem}-x{suffix}"
"""


def _filter_command(operation: str) -> click.Command:
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
    @click.option("-k", "--kernel", type=KERNEL, required=True, help="Kernel SPEC (see below).")
    @io_options
    @border_options
    @click.option("--normalize", is_flag=True, help="Divide the kernel by its sum.")
    @click.option(
        "--scale", type=float, default=1.0, show_default=True, help="Multiply the result."
    )
    @click.option(
        "--bias",
        type=float,
        default=0.0,
        show_default=True,
        help="Add to the result, in image units (128 centres an 8-bit emboss).",
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
        status = _run_filter(operation, **opts)
        if status:
            sys.exit(status)

    return command


def _run_filter(
    operation: str,
    *,
    kernel: Any,
    inputs: tuple[str, ...],
    output: str,
    fmt: str | None,
    dtype: str | None,
    max_pixels: int,
    memory_limit: int | None,
    quality: int,
    compression: int | None,
    mode: str,
    cval: float,
    origin: tuple[int, int] | None,
    normalize: bool,
    scale: float,
    bias: float,
    out_range: str,
    alpha: str,
    method: str,
    threads: int | None,
    quiet: bool,
    template: str | None,
    mkdir: bool,
    in_place: bool,
    jobs: int | None,
    keep_going: bool,
    as_json: bool,
    chunk: int | None,
    scheduler: str | None,
) -> int:
    from flipconv.core.errors import OptionError

    for name, number in (("--scale", scale), ("--bias", bias)):
        if number != number or abs(number) == float("inf"):
            raise click.BadParameter(f"{number!r} is not a finite number", param_hint=name)
    try:
        kernel = kernel.with_origin(origin)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None
    paths = list(inputs) or ["-"]
    if kernel.spec.strip() == "@-" and "-" in paths:
        raise click.UsageError(
            "-k @- reads the kernel from stdin, so the image must come from a file"
        )
    settings = dict(
        operation=operation,
        mode=mode,
        cval=cval,
        alpha=alpha,
        scale=scale,
        bias=bias,
        out_range=out_range,
        dtype=dtype,
        normalize=normalize,
        method=method,
        threads=threads,
        quality=quality,
        compression=compression,
        max_pixels=max_pixels,
        memory_limit=memory_limit,
    )
    is_folder = output != "-" and (output.endswith(("/", os.sep)) or os.path.isdir(output))
    if len(paths) > 1 or is_folder or in_place or template is not None:
        if output == "-" and not in_place:
            raise click.UsageError(_several_inputs_hint(paths))
        return _run_batch(
            paths,
            None if output == "-" else output,
            kernel,
            settings,
            fmt=fmt,
            template=template,
            mkdir=mkdir,
            in_place=in_place,
            jobs=jobs,
            keep_going=keep_going,
            as_json=as_json,
            quiet=quiet,
            scheduler=scheduler,
        )
    if as_json and output == "-":
        raise click.UsageError("--json prints a report on stdout, so the image needs -o FILE")
    if _should_stream(paths[0], output, settings, chunk, quiet):
        return _run_streaming(
            paths[0],
            output,
            kernel,
            settings,
            fmt=fmt,
            chunk=chunk,
            scheduler=scheduler,
            quiet=quiet,
            as_json=as_json,
        )
    return _run_one(paths[0], output, kernel, settings, fmt=fmt, quiet=quiet, as_json=as_json)


def _several_inputs_hint(paths: list[str]) -> str:
    """What to say when several inputs meet no output folder.

    ImageMagick's habit puts the output last (``in.png out.png``): when the
    last of two names does not exist and names an image format, that is what
    was meant. The hint never suggests a flag that would replace an input the
    user may have meant as an output.
    """
    from pathlib import Path

    from flipconv.core.formats import EXTENSIONS

    last = paths[-1]
    if len(paths) == 2 and not os.path.lexists(last) and Path(last).suffix.lower() in EXTENSIONS:
        return f"{last}: no such input; did you mean -o {last}?"
    return (
        f"{len(paths)} inputs write {len(paths)} files: give -o FOLDER/ for one output "
        "each, or -o FILE with a single input"
    )


def _should_stream(
    input: str, output: str, s: dict[str, Any], chunk: int | None, quiet: bool
) -> bool:
    """Tiles when asked (--chunk), or when the whole image would not fit the memory limit."""
    if chunk is not None:
        if input == "-" or output == "-":
            raise click.UsageError("--chunk streams from a file to a file; give INPUT and -o FILE")
        return True
    if input == "-":
        return False
    from flipconv.core.bigio import probe_shape
    from flipconv.core.limits import available_memory, format_size, working_memory

    limit = s["memory_limit"] or available_memory()
    found = probe_shape(input) if os.path.exists(input) else None
    if found is None:  # decoded whole: the pixel and memory limits say no if need be
        return False
    shape = found[0]
    need = working_memory(shape)
    if not limit or need <= limit:
        return False
    if output == "-":
        raise click.UsageError(
            f"{input} needs about {format_size(need)} in memory, over the "
            f"limit of {format_size(limit)}; streaming in tiles needs "
            "-o FILE (.tif, .npy or .zarr)"
        )
    if not quiet:
        _stderr(
            f"flipconv: note: {input} needs about {format_size(need)} in memory, over the "
            f"limit of {format_size(limit)}; filtering it in tiles"
        )
    return True


def _compute_function(scheduler: str | None, threads: int) -> Any:
    """``compute(*delayed)`` on the chosen Dask scheduler."""
    import dask

    if scheduler in (None, "threads", "threaded"):
        return lambda *d: dask.compute(*d, scheduler="threads", num_workers=threads)
    if scheduler in ("processes", "synchronous", "sync", "single-threaded"):
        name = "processes" if scheduler == "processes" else "synchronous"
        return lambda *d: dask.compute(*d, scheduler=name, num_workers=threads)
    client = _client(scheduler)
    return lambda *d: client.gather(client.compute(list(d)))


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        from flipconv.core.errors import OptionError
        from flipconv.core.tiled import DASK_EXTRA

        raise OptionError(f"--scheduler {address} needs dask.distributed; {DASK_EXTRA}") from None
    import logging

    # distributed logs every rescheduled task; flipconv reports failures itself
    logging.getLogger("distributed").setLevel(logging.ERROR)
    if "://" not in address and address.rpartition(":")[2].isdigit() is False:
        from flipconv.core.errors import OptionError

        raise OptionError(
            f"--scheduler {address!r} is not threads, processes, synchronous or "
            "a scheduler address such as tcp://127.0.0.1:8786"
        )
    try:
        return Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        from flipconv.core.errors import FlipconvError

        raise FlipconvError(f"cannot reach the Dask scheduler at {address}: {exc}") from None


def _run_streaming(
    input: str,
    output: str,
    kernel: Any,
    s: dict[str, Any],
    *,
    fmt: str | None,
    chunk: int | None,
    scheduler: str | None,
    quiet: bool,
    as_json: bool,
) -> int:
    import time

    from flipconv.core.bigio import STREAM_WRITE, choose_chunk, open_lazy, probe_shape
    from flipconv.core.engine import default_threads
    from flipconv.core.filters import filter_image
    from flipconv.core.limits import available_memory
    from flipconv.core.tiled import import_dask_array

    started = time.perf_counter()
    import_dask_array()  # a clear error without the extra
    suffix = os.path.splitext(output)[1].lower()
    if suffix not in STREAM_WRITE or (fmt and fmt.lower() not in ("tiff", "npy")):
        raise click.BadParameter(
            f"{output!r}: streamed output must be .tif, .npy or .zarr", param_hint="-o/--output"
        )
    found = probe_shape(input)
    if found is None:
        open_lazy(input, 1024)  # raises with how to convert
    shape, in_dtype, _ = found  # type: ignore[misc]
    threads = s["threads"] or default_threads()
    import numpy

    out_dtype = numpy.dtype(s["dtype"] or in_dtype)
    if chunk is None:
        (rb, ra), (cb, ca) = kernel.reach(s["operation"])
        chunk = choose_chunk(
            shape,
            s["memory_limit"] or available_memory(),
            threads,
            max(rb, ra, cb, ca),
            out_dtype.itemsize,
            in_dtype.itemsize,
        )
    if suffix in (".tif", ".tiff"):
        chunk = -(-chunk // 16) * 16  # TIFF tiles are multiples of 16
    lazy = open_lazy(input, chunk)
    if s["normalize"]:
        kernel = kernel.normalized()
    result = filter_image(
        lazy,
        kernel,
        operation=s["operation"],
        mode=s["mode"],
        cval=s["cval"],
        alpha=s["alpha"],
        scale=s["scale"],
        bias=s["bias"],
        out_range=s["out_range"],
        dtype=s["dtype"],
        method=s["method"],
        chunks=chunk,
    )
    compute = _compute_function(scheduler, threads)
    bar = _ChunkProgress() if not quiet and _is_terminal(sys.stderr) else None
    from flipconv.core.bigio import write_streaming

    try:
        written = write_streaming(
            result, output, compute=compute, progress=bar.update if bar else None
        )
    finally:
        if bar:
            bar.close()
    if as_json:
        from flipconv.core.batch import FileResult

        doc = FileResult(
            input,
            output,
            shape=list(result.shape),
            dtype=str(result.dtype),
            format=written,
            seconds=time.perf_counter() - started,
        ).to_json()
        doc["chunk"] = chunk
        click.echo(json.dumps(doc))
    return 0


class _ChunkProgress:
    """Tiles done / total on stderr (terminal only)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[bold]tiles"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._task = self._progress.add_task("tiles", total=None)
        self._progress.start()

    def update(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)

    def close(self) -> None:
        self._progress.stop()


def _run_batch(
    paths: list[str],
    out_dir: str | None,
    kernel: Any,
    settings: dict[str, Any],
    *,
    fmt: str | None,
    template: str | None,
    mkdir: bool,
    in_place: bool,
    jobs: int | None,
    keep_going: bool,
    as_json: bool,
    quiet: bool,
    scheduler: str | None = None,
) -> int:
    from flipconv.cli.batch import run_batch
    from flipconv.core.batch import Settings, plan_batch
    from flipconv.core.engine import default_threads
    from flipconv.core.limits import available_memory

    planned = plan_batch(
        paths,
        out_dir=out_dir,
        template=template,
        fmt=fmt.lower() if fmt else None,
        in_place=in_place,
        mkdir=mkdir,
    )
    if settings["dtype"] is not None:
        for job in planned:
            if job.fmt is not None:
                _check_dtype_for_format(settings["dtype"], job.fmt)
    cores = default_threads()
    workers = max(1, min(jobs or cores, len(planned)))
    if settings["threads"] is None and workers > 1:
        settings["threads"] = max(1, cores // workers)  # cores are shared, not multiplied
    limit = settings["memory_limit"] or available_memory()
    settings["memory_limit"] = limit // workers if limit else None
    progress = not quiet and _is_terminal(sys.stderr)
    client = None
    if scheduler not in (None, "threads", "threaded", "processes", "synchronous", "sync"):
        client = _client(scheduler)  # type: ignore[arg-type]
        settings["threads"] = None  # each worker uses its own cores
        settings["memory_limit"] = None  # and its own memory
    elif scheduler == "synchronous" or scheduler == "sync":
        workers = 1
    try:
        return run_batch(
            planned,
            kernel,
            Settings(**settings),
            workers=workers,
            keep_going=keep_going,
            as_json=as_json,
            quiet=quiet,
            progress=progress,
            client=client,
        )
    finally:
        if client is not None:
            client.close()


def _run_one(
    input: str,
    output: str,
    kernel: Any,
    s: dict[str, Any],
    *,
    fmt: str | None,
    quiet: bool,
    as_json: bool,
) -> int:
    import time

    started = time.perf_counter()
    out_fmt = _output_format(output, fmt)
    dtype = s["dtype"]
    if out_fmt is not None and dtype is not None:
        _check_dtype_for_format(dtype, out_fmt)
    if output == "-" and _is_terminal(sys.stdout):
        raise click.UsageError(
            "refusing to write image bytes to a terminal; use -o FILE or redirect stdout"
        )

    from flipconv.core.filters import filter_image
    from flipconv.core.limits import available_memory, check_working_memory
    from flipconv.core.writers import write_image

    memory_limit = s["memory_limit"]
    if memory_limit is None:
        memory_limit = available_memory()
    _preload_scipy()

    image = _read_input(input, s["max_pixels"])
    if not quiet:
        for note in image.notes:
            _stderr(f"flipconv: note: {note}")
    if out_fmt is None:
        out_fmt = image.format
    if memory_limit:
        check_working_memory(
            image.pixels.shape, memory_limit, label="stdin" if input == "-" else input
        )
    pixels = filter_image(
        image.pixels,
        kernel,
        operation=s["operation"],
        mode=s["mode"],
        cval=s["cval"],
        alpha=s["alpha"],
        scale=s["scale"],
        bias=s["bias"],
        out_range=s["out_range"],
        dtype=dtype,
        normalize=s["normalize"],
        method=s["method"],
        threads=s["threads"],
    )
    dest = _binary(sys.stdout) if output == "-" else output
    write_image(
        pixels,
        dest,
        fmt=out_fmt,
        quality=s["quality"],
        compression=s["compression"],
        threads=s["threads"],
    )
    if as_json:
        from flipconv.core.batch import FileResult

        result = FileResult(
            input,
            output,
            shape=list(pixels.shape),
            dtype=str(pixels.dtype),
            format=out_fmt,
            seconds=time.perf_counter() - started,
            notes=list(image.notes),
        )
        click.echo(json.dumps(result.to_json()))
    return 0


def _preload_scipy() -> None:
    """Import scipy.ndimage (about 0.5 s) on a thread while the input is decoded.

    Pillow, tifffile and zlib release the GIL while they decode, so the two
    overlap; the filter step then finds the module already imported.
    """
    import threading

    def load() -> None:
        try:
            import scipy.ndimage  # noqa: F401
        except Exception:  # the filter step will report it
            pass

    threading.Thread(target=load, name="flipconv-preload", daemon=True).start()


def _binary(stream: Any) -> Any:
    """The byte stream under a text stream (sys.stdin/sys.stdout)."""
    return getattr(stream, "buffer", stream)


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _output_format(output: str, fmt: str | None) -> str | None:
    """The output format if known before reading the input, else None (stdout)."""
    from pathlib import Path

    fmt = fmt.lower() if fmt else None
    if output == "-":
        return fmt
    from flipconv.core.formats import EXTENSIONS

    by_name = EXTENSIONS.get(Path(output).suffix.lower())
    if fmt and by_name and fmt != by_name:
        raise click.BadParameter(
            f"--format {fmt} disagrees with the extension of {output!r} ({by_name})",
            param_hint="--format",
        )
    if fmt is None and by_name is None:
        raise click.BadParameter(
            f"{output!r}: the extension does not name a format; add one of "
            f"{' '.join(sorted(EXTENSIONS))} or give --format",
            param_hint="-o/--output",
        )
    return fmt or by_name


def _check_dtype_for_format(dtype: str, fmt: str) -> None:
    from flipconv.core.formats import WRITE_TYPES

    if fmt in WRITE_TYPES and dtype not in WRITE_TYPES[fmt]:
        raise click.BadParameter(
            f"{fmt.upper()} cannot store {dtype} samples (it stores "
            f"{', '.join(WRITE_TYPES[fmt])}); use TIFF or NPY for floats",
            param_hint="--dtype",
        )


def _read_input(path: str, max_pixels: int) -> Any:
    from flipconv.core.readers import read_image

    if path == "-":
        stdin = _binary(sys.stdin)
        if _is_terminal(stdin):
            raise click.UsageError("no input image: give a file, or pipe an image into stdin")
        return read_image(stdin, max_pixels=max_pixels, name="stdin")
    return read_image(path, max_pixels=max_pixels)


cli.add_command(_filter_command("convolve"))
cli.add_command(_filter_command("correlate"))


# ---------------------------------------------------------------- verify


@cli.command(context_settings=CONTEXT)
@click.option(
    "-k",
    "--kernel",
    "kernels",
    type=KERNEL,
    multiple=True,
    help="Kernel SPEC to verify (repeatable). Default: every built-in and "
    "asymmetric demonstrators.",
)
@click.option(
    "--image",
    type=click.Path(dir_okay=False, allow_dash=True),
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
    "--picture",
    type=PICTURE,
    default=None,
    help="Also write a PNG: per kernel, the kernel, both results and their "
    "difference as heat maps.",
)
@json_option
def verify(
    kernels: tuple[Any, ...],
    image: str | None,
    mode: str,
    origin: tuple[int, int] | None,
    max_pixels: int,
    picture: str | None,
    as_json: bool,
) -> None:
    """Show where convolve and correlate agree, where they differ, and why.

    For each kernel both operations run on real pixels; the kernel's point
    symmetry about its origin predicts the outcome (symmetric: agree,
    antisymmetric: negated, asymmetric: differ). Exit 0 when every prediction
    held, 3 when one did not.
    """
    from flipconv.core.errors import OptionError
    from flipconv.core.specs import parse_kernel_spec
    from flipconv.core.verify import default_kernel_specs, demo_image, verify_kernel

    chosen = list(kernels) or [parse_kernel_spec(s) for s in default_kernel_specs()]
    try:
        chosen = [k.with_origin(origin) for k in chosen]
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None
    if image is None:
        pixels, source = demo_image(), "generated test image"
    else:
        from flipconv.core.verify import as_verify_image

        img = _read_input(image, max_pixels)
        pixels, source = as_verify_image(img.pixels), image
    results = [verify_kernel(k, pixels, mode=mode) for k in chosen]  # type: ignore[arg-type]
    ok = all(r.ok for r in results)
    if picture is not None:
        from flipconv.core.verify import verify_picture
        from flipconv.core.writers import write_image

        sheet = verify_picture(chosen, pixels, mode=mode, source=source)  # type: ignore[arg-type]
        write_image(sheet, picture, fmt="png")
    if as_json:
        doc = {
            "image": source,
            "image_shape": list(pixels.shape),
            "mode": mode,
            "ok": ok,
            "results": [r.to_json() for r in results],
        }
        click.echo(json.dumps(doc, indent=2))
    else:
        _print_verify(results, source, pixels.shape, mode)
    sys.exit(ExitStatus.OK if ok else ExitStatus.MISMATCH)


def _print_verify(results: list[Any], source: str, shape: tuple[int, ...], mode: str) -> None:
    from flipconv.core.verify import EXPLANATIONS
    from rich.console import Console
    from rich.table import Table

    # On a terminal rich fits the window; in a pipe or file it would assume 80
    # columns and cut kernel names, so give the report the width it needs.
    console = Console(highlight=False, width=None if _is_terminal(sys.stdout) else 130)
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


# ---------------------------------------------------------------- explain


@cli.command(context_settings=CONTEXT)
@click.option("-k", "--kernel", type=KERNEL, required=True, help="Kernel SPEC to explain.")
@click.option("--origin", type=ORIGIN, default=None, help="Origin ROW,COL instead of the default.")
@json_option
def explain(kernel: Any, origin: tuple[int, int] | None, as_json: bool) -> None:
    """A short lesson on one kernel: rotation, symmetry, origin, impulse response.

    Shows the kernel and the kernel rotated 180 degrees about its origin
    (what correlate needs to reproduce convolve), what its symmetry predicts,
    where an even kernel's origin lands, and both operations on one bright
    pixel.
    """
    from flipconv.core.errors import OptionError
    from flipconv.core.explain import explain as explain_kernel

    try:
        k = kernel.with_origin(origin)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None
    facts = explain_kernel(k)
    if as_json:
        click.echo(json.dumps(facts.to_json(), indent=2))
        return
    _print_explanation(facts)


#: Largest side printed as a table; bigger matrices show the window around the origin.
EXPLAIN_SIDE = 9


def _matrix_table(title: str, values: Any, mark: tuple[int, int] | None) -> Any:
    from rich import box
    from rich.table import Table

    h, w = values.shape
    r0 = 0 if mark is None else min(max(0, mark[0] - EXPLAIN_SIDE // 2), max(0, h - EXPLAIN_SIDE))
    c0 = 0 if mark is None else min(max(0, mark[1] - EXPLAIN_SIDE // 2), max(0, w - EXPLAIN_SIDE))
    rows, cols = range(r0, min(h, r0 + EXPLAIN_SIDE)), range(c0, min(w, c0 + EXPLAIN_SIDE))
    if len(rows) < h or len(cols) < w:
        title += (
            f" (rows {rows.start}-{rows.stop - 1}, columns {cols.start}-{cols.stop - 1} of {h}x{w})"
        )
    from rich.markup import escape

    table = Table(
        title=escape(title),
        box=box.SIMPLE,
        show_header=False,
        pad_edge=False,
        min_width=len(title) + 2,
        title_justify="left",
    )
    for _ in cols:
        table.add_column(justify="right")
    peak = float(abs(values).max()) or 1.0
    for r in rows:
        cells = []
        for c in cols:
            v = float(values[r, c])
            text = "0" if v == 0 else f"{v:.4g}"
            colour = "red" if v > 0 else "blue" if v < 0 else "dim"
            style = f"bold {colour}" if abs(v) > 0.5 * peak else colour
            if mark is not None and (r, c) == mark:
                text, style = f"[{text}]", f"{style} reverse"
            cells.append(f"[{style}]{text}[/]")
        table.add_row(*cells)
    return table


def _print_explanation(e: Any) -> None:
    from rich.columns import Columns
    from rich.console import Console

    console = Console(highlight=False, width=None if _is_terminal(sys.stdout) else 110)
    console.print(
        f"[bold]{e.spec}[/]: {e.shape[0]}x{e.shape[1]}, origin {e.origin[0]},"
        f"{e.origin[1]}, [bold]{e.symmetry}[/] (convolve and correlate "
        f"[bold]{e.prediction}[/])"
    )
    console.print(
        Columns(
            [
                _matrix_table(
                    f"kernel, origin {e.origin[0]},{e.origin[1]} [brackets]", e.values, e.origin
                ),
                _matrix_table(
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
                _matrix_table(
                    f"convolve of a 1 at {at[0]},{at[1]} [brackets]", e.impulse_convolve, at
                ),
                _matrix_table("correlate of the same image", e.impulse_correlate, at),
            ],
            padding=(0, 4),
        )
    )


# ---------------------------------------------------------------- probe


@cli.command(context_settings={**CONTEXT, "ignore_unknown_options": True})
@click.option(
    "-k",
    "--kernel",
    type=KERNEL,
    default=None,
    help="Probe kernel [default: 1,2,4;8,16,32;64,128,0, distinct powers of two].",
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
    type=click.FloatRange(min=0.1),
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
    and what happened to negative results. Exit 0 when the probe ran,
    whatever the verdict; 1 when COMMAND failed or wrote nothing readable.

    \b
    flipconv probe -- convert {in} -convolve {kernel} {out}
    flipconv probe --even -- vips conv {in} {out} {kernel_mat}
    flipconv probe --shell -- 'gm convert {in} -convolve {kernel} {out}'
    """
    from flipconv.core.probing import command_filter
    from flipconv.core.probing import probe as run_probe

    argv = list(command)
    if argv and argv[0] == "--":
        argv = argv[1:]
    func = command_filter(argv, fmt=fmt, shell=shell, timeout=timeout)
    report = run_probe(func, kernel, size=size, even=even, depth=int(depth))
    if as_json:
        click.echo(json.dumps({"command": argv, **report.to_json()}, indent=2))
        return
    _print_probe(report, argv)


def _print_probe(r: Any, argv: list[str]) -> None:
    import numpy as np
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, width=None if _is_terminal(sys.stdout) else 110)
    console.print(f"[bold]probe[/] {escape(' '.join(argv))}")
    exact = "exactly" if r.exact else f"approximately (off by up to {r.max_error:.3g})"
    verdict = "cannot tell" if r.orientation == "unknown" else r.orientation
    console.print(f"  orientation    [bold]{verdict}[/]: the tool {r.description}, {exact}")
    if r.ties:
        console.print(f"                 (the kernel also fits: {', '.join(r.ties)})")
    console.print(f"  normalisation  {r.normalization}")
    console.print(
        f"  origin         element {r.origin[0]},{r.origin[1]} of the kernel lands on "
        "the filtered pixel"
    )
    if r.even_origin is not None:
        console.print(
            f"  even origin    2x2 kernel: element {r.even_origin[0]},"
            f"{r.even_origin[1]}: {r.even_convention}"
        )
    elif r.even_convention is not None:
        console.print(f"  even origin    2x2 kernel {escape(r.even_convention)}")
    console.print(f"  border         {r.border}")
    console.print(f"  negatives      {r.negatives}")
    for note in r.notes:
        console.print(f"  note           {note}")
    response = np.array(r.response)
    rows, cols = np.nonzero(response)
    if rows.size:
        window = response[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        at = (len(response) // 2 - rows.min(), len(response[0]) // 2 - cols.min())
        inside = 0 <= at[0] < window.shape[0] and 0 <= at[1] < window.shape[1]
        title = f"response to one pixel of {r.impulse_value:g}"
        console.print(_matrix_table(title, window, at if inside else None))


# ---------------------------------------------------------------- kernels


@cli.group(invoke_without_command=True, context_settings=CONTEXT)
@json_option
@click.pass_context
def kernels(ctx: click.Context, as_json: bool) -> None:
    """List the built-in kernels (or 'kernels show SPEC' for one matrix)."""
    if ctx.invoked_subcommand is not None:
        return
    from flipconv.core.builtins import BUILTINS

    if as_json:
        doc = {"kernels": [_builtin_json(b) for b in BUILTINS.values()]}
        click.echo(json.dumps(doc, indent=2))
        return
    rows = [("name", "parameters (defaults)", "shape", "symmetry", "separable")]
    for b in BUILTINS.values():
        params = ", ".join(f"{p.name}={_fmt(p.default)}" for p in b.params) or "-"
        rows.append(
            (
                b.name,
                params,
                f"{b.shape[0]}x{b.shape[1]}",
                b.symmetry,
                "yes" if b.separable else "no",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    click.echo(
        "\nShapes and classes are at the defaults. 'flipconv kernels show NAME' prints the matrix."
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "auto"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _builtin_json(b: Any) -> dict[str, Any]:
    return {
        "name": b.name,
        "summary": b.summary,
        "signature": b.signature(),
        "params": [
            {
                "name": p.name,
                "type": p.kind.__name__,
                "default": p.default,
                "rule": p.rule(),
                "help": p.help,
            }
            for p in b.params
        ],
        "shape": list(b.shape),
        "symmetry": b.symmetry,
        "separable": b.separable,
    }


@kernels.command("show", context_settings=CONTEXT)
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
    from flipconv.core.errors import OptionError
    from flipconv.core.kernel import PREDICTION, is_separable, symmetry

    try:
        k = spec.with_origin(origin)
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint="--origin") from None
    if picture is not None:
        from flipconv.core.render import kernel_picture
        from flipconv.core.writers import write_image

        write_image(kernel_picture(k.values, k.origin, k.spec), picture, fmt="png")
    if export is not None:
        from flipconv.core.specs import export_kernel

        if as_json:
            raise click.UsageError("--json and --as both choose the output; give one")
        if export == "npy" and _is_terminal(sys.stdout):
            raise click.UsageError("refusing to write .npy bytes to a terminal; redirect stdout")
        if k.offset and export not in ("vips", "json"):
            _stderr(f"flipconv: note: {export} has no offset; {k.offset:g} is left out")
        out = _binary(sys.stdout)
        out.write(export_kernel(k, export))
        out.flush()
        return
    kind = symmetry(k)
    if as_json:
        doc = {
            "spec": k.spec,
            "shape": list(k.shape),
            "origin": list(k.origin),
            "values": k.values.tolist(),
            "sum": float(k.values.sum()),
            "symmetry": kind,
            "prediction": PREDICTION[kind],
            "separable": is_separable(k),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    cells = [[f"{v:.6g}" for v in row] for row in k.values]
    width = max(len(c) for row in cells for c in row)
    click.echo(
        f"{k.spec}: {k.shape[0]}x{k.shape[1]}, origin {k.origin[0]},{k.origin[1]}, "
        f"sum {k.values.sum():.6g}, {kind} (convolve and correlate "
        f"{PREDICTION[kind]}), {'separable' if is_separable(k) else 'not separable'}"
    )
    for r, row in enumerate(cells):
        line = []
        for c, cell in enumerate(row):
            mark = ("[", "]") if (r, c) == k.origin else (" ", " ")
            line.append(f"{mark[0]}{cell.rjust(width)}{mark[1]}")
        click.echo(" ".join(line).rstrip())


def _terminate(signum: int, frame: Any) -> None:
    # Unwind like an exception so the atomic writer removes its temporary file.
    raise SystemExit(ExitStatus.TERMINATED)


def main() -> NoReturn:
    """Console-script entry point."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    cli.main(prog_name="flipconv")
    raise AssertionError("unreachable")  # main always exits
