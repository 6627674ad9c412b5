"""Border rules: how an image continues past its edge, for every layer that pads.

The five modes have scipy.ndimage's names and meanings::

    reflect   d c b a | a b c d | d c b a   (edge sample repeated; default)
    constant  k k k k | a b c d | k k k k   (k = cval)
    nearest   a a a a | a b c d | d d d d
    mirror      d c b | a b c d | c b a     (edge sample not repeated)
    wrap      a b c d | a b c d | a b c d   (periodic)

:func:`pad` extends a plane by any width (numpy's pad modes reproduce
scipy's exactly, however far past the edge), and :func:`border_indices`
gives the source index of every position along an axis, which is how tiles
gather exact halos without padding the whole image.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from flipconv.core.vocabulary import MODES, check_choice

#: scipy.ndimage's mode names and the numpy.pad modes that extend alike.
NUMPY_PAD: dict[str, Literal["symmetric", "reflect", "edge", "wrap", "constant"]] = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def pad(
    plane: np.ndarray, widths: tuple[tuple[int, int], ...], mode: str, cval: float
) -> np.ndarray:
    """Extend a plane as scipy's ``mode`` would, for pads of any width."""
    if mode == "constant":  # float64, so that a cval such as 17.5 is kept whole
        return np.pad(
            plane.astype(np.float64, copy=False), widths, mode="constant", constant_values=cval
        )
    return np.pad(plane, widths, mode=NUMPY_PAD[mode])


def border_indices(start: int, stop: int, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Source indices for positions ``start..stop-1`` of an axis of ``size``.

    Returns ``(index, inside)``: where ``inside`` is False (``constant`` mode
    only) the position takes ``cval`` and ``index`` is a placeholder 0.

    Examples
    --------
    >>> border_indices(-3, 7, 4, "reflect")[0].tolist()
    [2, 1, 0, 0, 1, 2, 3, 3, 2, 1]
    >>> border_indices(-3, 7, 4, "mirror")[0].tolist()
    [3, 2, 1, 0, 1, 2, 3, 2, 1, 0]
    >>> border_indices(-3, 7, 4, "wrap")[0].tolist()
    [1, 2, 3, 0, 1, 2, 3, 0, 1, 2]
    >>> border_indices(-2, 6, 4, "nearest")[0].tolist()
    [0, 0, 0, 1, 2, 3, 3, 3]
    """
    positions = np.arange(start, stop)
    inside = (positions >= 0) & (positions < size)
    if mode == "constant":
        return np.where(inside, positions, 0), inside
    if mode == "nearest":
        index = np.clip(positions, 0, size - 1)
    elif mode == "wrap":
        index = np.mod(positions, size)
    elif mode == "reflect":  # period 2n: 0..n-1, n-1..0
        p = np.mod(positions, 2 * size)
        index = np.where(p < size, p, 2 * size - 1 - p)
    elif mode == "mirror":  # period 2n-2: 0..n-1, n-2..1
        if size == 1:
            index = np.zeros_like(positions)
        else:
            p = np.mod(positions, 2 * size - 2)
            index = np.where(p < size, p, 2 * size - 2 - p)
    else:
        check_choice("mode", mode, MODES)
    return index, np.ones(positions.shape, bool)
