"""What another tool's "convolve" does: impulses through the tool, the verdict, and the
flipconv command that reproduces it; and the measured conventions of each tool
(``--like``, :mod:`~flipconv.core.peers.presets`).

>>> from flipconv.core.peers import PRESETS
>>> PRESETS["torch"].conventions.origin
'up-left'
"""

from __future__ import annotations

from flipconv.core._shared.lazy import lazy_exports

_EXPORTS = {
    "probe": "flipconv.core.peers.probing",
    "diff": "flipconv.core.peers.diffing",
    "DiffReport": "flipconv.core.peers.diffing",
    "ProbeReport": "flipconv.core.peers.report",
    "command_filter": "flipconv.core.peers.runner",
    "PRESETS": "flipconv.core.peers.presets",
    "lookup_preset": "flipconv.core.peers.presets",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("flipconv.core.peers", _EXPORTS)
