"""Another tool's filter as a callable: run a command on probe images.

:func:`command_filter` turns a command line with placeholders into a
:data:`~flipconv.core.peers.probing.Filter` (or, without a kernel placeholder, a
function of the image alone) that :func:`flipconv.core.peers.probing.probe`
can examine: each call writes the image and the kernel to a temporary folder,
runs the command, and reads back what it wrote.
"""

from __future__ import annotations

import math
import os
import re
import select
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from flipconv.core._shared.errors import FlipconvError, OptionError, ResourceLimitError
from flipconv.core._shared.vocabulary import PROBE_FORMATS, format_number
from flipconv.core.io.formats import SUFFIX
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.peers.probing import ProbeError

#: Characters a temporary path may hold when it goes into a shell command unquoted.
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")


#: The placeholders that hand the kernel to a command.
KERNEL_PLACEHOLDERS = ("{kernel}", "{kernel_rows}", "{kernel_txt}", "{kernel_mat}")


def uses_kernel(argv: list[str]) -> bool:
    """Whether the command line hands the kernel to the tool at all."""
    return any(p in a for a in argv for p in KERNEL_PLACEHOLDERS)


#: Bytes of the tool's stderr kept for the message (the rest is read and dropped).
KEEP_OUTPUT = 64 * 1024
#: After the tool exits, how long what it left running may still write before the
#: probe stops listening (a grandchild that holds stdout must not stall it).
DRAIN_SECONDS = 0.2


def run_tool(command: Any, *, shell: bool, timeout: float, cwd: str) -> tuple[int, bytes]:
    """Run a tool in its own session; its exit status and the start of its stderr.

    The tool gets a process group of its own, killed whole at the timeout and
    when the tool exits, so nothing it started outlives the probe. Its
    output is read as it comes, at most :data:`KEEP_OUTPUT` bytes of stderr
    kept and the rest dropped, and the run ends when the tool exits, even if
    something it started (``setsid sleep 30 &``) still holds the pipes.

    Raises
    ------
    ProbeError
        If the command is not found or takes longer than ``timeout`` seconds.
    """
    if not (math.isfinite(timeout) and timeout > 0):
        raise OptionError(f"`timeout` {timeout!r} must be a positive number of seconds")
    adopting = bool(_subreaper and _subreaper[0])
    before = _children() if adopting else set()
    try:
        proc = subprocess.Popen(
            command,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent if _prctl_function() is not None else None,
        )
    except FileNotFoundError:
        name = command if isinstance(command, str) else command[0]
        raise ProbeError(f"command not found: {name}") from None
    assert proc.stdout is not None and proc.stderr is not None
    errors = bytearray()
    streams = {proc.stdout.fileno(): None, proc.stderr.fileno(): errors}
    deadline = time.monotonic() + timeout
    try:
        _read_until_exit(proc, streams, deadline, timeout)
        left = deadline - time.monotonic()
        try:
            status = proc.wait(timeout=max(left, 0.0))
        except subprocess.TimeoutExpired:
            raise ProbeError(f"the command took longer than {timeout:g} s") from None
    finally:
        _kill_group(proc.pid)
        proc.stdout.close()
        proc.stderr.close()
        proc.wait()
        if adopting:
            _kill_strays(before)
    return status, bytes(errors)


# Linux's prctl options: a "subreaper" adopts its descendants' orphans (a daemon's
# double fork, `setsid cmd &`, which leave the tool's process group and so
# escape its kill); a parent-death signal ends the tool if flipconv is killed.
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_subreaper: list[bool] = []


_libc: list[Any] = []


def _prctl_function() -> Any:
    """libc's ``prctl``, looked up once in this process (None where there is none).

    Looked up before any fork: the tool's process calls it between fork and
    exec, where importing or loading anything could wait on a lock forever.
    """
    if not _libc:
        try:
            import ctypes

            _libc.append(ctypes.CDLL(None, use_errno=True).prctl)
        except (OSError, AttributeError):
            _libc.append(None)
    return _libc[0]


