"""One plane through a kernel or a stack, in any filter mode.

:func:`filter_plane` is what :mod:`flipconv.core.engine.channels` runs per channel:
a :class:`~flipconv.core.kernels.kernel.Kernel` goes to the engine once; a
:class:`~flipconv.core.kernels.kernel.Stack` step by step (a chain) or kernel by
kernel (combined per pixel). ``mode='unfiltered'`` keeps the input wherever
the kernel would reach past the edge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from flipconv.core._shared.vocabulary import FILTER_MODES, FilterMode, Mode, Operation, check_choice
from flipconv.core.engine import opencv_backend as opencv
from flipconv.core.engine.planner import apply_plane, has_opencv
from flipconv.core.kernels.kernel import Filterable, Kernel, Stack


def run_stack(
    stack: Stack, plane: np.ndarray, step: Callable[[np.ndarray, Kernel], np.ndarray]
) -> np.ndarray:
    """Filter one float64 ``plane`` with ``stack``; ``step(plane, kernel)`` filters once.

    Each kernel's own offset (a libvips matrix's) is added after its step.
    """

    def one(source: np.ndarray, member: Kernel | Stack) -> np.ndarray:
        if isinstance(member, Stack):
            return run_stack(member, source, step)
        result = step(source, member)
        if member.offset:
            result += member.offset
        return result

    if stack.combine is None:
        out = plane
        for member in stack.kernels:
            out = one(out, member)
        return out
    results = (one(plane, member) for member in stack.kernels)
    first = next(results)
    if first is plane:  # never written into: the caller's plane
        first = first.astype(np.float64, copy=True)
    return _combined(first, results, stack.combine, len(stack.kernels))


def _combined(
    first: np.ndarray, rest: Iterator[np.ndarray], combine: str, count: int
) -> np.ndarray:
    """The members' results joined per pixel, into ``first``'s memory where it can be."""
    if combine == "magnitude" and count == 2 and has_opencv():
        return opencv.magnitude(first, next(rest))  # x and y: OpenCV's, one pass
    if combine == "magnitude":  # in place: no temporaries on full-size planes
        np.multiply(first, first, out=first)
        for r in rest:
            np.multiply(r, r, out=r)
            first += r
        return np.sqrt(first, out=first)
    join = {"sum": np.add, "max": np.maximum, "min": np.minimum}[combine]
    for r in rest:
        join(first, r, out=first)
    return first


def unfiltered_band(
    shape: tuple[int, ...], reach: tuple[tuple[int, int], tuple[int, int]]
) -> tuple[tuple[slice, slice], ...]:
    """Slices of the rows and columns a kernel cannot cover without leaving the image.

    For ``mode='unfiltered'``: there the input is kept as it is (Pillow's
    ``ImageFilter.Kernel`` and netpbm's ``pnmconvol`` do this).
    """
    (rb, ra), (cb, ca) = reach
    h, w = shape[0], shape[1]
    every = slice(None)
    return (
        (slice(0, min(rb, h)), every),
        (slice(max(h - ra, 0), h), every),
        (every, slice(0, min(cb, w))),
        (every, slice(max(w - ca, 0), w)),
    )


def filter_plane(
    operation: Operation,
    plane: np.ndarray,
    kernel: Filterable,
    *,
    mode: FilterMode = "reflect",
    cval: float = 0.0,
    **engine: Any,
) -> np.ndarray:
    """Filter one plane (float64 result) with a kernel or a stack, in any filter mode.

    ``engine`` goes to :func:`flipconv.core.engine.planner.apply_plane` (``method``,
    ``threads``, ``pool``, ``out``). ``mode='unfiltered'`` filters with
    ``nearest`` and then puts back the input wherever the kernel would
    have reached past the edge.
    """
    check_choice("mode", mode, FILTER_MODES)

    def step(source: np.ndarray, k: Kernel, out: np.ndarray | None = None) -> np.ndarray:
        border: Mode = "nearest" if mode == "unfiltered" else mode
        result = apply_plane(operation, source, k, mode=border, cval=cval, **engine, out=out)
        if mode == "unfiltered":
            for band in unfiltered_band(source.shape, k.reach(operation)):
                result[band] = source[band]
        return result

    if isinstance(kernel, Kernel):
        return step(plane, kernel, engine.pop("out", None))
    engine.pop("out", None)  # intermediates need fresh planes
    engine.pop("rounding", None)  # a chain's steps are not rounded one by one
    return run_stack(kernel, plane, step)
