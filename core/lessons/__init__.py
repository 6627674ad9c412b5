"""The lessons: where convolve and correlate agree on real pixels and why
(:func:`verify`), one kernel explained (:func:`explain`), and the pictures of both."""

from __future__ import annotations

from flipconv.core._shared.lazy import lazy_exports

_EXPORTS = {
    "verify": "flipconv.core.lessons.verification",
    "explain": "flipconv.core.lessons.explanation",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("flipconv.core.lessons", _EXPORTS)
