"""Images bigger than memory, read by region (written by :mod:`flipconv.core.io.bigwrite`).

Readable by region (:func:`open_region`; lazily, as a dask array whose tasks
hold only the path, :func:`open_lazy`):
tiled or striped TIFF and BigTIFF (through tifffile's zarr view), an
uncompressed single-strip TIFF (memory-mapped), NPY (memory-mapped) and Zarr
(a ``.zarr`` folder). PNG, JPEG and a compressed single-strip TIFF cannot be
read by region: :func:`open_lazy` refuses them with a way out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from flipconv.core._shared.errors import ImageReadError, OptionError
from flipconv.core.engine.tiled import import_dask_array
from flipconv.core.io.formats import check_channels

#: Formats read by region, by extension.
STREAM_READ = {".tif": "tiff", ".tiff": "tiff", ".npy": "npy", ".zarr": "zarr"}


_OPENED = threading.local()
_REGISTRY: list[Any] = []  # every file opened by any thread, to close at the end
_REGISTRY_LOCK = threading.Lock()
_GENERATION = [0]


def close_readers() -> None:
    """Close the files :class:`RegionReader` opened (in every thread of this process)."""
    with _REGISTRY_LOCK:
        _GENERATION[0] += 1
        opened, _REGISTRY[:] = list(_REGISTRY), []
    for item in opened:
        closer = getattr(item, "_flipconv_close", None)
        if closer is not None:
            closer()


class _Closable:
    """A zarr view of a TIFF with the store to close when the cache is cleared."""

    def __init__(self, array: Any, close: Callable[[], None]) -> None:
        self._array, self._flipconv_close = array, close

    def __getitem__(self, key: Any) -> Any:
        return self._array[key]


class _TiffSegments:
    """Regions of a tiled or striped TIFF, read segment by segment with tifffile.

    Each region reads just the tiles (or strips) it overlaps, by offset, and
    decodes them with tifffile's own decoder (any compression and predictor
    it knows): no zarr, whose import costs 0.13 s and whose reads go through
    an event loop on another thread. Chunky samples and 2-D pages only; the
    others take the zarr view (:func:`_segments_or_none`).
    """

    def __init__(self, tif: Any) -> None:
        page = tif.pages[0]
        self._tif, self._page = tif, page
        self._decode = page.decode  # built once, then pure: safe on threads
        self._fd = tif.filehandle.fileno()
        self._seg_h, self._seg_w = page.chunks[0], page.chunks[1]
        self._across = page.chunked[1]
        self._channels = tuple(page.shape[2:])
        self._flipconv_close = tif.close

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        rows, cols, *rest = (*key, slice(None), slice(None))[: max(2, len(key))]
        if not (isinstance(rows, slice) and isinstance(cols, slice)) or rows.step or cols.step:
            return self[:, :][key]  # not a plain window: the whole image, then numpy's indexing
        window = self._window(rows, cols)
        return window[(slice(None), slice(None)) + tuple(rest)] if rest else window

    def _window(self, rows: slice, cols: slice) -> np.ndarray:
        page = self._page
        r0, r1, _ = rows.indices(page.shape[0])
        c0, c1, _ = cols.indices(page.shape[1])
        if r1 <= r0 or c1 <= c0:
            return np.empty((max(0, r1 - r0), max(0, c1 - c0), *self._channels), page.dtype)
        out = np.empty((r1 - r0, c1 - c0, *self._channels), page.dtype)
        sh, sw = self._seg_h, self._seg_w
        for ty in range(r0 // sh, (r1 - 1) // sh + 1):
            for tx in range(c0 // sw, (c1 - 1) // sw + 1):
                index = ty * self._across + tx
                count = page.databytecounts[index]
                data = os.pread(self._fd, count, page.dataoffsets[index]) if count else None
                segment, _, shape = self._decode(data, index, jpegtables=page.jpegtables)
                if segment is None:  # a tile left out of a sparse file: empty
                    segment = np.zeros(shape, page.dtype)
                segment = np.asarray(segment).reshape(shape[1], shape[2], *self._channels)
                y0, x0 = ty * sh, tx * sw
                ya, yb = max(r0, y0), min(r1, y0 + segment.shape[0])
                xa, xb = max(c0, x0), min(c1, x0 + segment.shape[1])
                out[ya - r0 : yb - r0, xa - c0 : xb - c0] = segment[
                    ya - y0 : yb - y0, xa - x0 : xb - x0
                ]
        return out


def _segments_or_none(path: str) -> _TiffSegments | None:
    """A :class:`_TiffSegments` for ``path``, or None where its layout is not one it reads."""
    import tifffile

    tif = tifffile.TiffFile(path)
    page: Any = tif.pages[0]
    grid = tuple(page.chunked)  # (segments down, across[, 1 for chunky samples])
    if page.planarconfig != 1 or page.shaped[1] != 1 or any(n != 1 for n in grid[2:]):
        tif.close()
        return None
    return _TiffSegments(tif)


@dataclass(frozen=True)
class RegionReader:
    """Reads ``[rows, cols]`` of an image file by path (picklable: no open handle).

    Dask calls ``reader[slices]`` in its tasks, in any process, on any worker
    that sees the same file system.
    """

    path: str
    kind: str  # "tiff-zarr", "tiff-memmap", "npy", "zarr"
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        """2 or 3, as numpy's."""
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.array(self._open()[key])
        except MemoryError:
            raise
        except Exception as exc:  # noqa: BLE001 (decoders raise zlib.error, ValueError, ...)
            # a truncated or corrupt tile shows up only when its region is read
            raise ImageReadError(
                f"{self.path}: a tile cannot be read ({type(exc).__name__}: {str(exc)[:120]}); "
                "the file is truncated or corrupt"
            ) from None

    def _open(self) -> Any:
        """The opened file, kept per thread (opening a TIFF per tile costs more than reading it)."""
        if getattr(_OPENED, "generation", None) != _GENERATION[0]:
            _OPENED.files, _OPENED.generation = {}, _GENERATION[0]
        stat = os.stat(self.path)
        token = (self.path, self.kind, stat.st_mtime_ns, stat.st_size)
        if token not in _OPENED.files:
            opened = self._open_new()
            with _REGISTRY_LOCK:
                _REGISTRY.append(opened)
            _OPENED.files[token] = opened
        return _OPENED.files[token]

    def _open_new(self) -> Any:
        if self.kind == "npy":
            return np.load(self.path, mmap_mode="r")
        import tifffile

        if self.kind == "tiff-memmap":
            return tifffile.memmap(self.path, mode="r")
        if self.kind == "tiff-zarr":
            segments = _segments_or_none(self.path)
            if segments is not None:
                return segments
        import zarr

        if self.kind == "zarr":
            return zarr.open_array(self.path, mode="r")
        store = tifffile.imread(self.path, aszarr=True)
        array = zarr.open_array(store, mode="r")
        return _Closable(array, store.close)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        stat = os.stat(self.path)
        return (self.path, self.kind, stat.st_mtime_ns, stat.st_size)


