"""The routes a filter's sums take: OpenCV's exact int16 sums, the certified route, or float64.

:func:`filter_with` is :func:`~flipconv.core.engine.filters.filter_image`
with its options in one :class:`~flipconv.core.engine.settings.FilterSettings`
and the image already channels last; the first route that applies runs, and
each gives the float64 route's numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.limits import check_working_memory, default_threads
from flipconv.core._shared.vocabulary import AlphaPolicy, FilterMode, Mode, is_dask_array
from flipconv.core.engine import opencv_backend as opencv
from flipconv.core.engine.certified import certified_u8
from flipconv.core.engine.channels import (
    alpha_channel,
    alpha_policy,
    iter_planes,
    stack_planes,
    sums_to_one,
)
from flipconv.core.engine.choose import Route, choose_route
from flipconv.core.engine.exact8 import integer_sums
from flipconv.core.engine.local_tiles import filter_tiles
from flipconv.core.engine.notes import can_clip, clipping_note, declared_scale, float_scale_note
from flipconv.core.engine.pillow_sums import pillow_sums
from flipconv.core.engine.pixels import check_sample_type, finish, finish_plane, full_scale
from flipconv.core.engine.rational import rational_u8
from flipconv.core.engine.scipy_backend import scipy_gaussian_u8, scipy_own_blur
from flipconv.core.engine.settings import FilterSettings, Finish
from flipconv.core.engine.settle import rounding_for
from flipconv.core.engine.tiled import filter_array
from flipconv.core.engine.vips_sums import own_blur as vips_own_blur
from flipconv.core.engine.vips_sums import vips_gaussblur
from flipconv.core.kernels.kernel import Filterable, Kernel


def _say(engine: dict[str, Any] | None, **facts: Any) -> None:
    if engine is not None:
        engine.clear()
        engine.update(facts)


def tiled_mode(mode: FilterMode) -> Mode:
    """The border modes only: ``unfiltered`` needs to know where the image's edge is."""
    if mode == "unfiltered":
        raise OptionError(
            "`mode` unfiltered is not available in tiles (dask arrays); filter the whole "
            "image, or pick another mode"
        )
    return mode


def filter_with(
    pixels: Any,
    kernel: Filterable,
    settings: FilterSettings,
    *,
    chunks: int | None = None,
    notes: list[str] | None = None,
    engine: dict[str, Any] | None = None,
    by_region: bool = False,
    checkpoint: Callable[[Any], Any] | None = None,
) -> Any:
    """:func:`filter_image` with its options in one :class:`FilterSettings`.

    ``pixels`` channels last (numpy or dask), ``kernel`` a Kernel or a
    Stack (see :func:`as_filter`). The route is :func:`choose_route`'s
    (:mod:`~flipconv.core.engine.choose`), decided before any work starts.
    ``by_region``: ``pixels`` is read by region (``pixels[r0:r1, c0:c1]``),
    and is filtered in ``chunks``-sided blocks here, without Dask
    (:class:`~flipconv.core.engine.tiled.Tiles`). ``checkpoint``: for a chain in a
    Dask graph, stores each pass between kernels (see ``filter_array``).
    """
    s = settings
    lazy = by_region or is_dask_array(pixels)
    own = _tools_own(pixels, kernel, s, by_region, engine)
    if own is not None:
        return own
    if s.normalize:
        kernel = kernel.normalized()
    in_type = check_sample_type(pixels.dtype)
    out_type = check_sample_type(s.dtype if s.dtype is not None else in_type)
    done = Finish(out_type, s.scale, s.bias, s.out_range, s.rounding)
    s = replace(s, alpha=_alpha_here(s.alpha, kernel, pixels, in_type))
    if s.input_scale is not None:
        scale, bias = declared_scale(s.input_scale, in_type, s.scale, s.bias)
        done = replace(done, scale=scale, bias=bias)
    finishing = replace(s, scale=done.scale, bias=done.bias, dtype=out_type)
    route = choose_route(pixels.shape, in_type, kernel, finishing, lazy=lazy)
    _say(engine, route=route.label, reason=route.reason)
    if by_region:  # here, without Dask
        return filter_tiles(
            pixels, kernel, operation=s.operation, mode=tiled_mode(s.mode), cval=s.cval,
            alpha=s.alpha, method=s.method, finish=done, chunks=chunks or 1024,
        )  # fmt: skip
    if lazy:
        return filter_array(
            pixels, kernel, operation=s.operation, mode=tiled_mode(s.mode), cval=s.cval,
            alpha=s.alpha, method=s.method, finish=done, chunks=chunks, checkpoint=checkpoint,
        )  # fmt: skip
    if s.memory_limit is not None:
        check_working_memory(pixels.shape, s.memory_limit)
    counts = _clip_counts(pixels, kernel, s, in_type, done, notes)
    out = None
    if route.name in ("int16", "rational", "certified"):
        assert isinstance(kernel, Kernel)
        out = _run_8bit(route, pixels, kernel, s, done, counts, engine)
    if out is None:
        out = _float64_route(pixels, kernel, s, in_type, done, counts)
    note = clipping_note(counts, pixels, done.dtype, kernel, bias=done.bias)
    if note is not None and notes is not None:
        notes.append(note)
    return out


