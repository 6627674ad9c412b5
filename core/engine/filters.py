"""The public filters: ``correlate``, ``convolve`` and ``filter_image``.

They take what scipy and OpenCV users already hold: an image of shape
``(H, W)`` or ``(H, W, C)`` (a numpy or dask array), and a kernel that may be
a :class:`~flipconv.core.kernels.kernel.Kernel`, any 2-D array-like, or a spec string
(``"sobel-x"``, ``"gaussian:2"``, ``"1,2;4,8"``). ``origin=`` is
scipy.ndimage's: the offset of the kernel element over the output pixel from
``shape // 2``; ``anchor=(row, col)`` names that element by its index
instead. Without either the ``Kernel``'s own origin holds, else
``shape // 2`` (as scipy.ndimage and OpenCV place it).

``correlate`` and ``convolve`` return float64 in the image's own units and
filter every channel alike, as ``cv2.filter2D`` does. ``filter_image`` is the
whole pipeline the command line runs: alpha, scale and bias, the
out-of-range policy and the output sample type.
"""

from __future__ import annotations

__all__ = [
    "FilterSettings",
    "KernelLike",
    "as_filter",
    "as_kernel",
    "convolve",
    "correlate",
    "filter_image",
    "filter_with",
]

from collections.abc import Sequence
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import (
    FILTER_MODES,
    METHODS,
    SAMPLE_TYPES,
    AlphaPolicy,
    Arithmetic,
    Combine,
    FilterMode,
    Method,
    Operation,
    OutRange,
    RoundingRule,
    check_choice,
    is_dask_array,
)
from flipconv.core.engine.channels import channels_last, iter_planes, stack_planes
from flipconv.core.engine.routes import filter_with, tiled_mode
from flipconv.core.engine.scipy_backend import check_plane
from flipconv.core.engine.scipy_calls import ScipyCall, deliver, filter_mode
from flipconv.core.engine.settings import FilterSettings
from flipconv.core.engine.tiled import filter_array
from flipconv.core.kernels.coercion import KernelLike, as_filter, as_kernel
from flipconv.core.kernels.kernel import OffsetLike, OriginLike


def check_image(image: Any) -> None:
    """Refuse (:class:`OptionError`) an image not ``(H, W)`` or ``(H, W, C)``, or empty."""
    if getattr(image, "ndim", None) not in (2, 3):
        ndim = getattr(image, "ndim", "?")
        raise OptionError(f"image must be (H, W) or (H, W, C) with channels last, got {ndim}-D")
    if 0 in image.shape:
        raise OptionError(f"image of shape {tuple(image.shape)} is empty: it has no samples")
    if np.dtype(image.dtype).kind not in "biuf":
        raise OptionError(f"image must hold real numbers, not {image.dtype}")


def _one(name: str, given: Any, alias: str, aliased: Any) -> Any:
    """The argument given under flipconv's name or scipy's, not both, not neither."""
    if given is not None and aliased is not None:
        raise OptionError(f"give `{name}` or scipy's `{alias}`, not both")
    if given is None and aliased is None:
        raise OptionError(f"`{name}` is missing (scipy calls it `{alias}`)")
    return given if given is not None else aliased


def _filter(operation: Operation, call: dict[str, Any]) -> Any:
    """Both public filters: scipy's spellings read, flipconv's sums, scipy's casting."""
    image = _one("image", call["image"], "input", call["input"])
    kernel = _one("kernel", call["kernel"], "weights", call["weights"])
    mode = check_choice("mode", filter_mode(call["mode"]), FILTER_MODES)
    method = call["method"]
    check_choice("method", method, METHODS)
    if call["output"] is not None and method == "auto":
        method = "direct"  # scipy's own sums, so that its truncation gives its integers
    if call["axes"] is not None and call["channel_axis"] is not None:
        raise OptionError("give `axes` or `channel_axis`, not both")
    if getattr(image, "ndim", None) == 3 or call["channel_axis"] is not None:
        if not is_dask_array(image):
            image = np.asarray(image)
        image, moved = channels_last(image, call["channel_axis"])
    else:
        moved = False
    scipy_call = ScipyCall.of(image, kernel, origin=call["origin"], axes=call["axes"])
    k = as_filter(
        kernel if scipy_call.weights is None else scipy_call.weights,
        origin=scipy_call.origin,
        anchor=call["anchor"],
        combine=call["combine"],
    )
    image = scipy_call.image
    check_image(image)
    out = _filter_last(operation, image, k, mode, call["cval"], method, call["threads"])
    out = scipy_call.restore(np.moveaxis(out, -1, 0) if moved else out)
    return deliver(out, call["output"])


