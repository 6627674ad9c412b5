"""Convolution and correlation of 2-D arrays and of multi-channel images.

Both operations are computed directly in float64 by ``scipy.ndimage`` with an
explicit ``output=`` so integers never wrap. ``convolve`` and ``correlate``
go through scipy's two separate routines, so the flip identity checked by
``flipconv verify`` relates two independent code paths.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from flipconv.core.errors import OptionError
from flipconv.core.kernel import Kernel

Mode = Literal["reflect", "constant", "nearest", "mirror", "wrap"]
Operation = Literal["convolve", "correlate"]
AlphaPolicy = Literal["keep", "filter"]

MODES: tuple[str, ...] = ("reflect", "constant", "nearest", "mirror", "wrap")
OPERATIONS: tuple[str, ...] = ("convolve", "correlate")

#: How each border mode extends ``a b c d`` beyond its last sample.
MODE_HELP = {
    "reflect": "d c b a | a b c d | d c b a  (edge sample repeated; default)",
    "constant": "k k k k | a b c d | k k k k  (k = --cval)",
    "nearest": "a a a a | a b c d | d d d d",
    "mirror": "d c b | a b c d | c b a  (edge sample not repeated)",
    "wrap": "a b c d | a b c d | a b c d  (periodic)",
}


def _check(image: np.ndarray, mode: str, cval: float) -> None:
    if image.ndim != 2:
        raise OptionError(f"image must be 2-D (one channel), got {image.ndim}-D")
    if mode not in MODES:
        raise OptionError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    if not np.isfinite(cval):
        raise OptionError(f"cval {cval!r} must be a finite number")


def _scipy_origin(kernel: Kernel) -> tuple[int, int]:
    # scipy counts the origin from the centre element shape // 2; for
    # convolve it applies that offset to the reflected origin internally.
    return (
        kernel.origin[0] - kernel.shape[0] // 2,
        kernel.origin[1] - kernel.shape[1] // 2,
    )


def prescale(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """The weights divided by a power of two near their peak, and that power.

    scipy.ndimage treats every weight with ``|w| <= 2**-52`` as zero, in
    absolute terms, so a kernel of tiny weights would silently give zeros.
    Scaling by a power of two is exact in binary floating point, so filtering
    with ``values / p`` and multiplying the result by ``p`` changes no bit of
    the result, except that only weights below ``2**-52`` of the *largest*
    one are now skipped.
    """
    peak = float(np.abs(weights).max(initial=0.0))
    if peak == 0.0:
        return weights, 1.0
    power = float(np.ldexp(1.0, int(np.frexp(peak)[1])))
    return weights / power, power


def exact_input(image: np.ndarray) -> np.ndarray:
    """``image`` as scipy.ndimage should read it: small integers and floats as they are.

    scipy converts every sample to double as it reads a line, exactly for
    these types, so converting first would only cost a pass over memory (and
    reading uint8 columns is three times faster than reading float64 ones).
    """
    image = np.asarray(image)
    if (image.dtype.kind in "ui" and image.dtype.itemsize <= 4) or image.dtype in (
        np.float32,
        np.float64,
    ):
        return image
    return image.astype(np.float64)


def _scipy_filter(
    name: str, image: np.ndarray, kernel: Kernel, mode: str, cval: float
) -> np.ndarray:
    import scipy.ndimage as ndi

    _check(image, mode, cval)
    rows, cols = kernel.reach(name)
    if mode != "constant" and (max(rows) >= image.shape[0] or max(cols) >= image.shape[1]):
        # scipy.ndimage's n-D filters reflect only once: with a kernel reaching
        # more than the image's size past its border, "reflect" picks wrong
        # pixels (found comparing with tiles). Extend the image explicitly as
        # the mode defines it, at any width, and keep the middle.
        from flipconv.core.engine import NUMPY_PAD

        padded = np.pad(np.asarray(image, dtype=np.float64), (rows, cols), mode=NUMPY_PAD[mode])  # type: ignore[call-overload]
        full = _scipy_filter(name, padded, kernel, "constant", 0.0)
        return np.ascontiguousarray(
            full[rows[0] : rows[0] + image.shape[0], cols[0] : cols[0] + image.shape[1]]
        )
    out = np.empty(image.shape, dtype=np.float64)
    weights, power = prescale(kernel.values)
    getattr(ndi, name)(
        exact_input(image),
        weights,
        output=out,
        mode=mode,
        cval=float(cval),
        origin=_scipy_origin(kernel),
    )
    if power != 1.0:
        out *= power
    return out


def correlate(
    image: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """Cross-correlate a 2-D image with a kernel, in float64.

    Parameters
    ----------
    image : numpy.ndarray or dask.array.Array
        2-D array of any real dtype; values are used as they are (image units).
        A dask array gives a lazy dask array, filtered block by block with
        exact halos (:mod:`flipconv.core.tiled`): the same numbers.
    kernel : Kernel
        Weights and origin ``o``.
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap'}
        How the image is extended past its border, with scipy.ndimage's meaning.
    cval : float
        The value outside the image for ``mode='constant'``, in image units.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``image``.

    Notes
    -----
    .. math:: out[n] = \\sum_m K[o + m] \\, I[n + m]

    where ``m`` runs over the offsets for which ``o + m`` indexes the kernel,
    and ``I`` beyond the border is defined by ``mode``. With the default
    origin this equals ``scipy.ndimage.correlate``, except that weights of
    any magnitude count (scipy skips ``|w| <= 2**-52``; flipconv only skips
    weights below ``2**-52`` times the largest one).

    Examples
    --------
    An impulse returns the kernel rotated by 180 degrees:

    >>> img = np.zeros((3, 3)); img[1, 1] = 1
    >>> k = Kernel([[1, 2, 4], [8, 16, 32], [64, 128, 256]], (1, 1))
    >>> correlate(img, k, mode="constant").astype(int).tolist()
    [[256, 128, 64], [32, 16, 8], [4, 2, 1]]
    """
    if _is_dask(image):
        return _tiled("correlate", image, kernel, mode, cval)
    return _with_offset(_scipy_filter("correlate", image, kernel, mode, cval), kernel)


def convolve(
    image: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """Convolve a 2-D image with a kernel, in float64.

    Parameters are as for :func:`correlate`.

    Notes
    -----
    .. math:: out[n] = \\sum_m K[o + m] \\, I[n - m]

    which is correlation with the kernel rotated 180 degrees *about its
    origin*: ``convolve(I, K) == correlate(I, K.reflected())``, where the
    reflected kernel has matrix ``K[::-1, ::-1]`` and origin
    ``shape - 1 - o``. With the default origin this equals
    ``scipy.ndimage.convolve``.

    Examples
    --------
    An impulse reproduces the kernel:

    >>> img = np.zeros((3, 3)); img[1, 1] = 1
    >>> k = Kernel([[1, 2, 4], [8, 16, 32], [64, 128, 256]], (1, 1))
    >>> convolve(img, k, mode="constant").astype(int).tolist()
    [[1, 2, 4], [8, 16, 32], [64, 128, 256]]
    """
    if _is_dask(image):
        return _tiled("convolve", image, kernel, mode, cval)
    return _with_offset(_scipy_filter("convolve", image, kernel, mode, cval), kernel)


def _is_dask(image: object) -> bool:
    return type(image).__module__.split(".")[0] == "dask"


def _tiled(operation: str, image: object, kernel: Kernel, mode: str, cval: float) -> object:
    """A lazy dask array, block by block (see :mod:`flipconv.core.tiled`)."""
    from flipconv.core.tiled import filter_array

    _check(image, mode, cval)  # type: ignore[arg-type]  (it reads .ndim only)
    return filter_array(image, kernel, operation=operation, mode=mode, cval=cval, method="direct")


def _with_offset(out: np.ndarray, kernel: Kernel) -> np.ndarray:
    if kernel.offset:
        out += kernel.offset
    return out


def apply(
    operation: Operation,
    image: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """Run ``convolve`` or ``correlate`` by name: the weighted sum only.

    Unlike :func:`convolve` and :func:`correlate` this leaves out the
    kernel's ``offset``; :func:`flipconv.core.process.filter_image` adds it
    with the bias, to colour channels only.
    """
    if operation in OPERATIONS:
        return _scipy_filter(operation, image, kernel, mode, cval)
    raise OptionError(f"operation {operation!r} is not one of {', '.join(OPERATIONS)}")


def alpha_channel(pixels: np.ndarray) -> int | None:
    """Index of the alpha channel (gray+alpha or RGBA, channels last), or None."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        return pixels.shape[2] - 1
    return None