def _magic(path: str) -> str | None:
    """The format the file's first bytes say, for the streamable ones."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return None


def probe_shape(path: str) -> tuple[tuple[int, ...], np.dtype, str] | None:
    """Shape, dtype and how it can be read by region, or None if it cannot be.

    Cheap: reads headers only. Raises :class:`ImageReadError` for unreadable
    files of a streamable format.
    """
    suffix = Path(path).suffix.lower()
    kind = STREAM_READ.get(suffix)
    if kind in ("npy", "tiff") and not os.path.isfile(path):
        return None  # a pipe (or device) named .tif: no regions, and its bytes read once
    if kind is None and Path(path).is_dir() and (Path(path) / "zarr.json").exists():
        kind = "zarr"
    if kind in ("npy", "tiff") and _magic(path) != kind:
        return None  # the content is not what the name says: decoded whole, by its bytes
    try:
        return _header(path, kind)
    except (ImportError, ImageReadError):
        raise
    except Exception as exc:  # noqa: BLE001 (any parser error is a read error)
        raise ImageReadError(
            f"{path}: cannot read its header ({type(exc).__name__}: {exc})"
        ) from None


def _header(path: str, kind: str | None) -> tuple[tuple[int, ...], np.dtype, str] | None:
    """:func:`probe_shape` for a file of a known ``kind``; parser errors propagate."""
    if kind == "npy":
        array = np.load(path, mmap_mode="r")
        if array.ndim not in (2, 3):
            raise ImageReadError(
                f"{path}: an array of shape {tuple(array.shape)} is not an image "
                "(H, W) or (H, W, C)"
            )
        check_channels(array.shape[2] if array.ndim == 3 else 1, path)
        return tuple(array.shape), array.dtype, "npy"
    if kind == "zarr":
        import zarr

        z = zarr.open_array(path, mode="r")
        check_channels(z.shape[2] if len(z.shape) == 3 else 1, path)
        return tuple(z.shape), np.dtype(z.dtype), "zarr"
    if kind == "tiff":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            check_channels(int(page.samplesperpixel), path)
            shape, dtype = tuple(page.shape), np.dtype(page.dtype)
            if page.is_tiled or len(page.dataoffsets) > 1:
                return shape, dtype, "tiff-zarr"
            if page.is_contiguous and page.compression == 1:
                return shape, dtype, "tiff-memmap"
    return None  # one compressed strip (only whole), or a format read whole


def open_region(path: str) -> RegionReader:
    """The image at ``path``, read by region when sliced (no Dask).

    Raises
    ------
    OptionError
        The format cannot be read by region (with how to convert it).
    """
    found = probe_shape(path)
    if found is None:
        raise OptionError(
            f"{path}: this format cannot be read in parts (PNG, JPEG and compressed "
            "single-strip TIFF are decoded whole); convert it to a tiled TIFF first, e.g. "
            f"vips tiffsave {path} big.tif --tile --bigtiff, or "
            f"convert {path} -define tiff:tile-geometry=512x512 big.tif"
        )
    shape, dtype, kind = found
    if len(shape) not in (2, 3):
        raise ImageReadError(f"{path}: {len(shape)}-D data is not an image")
    return RegionReader(str(Path(path).resolve()), kind, shape, dtype)


def open_lazy(path: str, chunk: int) -> Any:
    """The image at ``path`` as a dask array of ``chunk``-sided blocks.

    Raises
    ------
    OptionError
        The format cannot be read by region (with how to convert it).
    """
    da = import_dask_array()
    reader = open_region(path)
    chunks = (chunk, chunk) + tuple(reader.shape[2:])
    return da.from_array(
        reader,
        chunks=chunks,
        lock=False,
        asarray=True,
        name=f"flipconv-read-{abs(hash(reader.__dask_tokenize__()))}",
    )
