"""Multi-channel images: each channel filtered in turn, alpha kept or used as a weight."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.limits import default_threads
from flipconv.core._shared.vocabulary import (
    ALPHA_POLICIES,
    AlphaPolicy,
    FilterMode,
    Method,
    Operation,
    check_choice,
)
from flipconv.core.engine.settle import Rounding
from flipconv.core.engine.steps import filter_plane
from flipconv.core.kernels.kernel import Filterable, Kernel, Stack


def alpha_channel(pixels: np.ndarray) -> int | None:
    """Index of the alpha channel (gray+alpha or RGBA, channels last), or None."""
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):
        return pixels.shape[2] - 1
    return None


def sums_to_one(kernel: Filterable) -> bool:
    """Whether ``kernel`` (each of a chain) sums to one with no offset: it keeps a flat image."""
    if isinstance(kernel, Stack):
        return kernel.combine is None and all(sums_to_one(k) for k in kernel.kernels)
    return kernel.offset == 0 and bool(abs(kernel.values.sum() - 1.0) <= 1e-9)


def averages(kernel: Filterable) -> bool:
    """Whether ``kernel`` is one weighted average: weights >= 0 summing to one, no offset.

    >>> from flipconv.core.kernels.specs import parse_kernel_spec
    >>> averages(parse_kernel_spec("gaussian:2")), averages(parse_kernel_spec("sharpen"))
    (True, False)
    """
    return isinstance(kernel, Kernel) and sums_to_one(kernel) and bool((kernel.values >= 0).all())


def alpha_policy(alpha: AlphaPolicy, kernel: Filterable) -> AlphaPolicy:
    """``auto`` made ``filter`` for one weighted average (a blur), ``keep`` for anything else.

    A blur mixes neighbours; where some are transparent their colour is not
    the image's, and weighting by alpha keeps it out: a red logo's opaque
    edge stays red rather than darkening. An edge detector, a sharpen or a
    brightening kernel is not a mean of neighbours, so alpha is no weight
    for it and is kept. A chain or a combination of kernels keeps alpha too
    (in tiles a chain cannot weight each pass by alpha, and the bytes must not
    depend on the route). ``keep`` and ``filter`` are returned as given.
    """
    check_choice("alpha", alpha, ALPHA_POLICIES)
    if alpha != "auto":
        return alpha
    return "filter" if averages(kernel) else "keep"


def _footprint(kernel: Filterable) -> Filterable:
    """Ones where ``kernel`` has a weight: which samples each output reaches."""
    if isinstance(kernel, Stack):
        return Stack(tuple(_footprint(k) for k in kernel.kernels), kernel.combine, kernel.spec)
    return Kernel((kernel.values != 0).astype(np.float64), kernel.origin, "footprint")


def stack_planes(planes: Iterator[tuple[int, np.ndarray]], shape: tuple[int, ...]) -> np.ndarray:
    """Gather :func:`iter_planes`' output into one float64 image of ``shape``."""
    out = np.empty(shape, dtype=np.float64)
    for index, plane in planes:
        if len(shape) == 2:
            out[...] = plane
        else:
            out[..., index] = plane
    return out


