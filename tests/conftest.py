"""Shared fixtures: a CLI runner, the samples folder, and an independent reference.

The reference filters below share no code with flipconv or scipy.ndimage:
they pad with numpy.pad and sum shifted slices, one loop per kernel element.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# scipy.ndimage mode name -> numpy.pad mode name
NUMPY_PAD = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def _pad(image: np.ndarray, before: tuple[int, int], after: tuple[int, int], mode: str,
         cval: float) -> np.ndarray:  # fmt: skip
    widths = ((before[0], after[0]), (before[1], after[1]))
    if mode == "constant":
        return np.pad(image, widths, mode="constant", constant_values=cval)
    return np.pad(image, widths, mode=NUMPY_PAD[mode])


def reference_correlate(image: np.ndarray, kernel: np.ndarray, origin: tuple[int, int],
                        mode: str = "reflect", cval: float = 0.0) -> np.ndarray:  # fmt: skip
    """out[n] = sum_m K[o+m] I[n+m], by padding and summing shifted slices."""
    (h, w), (r, c) = kernel.shape, origin
    H, W = image.shape
    padded = _pad(image.astype(np.float64), (r, c), (h - 1 - r, w - 1 - c), mode, cval)
    out = np.zeros((H, W))
    for i in range(h):
        for j in range(w):
            out += kernel[i, j] * padded[i : i + H, j : j + W]
    return out


def reference_convolve(image: np.ndarray, kernel: np.ndarray, origin: tuple[int, int],
                       mode: str = "reflect", cval: float = 0.0) -> np.ndarray:  # fmt: skip
    """out[n] = sum_m K[o+m] I[n-m], written directly (not through a flip)."""
    (h, w), (r, c) = kernel.shape, origin
    H, W = image.shape
    padded = _pad(image.astype(np.float64), (h - 1 - r, w - 1 - c), (r, c), mode, cval)
    out = np.zeros((H, W))
    for i in range(h):
        for j in range(w):
            out += kernel[i, j] * padded[h - 1 - i : h - 1 - i + H, w - 1 - j : w - 1 - j + W]
    return out


@pytest.fixture(scope="session")
def ref_correlate() -> Callable[..., np.ndarray]:
    return reference_correlate


@pytest.fixture(scope="session")
def ref_convolve() -> Callable[..., np.ndarray]:
    return reference_convolve


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _find_imagemagick() -> str | None:
    for name in ("magick", "convert-im6.q16", "convert"):
        path = shutil.which(name)
        if not path:
            continue
        try:
            out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if "ImageMagick" in out.stdout:
            return path
    return None


@pytest.fixture(scope="session")
def imagemagick() -> str:
    path = _find_imagemagick()
    if path is None:
        pytest.skip("ImageMagick is not installed")
    return path


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    import pty

    """Run with stderr on a pseudo-terminal (stdout a pipe); return status and stderr."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    proc = subprocess.Popen(args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave, env=env)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    out, _ = proc.communicate(timeout=120)
    assert out == b""
    return proc.returncode, b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture(scope="session")
def on_a_terminal() -> Callable[[list[str], Path], tuple[int, str]]:
    """Run a command with stderr on a pseudo-terminal; returns (status, what it showed)."""
    return run_on_a_terminal
