"""Filtering files: the one pipeline that the command line and scripts share.

:class:`Settings` holds everything about filtering except the kernel and the
file names; :func:`filter_file` runs one file from a path, bytes or stream
to a path (written atomically) or stream; :func:`plan_tiles` and
:func:`filter_file_in_tiles` do the same for images bigger than memory,
block by block. Batches of files run through :mod:`flipconv.core.files.workers`.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "blurred.tif"
>>> result = filter_file("samples/glyph.png", out, "box:3", Settings("convolve"))
>>> result.status, result.format, result.shape
('ok', 'tiff', [96, 96])
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from flipconv.core._shared.errors import ImageWriteError, OptionError
from flipconv.core._shared.limits import (
    available_memory,
    check_working_memory,
    default_threads,
    format_size,
    working_memory,
)
from flipconv.core._shared.vocabulary import (
    SAMPLE_TYPES,
    check_choice,
)
from flipconv.core.engine.channels import channels_last
from flipconv.core.engine.filters import KernelLike, as_filter, filter_with
from flipconv.core.engine.local_tiles import runs_here
from flipconv.core.engine.settings import FilterSettings
from flipconv.core.engine.tiled import import_dask_array
from flipconv.core.files.scheduler import compute_function, is_cluster
from flipconv.core.io import bigio, bigwrite
from flipconv.core.io.formats import DEFAULT_MAX_PIXELS, EXTENSIONS, check_writable
from flipconv.core.io.guard import (
    Read,
    Write,
    check_replaceable_folder,
    check_writes,
    kernel_reads,
)
from flipconv.core.io.readers import check_pixel_limit, read_image
from flipconv.core.io.writers import write_image
from flipconv.core.kernels.kernel import Filterable

Source = str | os.PathLike[str] | bytes | BinaryIO
Target = str | os.PathLike[str] | BinaryIO


@dataclass(frozen=True)
class Settings(FilterSettings):
    """Everything about filtering a file except the kernel and the file names.

    The fields of :class:`~flipconv.core.engine.settings.FilterSettings`
    (:func:`~flipconv.core.engine.filters.filter_image`'s options; here
    ``memory_limit`` is in bytes of working memory, default: the memory
    available when a file starts), plus how to write (``quality`` for JPEG,
    ``compression`` 0-9 for PNG) and the pixel limit (``max_pixels``: None
    refuses whole images over 500 MP and sets no limit on tiles, which
    stream; a number is the limit for both). ``input_scale`` is the full
    intensity of a float input (255 for one that holds 0..255). Checked
    when made: the choices, and numbers that must be finite.
    """

    dtype: str | None = None
    quality: int = 95
    compression: int | None = None
    max_pixels: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dtype is not None:
            check_choice("dtype", self.dtype, SAMPLE_TYPES)
        for name in ("cval", "scale", "bias"):
            if not math.isfinite(getattr(self, name)):
                raise OptionError(f"`{name}` {getattr(self, name)!r} is not a finite number")
        if self.input_scale is not None and not (
            math.isfinite(self.input_scale) and self.input_scale > 0
        ):
            raise OptionError(f"`input_scale` {self.input_scale!r} must be a positive number")
        _at_least("threads", self.threads, 1)
        _at_least("max_pixels", self.max_pixels, 1)
        _at_least("memory_limit", self.memory_limit, 1)
        if not 1 <= self.quality <= 100:
            raise OptionError(f"`quality` {self.quality} is not between 1 and 100")
        if self.compression is not None and not 0 <= self.compression <= 9:
            raise OptionError(f"`compression` {self.compression} is not between 0 and 9")

    def shared_by(self, workers: int) -> Settings:
        """These settings for one of ``workers`` files filtered at once on this machine.

        The cores and the memory are shared, not multiplied: each gets
        ``cores // workers`` threads (unless set) and its share of the limit.
        """
        threads = self.threads
        if threads is None and workers > 1:
            threads = max(1, default_threads() // workers)
        limit = self.memory_limit or available_memory()
        return replace(self, threads=threads, memory_limit=limit // workers if limit else None)

    def on_cluster(self) -> Settings:
        """These settings for a cluster's worker, which has its own cores and memory."""
        return replace(self, threads=None, memory_limit=None)