def iter_planes(
    operation: Operation,
    pixels: np.ndarray,
    kernel: Filterable,
    *,
    mode: FilterMode = "reflect",
    cval: float = 0.0,
    alpha: AlphaPolicy | None = "keep",
    alpha_max: float = 1.0,
    method: Method = "direct",
    threads: int | None = 1,
    rounding: Rounding | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Filter an image channel by channel: yield ``(channel, float64 plane)`` in turn.

    A caller converts or stores each plane before it asks for the next (or
    gathers them: :func:`stack_planes`): colour planes may share one buffer.
    Alpha (kept or filtered) comes last. Planes are in image units.

    Parameters
    ----------
    pixels : numpy.ndarray
        ``(H, W)`` or ``(H, W, C)`` with channels last. With 2 or 4 channels
        the last one is alpha.
    alpha : {'auto', 'keep', 'filter'} or None
        None: no channel is alpha, all are filtered alike. ``keep`` copies
        alpha unchanged. ``filter`` filters alpha like a
        colour and weights colours by alpha (premultiplied filtering):
        ``c' = F(c * a) / F(a)`` where ``F(a) > 0``, so transparent pixels
        do not bleed their colour into their neighbours. An output whose
        kernel reaches only opaque samples gets ``F(c)``, the bytes it would
        have without alpha; so does one whose kernel reaches nothing opaque
        (a kernel summing to one: the hidden colours are kept, not blacked
        out; another kernel gives 0 there). With ``mode='constant'`` every
        channel, alpha included, is ``cval`` outside the image (``cval=0``:
        transparent). ``auto``: ``filter`` for a weighted average, else
        ``keep`` (:func:`alpha_policy`).
    alpha_max : float
        The value of an opaque alpha sample (255 for 8-bit images).
    method, threads
        The engine's (:mod:`flipconv.core.engine.planner`): ``auto``, ``direct``,
        ``separable``, ``lowrank``, ``fft``; threads ``None`` means all cores.
    rounding : Rounding, optional
        How colour planes will be rounded to integers, so that FFT and
        low-rank sums give the direct route's integers
        (:mod:`~flipconv.core.engine.settle`); not with ``alpha='filter'``,
        whose colours are quotients.
    """
    if alpha is not None:
        alpha = alpha_policy(alpha, kernel)
    if pixels.ndim not in (2, 3):
        raise OptionError(f"image must be 2-D or 3-D (channels last), got {pixels.ndim}-D")
    workers = default_threads() if threads is None else max(1, threads)
    # the scipy backend cuts planes into strips on these threads (OpenCV threads itself)
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None

    shared: list[np.ndarray] = []  # one float64 plane the colour results may reuse

    def run(
        plane: np.ndarray, border: float, reuse: bool = False, footprint: bool = False
    ) -> np.ndarray:
        if reuse and not shared:
            shared.append(np.empty(plane.shape, dtype=np.float64))
        return filter_plane(
            operation,
            plane,
            _footprint(kernel) if footprint else kernel,
            mode=mode,
            cval=border,
            method=method,
            threads=workers,
            pool=pool,
            out=shared[0] if reuse else None,
            rounding=rounding if reuse or pixels.ndim == 2 else None,  # colours, not quotients
        )

    try:
        yield from _planes(run, pixels, cval, alpha, alpha_max, kernel)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)  # on Ctrl-C: not the queued strips


def _planes(
    run: Callable[..., np.ndarray],
    pixels: np.ndarray,
    cval: float,
    alpha: AlphaPolicy | None,
    alpha_max: float,
    kernel: Filterable,
) -> Iterator[tuple[int, np.ndarray]]:
    if pixels.ndim == 2:
        yield 0, run(pixels, cval)
        return
    a_index = alpha_channel(pixels) if alpha is not None else None
    colours = range(pixels.shape[2] if a_index is None else a_index)
    opaque = None if a_index is None or alpha != "filter" else pixels[..., a_index] >= alpha_max
    # a kernel summing to one gives F(c * 1) / F(1) = F(c) where all it reaches is opaque
    plain_where_opaque = opaque is not None and sums_to_one(kernel)
    if a_index is None or opaque is None or (plain_where_opaque and bool(opaque.all())):
        for c in colours:  # each is used before the next is asked for: one buffer serves
            yield c, run(pixels[..., c], cval, reuse=True)
        if a_index is not None:
            yield a_index, pixels[..., a_index].astype(np.float64)
        return
    weight = pixels[..., a_index].astype(np.float64) / alpha_max
    filtered_weight = run(weight, cval / alpha_max)
    # outputs whose kernel reaches a sample that is not opaque (the border's
    # too, where cval is not opaque); elsewhere F(c * 1) is F(c), taken as is
    if plain_where_opaque:
        border_clear = 0.0 if cval >= alpha_max else 1.0
        reached = run((~opaque).astype(np.float64), border_clear, footprint=True) > 0.5
    else:
        reached = np.ones(opaque.shape, dtype=bool)
    safe = reached & (filtered_weight > 1e-12)
    for c in colours:
        num = run(pixels[..., c] * weight, cval * cval / alpha_max)
        out = run(pixels[..., c], cval, reuse=True) if plain_where_opaque else num
        np.divide(num, filtered_weight, out=out, where=safe)
        if not plain_where_opaque:
            out[~safe] = 0.0  # nothing opaque within reach: no colour to weigh
        # (a kernel summing to one keeps F(c) there: hidden colours are not blacked out)
        yield c, out
    yield a_index, filtered_weight * alpha_max


def channels_last(image: Any, channel_axis: int | None) -> tuple[Any, bool]:
    """``image`` with its channels last, and whether they were moved there.

    ``channel_axis`` None means last, except that a 3-D image whose first axis
    could hold channels (at most 4) and whose last could not (more than 4) is
    refused as almost certainly channels-first, rather than filtered as an
    image a few pixels high.
    """
    if image.ndim != 3:
        if channel_axis is not None:
            raise OptionError(
                f"`channel_axis` {channel_axis} needs an (H, W, C) or (C, H, W) image"
            )
        return image, False
    if channel_axis is None:
        if image.shape[0] <= 4 < image.shape[2]:
            c, h, w = image.shape
            raise OptionError(
                f"image of shape {tuple(image.shape)} looks channels-first ({c} channels of "
                f"{h}x{w}); pass channel_axis=0 for that, or channel_axis=-1 to filter it "
                f"as {w} channels of {c}x{h}"
            )
        return image, False
    if channel_axis in (-1, 2):
        return image, False
    if channel_axis in (0, -3):
        return np.moveaxis(image, 0, -1), True
    raise OptionError(f"`channel_axis` {channel_axis!r} must be 0 (first) or -1 (last)")
