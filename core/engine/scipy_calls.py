"""scipy.ndimage's calling conventions, met so its code runs unchanged.

scipy takes ``(input, weights, output, mode, cval, origin)`` with the
weights' dimensions matching the input's (``axes=`` picks a subset), 1-D
signals, per-axis origins, ``grid-*`` mode names and an ``output`` dtype or
array. flipconv filters 2-D images with channels, so each call is turned into
one of those here, and the result is turned back:

- a 1-D signal is an image one row high, its weights a row;
- ``k[:, :, None]`` over ``(H, W, C)`` (scipy's idiom for "each channel
  alike") is ``k`` over each channel, its third origin 0;
- ``axes=`` over the rows and columns places the weights on them; weights
  that would mix channels, and volumes of more than 2-D images with channels,
  are refused with what to use instead.

>>> import numpy as np
>>> call = ScipyCall.of(np.arange(5.0), [1, 3], origin=0, axes=None)
>>> call.image.shape, call.weights.shape, call.origin
((1, 5), (1, 2), (0, 0))
>>> call.restore(np.zeros((1, 5))).shape
(5,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import FilterMode, is_dask_array

#: scipy.ndimage's names for the modes a filter (not an interpolation) reads as these.
GRID_MODES: dict[str, FilterMode] = {
    "grid-wrap": "wrap",
    "grid-mirror": "reflect",
    "grid-constant": "constant",
}

_VOLUMES = (
    "flipconv filters 2-D images, one channel at a time; for volumes and other "
    "n-D arrays use scipy.ndimage, whose calls flipconv takes unchanged on images"
)


def filter_mode(mode: str) -> str:
    """scipy's ``grid-*`` spellings as the filter modes they are (a filter reads them alike).

    >>> filter_mode("grid-mirror"), filter_mode("wrap")
    ('reflect', 'wrap')
    """
    return GRID_MODES.get(mode, mode)


def numeric_weights(weights: Any) -> np.ndarray | None:
    """``weights`` as an array if it is one of numbers (not a spec, Kernel or list of specs)."""
    if isinstance(weights, str) or hasattr(weights, "origin"):
        return None
    if isinstance(weights, list | tuple) and any(
        isinstance(w, np.ndarray | str) or hasattr(w, "origin") for w in weights
    ):
        return None  # a list of kernels: flipconv's chain, not one array
    try:
        array = np.asarray(weights)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" and array.ndim >= 1 else None


def _offsets(origin: Any, ndim: int) -> tuple[int, ...] | None:
    """scipy's origin for ``ndim`` axes: one int for all, or one per axis."""
    if origin is None:
        return None
    listed = [origin] * ndim if np.ndim(origin) == 0 else list(origin)
    if not all(isinstance(o, int | np.integer) for o in listed):
        raise OptionError(f"`origin` {origin!r} must be an int or one int per axis")
    values = tuple(int(o) for o in listed)
    if len(values) != ndim:
        raise OptionError(f"`origin` has {len(values)} entries for weights of {ndim} axes")
    return values


def _axes(axes: Sequence[int] | int, ndim: int) -> tuple[int, ...]:
    listed = (axes,) if isinstance(axes, int | np.integer) else tuple(axes)
    if ndim == 1 and len(listed) > 1:
        raise OptionError(f"weights of {len(listed)} axes for a 1-D signal: give a row of weights")
    picked = []
    for axis in listed:
        if not -ndim <= int(axis) < ndim:
            raise OptionError(f"`axes` {axis} is out of range for a {ndim}-D input")
        picked.append(int(axis) % ndim)
    if len(set(picked)) != len(picked):
        raise OptionError(f"`axes` {tuple(listed)} names an axis twice")
    return tuple(picked)


