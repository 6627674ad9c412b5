"""flipconv's library: exact convolution and correlation of images.

Everything here is pure: arrays, bytes and file objects in and out, domain
exceptions (:mod:`flipconv.core.errors`) on failure, nothing printed.

>>> from flipconv.core import convolve, correlate, parse_kernel_spec
>>> import numpy as np
>>> img = np.zeros((3, 3)); img[1, 1] = 1
>>> k = parse_kernel_spec("1,2;4,8")
>>> convolve(img, k, mode="constant").tolist()     # the kernel, origin over the impulse
[[1.0, 2.0, 0.0], [4.0, 8.0, 0.0], [0.0, 0.0, 0.0]]
>>> correlate(img, k, mode="constant").tolist()    # rotated 180 degrees about the origin
[[0.0, 0.0, 0.0], [0.0, 8.0, 4.0], [0.0, 2.0, 1.0]]

Names are loaded on first use, so importing the package costs nothing until
numpy is needed (the command line relies on that for a fast ``--help``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Kernel": "flipconv.core.kernel",
    "parse_kernel_spec": "flipconv.core.specs",
    "symmetry": "flipconv.core.kernel",
    "convolve": "flipconv.core.filters",
    "correlate": "flipconv.core.filters",
    "filter_image": "flipconv.core.filters",
    "Settings": "flipconv.core.pipeline",
    "FileResult": "flipconv.core.pipeline",
    "filter_file": "flipconv.core.pipeline",
    "filter_file_in_tiles": "flipconv.core.pipeline",
    "plan_batch": "flipconv.core.batch",
    "run_batch": "flipconv.core.workers",
    "as_kernel": "flipconv.core.arguments",
    "as_filter": "flipconv.core.arguments",
    "Stack": "flipconv.core.kernel",
    "PRESETS": "flipconv.core.presets",
    "read_image": "flipconv.core.readers",
    "write_image": "flipconv.core.writers",
    "verify": "flipconv.core.verification",
    "probe": "flipconv.core.probing",
    "command_filter": "flipconv.core.commands",
    "explain": "flipconv.core.explanation",
    "BUILTINS": "flipconv.core.builtins",
    "FlipconvError": "flipconv.core.errors",
    "KernelError": "flipconv.core.errors",
    "ImageReadError": "flipconv.core.errors",
    "ImageWriteError": "flipconv.core.errors",
    "ResourceLimitError": "flipconv.core.errors",
    "OptionError": "flipconv.core.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'flipconv.core' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
