"""The README's promises: its two commands, and CI running the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shell_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return [b.strip() for b in re.findall(r"```sh\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command() -> None:
    setup, tests = shell_blocks()[:2]
    assert "pytest" in tests and "\n" not in tests
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines


def test_setup_command_runs_a_sample() -> None:
    setup = shell_blocks()[0]
    assert "\n" not in setup
    assert "pip install ." in setup and "samples/" in setup
    for word in setup.split():
        if word.startswith("samples/"):
            assert (ROOT / word).is_file(), word
