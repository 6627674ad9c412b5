"""What the filters accept as a kernel: a Kernel, a spec, an array, or a list of them.

:func:`as_kernel` makes one :class:`~flipconv.core.kernels.kernel.Kernel`;
:func:`as_filter` also makes a :class:`~flipconv.core.kernels.kernel.Stack` from a
list of kernels or a name that stands for several (``sobel``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
from flipconv.core._shared.errors import KernelError, OptionError
from flipconv.core._shared.vocabulary import Combine
from flipconv.core.kernels.kernel import Filterable, Kernel, OffsetLike, OriginLike, Stack
from flipconv.core.kernels.specs import parse_filter_spec, parse_kernel_spec

#: What may be passed as a kernel: a Kernel, a spec string, or a 2-D array-like
#: (nested lists of numbers); to the filters also a Stack, or a list of these.
KernelLike: TypeAlias = "Kernel | Stack | str | np.ndarray | Sequence[Any]"


def as_kernel(
    kernel: KernelLike, *, origin: OffsetLike = None, anchor: OriginLike = None
) -> Kernel:
    """A :class:`Kernel` from a ``Kernel``, a spec string or a 2-D array-like.

    Parameters
    ----------
    kernel : Kernel, str or array-like
        A spec string is read as ``-k`` reads it; an array becomes a float64
        matrix with origin ``shape // 2``.
    origin : int or (int, int), optional
        scipy.ndimage's ``origin``: the offset of the element over the output
        pixel from ``shape // 2``, one for both axes or one per axis;
        replaces the kernel's own.
    anchor : (int, int) or str, optional
        The same element by its absolute (row, col) index, or a rule
        (``down-right``: ``shape // 2``, ``up-left``: ``(shape - 1) // 2``).

    Raises
    ------
    KernelError
        If the array is not a 2-D matrix of finite real numbers, or the spec
        does not parse.
    OptionError
        If ``origin`` or ``anchor`` puts the origin outside the kernel, or
        both are given.

    Examples
    --------
    >>> as_kernel([[1, 2], [4, 8]]).origin
    (1, 1)
    >>> as_kernel("sobel-x", origin=-1).origin, as_kernel("sobel-x", anchor=(0, 0)).origin
    ((0, 0), (0, 0))
    >>> as_kernel([[1, 2], [4, 8]], anchor=(2, 0))
    Traceback (most recent call last):
    ...
    flipconv.core._shared.errors.OptionError: origin 2,0 is outside the 2x2 kernel: ...
    """
    if isinstance(kernel, Kernel):
        found = kernel
    elif isinstance(kernel, str):
        found = parse_kernel_spec(kernel)
    else:
        try:
            values = np.asarray(kernel)
        except (TypeError, ValueError) as exc:
            raise KernelError(f"kernel is not a matrix of numbers: {exc}") from None
        if values.dtype.kind not in "biuf":
            raise KernelError(f"kernel must hold real numbers, not {values.dtype}")
        if values.ndim != 2:
            raise KernelError(
                f"kernel must be a 2-D matrix, got {values.ndim}-D; a row is [[a, b, c]], "
                "a column [[a], [b], [c]]"
            )
        found = Kernel(values, (values.shape[0] // 2, values.shape[1] // 2))
    return _placed(found, origin, anchor)


def as_filter(
    kernel: KernelLike,
    *,
    origin: OffsetLike = None,
    anchor: OriginLike = None,
    combine: Combine | None = None,
) -> Filterable:
    """A :class:`Kernel` or a :class:`Stack` from what a filter was given.

    A list or tuple of kernels (Kernels, spec strings or 2-D arrays) is a
    stack: applied in turn, or with ``combine`` each alone and combined per
    pixel. A spec naming a stack (``"sobel"``: the gradient magnitude) is
    one too. A nested list of numbers is one matrix. ``origin`` and
    ``anchor`` are as for :func:`as_kernel`, for every kernel of a stack.

    Examples
    --------
    >>> as_filter(["box:3", "sobel-x"]).spec
    'box:3 then sobel-x'
    >>> as_filter(["sobel-x", "sobel-y"], combine="magnitude").reach()
    ((1, 1), (1, 1))
    >>> as_filter("sobel").combine
    'magnitude'
    """
    if isinstance(kernel, Stack):
        found: Filterable = kernel
    elif isinstance(kernel, str):
        found = parse_filter_spec(kernel)
    elif isinstance(kernel, (list, tuple)) and kernel and all(_is_one_kernel(k) for k in kernel):
        found = Stack(tuple(as_filter(k) for k in kernel), combine)
        combine = None
    else:
        found = as_kernel(kernel)
    if combine is not None:
        if isinstance(found, Stack):
            raise OptionError(f"`combine` needs several kernels; {found.spec} is one stack")
        raise OptionError("`combine` needs several kernels")
    return _placed(found, origin, anchor)


def _placed(found: Any, origin: OffsetLike, anchor: OriginLike) -> Any:
    """``found`` (a Kernel or Stack) with the origin that ``origin`` or ``anchor`` names."""
    if origin is not None and anchor is not None:
        raise OptionError(
            "give `origin` (scipy's offset from the centre) or `anchor` (the element's "
            "index), not both"
        )
    if anchor is not None:
        return found.with_origin(anchor)
    return found.with_offset(origin)


def _is_one_kernel(item: Any) -> bool:
    if isinstance(item, (str, Kernel, Stack)):
        return True
    try:
        return np.ndim(item) == 2
    except (TypeError, ValueError):  # ragged
        return False
