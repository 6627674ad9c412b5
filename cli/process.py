"""The command's process: set up for one run, and ended without a teardown.

These are settings for a process that runs one command and exits, made by
the entry point (:func:`flipconv.cli.main.run`); the library never makes
them for the programs that import it. Each was measured on the 2-core
reference machine (2026-12-05) with paired runs; an explicit setting in the
environment stands.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

#: glibc's ``mallopt`` parameters.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: Blocks up to this size come from malloc's heaps, not a fresh mapping each...
MMAP_THRESHOLD = 32 << 20
#: ...and freed heap memory up to this much is kept for the next block.
TRIM_THRESHOLD = 256 << 20


def prepare() -> None:
    """One BLAS thread, and an allocator that reuses the pages of freed blocks.

    * The command does no linear algebra worth a thread (a kernel's SVD at
      most), and OpenBLAS's idle thread spins for its first 70-100 ms after
      numpy loads, taking one of two cores from the decode and the filter:
      100 ms of CPU and 1-2% of a 4K run.
    * Tiles allocate and free blocks of a few MB thousands of times. glibc
      maps each anew or trims the freed memory back to the system, so every
      block faults its pages in again: filtering 1 GP in tiles took 2.5 s of
      system time in 290,000 page faults, against 0.8-1.6 s in 16,000 with
      blocks up to 32 MiB kept in the heap (wall 3.0 -> 2.1-2.6 s; peak
      92 -> 94 MiB). A 4K image's run keeps 5-10% more at its peak.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # read when numpy loads
    if any(name in os.environ for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")):
        return
    if "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc: its allocator is left as it is
        return
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def quick_exit_status(code: object) -> int | None:
    """The exit status, where the process may end without the interpreter's teardown; else None.

    Tearing down numpy's, OpenCV's and click's modules takes 15 ms, an eighth
    of a small image's run. The output is already complete: files are
    written and closed atomically, and stdout and stderr are flushed here.
    Not with a thread or child process still alive, a message as the
    status, or streams that cannot be flushed: the ordinary exit.
    """
    import threading

    children = sys.modules.get("multiprocessing")
    if not isinstance(code, int | None) or threading.active_count() > 1:
        return None
    if children is not None and children.active_children():
        return None
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):  # a reader gone away, a closed stream
        return None
    return code or 0


def exit_now(status: int) -> NoReturn:
    """Run atexit's handlers (coverage's, say), then end the process with ``status``."""
    import atexit

    atexit._run_exitfuncs()
    os._exit(status)
