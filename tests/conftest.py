"""Shared fixtures: a CLI runner, the samples folder, and the independent reference
(:mod:`reference`)."""

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
from reference import assert_matches_reference, reference_convolve, reference_correlate

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="session")
def matches_reference() -> Callable[..., None]:
    """:func:`assert_matches_reference`: an end-to-end result against the reference."""
    return assert_matches_reference


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
    proc = subprocess.Popen(
        args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env=env
    )
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
