"""flipconv's library: exact convolution and correlation of images.

Everything here is pure: arrays, bytes and file objects in and out, domain
exceptions (:mod:`flipconv.core._shared.errors`) on failure, nothing printed.

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

from flipconv.core._shared.lazy import lazy_exports

_EXPORTS = {
    "Kernel": "flipconv.core.kernels.kernel",
    "parse_kernel_spec": "flipconv.core.kernels.specs",
    "symmetry": "flipconv.core.kernels.kernel",
    "convolve": "flipconv.core.engine.filters",
    "correlate": "flipconv.core.engine.filters",
    "convolve1d": "flipconv.core.engine.scipy_calls",
    "correlate1d": "flipconv.core.engine.scipy_calls",
    "filter_image": "flipconv.core.engine.filters",
    "filter_with": "flipconv.core.engine.filters",
    "FilterSettings": "flipconv.core.engine.settings",
    "Settings": "flipconv.core.files.pipeline",
    "FileResult": "flipconv.core.files.pipeline",
    "filter_file": "flipconv.core.files.pipeline",
    "filter_file_in_tiles": "flipconv.core.files.pipeline",
    "plan_batch": "flipconv.core.files.batch",
    "run_batch": "flipconv.core.files.workers",
    "as_kernel": "flipconv.core.kernels.coercion",
    "as_filter": "flipconv.core.kernels.coercion",
    "Stack": "flipconv.core.kernels.kernel",
    "PRESETS": "flipconv.core.peers.presets",
    "read_image": "flipconv.core.io.readers",
    "write_image": "flipconv.core.io.writers",
    "verify": "flipconv.core.lessons.verification",
    "probe": "flipconv.core.peers.probing",
    "command_filter": "flipconv.core.peers.runner",
    "explain": "flipconv.core.lessons.explanation",
    "BUILTINS": "flipconv.core.kernels.builtins",
    "FlipconvError": "flipconv.core._shared.errors",
    "KernelError": "flipconv.core._shared.errors",
    "ImageReadError": "flipconv.core._shared.errors",
    "ImageWriteError": "flipconv.core._shared.errors",
    "ResourceLimitError": "flipconv.core._shared.errors",
    "OptionError": "flipconv.core._shared.errors",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("flipconv.core", _EXPORTS)