def _at_least(name: str, value: int | None, low: int) -> None:
    if value is not None and value < low:
        raise OptionError(f"`{name}` {value} must be at least {low}")


@dataclass
class FileResult:
    """What happened to one file (``status`` is ``ok`` or ``error``).

    Its :meth:`to_json` is one line of ``--json`` output; the keys are stable.
    """

    input: str
    output: str
    status: str = "ok"
    shape: list[int] = field(default_factory=list)
    dtype: str | None = None
    format: str | None = None
    seconds: float = 0.0
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    chunk: int | None = None
    #: The route the sums took (see ``filter_image``'s ``engine``): ``route``,
    #: and for the certified route ``samples`` and ``recomputed``.
    engine: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as one line of ``--json`` output."""
        doc = asdict(self)
        doc["seconds"] = round(self.seconds, 4)
        for key in ("error", "chunk", "engine"):
            if doc[key] is None:
                del doc[key]
        return doc


def output_format(path: str | os.PathLike[str] | None, fmt: str | None) -> str | None:
    """The format to write: ``fmt``, or the one the file name's extension names.

    None when neither says (a stream: the input's format is kept).

    Raises
    ------
    OptionError
        If ``fmt`` and the extension disagree, or a file name has no image
        extension and no ``fmt`` is given.
    """
    fmt = fmt.lower() if fmt else None
    if path is None:
        return fmt
    by_name = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt and by_name and fmt != by_name:
        raise OptionError(
            f"`fmt` {fmt} disagrees with the extension of {os.fspath(path)!r} ({by_name})"
        )
    if fmt is None and by_name is None:
        raise OptionError(
            f"{os.fspath(path)!r}: the extension does not name a format; add one of "
            f"{' '.join(sorted(EXTENSIONS))} or give `fmt`"
        )
    return fmt or by_name


def check_dtype_for_format(dtype: str | None, fmt: str) -> None:
    """Refuse (:class:`OptionError`) an output sample type that ``fmt`` cannot store."""
    if dtype is not None:
        try:
            check_writable(dtype, 1, fmt)
        except ImageWriteError as exc:
            raise OptionError(str(exc)) from None


def check_paths(
    src: object,
    dst: object,
    kernel: Filterable,
    *,
    src_name: str,
    dst_name: str,
    in_place: bool = False,
) -> None:
    """Refuse (:class:`OptionError`) an output that is anything this run reads.

    The input (a path, or stdin redirected from a file) and every kernel file
    are compared with the output as files and folders, not as text
    (:func:`flipconv.core.io.guard.check_writes`); ``in_place`` lets the output
    be the input itself, never a kernel file.
    """
    reads = [Read(src, src_name), *kernel_reads(kernel)]
    check_writes([Write(dst, dst_name, own=src if in_place else None)], reads)
    if isinstance(dst, (str, os.PathLike)) and Path(dst).suffix.lower() == ".zarr":
        check_replaceable_folder(dst)


def _path(obj: object) -> str | None:
    """The path of a file name, None for bytes and streams."""
    return os.fspath(obj) if isinstance(obj, (str, os.PathLike)) else None


def filter_file(
    src: Source,
    dst: Target,
    kernel: KernelLike,
    settings: Settings,
    *,
    fmt: str | None = None,
    src_name: str | None = None,
    dst_name: str | None = None,
    in_place: bool = False,
) -> FileResult:
    """Read, filter and write one image.

    Parameters
    ----------
    src
        A path, the encoded bytes, or a readable binary stream. Its format is
        sniffed from the bytes.
    dst
        A path (written atomically: all or nothing) or a writable binary
        stream.
    kernel
        A Kernel, spec string or 2-D array-like.
    fmt
        Output format; default: ``dst``'s extension, or for a stream the
        input's format.
    src_name, dst_name
        Names for messages and the result (default: the paths, or ``-``).
    in_place
        Let ``dst`` be ``src`` itself (however spelled: a symlink, a hard
        link, an open file); without it that is refused, as it would replace
        the input.

    Raises
    ------
    FlipconvError
        Any foreseen failure (unreadable input, the input as the output, a
        format that cannot store the result, a limit), before anything is
        written.
    """
    started = time.perf_counter()
    src_name = src_name or _path(src) or "-"
    dst_name = dst_name or _path(dst) or "-"
    label = "stdin" if src_name == "-" else src_name
    kernel = as_filter(kernel)
    check_paths(src, dst, kernel, src_name=src_name, dst_name=dst_name, in_place=in_place)
    out_fmt = output_format(_path(dst), fmt)
    if out_fmt is not None:
        check_dtype_for_format(settings.dtype, out_fmt)  # before reading anything
    _preload_filters()
    limit = settings.memory_limit or available_memory()
    image = read_image(
        src, max_pixels=settings.max_pixels or DEFAULT_MAX_PIXELS, name=label, memory_limit=limit
    )
    out_fmt = out_fmt or image.format
    channels = image.pixels.shape[2] if image.pixels.ndim == 3 else 1
    check_writable(settings.dtype or image.pixels.dtype, channels, out_fmt)
    if limit:  # the header's estimate knew the size; now the channels are known too
        check_working_memory(image.pixels.shape, limit, label=label)
    notes = list(image.notes)
    engine: dict[str, Any] = {}
    pixels = _filter(image.pixels, kernel, settings, notes=notes, engine=engine)
    write_image(
        pixels,
        dst,
        fmt=out_fmt,
        quality=settings.quality,
        compression=settings.compression,
        threads=settings.threads,
    )
    return FileResult(
        src_name,
        dst_name,
        shape=list(pixels.shape),
        dtype=str(pixels.dtype),
        format=out_fmt,
        seconds=time.perf_counter() - started,
        notes=notes,
        engine=engine or None,
    )


def _filter(
    pixels: Any,
    kernel: Filterable,
    s: Settings,
    chunks: int | None = None,
    notes: list[str] | None = None,
    engine: dict[str, Any] | None = None,
    by_region: bool = False,
    checkpoint: Callable[[Any], Any] | None = None,
) -> Any:
    """The image through ``filter_with``, as ``filter_image`` takes it (channels last).

    The memory limit was checked here already, with the file's name.
    """
    pixels, _ = channels_last(pixels, None)
    settings = replace(s, memory_limit=None)
    return filter_with(
        pixels, kernel, settings, chunks=chunks, notes=notes, engine=engine,
        by_region=by_region, checkpoint=checkpoint,
    )  # fmt: skip


def _preload_filters() -> None:
    """Import OpenCV (about 0.1 s) on a thread while the input is decoded.

    Pillow, tifffile and zlib release the GIL while they decode, so the two
    overlap; the filter step then finds the module already imported.
    """

    def load() -> None:
        try:
            import cv2  # noqa: F401
        except Exception:  # the filter step falls back to scipy
            pass

    threading.Thread(target=load, name="flipconv-preload", daemon=True).start()


# ---------------------------------------------------------------- tiles


@dataclass(frozen=True)
class Tiling:
    """Why a file is to be filtered in tiles: asked for, over the memory limit, or big."""

    need: int | None = None
    limit: int | None = None
    #: Chosen for speed and memory: a big file that tiles stream faster (see
    #: :func:`~flipconv.core.files.run.plan_tiling`).
    big: bool = False

    def note(self, name: str, to_stdout: bool = False) -> str:
        """What to tell the user; ``to_stdout``: why tiles cannot stream to stdout."""
        if self.big:
            return f"{name}: streamed in tiles, faster and in less memory than whole"
        if self.need is None or self.limit is None:
            return f"{name}: filtering it in tiles, as asked"
        then = (
            "streaming in tiles needs -o FILE (.tif, .npy or .zarr)"
            if to_stdout
            else "filtering it in tiles"
        )
        return (
            f"{name} needs about {format_size(self.need)} in memory, over the limit of "
            f"{format_size(self.limit)}; {then}"
        )


def plan_tiles(src: str, settings: Settings, chunk: int | None = None) -> Tiling | None:
    """Whether ``src`` is filtered in tiles: when ``chunk`` is given, or when
    the whole image would not fit ``settings.memory_limit`` and its format can
    be read by region. None: in memory (where the limits say no if need be).
    """
    if chunk is not None:
        return Tiling()
    limit = settings.memory_limit or available_memory()
    found = bigio.probe_shape(src) if os.path.exists(src) else None
    if found is None or not limit:
        return None
    need = working_memory(found[0])
    return Tiling(need, limit) if need > limit else None


def filter_file_in_tiles(
    src: str,
    dst: str,
    kernel: KernelLike,
    settings: Settings,
    *,
    fmt: str | None = None,
    chunk: int | None = None,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    in_place: bool = False,
) -> FileResult:
    """Filter a file bigger than memory block by block.

    ``src`` is a TIFF, NPY or Zarr that can be read by region; ``dst`` a
    ``.tif``, ``.npy`` or ``.zarr`` written tile by tile. ``chunk`` is the
    block side (default: sized from the memory limit); ``scheduler`` where
    the tiles run (:func:`flipconv.core.files.scheduler.compute_function`);
    ``progress(done, total)`` is told after each row of tiles. The numbers
    are those of :func:`filter_file`; so is ``in_place``.

    On this machine's threads (no ``scheduler``, ``threads`` or
    ``synchronous``) the tiles run here without Dask
    (:class:`~flipconv.core.engine.tiled.Tiles`); processes, a cluster and
    chains of kernels go through Dask (``flipconv[dask]``). Both write the
    same bytes.
    """
    started = time.perf_counter()
    check_paths(src, dst, as_filter(kernel), src_name=src, dst_name=dst, in_place=in_place)
    here = scheduler in (None, "threads", "threaded", "synchronous", "sync") and runs_here(
        as_filter(kernel)
    )
    if not here:
        import_dask_array()  # a clear error without the extra
    suffix = os.path.splitext(dst)[1].lower()
    if suffix not in bigwrite.STREAM_WRITE or (fmt and fmt.lower() not in ("tiff", "npy")):
        raise OptionError(f"{dst!r}: streamed output must be .tif, .npy or .zarr")
    kernel = as_filter(kernel)
    if os.path.exists(src) and not (os.path.isfile(src) or os.path.isdir(src)):
        raise OptionError(f"{src}: is a pipe or device; tiles read a file by region, give one")
    found = bigio.probe_shape(src)
    if found is None:
        bigio.open_lazy(src, 1024)  # raises with how to convert
        raise AssertionError("unreachable")
    shape, in_dtype, _ = found
    if settings.max_pixels is not None:  # a limit given: it bounds the output too
        check_pixel_limit(shape[1], shape[0], settings.max_pixels, src)
    threads = settings.threads or default_threads()
    if chunk is None:
        out_dtype = np.dtype(settings.dtype or in_dtype)
        halo = max(max(side) for side in kernel.reach(settings.operation))
        chunk = bigwrite.choose_chunk(
            shape,
            settings.memory_limit or available_memory() or 1 << 30,
            threads,
            halo,
            out_dtype.itemsize,
            in_dtype.itemsize,
            rows_held=not here,
        )
    chunk = bigwrite.tile_side(chunk, dst)
    if here:
        result = _filter(bigio.open_region(src), kernel, settings, chunks=chunk, by_region=True)
        on = 1 if scheduler in ("synchronous", "sync") else threads
        written = bigwrite.write_streaming(result, dst, progress=progress, threads=on)
    else:
        # a cluster's workers cannot reach this machine's folder: no stored passes there
        local = scheduler is None or not is_cluster(scheduler)
        with bigwrite.stored_passes(dst, kernel if local else None) as checkpoint:
            result = _filter(
                bigio.open_lazy(src, chunk), kernel, settings, chunks=chunk, checkpoint=checkpoint
            )
            written = bigwrite.write_streaming(
                result, dst, compute=compute_function(scheduler, threads), progress=progress
            )
    return FileResult(
        src,
        dst,
        shape=list(result.shape),
        dtype=str(result.dtype),
        format=written,
        seconds=time.perf_counter() - started,
        chunk=chunk,
    )
