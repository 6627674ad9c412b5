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
from flipconv.core._shared.vocabulary import MODES, check_choice

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
    return map_positions(np.arange(start, stop), size, mode)


def map_positions(positions: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`border_indices` for any array of positions (one axis of ``size``).

    >>> map_positions(np.array([[-2, 5], [0, 4]]), 4, "reflect")[0].tolist()
    [[1, 2], [0, 3]]
    """
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


def fold_axis(size: int, origin: int, length: int, mode: str) -> tuple[np.ndarray, int] | None:
    """Where each tap of a kernel axis can go when the kernel outreaches the image.

    ``size`` taps with the origin at ``origin`` over an image axis of
    ``length``. Past the edge every mode repeats itself: taps ``P`` apart
    read the same sample for every output (``wrap``: ``P = length``,
    ``reflect``: ``2 * length``, ``mirror``: ``2 * length - 2``); beyond
    ``length - 1`` from the output ``nearest`` reads the edge sample
    whatever the output, and ``constant`` reads ``cval``. So a kernel far
    longer than the image folds onto one of at most ``2 * length`` taps with
    the very same sums.

    Returns ``(target, origin)``: each tap's new index (``-1``: dropped, it
    only ever reads ``cval``) and the folded kernel's origin; None where
    nothing folds.

    >>> fold_axis(7, 3, 2, "wrap")[0].tolist()  # offsets -3..3 onto -1..0
    [0, 1, 0, 1, 0, 1, 0]
    >>> fold_axis(5, 2, 2, "nearest")[0].tolist()  # offsets -2..2 onto -1..1
    [0, 0, 1, 2, 2]
    >>> fold_axis(5, 2, 2, "constant")[0].tolist()
    [-1, 0, 1, 2, -1]
    >>> fold_axis(3, 1, 2, "reflect") is None
    True
    """
    offsets = np.arange(size) - origin
    if mode in ("wrap", "reflect", "mirror"):
        period = {"wrap": length, "reflect": 2 * length, "mirror": max(2 * length - 2, 1)}[mode]
        # the window of one period starts where the kernel does, as far as it
        # can while holding the origin: only a kernel longer than a period folds
        low = max(int(offsets[0]), -(period - 1))
        if offsets[-1] <= low + period - 1:
            return None
        moved = low + np.mod(offsets - low, period)
    elif mode == "nearest":
        if -offsets[0] <= length - 1 and offsets[-1] <= length - 1:
            return None
        moved = np.clip(offsets, -(length - 1), length - 1)
    else:
        check_choice("mode", mode, MODES)
        if -offsets[0] <= length - 1 and offsets[-1] <= length - 1:
            return None
        moved = np.where(np.abs(offsets) <= length - 1, offsets, np.iinfo(np.int64).min)
    kept = moved[moved != np.iinfo(np.int64).min]
    first = int(kept.min()) if kept.size else 0
    target = np.where(moved == np.iinfo(np.int64).min, -1, moved - first)
    return target, -first


def fold_to_image(
    values: np.ndarray, origin: tuple[int, int], shape: tuple[int, int], mode: str, cval: float
) -> tuple[np.ndarray, tuple[int, int], float] | None:
    """A kernel matrix folded by :func:`fold_axis` on both axes, for a plane of ``shape``.

    Returns the folded matrix, its origin, and what the dropped taps add to
    every output (``cval`` times their sum; ``constant`` mode only), or None
    where the kernel does not outreach the plane. Correlating with the
    folded kernel gives the same sums as with the whole kernel, at a cost
    bounded by the plane's size.

    >>> m, o, extra = fold_to_image(np.ones((1, 9)), (0, 4), (1, 2), "wrap", 0.0)
    >>> m.tolist(), o, extra
    ([[4.0, 5.0]], (0, 1), 0.0)
    """
    folds = [
        fold_axis(n, o, length, mode)
        for n, o, length in zip(values.shape, origin, shape, strict=True)
    ]
    if folds[0] is None and folds[1] is None:
        return None
    out = values
    new_origin = list(origin)
    for axis, fold in enumerate(folds):
        if fold is None:
            continue
        target, new_origin[axis] = fold
        keep = target >= 0
        size = int(target[keep].max()) + 1 if keep.any() else 1
        index = target[keep]
        taken = np.compress(keep, out, axis=axis)
        if axis == 0:
            moved = np.zeros((size, out.shape[1]))
            np.add.at(moved, index, taken)
        else:  # the same along the columns, through the transpose
            moved = np.zeros((size, out.shape[0]))
            np.add.at(moved, index, taken.T)
            moved = moved.T
        out = moved
    extra = cval * (float(values.sum()) - float(out.sum())) if mode == "constant" else 0.0
    return out, (new_origin[0], new_origin[1]), extra
