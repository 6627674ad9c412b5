"""Exact filtering of images in tiles: lazily with Dask, or here on threads.

Every output block is computed from the input region it needs and nothing
else: per axis the kernel reaches ``before = o`` and ``after = size-1-o``
elements around the output pixel for correlate (``size-1-o`` and ``o`` for
convolve, whose kernel is rotated about its origin), so a block of rows
``[r0, r1)`` reads rows ``[r0-before, r1+after)``. Rows and columns that fall
outside the image are mapped back inside by the border mode, exactly as
scipy.ndimage extends an image (reflect ``dcba|abcd``, mirror ``dcb|abcd``,
nearest, wrap), or filled with ``cval`` for constant, whatever their width:
halos wider than a chunk or than the whole image are fine, and so are chunks
smaller than the kernel. The block is then filtered by the same engine code
as the in-memory path and its valid part kept, so direct and separable
results equal the in-memory ones bit for bit (FFT blocks agree up to float64
rounding, the transform sizes differ).

No ``dask.array.pad`` (it returns too short an array when a pad is wider
than the axis) and no ``map_overlap`` (it rechunks small chunks and fetches
symmetric halos): each block's region is gathered with integer indices.

:func:`filter_array` builds a Dask graph (any scheduler, a cluster, chains
of kernels); :func:`~flipconv.core.engine.local_tiles.filter_tiles` runs the
same blocks here on a thread pool for a file read by region, without
importing Dask at all (0.24 s, with the scipy modules it pulls in). Dask is
imported here only; the rest of flipconv never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import AlphaPolicy, Method, Mode, Operation, is_dask_array
from flipconv.core.engine.borders import border_indices
from flipconv.core.engine.certified import certified_u8
from flipconv.core.engine.channels import alpha_channel, iter_planes
from flipconv.core.engine.choose import choose_route
from flipconv.core.engine.exact8 import integer_sums
from flipconv.core.engine.pixels import finish_plane, full_scale
from flipconv.core.engine.planner import plan
from flipconv.core.engine.rational import rational_u8
from flipconv.core.engine.settings import FilterSettings, Finish
from flipconv.core.engine.settle import rounding_for
from flipconv.core.kernels.kernel import Filterable, Kernel, Stack

DASK_EXTRA = "pip install 'flipconv[dask]'"


def import_dask_array() -> Any:
    """``dask.array``, or an error that names the extra to install."""
    try:
        import dask.array as da
    except ImportError:
        raise OptionError(
            f"tiled filtering needs Dask, which is not installed; {DASK_EXTRA}"
        ) from None
    return da


def _region(
    source: Any, rows: tuple[np.ndarray, np.ndarray], cols: tuple[np.ndarray, np.ndarray]
) -> Any:
    """The range of ``source`` covering the indices (lazy for Dask), and the
    indices made relative to it; :func:`_gather` picks and fills in the task."""
    (ri, r_in), (ci, c_in) = rows, cols
    r_lo, r_hi = int(ri.min()), int(ri.max()) + 1
    c_lo, c_hi = int(ci.min()), int(ci.max()) + 1
    return source[r_lo:r_hi, c_lo:c_hi], (ri - r_lo, r_in), (ci - c_lo, c_in)


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    """A plain slice when the indices are consecutive (inner tiles): no gather copy."""
    if index.size and index[-1] - index[0] == index.size - 1 and (np.diff(index) == 1).all():
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _gather(
    block: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    cval: float,
) -> np.ndarray:
    data = np.asarray(block)
    r, c = _as_slice(rows[0]), _as_slice(cols[0])
    out = data[r, c] if isinstance(r, slice) and isinstance(c, slice) else data[r][:, c]
    if rows[1].all() and cols[1].all():
        return out  # the samples' own type: the engine reads it exactly
    out = out.astype(np.float64)
    if not rows[1].all():
        out[~rows[1]] = cval
    if not cols[1].all():
        out[:, ~cols[1]] = cval
    return out


def _filter_region(
    block: np.ndarray,
    *,
    rows: tuple[np.ndarray, np.ndarray],
    cols: tuple[np.ndarray, np.ndarray],
    kernel: Filterable,
    operation: Operation,
    mode: Mode,
    cval: float,
    alpha: AlphaPolicy | None,
    method: Method,
    in_dtype: str,
    finish: Finish | None,
    keep: tuple[slice, slice],
    engine3: bool = False,
) -> np.ndarray:
    """Filter one gathered region and keep its valid part (runs inside a task).

    ``engine3``: 8-bit regions go through the certified route where it takes them (the
    same bytes as the float64 route with the same ``method``).
    """
    region = _gather(block, rows, cols, cval)
    a_index = alpha_channel(region) if alpha is not None else None
    if engine3 and finish is not None and (a_index is None or alpha == "keep"):
        fast = _certified_region(region, kernel, operation, mode, cval, method, finish, a_index)
        if fast is not None:
            return np.ascontiguousarray(fast[keep])
    shape = (keep[0].stop - keep[0].start, keep[1].stop - keep[1].start, *region.shape[2:])
    in_type = np.dtype(in_dtype)
    out_type = np.dtype(finish.dtype) if finish else np.dtype(np.float64)
    out = np.empty(shape, dtype=out_type)
    # mode and cval only matter outside the region, which is never kept; they
    # are passed on so that alpha weighting sees the same cval as in memory.
    for index, plane in iter_planes(
        operation,
        region,
        kernel,
        mode=mode,
        cval=cval,
        alpha=alpha,
        alpha_max=full_scale(in_type),
        method=method,
        threads=1,
        rounding=None
        if finish is None
        else rounding_for(
            kernel,
            in_type,
            out_type,
            finish.scale,
            finish.bias,
            finish.out_range,
            finish.rounding,
        ),  # fmt: skip
    ):
        valid = plane[keep]  # finished in place, a view is enough
        target = out if region.ndim == 2 else out[..., index]
        if finish is None:
            target[...] = valid
        else:
            finish_plane(
                valid,
                in_dtype=in_type,
                out_dtype=out_type,
                scale=finish.scale,
                bias=finish.bias,
                out_range=finish.out_range,
                colour=index != a_index,
                out=target,
                rounding=finish.rounding if index != a_index else "nearest",
            )
    return out


def _certified_region(
    region: np.ndarray,
    kernel: Filterable,
    operation: Operation,
    mode: Mode,
    cval: float,
    method: Method,
    finish: Finish,
    a_index: int | None,
) -> np.ndarray | None:
    """The region through the route :func:`~flipconv.core.engine.choose.choose_route`
    chooses for it, where that is a fast 8-bit one following this image's ``method``
    (the float64 route's, planned for the whole image); None for the float64 route."""
    if not isinstance(kernel, Kernel) or np.dtype(finish.dtype) != np.uint8:
        return None
    settings = FilterSettings(operation, mode=mode, cval=cval, alpha="keep", scale=finish.scale,
                              bias=finish.bias, out_range=finish.out_range,
                              rounding=finish.rounding, dtype="uint8")  # fmt: skip
    route = choose_route(region.shape, region.dtype, kernel, settings)
    if route.name == "int16":  # exact integers, whatever the method
        return integer_sums(region, kernel, operation, mode, finish.out_range, 1)
    if route.name == "rational" and route.rational is not None:  # exact, whatever the method
        used = kernel.reflected() if operation == "convolve" else kernel
        return rational_u8(region, used, *route.rational, mode, finish.out_range, None, a_index)
    if route.plan is None or route.plan.method != method:
        return None
    certified = certified_u8(region, kernel, operation, mode, cval, finish.out_range, 1,
                             alpha_index=a_index, method=method)  # fmt: skip
    return None if certified is None else certified[0]


def _split(size: int, step: int) -> tuple[int, ...]:
    return tuple(min(step, size - start) for start in range(0, size, step))


def filter_array(
    image: Any,
    kernel: Filterable,
    *,
    operation: Operation,
    mode: Mode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy | None = "keep",
    method: Method = "auto",
    finish: Finish | None = None,
    chunks: int | tuple[int, int] | None = None,
    in_dtype: str | None = None,
    checkpoint: Callable[[Any], Any] | None = None,
) -> Any:
    """Filter a 2-D or 3-D (channels last) array, lazily, block by block.

    A chain of kernels (a :class:`~flipconv.core.kernels.kernel.Stack` without
    ``combine``) runs as one pass per kernel over float64 intermediates, so
    that each kernel meets the border rule at the image's edge exactly as in
    memory; combined kernels share one pass with the widest halo.

    Parameters
    ----------
    image : dask.array.Array or array-like
        Channels must sit in one chunk (they are rechunked so if not).
    finish : Finish, optional
        ``dtype``, ``scale``, ``bias``, ``out_range`` (``clip``/``abs``):
        convert each block as :func:`flipconv.core.engine.filters.filter_image`
        does. Without it the result is float64 in image units (plus the
        kernel's offset, as :func:`flipconv.core.engine.filters.correlate`).
    chunks : int or (int, int), optional
        Output block size; default: the input's chunks. Each block reads just
        the input chunks its region touches, so small input chunks (a TIFF's
        tiles) under large blocks keep the halo reads small.
    in_dtype : str, optional
        The sample type whose full scale ``finish`` converts from (default:
        the image's; a chain's later passes read float64 in its units).
    checkpoint : callable, optional
        For a chain: each float64 pass but the last goes through it (it
        stores the pass, say to a temporary Zarr store, and returns it read
        back). Lazily, a block of pass ``k`` computes the blocks of pass
        ``k - 1`` it overlaps, again for every row of output: the work grows
        with the square of the chain's length (10 ``box:3`` on 3000x3000:
        26.6 s in tiles against 1.06 s whole).

    Returns
    -------
    dask.array.Array
        Lazy; the same shape as ``image``.
    """
    da = import_dask_array()
    image = _checked_array(image, finish, chunks)
    if isinstance(kernel, Stack) and kernel.combine is None:
        return _chain_in_passes(
            image, kernel, operation, mode, cval, alpha, method, finish, chunks, in_dtype,
            checkpoint,
        )  # fmt: skip
    if isinstance(kernel, Stack) and any(_has_chain(m) for m in kernel.kernels):
        raise OptionError(
            "in tiles a chain of kernels must come first, not inside a combination; "
            "filter the image in memory, or write the steps as separate runs"
        )
    grid = _grid(image, chunks)
    # One method for every block, as planned for the whole image; the certified route
    # where no method was asked for, as in memory.
    engine3 = method == "auto"
    kernel_used = kernel.reflected() if operation == "convolve" else kernel
    if isinstance(kernel_used, Kernel):
        method = plan(kernel_used, image.shape[:2], method).method
    if finish is not None:
        finish = replace(finish, bias=finish.bias + kernel.offset)
    dtype = np.dtype(finish.dtype) if finish else np.dtype(np.float64)
    task = {"kernel": kernel, "operation": operation, "mode": mode, "cval": cval,
            "alpha": alpha, "method": method, "in_dtype": in_dtype or str(image.dtype),
            "finish": finish, "engine3": engine3}  # fmt: skip
    rows_out = []
    for row in _blocks(image.shape, grid, kernel, operation, mode):
        out_row = []
        for rows, cols, keep in row:
            block, rr, cc = _region(image, rows, cols)
            bh, bw = keep[0].stop - keep[0].start, keep[1].stop - keep[1].start
            out = da.map_blocks(
                _filter_region,
                block.rechunk(block.shape),
                rows=rr,
                cols=cc,
                keep=keep,
                dtype=dtype,
                chunks=(bh, bw, *image.shape[2:]),
                meta=np.empty((0,) * image.ndim, dtype),
                **task,
            )
            out_row.append(out)
        rows_out.append(out_row)
    # (da.block would join the last two axes: wrong with channels)
    result = da.concatenate([da.concatenate(row, axis=1) for row in rows_out], axis=0)
    if finish is None and kernel.offset:
        result = result + kernel.offset
    return result


Block = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[slice, slice]]


