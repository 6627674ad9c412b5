"""Filter a whole image: channels, alpha, scale/bias, range and sample type."""

from __future__ import annotations

import numpy as np
from flipconv.core.filters import (
    AlphaPolicy,
    Mode,
    Operation,
    alpha_channel,
    filter_channels,
    iter_planes,
)
from flipconv.core.kernel import Kernel
from flipconv.core.limits import check_working_memory
from flipconv.core.pixels import OutRange, check_sample_type, finish, finish_plane, full_scale


def filter_image(
    pixels: np.ndarray,
    kernel: Kernel,
    *,
    operation: Operation,
    mode: Mode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy = "keep",
    scale: float = 1.0,
    bias: float = 0.0,
    out_range: OutRange = "clip",
    dtype: str | np.dtype | None = None,
    normalize: bool = False,
    memory_limit: int | None = None,
    method: str = "auto",
    threads: int | None = None,
    chunks: int | None = None,
) -> np.ndarray:
    """Convolve or correlate an image and return samples of the output type.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` (2 or 4 channels: the last is alpha), of
        uint8, uint16, float32 or float64.
    kernel : Kernel
        Weights and origin.
    operation : {'convolve', 'correlate'}
    mode, cval
        Border handling, as :func:`flipconv.core.filters.correlate`; ``cval``
        in image units.
    alpha : {'keep', 'filter'}
        See :func:`flipconv.core.filters.filter_channels`.
    scale, bias, out_range
        See :func:`flipconv.core.pixels.finish`. The kernel's ``offset`` is
        added to ``bias``.
    dtype : str, optional
        Output sample type; default: the input's.
    normalize : bool
        Divide the kernel by its sum first (error if the sum is 0).
    method : {'auto', 'direct', 'separable', 'lowrank', 'fft'}
        Algorithm (see :mod:`flipconv.core.engine`); ``auto`` picks the
        cheapest by measured costs. All agree up to float64 rounding.
    threads : int, optional
        Threads to use (default: all cores). Results do not depend on it.
    chunks : int, optional
        Block side for a dask ``pixels`` (default: its chunks).
    memory_limit : int, optional
        Refuse (:class:`~flipconv.core.errors.ResourceLimitError`) before
        starting if the estimated working memory exceeds this many bytes.

    Returns
    -------
    numpy.ndarray
        Same height, width and channels as ``pixels``, of ``dtype``. Given a
        dask array, a lazy dask array computed block by block with the same
        results (:mod:`flipconv.core.tiled`; ``out_range='rescale'`` is not
        available there).

    Examples
    --------
    >>> img = np.array([[0, 0, 0], [0, 255, 0], [0, 0, 0]], dtype=np.uint8)
    >>> k = Kernel([[0.0, 0.0, 0.5]], (0, 1))
    >>> filter_image(img, k, operation="convolve", mode="constant")[1].tolist()
    [0, 0, 128]
    >>> filter_image(img, k, operation="correlate", mode="constant")[1].tolist()
    [128, 0, 0]
    """
    if type(pixels).__module__.split(".")[0] == "dask":
        return _tiled(
            pixels,
            kernel.normalized() if normalize else kernel,
            operation=operation,
            mode=mode,
            cval=cval,
            alpha=alpha,
            scale=scale,
            bias=bias,
            out_range=out_range,
            dtype=dtype,
            method=method,
            chunks=chunks,
        )
    if memory_limit is not None:
        check_working_memory(pixels.shape, memory_limit)
    in_type = check_sample_type(pixels.dtype)
    out_type = check_sample_type(dtype if dtype is not None else in_type)
    if normalize:
        kernel = kernel.normalized()
    bias += kernel.offset
    a_index = alpha_channel(pixels)
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE results; see finish()
        if out_range == "rescale":  # needs the min and max of every channel first
            values = filter_channels(
                operation,
                pixels,
                kernel,
                mode=mode,
                cval=cval,
                alpha=alpha,
                alpha_max=full_scale(in_type),
                method=method,
                threads=threads,
            )
            return _finish(values, in_type, out_type, scale, bias, out_range, a_index)
        # Otherwise finish each channel as soon as it is filtered: less memory.
        out = np.empty(pixels.shape, dtype=out_type)
        for index, plane in iter_planes(
            operation,
            pixels,
            kernel,
            mode=mode,
            cval=cval,
            alpha=alpha,
            alpha_max=full_scale(in_type),
            method=method,
            threads=threads,
        ):
            target = out if pixels.ndim == 2 else out[..., index]
            finish_plane(
                plane,
                in_dtype=in_type,
                out_dtype=out_type,
                scale=scale,
                bias=bias,
                out_range=out_range,
                colour=index != a_index,
                out=target,
            )
        return out


def _tiled(
    pixels,
    kernel: Kernel,
    *,
    operation: str,
    mode: str,
    cval: float,
    alpha: str,
    scale: float,
    bias: float,
    out_range: str,
    dtype,
    method: str,
    chunks: int | None = None,
):  # type: ignore[no-untyped-def]
    """A lazy dask array of the result, block by block (:mod:`flipconv.core.tiled`)."""
    from flipconv.core.tiled import filter_array

    in_type = check_sample_type(pixels.dtype)
    out_type = check_sample_type(dtype if dtype is not None else in_type)
    finish = {"dtype": str(out_type), "scale": scale, "bias": bias, "out_range": out_range}
    return filter_array(
        pixels,
        kernel,
        operation=operation,
        mode=mode,
        cval=cval,
        alpha=alpha,
        method=method,
        finish=finish,
        chunks=chunks,
    )


def _finish(
    values: np.ndarray,
    in_type: np.dtype,
    out_type: np.dtype,
    scale: float,
    bias: float,
    out_range: OutRange,
    a_index: int | None,
) -> np.ndarray:
    return finish(
        values,
        in_dtype=in_type,
        out_dtype=out_type,
        scale=scale,
        bias=bias,
        out_range=out_range,
        alpha=a_index,
    )
