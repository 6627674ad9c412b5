"""Measuring a tool's own kernel from its impulse response.

A tool that holds its kernel (a trained layer, a matrix in its command line)
still answers one bright pixel with that kernel, rotated as correlation
paints it. :func:`measure_kernel` reads it back with impulses high enough to
be precise and low enough to stay linear, and on mid-grey too, so that an
integer output's negative weights show.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.notation import matrix_spec
from flipconv.core.peers.impulses import ProbeError


class Probed(Protocol):
    """A tool as the probe calls it: ``tool(image, kernel)``, and what its output was."""

    float_output: bool

    def __call__(self, image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        """Filter ``image`` with ``kernel``, as the probed tool does."""


def _unsaturated(
    tool: Probed, background: np.ndarray, at: tuple[int, int], full: float
) -> tuple[np.ndarray, float]:
    """The response per unit of impulse on ``background``, from the largest impulse
    at which the tool is still seen to be linear.

    Impulses of 1, 2, 4, ... up to full scale: each must give twice the
    response of the one before, to rounding, and no saturated sample; the
    first that does not (clipping, wrapping, an output rescaled to fit) ends
    the climb. Returns the response (the background's own output taken away)
    and the impulse's height, or a height of 0 where nothing was usable.
    """
    base = float(background.flat[0])
    flat = tool(background, np.ones((1, 1)))
    if not tool.float_output and (flat.min() <= 0 < base or flat.max() >= full):
        return np.zeros(flat.shape), 0.0
    top = full - base
    heights = [float(2**i) for i in range(16) if 2**i < top] + [top]
    best: tuple[np.ndarray, float] = (np.zeros(flat.shape), 0.0)
    for height in heights:
        image = background.copy()
        image[at] = base + height
        out = tool(image, np.ones((1, 1)))
        if tool.float_output:
            return (out - flat) / height, height  # floats: linear, nothing rounds
        if out.max() >= full or (base > 0 and out.min() <= 0):
            break
        response, previous = out - flat, best[1]
        if previous:
            ratio = height / previous
            expected = best[0] * previous * ratio
            if np.abs(response - expected).max() > 0.5 * ratio + 0.5 + 1e-9:
                break  # no longer proportional: wrapped, or rescaled to fit
        best = (response / height, height)
    return best


def measure_kernel(
    tool: Probed, size: int, dtype: np.dtype, full: float, notes: list[str] | None = None
) -> Kernel:
    """The tool's own kernel, read from its impulse response, as ``correlate`` uses it.

    Correlation paints an impulse with the kernel rotated 180 degrees, so the
    response turned back is the kernel, and the impulse's place in it the
    origin. On a black image an integer output loses negative weights to
    clipping, so the impulse is also laid on mid-grey and the flat image's
    output subtracted, unless that output saturates. The numbers are exact
    for float outputs and to 1/``full`` of the weights for integer ones.

    Raises
    ------
    ProbeError
        If the response is empty or reaches the probe image's edge (the
        kernel may be larger: probe with a larger ``size``).
    """
    at = (size // 2, size // 2)
    response, step = _unsaturated(tool, np.zeros((size, size), dtype=dtype), at, full)
    if not tool.float_output and not (response < 0).any():
        # on black, an integer output clips negative weights to 0: lay the
        # impulse on mid-grey and take the flat image's output away
        grey = np.full((size, size), (full + 1) // 2, dtype=dtype)
        lifted, lifted_step = _unsaturated(tool, grey, at, full)
        if lifted_step and (lifted < 0).any():
            response, step = lifted, lifted_step
        elif not lifted_step and notes is not None:
            notes.append(
                "any negative weights would be hidden: the tool's integer output clips them on "
                "black, and mid-grey saturates it, so only weights >= 0 are measured"
            )
    if not step:
        raise ProbeError("the tool's output saturates even for an impulse of 1: no kernel to read")
    rows, cols = np.nonzero(np.abs(response) > 1e-12)
    if rows.size == 0:
        raise ProbeError("the impulse left nothing in the output: no kernel to measure")
    if rows.min() == 0 or cols.min() == 0 or rows.max() == size - 1 or cols.max() == size - 1:
        raise ProbeError(
            f"the impulse response reaches the edge of the {size}x{size} probe image: the "
            "tool's kernel may be larger; probe with a larger `size`"
        )
    top, bottom = min(int(rows.min()), at[0]), max(int(rows.max()), at[0])
    left, right = min(int(cols.min()), at[1]), max(int(cols.max()), at[1])
    values = response[top : bottom + 1, left : right + 1][::-1, ::-1]
    if not tool.float_output:  # whole levels over the step: print them exactly
        values = np.round(values * step) / step
    origin = (bottom - at[0], right - at[1])
    return Kernel(values, origin, matrix_spec(values))