def _blocks(
    shape: tuple[int, ...],
    grid: tuple[tuple[int, ...], ...],
    kernel: Filterable,
    operation: Operation,
    mode: Mode,
) -> list[list[Block]]:
    """Per row of output blocks, each block's input rows and columns (see
    :func:`~flipconv.core.engine.borders.border_indices`) and the part of its
    filtered region to keep."""
    height, width = shape[:2]
    (rb, ra), (cb, ca) = kernel.reach(operation)
    out: list[list[Block]] = []
    r0 = 0
    for bh in grid[0]:
        c0 = 0
        row: list[Block] = []
        rows = border_indices(r0 - rb, r0 + bh + ra, height, mode)
        for bw in grid[1]:
            cols = border_indices(c0 - cb, c0 + bw + ca, width, mode)
            row.append((rows, cols, (slice(rb, rb + bh), slice(cb, cb + bw))))
            c0 += bw
        out.append(row)
        r0 += bh
    return out


def _refuse_rescale(finish: Finish | None) -> None:
    """``out_range`` rescale needs every sample at once: not in tiles."""
    if finish is not None and finish.out_range == "rescale":
        raise OptionError(
            "`out_range` rescale needs the whole image at once; it is not "
            "available when filtering in tiles (use clip or abs)"
        )


