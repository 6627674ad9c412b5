"""Packages whose names load on first use, so that importing them costs nothing.

The command line's ``--help`` must not import numpy; a package face that
names its API through :func:`lazy_exports` imports a module only when one of
its names is first read.

>>> getattr_, dir_ = lazy_exports("demo", {"sqrt": "math"})
>>> getattr_("sqrt")(9.0), dir_()
(3.0, ['sqrt'])
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str], modules: Mapping[str, str] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's ``__getattr__`` and ``__dir__``.

    ``names`` maps each public name to the module that defines it;
    ``modules`` maps a name to a module that is itself the attribute.
    """
    modules = modules or {}

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        if name in modules:
            return importlib.import_module(modules[name])
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted([*names, *modules])

    return __getattr__, __dir__
