"""flipconv's exit statuses, in one place (documented in the README)."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a flipconv process's exit code means."""

    OK = 0
    #: A runtime failure: unreadable input, unwritable output, a limit hit.
    ERROR = 1
    #: Bad usage: unknown option, malformed kernel spec, invalid value.
    USAGE = 2
    #: ``verify``: at least one prediction did not hold.
    MISMATCH = 3
    #: Interrupted by Ctrl-C (SIGINT).
    INTERRUPTED = 130
    #: Terminated by SIGTERM (temporary files removed first).
    TERMINATED = 143
    #: The reader of stdout went away (e.g. ``| head -c 10``); nothing printed.
    BROKEN_PIPE = 141