def filter_channels(
    operation: Operation,
    pixels: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy = "keep",
    alpha_max: float = 1.0,
    method: str = "direct",
    threads: int | None = 1,
) -> np.ndarray:
    """Filter an image channel by channel, in float64 and image units.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` with channels last. With 2 or 4 channels
        the last one is alpha.
    alpha : {'keep', 'filter'}
        ``keep`` copies alpha unchanged. ``filter`` filters alpha like a
        colour and weights colours by alpha (premultiplied filtering):
        ``c' = F(c * a) / F(a)`` where ``F(a) > 0`` and 0 elsewhere, so
        transparent pixels do not bleed their colour into their neighbours.
        With ``mode='constant'`` every channel, alpha included, is ``cval``
        outside the image (``cval=0``: transparent).
    alpha_max : float
        The value of an opaque alpha sample (255 for 8-bit images).
    method, threads
        ``direct`` with one thread is this module's reference path; any other
        choice goes through :mod:`flipconv.core.engine` (``auto``,
        ``separable``, ``lowrank``, ``fft``; threads ``None`` means all cores).

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``pixels``.
    """
    if pixels.ndim not in (2, 3):
        raise OptionError(f"image must be 2-D or 3-D (channels last), got {pixels.ndim}-D")
    out = np.empty(pixels.shape, dtype=np.float64)
    for index, plane in iter_planes(
        operation,
        pixels,
        kernel,
        mode=mode,
        cval=cval,
        alpha=alpha,
        alpha_max=alpha_max,
        method=method,
        threads=threads,
    ):
        if pixels.ndim == 2:
            out[...] = plane
        else:
            out[..., index] = plane
    return out