def _filter_last(
    operation: Operation,
    image: Any,
    k: Any,
    mode: FilterMode,
    cval: float,
    method: Method,
    threads: int | None,
) -> Any:
    check_plane(image[..., 0] if image.ndim == 3 else image, "nearest", cval)
    if is_dask_array(image):
        return filter_array(
            image,
            k,
            operation=operation,
            mode=tiled_mode(mode),
            cval=cval,
            alpha=None,
            method=method,
        )
    planes = iter_planes(
        operation, image, k, mode=mode, cval=cval, alpha=None, method=method, threads=threads
    )
    out = stack_planes(planes, image.shape)
    if k.offset:
        out += k.offset
    return out


def correlate(
    image: Any = None,
    kernel: KernelLike | None = None,
    output: Any = None,
    mode: FilterMode | str = "reflect",
    cval: float = 0.0,
    origin: OffsetLike | Sequence[int] = None,
    *,
    anchor: OriginLike = None,
    method: Method = "auto",
    threads: int | None = None,
    combine: Combine | None = None,
    channel_axis: int | None = None,
    axes: int | Sequence[int] | None = None,
    input: Any = None,  # noqa: A002 (scipy's name)
    weights: KernelLike | None = None,
) -> Any:
    """Cross-correlate an image with a kernel, in float64.

    Parameters
    ----------
    image : numpy.ndarray or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` of any real dtype; values are used as
        they are (image units). Each channel is filtered alike. A dask array
        gives a lazy dask array, filtered block by block with exact halos
        (:mod:`flipconv.core.engine.tiled`): the same numbers.
        A 1-D signal is filtered as one row.
    kernel : Kernel, str or array-like
        Weights (and origin, for a ``Kernel``); see :func:`as_kernel`. Also
        scipy's ``weights``: as many axes as the image (``k[:, :, None]``
        filters each channel of an RGB image alike), or one per ``axes``.
    output : dtype or numpy.ndarray, optional
        scipy.ndimage's: the result cast to this type, or into this array
        (returned), as scipy casts: truncated toward zero, wrapping out of
        range. The sums are then ``method='direct'``'s unless a method is
        named, which are scipy's own. Default: float64, neither truncated nor
        wrapped (``scipy.ndimage`` would give the input's type).
    mode : {'reflect', 'constant', 'nearest', 'mirror', 'wrap', 'unfiltered'}
        How the image is extended past its border, with scipy.ndimage's
        meaning (its ``grid-mirror``, ``grid-constant`` and ``grid-wrap``
        are read as ``reflect``, ``constant`` and ``wrap``, as scipy's filters
        read them); ``unfiltered`` keeps the input wherever the kernel would
        reach past the edge (as Pillow and netpbm do; not for dask arrays).
    cval : float
        The value outside the image for ``mode='constant'``, in image units.
    origin : int or (int, int), optional
        scipy.ndimage's ``origin``: the offset from ``shape // 2`` of the
        kernel element over the output pixel, one int for both axes or one
        per axis, each from ``-(n // 2)`` to ``(n - 1) // 2``. Default: the
        ``Kernel``'s own origin, else ``shape // 2``.
    anchor : (int, int) or {'down-right', 'up-left'}, optional
        The same element by its absolute (row, col) index (OpenCV's
        ``anchor``, reversed to row first), or by a rule for even sizes.
        Give ``origin`` or ``anchor``, not both.
    method : {'auto', 'direct', 'separable', 'lowrank', 'fft'}
        The algorithm (:mod:`flipconv.core.engine.planner`); ``auto`` picks the
        fastest. ``direct`` sums the taps (through OpenCV below 50 taps:
        bit-identical to scipy.ndimage); the others agree with it to about
        1e-15 of the result's scale.
    threads : int, optional
        Threads (default: all cores). Results do not depend on it.
    combine : {'magnitude', 'sum', 'max', 'min'}, optional
        With a list of kernels: filter with each and combine per pixel.
        Without it a list is applied in turn (float64 in between).
    channel_axis : {None, 0, -1}, optional
        Where a 3-D image keeps its channels (as in scikit-image): ``-1``
        last, ``0`` first (``(C, H, W)``, as PyTorch stores them; the result
        keeps that layout). None: last, but an image whose first axis has at
        most 4 entries and whose last has more is refused as channels-first.
    axes : int or sequence of int, optional
        scipy's: the axes the weights lie on, one weight axis each (rows 0
        and columns 1; a channel axis only with extent 1). Default: all.
    input, weights
        scipy's names for ``image`` and ``kernel``.

    Returns
    -------
    numpy.ndarray
        float64 (or ``output``'s type), the shape of ``image``.

    Notes
    -----
    .. math:: out[n] = \\sum_m K[o + m] \\, I[n + m]

    where ``m`` runs over the offsets for which ``o + m`` indexes the kernel,
    and ``I`` beyond the border is defined by ``mode``. With the default
    origin this equals ``scipy.ndimage.correlate``, and with ``origin=``
    scipy's with the same ``origin=``; ``anchor=(r, c)`` equals
    ``cv2.filter2D`` with ``anchor=(c, r)``, up to float64 rounding (to the bit with
    ``method='direct'``). Weights of any magnitude count (scipy skips
    ``|w| <= 2**-52``; flipconv only skips weights below ``2**-52`` times the
    largest one). A libvips matrix's offset is added to the result.

    Examples
    --------
    An impulse returns the kernel rotated by 180 degrees:

    >>> img = np.zeros((3, 3)); img[1, 1] = 1
    >>> correlate(img, [[1, 2, 4], [8, 16, 32], [64, 128, 256]], mode="constant").tolist()
    [[256.0, 128.0, 64.0], [32.0, 16.0, 8.0], [4.0, 2.0, 1.0]]

    With its origin at the top left, an even kernel reads the pixels below
    and right of each output, so the impulse's response lies above and left:

    >>> correlate(img, [[1, 2], [4, 8]], origin=-1, mode="constant").tolist()
    [[8.0, 4.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    >>> correlate(img, [[1, 2], [4, 8]], anchor=(0, 0), mode="constant").tolist()
    [[8.0, 4.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    return _filter("correlate", locals())


def convolve(
    image: Any = None,
    kernel: KernelLike | None = None,
    output: Any = None,
    mode: FilterMode | str = "reflect",
    cval: float = 0.0,
    origin: OffsetLike | Sequence[int] = None,
    *,
    anchor: OriginLike = None,
    method: Method = "auto",
    threads: int | None = None,
    combine: Combine | None = None,
    channel_axis: int | None = None,
    axes: int | Sequence[int] | None = None,
    input: Any = None,  # noqa: A002 (scipy's name)
    weights: KernelLike | None = None,
) -> Any:
    """Convolve an image with a kernel, in float64.

    Parameters are as for :func:`correlate`.

    Notes
    -----
    .. math:: out[n] = \\sum_m K[o + m] \\, I[n - m]

    which is correlation with the kernel rotated 180 degrees *about its
    origin*: ``convolve(I, K) == correlate(I, K.reflected())``, where the
    reflected kernel has matrix ``K[::-1, ::-1]`` and origin
    ``shape - 1 - o``. This equals ``scipy.ndimage.convolve`` with the same
    ``origin=``, even sizes included.

    Examples
    --------
    An impulse reproduces the kernel, and each channel is filtered alike:

    >>> img = np.zeros((3, 3, 2)); img[1, 1] = [1, 10]
    >>> out = convolve(img, "1,2,4;8,16,32;64,128,256", mode="constant")
    >>> out[..., 0].tolist()
    [[1.0, 2.0, 4.0], [8.0, 16.0, 32.0], [64.0, 128.0, 256.0]]
    >>> float(out[0, 0, 1])
    10.0
    """
    return _filter("convolve", locals())


def filter_image(
    pixels: Any,
    kernel: KernelLike,
    *,
    operation: Operation,
    mode: FilterMode = "reflect",
    cval: float = 0.0,
    origin: OffsetLike = None,
    anchor: OriginLike = None,
    alpha: AlphaPolicy = "auto",
    scale: float = 1.0,
    bias: float = 0.0,
    out_range: OutRange = "clip",
    dtype: str | np.dtype | None = None,
    normalize: bool = False,
    memory_limit: int | None = None,
    method: Method = "auto",
    threads: int | None = None,
    chunks: int | None = None,
    combine: Combine | None = None,
    input_scale: float | None = None,
    rounding: RoundingRule = "nearest",
    arithmetic: Arithmetic = "float64",
    notes: list[str] | None = None,
    channel_axis: int | None = None,
    engine: dict[str, Any] | None = None,
) -> Any:
    """Convolve or correlate an image and return samples of the output type.

    Parameters
    ----------
    pixels : numpy.ndarray or dask.array.Array
        ``(H, W)`` or ``(H, W, C)`` (2 or 4 channels: the last is alpha), of
        uint8, uint16, float32 or float64.
    kernel : Kernel, str or array-like
        See :func:`as_kernel`; ``origin`` and ``anchor`` as for :func:`correlate`.
    operation : {'convolve', 'correlate'}
    mode, cval
        Border handling, as :func:`correlate`; ``cval`` in image units.
    alpha : {'auto', 'keep', 'filter'}
        See :func:`flipconv.core.engine.channels.iter_planes`. ``auto`` weights
        colours by alpha for a weighted average (a blur) and keeps alpha for
        any other kernel (:func:`~flipconv.core.engine.channels.alpha_policy`).
    scale, bias, out_range
        See :func:`flipconv.core.engine.pixels.finish`. The kernel's ``offset`` is
        added to ``bias``.
    dtype : str, optional
        Output sample type; default: the input's.
    normalize : bool
        Divide the kernel by its sum first (error if the sum is 0).
    method : {'auto', 'direct', 'separable', 'lowrank', 'fft'}
        Algorithm (see :mod:`flipconv.core.engine.planner`); ``auto`` picks the
        cheapest by measured costs. All agree up to float64 rounding.
    threads : int, optional
        Threads to use (default: all cores). Results do not depend on it.
    chunks : int, optional
        Block side for a dask ``pixels`` (default: its chunks).
    memory_limit : int, optional
        Refuse (:class:`~flipconv.core._shared.errors.ResourceLimitError`) before
        starting if the estimated working memory exceeds this many bytes.
    combine : {'magnitude', 'sum', 'max', 'min'}, optional
        With several kernels, as for :func:`correlate`.
    channel_axis : {None, 0, -1}, optional
        As for :func:`correlate`; with 2 or 4 channels the last is alpha.
    input_scale : float, optional
        The value that means full intensity in a float input (255 for a
        float TIFF that holds 0..255); default 1.0.
    rounding : {'nearest', 'half-up', 'truncate'}
        How an integer output rounds: to nearest, ties to even (the
        default); half up (Pillow); truncated (ImageMagick, GraphicsMagick,
        libvips, G'MIC). See :func:`~flipconv.core.engine.pixels.round_samples`.
    arithmetic : {'float64', 'pillow'}
        Whose sums: flipconv's float64, or Pillow's ``ImageFilter.Kernel``
        reproduced to the byte (float32 in its order, rounded half up; 8-bit,
        3x3 or 5x5, ``mode='unfiltered'``: :mod:`~flipconv.core.engine.pillow_sums`).
    notes : list of str, optional
        Given, gets a sentence when more than 1% of the samples were clipped
        to an integer output's range, or when a float input holds whole
        numbers above 1.0 and no ``input_scale`` was given.
    engine : dict, optional
        Given, is told the route the sums took: ``route`` (``float64``,
        ``int16 exact sums`` or ``float32, certified``: the certified route,
        :mod:`flipconv.core.engine.certified`), and for the certified route ``samples`` and
        ``recomputed`` (those float32 left in doubt, summed again in float64).
        The bytes are the float64 route's whichever is taken.

    Returns
    -------
    numpy.ndarray
        Same height, width and channels as ``pixels``, of ``dtype``. Given a
        dask array, a lazy dask array computed block by block with the same
        results (:mod:`flipconv.core.engine.tiled`; ``out_range='rescale'`` is not
        available there).

    Examples
    --------
    >>> img = np.array([[0, 0, 0], [0, 255, 0], [0, 0, 0]], dtype=np.uint8)
    >>> filter_image(img, [[0, 0, 0.5]], origin=(0, 0), operation="convolve",
    ...              mode="constant")[1].tolist()
    [0, 0, 128]
    >>> filter_image(img, [[0, 0, 0.5]], anchor=(0, 1), operation="correlate",
    ...              mode="constant")[1].tolist()
    [128, 0, 0]
    """
    kernel = as_filter(kernel, origin=origin, anchor=anchor, combine=combine)
    if not is_dask_array(pixels):
        given = type(pixels).__name__
        listed = not isinstance(pixels, np.ndarray)
        pixels = np.asarray(pixels)
        check_image(pixels)
        if listed and pixels.dtype.name not in SAMPLE_TYPES:
            raise OptionError(
                f"`pixels` is a {given} of {pixels.dtype} numbers; give an "
                "array of uint8, uint16, float32 or float64 (np.asarray(pixels, np.uint8))"
            )
    settings = FilterSettings(
        operation,
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
        memory_limit=memory_limit,
        input_scale=input_scale,
        rounding=rounding,
        arithmetic=arithmetic,
    )
    pixels, moved = channels_last(pixels, channel_axis)
    out = filter_with(pixels, kernel, settings, chunks=chunks, notes=notes, engine=engine)
    return np.moveaxis(out, -1, 0) if moved else out
