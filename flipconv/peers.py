"""What another tool's "convolve" does: ``from flipconv.peers import probe``.

This module is :mod:`flipconv.core.peers` under a shorter name (one module,
two names: ``flipconv.peers.probe is flipconv.core.peers.probe``).
"""

from __future__ import annotations

import sys

from flipconv.core import peers as _peers

sys.modules[__name__] = _peers