def _checked_array(image: Any, finish: Finish | None, chunks: Any) -> Any:
    """``image`` as a dask array with its channels in one chunk, or OptionError."""
    da = import_dask_array()
    if not is_dask_array(image):
        image = da.from_array(np.asarray(image), chunks=chunks or 1024)
    if image.ndim not in (2, 3):
        raise OptionError(f"image must be 2-D or 3-D (channels last), got {image.ndim}-D")
    _refuse_rescale(finish)
    if image.ndim == 3 and len(image.chunks[2]) > 1:
        image = image.rechunk({2: -1})
    return image


def _grid(image: Any, chunks: int | tuple[int, int] | None) -> tuple[tuple[int, ...], ...]:
    """The output blocks' heights and widths."""
    if chunks is None:  # the output blocks follow the input's chunks
        return (image.chunks[0], image.chunks[1])
    # or their own size: the input is then read in its own, finer chunks
    side = (chunks, chunks) if isinstance(chunks, int) else chunks
    return tuple(_split(n, s) for n, s in zip(image.shape[:2], side, strict=True))


def _has_chain(member: Filterable) -> bool:
    return isinstance(member, Stack) and (
        member.combine is None or any(_has_chain(m) for m in member.kernels)
    )


def _chain_in_passes(
    image: Any,
    chain: Stack,
    operation: Operation,
    mode: Mode,
    cval: float,
    alpha: AlphaPolicy | None,
    method: Method,
    finish: Finish | None,
    chunks: int | tuple[int, int] | None,
    in_dtype: str | None,
    checkpoint: Callable[[Any], Any] | None = None,
) -> Any:
    """A chain in tiles: one lazy pass per member, float64 in between (stored by
    ``checkpoint`` where one is given)."""
    if alpha == "filter" and len(chain.kernels) > 1:
        raise OptionError(
            "`alpha` filter weights colours by the filtered alpha of the whole chain; in "
            "tiles use `alpha` keep, or filter the image in memory"
        )
    source_type = in_dtype or str(image.dtype)
    current = image
    for i, member in enumerate(chain.kernels):
        last = i == len(chain.kernels) - 1
        current = filter_array(
            current,
            member,
            operation=operation,
            mode=mode,
            cval=cval,
            alpha=alpha,
            method=method,
            finish=finish if last else None,
            chunks=chunks,
            in_dtype=source_type,
        )
        if not last and checkpoint is not None:
            current = checkpoint(current)
    return current
