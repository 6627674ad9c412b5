"""Kernels: the :class:`~flipconv.core.kernels.kernel.Kernel` value type, the built-ins,
the ``-k`` grammar and the notations of other tools (ImageMagick, libvips), and what the
filters accept as a kernel (:mod:`~flipconv.core.kernels.coercion`).

Above :mod:`flipconv.core._shared` only: no pixels are filtered here."""
