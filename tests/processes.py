"""Helpers for tests that start flipconv as a real process and signal it."""

from __future__ import annotations

import signal


def with_default_sigint() -> None:
    """``preexec_fn`` for a child that is to receive Ctrl-C (SIGINT) as a terminal sends it.

    A shell starts background jobs with SIGINT ignored, and children inherit
    that: a test suite run in the background would see its Ctrl-C ignored.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
