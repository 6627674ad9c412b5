"""Skipping a test when the reference tool it compares with is not installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest


def require_tool(program: str) -> None:
    """Skip the test unless ``program`` is installed (``convert`` must be ImageMagick's)."""
    if shutil.which(program) is None:
        pytest.skip(f"{program} is not installed")
    if program == "convert":
        version = subprocess.run(["convert", "-version"], capture_output=True, text=True)
        if "ImageMagick" not in version.stdout:
            pytest.skip("convert is not ImageMagick's")