def iter_planes(
    operation: Operation,
    pixels: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy = "keep",
    alpha_max: float = 1.0,
    method: str = "direct",
    threads: int | None = 1,
):  # type: ignore[no-untyped-def]
    """Yield ``(channel, float64 plane)`` one filtered channel at a time.

    The same results as :func:`filter_channels`, without holding them all:
    a caller can convert and store each plane before the next is computed.
    Alpha (kept or filtered) comes last.
    """
    if alpha not in ("keep", "filter"):
        raise OptionError(f"alpha {alpha!r} is not one of keep, filter")
    if pixels.ndim not in (2, 3):
        raise OptionError(f"image must be 2-D or 3-D (channels last), got {pixels.ndim}-D")
    pool = None
    if method == "direct" and threads == 1:
        run = apply
    else:
        from concurrent.futures import ThreadPoolExecutor

        from flipconv.core.engine import apply_plane, default_threads

        workers = default_threads() if threads is None else max(1, threads)
        pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

        def run(op, plane, k, *, mode, cval):  # type: ignore[no-untyped-def]
            return apply_plane(
                op,
                plane,
                k,
                mode=mode,
                cval=cval,
                method=method,  # type: ignore[arg-type]
                threads=workers,
                pool=pool,
            )

    try:
        yield from _planes(run, operation, pixels, kernel, mode, cval, alpha, alpha_max)
    finally:
        if pool is not None:
            pool.shutdown()


def _planes(run, operation, pixels, kernel, mode, cval, alpha, alpha_max):  # type: ignore[no-untyped-def]
    if pixels.ndim == 2:
        yield 0, run(operation, pixels, kernel, mode=mode, cval=cval)
        return
    a_index = alpha_channel(pixels)
    colours = range(pixels.shape[2] if a_index is None else a_index)
    if a_index is None or alpha == "keep":
        for c in colours:
            yield c, run(operation, pixels[..., c], kernel, mode=mode, cval=cval)
        if a_index is not None:
            yield a_index, pixels[..., a_index].astype(np.float64)
        return
    weight = pixels[..., a_index].astype(np.float64) / alpha_max
    filtered_weight = run(operation, weight, kernel, mode=mode, cval=cval / alpha_max)
    safe = filtered_weight > 1e-12
    for c in colours:
        num = run(
            operation, pixels[..., c] * weight, kernel, mode=mode, cval=cval * cval / alpha_max
        )
        yield c, np.divide(num, filtered_weight, out=np.zeros_like(num), where=safe)
    yield a_index, filtered_weight * alpha_max
