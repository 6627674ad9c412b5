"""Domain exceptions raised by :mod:`flipconv.core`.

Every failure the library can foresee is a :class:`FlipconvError`. The command
line translates them once, at its edge, into a one-line message and an exit
status; library users can catch the base class or a specific subclass.
"""

from __future__ import annotations


class FlipconvError(Exception):
    """Base class of every error flipconv raises on purpose."""


class KernelError(FlipconvError, ValueError):
    """A kernel, kernel spec or kernel parameter is malformed or out of range."""


class ImageReadError(FlipconvError):
    """An image could not be read: missing, unreadable, corrupt or unsupported."""


class ImageWriteError(FlipconvError):
    """An image could not be written in the requested format or place."""


class ResourceLimitError(FlipconvError):
    """The work would exceed a configured limit (pixels, memory, kernel size)."""


class OptionError(FlipconvError, ValueError):
    """A processing option is invalid for this image or kernel (e.g. origin outside it)."""