def _prctl(option: int, value: int) -> bool:
    prctl = _prctl_function()
    return prctl is not None and int(prctl(option, value, 0, 0, 0)) == 0


def adopt_orphans() -> bool:
    """Let this process adopt what a probed tool leaves running (Linux; False elsewhere).

    After each run the tool's orphans, also those that left its process
    group, are killed and reaped. It changes the whole process (a
    "subreaper" adopts every orphaned descendant), so only a process that is
    the probe's own should ask: the command line does; a library user's
    program keeps the group kill alone.
    """
    if not _subreaper:
        _subreaper.append(os.path.isdir("/proc/self/task") and _prctl(_PR_SET_CHILD_SUBREAPER, 1))
    return _subreaper[0]


def _die_with_parent() -> None:
    """In the tool's process, before it runs: SIGKILL when flipconv ends, however."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _children() -> set[int]:
    """This process's children, from every thread's list in /proc."""
    found: set[int] = set()
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/children") as listing:
                found.update(int(pid) for pid in listing.read().split())
        except (OSError, ValueError):
            continue
    return found


def _kill_strays(before: set[int]) -> None:
    """Kill and reap what the tool left behind that escaped its group: orphans
    this process adopted since the tool started. Killing one orphans its own
    children, adopted in turn: repeat until none is left (a second at most)."""
    for _ in range(50):
        strays = _children() - before
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in strays:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        time.sleep(0.01)


def _read_until_exit(
    proc: subprocess.Popen[bytes],
    streams: dict[int, bytearray | None],
    deadline: float,
    timeout: float,
) -> None:
    """Read the tool's pipes as they fill, keeping what ``streams`` asks for, until
    both close, or the tool has exited and :data:`DRAIN_SECONDS` have passed."""
    exited_at: float | None = None
    while streams:
        now = time.monotonic()
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > DRAIN_SECONDS:
            return
        if exited_at is None and now > deadline:
            raise ProbeError(f"the command took longer than {timeout:g} s")
        ready, _, _ = select.select(list(streams), [], [], 0.05)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            kept = streams[fd]
            if not chunk:
                del streams[fd]
            elif kept is not None and len(kept) < KEEP_OUTPUT:
                kept.extend(chunk[: KEEP_OUTPUT - len(kept)])


def _kill_group(group: int) -> None:
    """Kill every process left in the tool's group (none left is fine)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def command_filter(
    argv: list[str],
    *,
    fmt: str = "png",
    shell: bool = False,
    timeout: float = 60.0,
    workdir: str | None = None,
    cwd: str | None = None,
) -> Callable[..., np.ndarray]:
    """A :data:`Filter` that runs ``argv`` with the placeholders filled in.

    ``{in}`` and ``{out}`` are image paths (``fmt``; the tool's output is read
    whatever its format), ``{kernel}`` the weights comma-separated row-major,
    ``{kernel_rows}`` rows separated by ``;``, ``{kernel_txt}`` a text file of
    rows, ``{kernel_mat}`` a libvips matrix file, ``{w}``/``{h}`` the kernel's
    width and height, all absolute paths to the probe's own temporary files.
    Without ``shell`` no shell is involved. COMMAND runs in ``cwd`` (default:
    the current folder), so its own relative paths work as typed. A command
    with no kernel placeholder holds its own kernel: it is returned as a
    function of the image alone, which :func:`~flipconv.core.peers.probing.probe`
    measures (or checks against the ``kernel`` it is given).
    """
    _check_command(argv, fmt, timeout)
    suffix = ".pgm" if fmt == "pgm" else SUFFIX[fmt]
    # COMMAND runs where the caller is, so that its relative paths (a script, a
    # kernel file) mean what they mean there; the placeholders are absolute.
    run_in = os.path.abspath(cwd) if cwd else os.getcwd()

    def run(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="flipconv-probe-", dir=workdir) as tmp:
            tmp = os.path.abspath(tmp)
            if shell and not _SHELL_SAFE.fullmatch(tmp):
                raise ProbeError(
                    f"`shell` needs a temporary folder of letters, digits and ._+-/ only: "
                    f"{tmp!r} (set TMPDIR)"
                )
            src, dst = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{suffix}"
            write_image(image, src, fmt="pnm" if fmt == "pgm" else fmt)
            values = _placeholders(Path(tmp), src, dst, kernel)
            # With a shell the values go in as they are (the paths have no spaces or
            # quotes): quote a placeholder as the shell needs, e.g. "{kernel_rows}".
            command: Any = (
                _fill(" ".join(argv), values) if shell else [_fill(a, values) for a in argv]
            )
            status, errors = run_tool(command, shell=shell, timeout=timeout, cwd=run_in)
            # an output may be the valid part, or (as a stray setting makes it) larger:
            # a few times the input is plenty, and the header says so before decoding
            limit = max(16 * image.shape[0] * image.shape[1], 1 << 16)
            return _read_back(status, errors, dst, limit)

    if not uses_kernel(argv):  # the tool holds its own kernel: a function of the image
        return lambda image: run(image, np.ones((1, 1)))
    return run


