"""Images bigger than memory, written block by block (read by :mod:`flipconv.core.io.bigio`).

Tiled BigTIFF (tile after tile), NPY (into a memory-mapped file) and Zarr.
Every output goes to a temporary name in the destination folder and is
renamed when complete, so a failure or Ctrl-C leaves no partial file.
:func:`choose_chunk` sizes the blocks from the memory limit.
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core.engine.local_tiles import Tiles
from flipconv.core.io.atomic import atomic_path, run_tag, signals_deferred
from flipconv.core.io.bigio import close_readers
from flipconv.core.kernels.kernel import Filterable, Stack

#: TIFF tiles are multiples of this many pixels on each side.
TIFF_TILE = 16

#: Formats written block by block, by extension.
STREAM_WRITE = {".tif": "tiff", ".tiff": "tiff", ".npy": "npy", ".zarr": "zarr"}


def _blocks_by_row(
    result: Any, compute: Callable[..., Any]
) -> Generator[list[np.ndarray], None, None]:
    """Compute ``result`` one row of blocks at a time, the next row while this one is written.

    At most two rows of finished blocks exist at once, so memory stays bounded,
    and the cores keep filtering while the writer works.
    """
    from concurrent.futures import ThreadPoolExecutor

    rows = [[b[0] if result.ndim == 3 else b for b in row] for row in result.to_delayed()]
    if not rows:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flipconv-rows") as ahead:
        pending = ahead.submit(compute, *rows[0])
        try:
            for index in range(len(rows)):
                done = list(pending.result())
                if index + 1 < len(rows):
                    pending = ahead.submit(compute, *rows[index + 1])
                yield done
        finally:
            pending.cancel()  # closed early: a row not yet started is not started


def write_streaming(
    result: Any,
    path: str,
    *,
    compute: Callable[..., Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int = 1,
) -> str:
    """Write a dask array or :class:`Tiles` to ``path`` (format by extension) block
    row by block row.

    ``compute(*delayed)`` runs a dask array's row of blocks (on threads,
    processes or a cluster); :class:`Tiles` run here on ``threads`` threads.
    ``progress(done, total)`` is told after each row. Returns the format
    written.
    """
    target = Path(path)
    fmt = STREAM_WRITE.get(target.suffix.lower())
    if fmt is None:
        raise OptionError(
            f"{path}: streamed output must be TIFF (.tif), NPY (.npy) or Zarr (.zarr)"
        )
    total = len(result.chunks[0]) * len(result.chunks[1])
    rows: Generator[Iterable[np.ndarray], None, None]
    if isinstance(result, Tiles):
        rows = result.rows(threads)
    else:
        assert compute is not None, "a dask array needs compute"
        rows = _blocks_by_row(result, compute)
    # the writer's module first: Ctrl-C in its import (0.1 s) came out as an internal error
    importlib.import_module("tifffile" if fmt == "tiff" else "zarr" if fmt == "zarr" else "numpy")
    try:
        with atomic_path(target, directory=fmt == "zarr", stream_ok=False) as tmp:
            if fmt == "npy":
                _write_npy(result, rows, tmp, progress, total)
            elif fmt == "zarr":
                import zarr

                chunk = (result.chunks[0][0], result.chunks[1][0], *result.shape[2:])
                array = zarr.create_array(
                    str(tmp), shape=result.shape, chunks=chunk, dtype=result.dtype, overwrite=True
                )
                _store_rows(rows, array, progress, total)
            else:
                _write_tiff(result, rows, tmp, progress, total)
    finally:
        # their threads stop here, in this thread, also on an error or Ctrl-C:
        # left to the garbage collector, a worker thread could be the one to
        # finalize them, and their pool's shutdown would wait on itself
        rows.close()
        close_readers()
    return fmt


@contextmanager
def stored_passes(dst: str, kernel: Filterable | None) -> Iterator[Callable[[Any], Any] | None]:
    """For a chain of kernels streamed to ``dst``: a ``checkpoint`` that stores each
    pass between kernels in a temporary Zarr store beside ``dst`` (float64,
    uncompressed: exact) and reads it back, so that the next pass reads it instead
    of computing it again for every row of output. The folder (a temporary name of
    this run's) goes when the block ends, however it ends. None for one kernel, or
    no kernel (the caller's word that the passes cannot be stored here).
    """
    chain = isinstance(kernel, Stack) and kernel.combine is None and len(kernel.kernels) > 1
    if not chain:
        yield None
        return
    import dask.array as da

    target = Path(dst)
    folder = Path(tempfile.mkdtemp(
        prefix=f".{target.name}.{run_tag()}.", suffix=".tmp", dir=target.parent or "."
    ))  # fmt: skip
    count = [0]

    def store(array: Any) -> Any:
        count[0] += 1
        path = str(folder / f"pass{count[0]}.zarr")
        array.to_zarr(path, compressors=None)  # float64 noise: compressing it costs 4x
        return da.from_zarr(path)

    try:
        yield store
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _store_rows(
    rows: Iterator[Iterable[np.ndarray]],
    out: Any,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    """Assign each row of blocks into an array-like target (a Zarr array)."""
    r0 = done = 0
    for row in rows:
        c0 = height = 0
        for block in row:
            with signals_deferred():  # Zarr writes on its own thread: let it finish
                out[r0 : r0 + block.shape[0], c0 : c0 + block.shape[1]] = block
            c0, height, done = c0 + block.shape[1], block.shape[0], done + 1
        r0 += height
        if progress:
            progress(done, total)


def _write_npy(
    result: Any,
    rows: Iterator[Iterable[np.ndarray]],
    tmp: Path,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    """Write an NPY file band by band, in order, with plain writes.

    A row of blocks is a band of whole image rows, so the file is written
    front to back. Not through a memory map: a full disk under a mapped,
    sparse file kills the process with SIGBUS, where a write fails with
    ENOSPC, which becomes the one-line error.
    """
    dtype = np.dtype(result.dtype)
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": tuple(int(n) for n in result.shape),
    }
    done = 0
    with open(tmp, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)  # as np.save writes it
        for row in rows:
            blocks = list(row)
            band = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
            f.write(np.ascontiguousarray(band, dtype=dtype).data)
            done += len(blocks)
            if progress:
                progress(done, total)
        f.flush()
        os.fsync(f.fileno())


def _write_tiff(
    result: Any,
    rows: Iterator[Iterable[np.ndarray]],
    tmp: Path,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> int:
    import tifffile

    tile_h, tile_w = result.chunks[0][0], result.chunks[1][0]
    # a side in one block (narrower than the chunk) is padded up to a whole tile
    if len(result.chunks[0]) == 1:
        tile_h = -(-tile_h // TIFF_TILE) * TIFF_TILE
    if len(result.chunks[1]) == 1:
        tile_w = -(-tile_w // TIFF_TILE) * TIFF_TILE
    if tile_h % TIFF_TILE or tile_w % TIFF_TILE:
        raise OptionError(
            f"TIFF tiles must be multiples of {TIFF_TILE} pixels, not {tile_w}x{tile_h}"
        )
    channels = result.shape[2:]
    done = [0]

    def tiles() -> Iterator[np.ndarray]:
        for row in rows:
            if done[0] and progress:
                progress(done[0], total)
            for block in row:
                if block.shape[:2] != (tile_h, tile_w):  # edge tiles are padded
                    full = np.zeros((tile_h, tile_w, *channels), dtype=block.dtype)
                    full[: block.shape[0], : block.shape[1]] = block
                    block = full
                yield block
                done[0] += 1

    photometric = "rgb" if channels and channels[0] in (3, 4) else "minisblack"
    extra = ["unassalpha"] if channels and channels[0] in (2, 4) else None
    tifffile.imwrite(
        tmp,
        tiles(),
        shape=result.shape,
        dtype=result.dtype,
        tile=(tile_h, tile_w),
        bigtiff=True,
        photometric=photometric,
        extrasamples=extra,
    )
    if done[0] < total and progress:  # tifffile stops asking once it has every tile
        progress(total, total)
    return total


#: The largest block side of tiles run here (:class:`~flipconv.core.engine.tiled.Tiles`).
#: On the 1 GP gaussian:2 benchmark (2026-12-05) 1024-pixel blocks took
#: 2.5-2.6 s and 2048-pixel ones 3.3 s: a 2048 block's float64 region is past
#: glibc's largest mmap threshold (32 MiB), so every block faulted in fresh
#: pages (2.3 s of system time against 0.8 s).
LOCAL_SIDE = 1024


def choose_chunk(
    shape: tuple[int, ...],
    limit: int,
    threads: int,
    reach: int,
    out_bytes: int,
    in_bytes: int,
    *,
    rows_held: bool = True,
) -> int:
    """A block side (a multiple of 16) whose working memory fits ``limit``.

    Per block being filtered: the gathered float64 region, the engine's
    planes and the converted output, about ``side^2 * (C * (8 + 2*in + out) + 32)``
    bytes. Then what waits to be written: two rows of finished blocks through
    Dask (``rows_held``), which grow with the image's width; a window of
    twice the threads' blocks here, which does not, and blocks of at most
    :data:`LOCAL_SIDE` (or eight halos, for a kernel that reaches far). Half
    the limit is left to the interpreter, the libraries and the file buffers.
    """
    height, width = shape[:2]
    channels = shape[2] if len(shape) == 3 else 1
    per_pixel = channels * (8 + 2 * in_bytes + out_bytes) + 32
    budget = limit // 2
    cap = 4096 if rows_held else max(LOCAL_SIDE, 8 * reach)
    side = 16
    for candidate in (4096, 3072, 2048, 1536, 1024, 768, 512, 384, 256, 128, 64, 32, 16):
        if candidate > cap:
            continue
        work = threads * (candidate + 2 * reach) ** 2 * per_pixel
        waiting = width if rows_held else 2 * threads * candidate
        if work + waiting * candidate * channels * out_bytes * 2 <= budget:
            side = candidate
            break
    return max(16, min(side, -(-max(height, width) // 16) * 16))


def tile_side(side: int, path: str) -> int:
    """The block side to write ``path`` with: TIFF tiles round up to :data:`TIFF_TILE`.

    >>> tile_side(100, "out.tif"), tile_side(100, "out.npy")
    (112, 100)
    """
    if Path(path).suffix.lower() in (".tif", ".tiff"):
        return -(-side // TIFF_TILE) * TIFF_TILE
    return side
