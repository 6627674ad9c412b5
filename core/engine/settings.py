"""How an image is filtered: one value for every option but the image and the kernel.

:class:`FilterSettings` is what :func:`~flipconv.core.engine.filters.filter_image`
takes as keywords, checked once where it is made;
:class:`~flipconv.core.files.pipeline.Settings` adds what files need (how to
write them, the pixel limit). :class:`Finish` is the last step alone: how
float64 sums become output samples.

>>> FilterSettings("convolve", mode="wrap").mode
'wrap'
>>> FilterSettings("convolve", mode="warp")
Traceback (most recent call last):
...
flipconv.core._shared.errors.OptionError: mode 'warp' is not one of ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flipconv.core._shared.vocabulary import (
    ALPHA_POLICIES,
    ARITHMETICS,
    FILTER_MODES,
    METHODS,
    OPERATIONS,
    OUT_RANGES,
    ROUNDINGS,
    AlphaPolicy,
    Arithmetic,
    FilterMode,
    Method,
    Operation,
    OutRange,
    RoundingRule,
    check_choice,
)


@dataclass(frozen=True)
class FilterSettings:
    """Every option of ``filter_image`` but the image, the kernel and what reports back.

    See :func:`~flipconv.core.engine.filters.filter_image` for each field.
    The choices are checked when made; numbers are taken as IEEE values
    (a NaN ``cval`` pads with NaN, as in scipy).
    """

    operation: Operation
    mode: FilterMode = "reflect"
    cval: float = 0.0
    alpha: AlphaPolicy = "auto"
    scale: float = 1.0
    bias: float = 0.0
    out_range: OutRange = "clip"
    dtype: Any = None  # a sample type's name or numpy dtype; None keeps the input's
    normalize: bool = False
    method: Method = "auto"
    threads: int | None = None
    memory_limit: int | None = None
    input_scale: float | None = None
    rounding: RoundingRule = "nearest"
    arithmetic: Arithmetic = "float64"

    def __post_init__(self) -> None:
        check_choice("operation", self.operation, OPERATIONS)
        check_choice("rounding", self.rounding, ROUNDINGS)
        check_choice("arithmetic", self.arithmetic, ARITHMETICS)
        check_choice("mode", self.mode, FILTER_MODES)
        check_choice("alpha", self.alpha, ALPHA_POLICIES)
        check_choice("out_range", self.out_range, OUT_RANGES)
        check_choice("method", self.method, METHODS)


@dataclass(frozen=True)
class Finish:
    """How float64 sums become output samples (see :func:`~flipconv.core.engine.pixels.finish`)."""

    dtype: Any  # numpy dtype of the output
    scale: float = 1.0
    bias: float = 0.0
    out_range: OutRange = "clip"
    rounding: RoundingRule = "nearest"
