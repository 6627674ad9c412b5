"""The lessons: where convolve and correlate agree on real pixels and why
(:func:`verify`), one kernel explained (:func:`explain`), and the pictures of both."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "verify": "flipconv.core.lessons.verification",
    "explain": "flipconv.core.lessons.explanation",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'flipconv.core.lessons' has no attribute {name!r}")
