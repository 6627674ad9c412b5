"""flipconv: exact convolution and correlation of images, as ``scipy.ndimage`` is imported.

>>> import flipconv, numpy as np
>>> img = np.zeros((3, 3)); img[1, 1] = 1
>>> flipconv.convolve(img, [[1, 2], [4, 8]], mode="constant").tolist()
[[1.0, 2.0, 0.0], [4.0, 8.0, 0.0], [0.0, 0.0, 0.0]]
>>> flipconv.correlate(img, "1,2;4,8", mode="constant").tolist()
[[0.0, 0.0, 0.0], [0.0, 8.0, 4.0], [0.0, 2.0, 1.0]]

The array API is here: :func:`convolve`, :func:`correlate`, :func:`filter_image`,
:class:`Kernel` and :func:`parse_kernel_spec`, with the errors they raise. The
rest lives beside it: files in :mod:`flipconv.core.files`, what another
tool's "convolve" does in :mod:`flipconv.peers` (``flipconv.peers.probe``),
the lessons in :mod:`flipconv.lessons` (``flipconv.lessons.verify``);
:mod:`flipconv.core` lists everything.

Names load on first use, so ``import flipconv`` costs nothing until numpy is
needed.
"""

from __future__ import annotations

import os as _os

# In the source tree core/ and cli/ sit beside this folder, and install inside
# it (pyproject.toml's package-dir). Python run in the repository's root finds
# this folder before the installed package, so let it find them there too: the
# same files an editable install maps.
_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(__path__[0], "core")) and _os.path.isfile(
    _os.path.join(_ROOT, "core", "__init__.py")
):
    __path__.append(_ROOT)

from flipconv.core._shared.lazy import lazy_exports  # noqa: E402

_EXPORTS = {
    "convolve": "flipconv.core.engine.filters",
    "correlate": "flipconv.core.engine.filters",
    "convolve1d": "flipconv.core.engine.scipy_calls",
    "correlate1d": "flipconv.core.engine.scipy_calls",
    "filter_image": "flipconv.core.engine.filters",
    "Kernel": "flipconv.core.kernels.kernel",
    "Stack": "flipconv.core.kernels.kernel",
    "parse_kernel_spec": "flipconv.core.kernels.specs",
    "FlipconvError": "flipconv.core._shared.errors",
    "KernelError": "flipconv.core._shared.errors",
    "OptionError": "flipconv.core._shared.errors",
    "ResourceLimitError": "flipconv.core._shared.errors",
}
#: Beside the array API, not in it.
_SUBMODULES = {"peers": "flipconv.core.peers", "lessons": "flipconv.core.lessons"}

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


__getattr__, __dir__ = lazy_exports("flipconv", _EXPORTS, _SUBMODULES)
