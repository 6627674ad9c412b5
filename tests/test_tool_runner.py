"""The probe's tool runner cleans up after the tools it runs (core/commands.run_tool)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import OptionError
from flipconv.core.peers.probing import ProbeError
from flipconv.core.peers.runner import KEEP_OUTPUT, command_filter, run_tool

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")


def _running(marker: str) -> list[str]:
    """Processes whose command line holds ``marker``."""
    done = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if marker in line and "ps -eo" not in line]


def _unique_seconds() -> str:
    """A sleep length no other process on the machine will have."""
    return f"{900 + uuid.uuid4().int % 9000}.{uuid.uuid4().int % 1000:03d}"


def test_a_timeout_kills_what_the_tool_started(tmp_path: Path) -> None:
    seconds = _unique_seconds()
    with pytest.raises(ProbeError, match="took longer than 1 s"):
        run_tool(f"sleep {seconds}; true", shell=True, timeout=1, cwd=str(tmp_path))
    assert _running(f"sleep {seconds}") == []


def test_children_left_in_the_background_are_killed_when_the_tool_exits(tmp_path: Path) -> None:
    seconds = _unique_seconds()
    status, _ = run_tool(
        f"sleep {seconds} >/dev/null 2>&1 & echo done", shell=True, timeout=30, cwd=str(tmp_path)
    )
    assert status == 0
    assert _running(f"sleep {seconds}") == []


def test_a_grandchild_holding_stdout_does_not_stall_the_run(tmp_path: Path) -> None:
    # setsid leaves the tool's group; it holds stdout open for 30 s, past the
    # 20 s timeout: the run must end when the tool exits, not when stdout closes.
    seconds = f"3{_unique_seconds()[1:3]}.5"
    try:
        status, _ = run_tool(
            f"setsid sleep {seconds} & exit 3", shell=True, timeout=20, cwd=str(tmp_path)
        )
        assert status == 3
    finally:
        subprocess.run(["pkill", "-f", f"sleep {seconds}"], check=False)


def test_output_is_read_to_a_cap_and_the_rest_dropped(tmp_path: Path) -> None:
    status, errors = run_tool(
        "head -c 50000000 /dev/zero; head -c 3000000 /dev/zero | tr '\\0' e >&2; echo last >&2",
        shell=True,
        timeout=60,
        cwd=str(tmp_path),
    )
    assert status == 0
    assert len(errors) == KEEP_OUTPUT and set(errors) == {ord("e")}


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 0.0, -1.0])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout: float) -> None:
    with pytest.raises(OptionError, match="`timeout` .* must be a positive number"):
        command_filter(["cp", "{in}", "{out}"], timeout=timeout)


@pytest.mark.parametrize(("value", "message"), [("inf", "not a finite"), ("nan", "not a finite")])
def test_the_probe_command_line_refuses_them_as_usage(value: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["probe", "--timeout", value, "--", "cp", "{in}", "{out}"])
    assert result.exit_code == 2
    assert message in result.stderr and "OverflowError" not in result.stderr


def test_the_probe_reports_a_timeout_and_leaves_nothing_running(tmp_path: Path) -> None:
    seconds = _unique_seconds()
    result = CliRunner().invoke(
        cli, ["probe", "--shell", "--timeout", "1", "--", f"sleep {seconds}; cp {{in}} {{out}}"]
    )
    assert result.exit_code == 1
    assert "took longer than 1 s" in result.stderr
    assert _running(f"sleep {seconds}") == []
