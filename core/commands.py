"""Another tool's filter as a callable: run a command on probe images.

:func:`command_filter` turns a command line with placeholders into a
:data:`~flipconv.core.probing.Filter` that :func:`flipconv.core.probing.probe`
can examine: each call writes the image and the kernel to a temporary folder,
runs the command, and reads back what it wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from flipconv.core.errors import FlipconvError, OptionError
from flipconv.core.formats import SUFFIX
from flipconv.core.probing import Filter, ProbeError
from flipconv.core.readers import read_image
from flipconv.core.vocabulary import PROBE_FORMATS, format_number
from flipconv.core.writers import write_image

#: Characters a temporary path may hold when it goes into a shell command unquoted.
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_./+-]+")


#: The placeholders that hand the kernel to a command.
KERNEL_PLACEHOLDERS = ("{kernel}", "{kernel_rows}", "{kernel_txt}", "{kernel_mat}")


def uses_kernel(argv: list[str]) -> bool:
    """Whether the command line hands the kernel to the tool at all."""
    return any(p in a for a in argv for p in KERNEL_PLACEHOLDERS)


def command_filter(
    argv: list[str],
    *,
    fmt: str = "png",
    shell: bool = False,
    timeout: float = 60.0,
    workdir: str | None = None,
    cwd: str | None = None,
) -> Filter:
    """A :data:`Filter` that runs ``argv`` with the placeholders filled in.

    ``{in}`` and ``{out}`` are image paths (``fmt``; the tool's output is read
    whatever its format), ``{kernel}`` the weights comma-separated row-major,
    ``{kernel_rows}`` rows separated by ``;``, ``{kernel_txt}`` a text file of
    rows, ``{kernel_mat}`` a libvips matrix file, ``{w}``/``{h}`` the kernel's
    width and height, all absolute paths to the probe's own temporary files.
    Without ``shell`` no shell is involved. COMMAND runs in ``cwd`` (default:
    the current folder), so its own relative paths work as typed.
    """
    if not argv:
        raise OptionError("no command to probe; give it after --")
    if fmt not in PROBE_FORMATS:
        raise OptionError(f"probe format {fmt!r} is not one of {', '.join(PROBE_FORMATS)}")
    if not any("{out}" in a for a in argv):
        raise OptionError("the command must write {out}, the image the probe reads back")
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
            rows = [" ".join(format_number(v) for v in row) for row in kernel]
            (Path(tmp) / "kernel.txt").write_text("\n".join(rows) + "\n")
            h, w = kernel.shape
            (Path(tmp) / "kernel.mat").write_text(f"{w} {h} 1 0\n" + "\n".join(rows) + "\n")
            values = {
                "{in}": str(src),
                "{out}": str(dst),
                "{kernel}": ",".join(format_number(v) for v in kernel.ravel()),
                "{kernel_rows}": ";".join(
                    ",".join(format_number(v) for v in row) for row in kernel
                ),
                "{kernel_txt}": str(Path(tmp) / "kernel.txt"),
                "{kernel_mat}": str(Path(tmp) / "kernel.mat"),
                "{w}": str(w),
                "{h}": str(h),
            }

            def fill(text: str) -> str:
                for key, value in values.items():
                    text = text.replace(key, value)
                return text

            # With a shell the values go in as they are (the paths have no spaces or
            # quotes): quote a placeholder as the shell needs, e.g. "{kernel_rows}".
            command: Any = fill(" ".join(argv)) if shell else [fill(a) for a in argv]
            try:
                done = subprocess.run(
                    command,
                    shell=shell,
                    capture_output=True,
                    timeout=timeout,
                    stdin=subprocess.DEVNULL,
                    cwd=run_in,
                )
            except FileNotFoundError:
                raise ProbeError(f"command not found: {argv[0]}") from None
            except subprocess.TimeoutExpired:
                raise ProbeError(f"the command took longer than {timeout:g} s") from None
            if done.returncode != 0:
                tail = done.stderr.decode("utf-8", "replace").strip().splitlines()
                why = f": {tail[-1][:200]}" if tail else ""
                raise ProbeError(f"the command exited with status {done.returncode}{why}")
            if not dst.exists() or os.path.getsize(dst) == 0:
                raise ProbeError("the command wrote nothing to {out}")
            try:
                return read_image(dst).pixels
            except FlipconvError as exc:
                raise ProbeError(f"cannot read what the command wrote: {exc}") from None

    return run