def _tools_own(
    pixels: Any,
    kernel: Filterable,
    s: FilterSettings,
    by_region: bool,
    engine: dict[str, Any] | None,
) -> Any:
    """A tool's own arithmetic where choose_route takes it (before any normalising: the tool
    divides by the sum itself); None otherwise."""
    if s.arithmetic == "float64" or pixels.dtype != np.uint8:
        return None
    lazy = by_region or is_dask_array(pixels)
    route = choose_route(pixels.shape, pixels.dtype, kernel, s, lazy=lazy)
    if route.name not in ("pillow", "vips", "scipy"):
        return None
    _say(engine, route=route.label, reason=route.reason)
    if route.name == "pillow":
        return pillow_sums(pixels, kernel, s, by_region)
    return _vips_route(pixels, kernel, s, by_region, route.name)


def _vips_route(
    pixels: Any, kernel: Filterable, s: FilterSettings, by_region: bool, tool: str
) -> Any:
    """libvips' gaussblur or scipy's gaussian_filter on 8 bits
    (:mod:`~flipconv.core.engine.vips_sums`, :mod:`~flipconv.core.engine.scipy_backend`),
    where nothing asks for what they lack."""
    if by_region or not isinstance(pixels, np.ndarray):
        raise OptionError(f"{tool}'s own Gaussian filters whole images, not tiles")
    odd = {"scale": (s.scale, 1.0), "bias": (s.bias, 0.0),
           "dtype": (np.dtype(s.dtype or pixels.dtype).name, "uint8")}  # fmt: skip
    if tool == "vips":
        odd["mode"] = (s.mode, "nearest")
    for name, (value, its) in odd.items():
        if value != its:
            raise OptionError(
                f"{tool}'s own Gaussian has `{name}` {its} only, not {value} (--arithmetic "
                "float64 takes any)"
            )
    assert isinstance(kernel, Kernel)
    if tool == "scipy":
        found = scipy_own_blur(kernel)
        assert found is not None
        return scipy_gaussian_u8(pixels, *found, tiled_mode(s.mode), s.cval)
    sigma = vips_own_blur(kernel)
    assert sigma is not None
    return vips_gaussblur(pixels, sigma)


def _alpha_here(
    alpha: AlphaPolicy, kernel: Filterable, pixels: Any, in_type: np.dtype
) -> AlphaPolicy:
    """The alpha policy for this image: ``auto`` decided by the kernel, and
    ``keep`` where alpha is opaque throughout (the same bytes, on the exact routes)."""
    alpha = alpha_policy(alpha, kernel)
    a_index = alpha_channel(pixels)
    if alpha == "filter" and a_index is not None and isinstance(pixels, np.ndarray):
        if not sums_to_one(kernel):  # F(c) / F(1) is not F(c): alpha is a weight even here
            return alpha
        if bool((pixels[..., a_index] >= full_scale(in_type)).all()):
            return "keep"
    return alpha


