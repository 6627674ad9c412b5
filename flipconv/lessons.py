"""The lessons (``verify``, ``explain``): ``from flipconv.lessons import verify``.

This module is :mod:`flipconv.core.lessons` under a shorter name (one module,
two names).
"""

from __future__ import annotations

import sys

from flipconv.core import lessons as _lessons

sys.modules[__name__] = _lessons