@dataclass(frozen=True)
class ScipyCall:
    """One scipy-style call as flipconv's: a 2-D image (channels last), 2-D weights, an offset.

    ``weights`` is None where the caller gave a spec, Kernel or chain (those
    pass as they are); ``restore`` gives the result the input's shape.
    """

    image: Any
    weights: np.ndarray | None
    origin: Any
    restore: Callable[[Any], Any]

    @classmethod
    def of(cls, image: Any, weights: Any, *, origin: Any, axes: Any) -> ScipyCall:
        """Read a scipy-style ``(input, weights, origin, axes)``; see the module's text."""
        array = numeric_weights(weights)
        if not is_dask_array(image):
            image = np.asarray(image)
        ndim = image.ndim
        same: Callable[[Any], Any] = lambda out: out  # noqa: E731
        if ndim > 3:
            raise OptionError(f"input is {ndim}-D, not (H, W) or (H, W, C): {_VOLUMES}")
        if array is None:  # a spec, Kernel or chain: 2-D, flipconv's own
            if axes is not None:
                raise OptionError("`axes` needs weights given as an array of numbers")
            if ndim == 1:
                return cls(image[None, :], None, _row_origin(origin), lambda out: out[0])
            return cls(image, None, origin, same)
        if axes is None:
            if ndim == 1:
                axes = (0,) * array.ndim  # a 2-D kernel for a signal is refused below
            elif ndim == 3 and array.ndim == 3:  # scipy's k[:, :, None]
                axes = (0, 1, 2)
            else:  # flipconv's own: 2-D weights over each channel
                return cls(image, array, origin, same)
        picked = _axes(axes, ndim)
        if len(picked) != array.ndim:
            raise OptionError(
                f"weights have {array.ndim} axes and `axes` names {len(picked)}; give one "
                "weight axis per axis filtered"
            )
        return cls._placed(image, array, _offsets(origin, array.ndim), picked)

    @classmethod
    def _placed(
        cls,
        image: Any,
        array: np.ndarray,
        offsets: tuple[int, ...] | None,
        picked: tuple[int, ...],
    ) -> ScipyCall:
        """The weights laid over the image's rows and columns (a signal is one row).

        As scipy lays them: the weights' axes over the named axes in the
        input's order, whatever order ``axes`` names them in; the origins in
        ``axes``' order where some axes are left out, else in the input's.
        """
        on_axes = sorted(picked)
        if offsets is None:
            origin_of = None
        elif len(picked) < image.ndim:
            origin_of = dict(zip(picked, offsets, strict=True))
        else:
            origin_of = dict(enumerate(offsets))
        restore: Callable[[Any], Any] = lambda out: out  # noqa: E731
        if image.ndim == 1:
            image, on_axes = image[None, :], [1]
            origin_of = None if origin_of is None else {1: origin_of[0]}
            restore = lambda out: out[0]  # noqa: E731
        shape = [1, 1]
        for j, axis in enumerate(on_axes):
            if axis in (0, 1):
                shape[axis] = array.shape[j]
            elif array.shape[j] != 1 or (origin_of is not None and origin_of[axis] != 0):
                raise OptionError(
                    f"weights of shape {array.shape} reach across the channels (axis "
                    f"{axis}); flipconv filters each channel alike: give them extent 1 "
                    f"there, or drop that axis. {_VOLUMES}"
                )
        weights = array.reshape(shape)  # the axes kept are rows then columns, in order
        if origin_of is None:
            return cls(image, weights, None, restore)
        return cls(image, weights, (origin_of.get(0, 0), origin_of.get(1, 0)), restore)


def _row_origin(origin: Any) -> Any:
    """A signal's origin (one int) as the offset of a one-row image's kernel."""
    if origin is None:
        return None
    if np.ndim(origin) == 0:
        return (0, int(origin))
    values = tuple(int(o) for o in origin)
    if len(values) != 1:
        raise OptionError(f"`origin` has {len(values)} entries for a 1-D input")
    return (0, values[0])


def deliver(result: Any, output: Any) -> Any:
    """The float64 result cast as scipy casts it into ``output`` (a dtype or an array).

    As scipy.ndimage: an integer type takes the value truncated toward zero,
    and one out of its range wraps (C's conversion, as ``numpy.astype``).
    An array is filled and returned.
    """
    if output is None:
        return result
    if isinstance(output, np.ndarray):
        if output.shape != tuple(result.shape):
            raise OptionError(
                f"`output` has shape {output.shape}; the result has {tuple(result.shape)}"
            )
        with np.errstate(invalid="ignore", over="ignore"):
            output[...] = np.asarray(result)
        return output
    try:
        dtype = np.dtype(output)
    except TypeError as exc:
        raise OptionError(f"`output` {output!r} is neither a dtype nor an array") from exc
    if dtype.kind not in "biuf":
        raise OptionError(f"`output` {dtype} is not a real sample type")
    with np.errstate(invalid="ignore", over="ignore"):
        return result.astype(dtype)


def correlate1d(
    input: Any,  # noqa: A002 (scipy's name)
    weights: Any,
    axis: int = -1,
    output: Any = None,
    mode: FilterMode | str = "reflect",
    cval: float = 0.0,
    origin: int = 0,
) -> Any:
    """scipy.ndimage's ``correlate1d``: ``correlate`` along one axis.

    ``axis`` is the rows' (0) or the columns' (1, or -1 of a 2-D image); a
    1-D signal has one. Across the channels of an ``(H, W, C)`` image is
    refused: that mixes colours, it is not an image filter.

    >>> correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3]).tolist()
    [8.0, 26.0, 8.0, 12.0, 7.0, 28.0, 36.0, 9.0]
    """
    from flipconv.core.engine.filters import correlate

    return correlate(input, np.ravel(weights), output, mode, cval, origin, axes=(axis,))


def convolve1d(
    input: Any,  # noqa: A002 (scipy's name)
    weights: Any,
    axis: int = -1,
    output: Any = None,
    mode: FilterMode | str = "reflect",
    cval: float = 0.0,
    origin: int = 0,
) -> Any:
    """scipy.ndimage's ``convolve1d``: ``convolve`` along one axis (see :func:`correlate1d`).

    >>> convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3]).tolist()
    [14.0, 24.0, 4.0, 13.0, 12.0, 36.0, 27.0, 0.0]
    """
    from flipconv.core.engine.filters import convolve

    return convolve(input, np.ravel(weights), output, mode, cval, origin, axes=(axis,))