def _clip_counts(
    pixels: np.ndarray,
    kernel: Filterable,
    s: FilterSettings,
    in_type: np.dtype,
    done: Finish,
    notes: list[str] | None,
) -> list[tuple[int, int]] | None:
    """A list for the clipped samples per plane, where a note may follow; else None."""
    if notes is None or done.dtype.kind != "u" or done.out_range == "rescale":
        return None
    if in_type.kind == "f" and s.input_scale is None:
        note = float_scale_note(pixels)
        if note is not None:
            notes.append(note)
            return None  # the clipping follows from the scale, already said
    offset_bias = done.bias + kernel.offset
    if not can_clip(kernel, in_type, done.dtype, done.scale, offset_bias, done.out_range):
        return None  # a blur of an integer image stays in range: nothing to count
    return []


def _run_8bit(
    route: Route,
    pixels: np.ndarray,
    kernel: Kernel,
    s: FilterSettings,
    done: Finish,
    counts: list[tuple[int, int]] | None,
    engine: dict[str, Any] | None,
) -> np.ndarray | None:
    """The int16 exact sums or the certified route, as :func:`choose_route` chose.

    None only if OpenCV turns a strip down after all (a strip shorter than
    the kernel's reach); the float64 route then gives the same bytes, and
    ``engine`` says so.
    """
    mode = tiled_mode(s.mode)
    if route.name == "int16":
        out = integer_sums(pixels, kernel, s.operation, mode, done.out_range, s.threads, counts)
    elif route.name == "rational":
        assert route.rational is not None
        used = kernel.reflected() if s.operation == "convolve" else kernel
        opencv.set_threads(s.threads or default_threads())
        out = rational_u8(pixels, used, *route.rational, mode, done.out_range, counts,
                          alpha_channel(pixels))  # fmt: skip
    else:
        certified = certified_u8(pixels, kernel, s.operation, mode, s.cval, done.out_range,
                                 s.threads, counts, alpha_channel(pixels))  # fmt: skip
        out = None
        if certified is not None:
            out, stats = certified
            _say(engine, route=route.label, reason=route.reason, samples=stats.samples,
                 recomputed=stats.recomputed)  # fmt: skip
    if out is None:
        _say(engine, route="float64", reason=f"{route.label} declined on a strip")
    return out


def _float64_route(
    pixels: np.ndarray,
    kernel: Filterable,
    s: FilterSettings,
    in_type: np.dtype,
    done: Finish,
    counts: list[tuple[int, int]] | None,
) -> np.ndarray:
    """float64 sums, each plane finished (rounded, clipped) as soon as it is filtered."""
    bias = done.bias + kernel.offset
    a_index = alpha_channel(pixels)
    planes = iter_planes(
        s.operation,
        pixels,
        kernel,
        mode=s.mode,
        cval=s.cval,
        alpha=s.alpha,
        alpha_max=full_scale(in_type),
        method=s.method,
        threads=s.threads,
        rounding=rounding_for(
            kernel, in_type, done.dtype, done.scale, bias, done.out_range, done.rounding
        ),
    )
    finishing = {"in_dtype": in_type, "out_dtype": done.dtype, "scale": done.scale, "bias": bias}
    with np.errstate(over="ignore", invalid="ignore"):  # IEEE results; see finish()
        if done.out_range == "rescale":  # needs the min and max of every channel first
            whole = stack_planes(planes, pixels.shape)
            return finish(whole, **finishing, out_range=done.out_range, alpha=a_index,
                          rounding=done.rounding)  # fmt: skip
        # otherwise each channel is finished as soon as it is filtered: less memory
        out = np.empty(pixels.shape, dtype=done.dtype)
        for index, plane in planes:
            finish_plane(
                plane,
                **finishing,
                out_range=done.out_range,
                colour=index != a_index,
                out=out if pixels.ndim == 2 else out[..., index],
                clipped=counts if index != a_index else None,
                rounding=done.rounding if index != a_index else "nearest",
            )
    return out