def _check_command(argv: list[str], fmt: str, timeout: float) -> None:
    """Refuse (:class:`OptionError`) a command the probe cannot run or read back."""
    if not argv:
        raise OptionError("no command to probe; give it after --")
    if not (math.isfinite(timeout) and timeout > 0):
        raise OptionError(f"`timeout` {timeout!r} must be a positive number of seconds")
    if fmt not in PROBE_FORMATS:
        raise OptionError(f"probe format {fmt!r} is not one of {', '.join(PROBE_FORMATS)}")
    if not any("{out}" in a for a in argv):
        raise OptionError("the command must write {out}, the image the probe reads back")


def _placeholders(tmp: Path, src: Path, dst: Path, kernel: np.ndarray) -> dict[str, str]:
    """Each placeholder's value; the kernel's text and matrix files are written in ``tmp``."""
    rows = [" ".join(format_number(v) for v in row) for row in kernel]
    (tmp / "kernel.txt").write_text("\n".join(rows) + "\n")
    h, w = kernel.shape
    (tmp / "kernel.mat").write_text(f"{w} {h} 1 0\n" + "\n".join(rows) + "\n")
    return {
        "{in}": str(src),
        "{out}": str(dst),
        "{kernel}": ",".join(format_number(v) for v in kernel.ravel()),
        "{kernel_rows}": ";".join(",".join(format_number(v) for v in row) for row in kernel),
        "{kernel_txt}": str(tmp / "kernel.txt"),
        "{kernel_mat}": str(tmp / "kernel.mat"),
        "{w}": str(w),
        "{h}": str(h),
    }


def _fill(text: str, values: dict[str, str]) -> str:
    """``text`` with each placeholder replaced, in one pass: a value that holds a
    placeholder's spelling (a TMPDIR named ``/tmp/{kernel}``) is left as it is.

    >>> _fill("{in} -> {out}", {"{in}": "/t/{out}/a.png", "{out}": "b.png"})
    '/t/{out}/a.png -> b.png'
    """
    pattern = re.compile("|".join(re.escape(key) for key in values))
    return pattern.sub(lambda m: values[m.group()], text)


def _read_back(status: int, errors: bytes, dst: Path, max_pixels: int) -> np.ndarray:
    """What the command wrote, or :class:`ProbeError` saying why there is nothing."""
    if status != 0:
        tail = errors.decode("utf-8", "replace").strip().splitlines()
        why = f": {tail[-1][:200]}" if tail else ""
        raise ProbeError(f"the command exited with status {status}{why}")
    if not dst.exists() or os.path.getsize(dst) == 0:
        raise ProbeError("the command wrote nothing to {out}")
    try:
        return read_image(dst, max_pixels=max_pixels, name="the command's {out}").pixels
    except ResourceLimitError as exc:
        size = str(exc).split(": ", 1)[-1].split(" is ", 1)[0]
        raise ProbeError(
            f"the command wrote a {size} image, far larger than the probe's: not read"
        ) from None
    except FlipconvError as exc:
        raise ProbeError(f"cannot read what the command wrote: {exc}") from None
