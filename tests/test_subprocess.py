"""The installed command as a real process: pipes, exit codes, startup imports, a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import encode_image

FLIPCONV = shutil.which("flipconv", path=str(Path(sys.executable).parent)) or "flipconv"


def run(
    args: list[str], data: bytes | None = None, **kw: object
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([FLIPCONV, *args], input=data, capture_output=True, timeout=120, **kw)  # type: ignore[call-overload]


def test_pipe_chain_matches_the_reference(samples: Path, matches_reference, ref_convolve) -> None:
    src = samples / "scene.png"
    first = subprocess.Popen(
        [FLIPCONV, "convolve", "-k", "gaussian:2", str(src)], stdout=subprocess.PIPE
    )
    second = subprocess.run(
        [FLIPCONV, "correlate", "-k", "emboss", "-q"],
        stdin=first.stdout,
        capture_output=True,
        timeout=120,
    )
    assert first.stdout is not None
    first.stdout.close()
    assert first.wait(timeout=120) == 0
    assert second.returncode == 0, second.stderr
    assert second.stderr == b""
    pixels = read_image(src).pixels
    x = np.arange(-8, 9)
    g = np.exp(-(x**2) / 8.0)
    g /= g.sum()  # gaussian:2, radius 4 sigma, as scipy
    blurred = np.clip(
        np.rint(
            np.stack([ref_convolve(pixels[..., c], np.outer(g, g), (8, 8)) for c in range(3)], -1)
        ),
        0,
        255,
    ).astype(np.uint8)
    matches_reference(
        read_image(second.stdout).pixels,
        blurred,
        [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
        operation="correlate",
    )


def test_python_dash_m(samples: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "flipconv.cli", "kernels", "show", "sobel-x", "--json"],
        capture_output=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert json.loads(out.stdout)["values"][0] == [-1, 0, 1]


def test_verify_json_and_status(samples: Path) -> None:
    out = run(["verify", "--json"])
    assert out.returncode == 0
    assert json.loads(out.stdout)["ok"] is True


@pytest.mark.parametrize(
    ("args", "data", "status", "fragment"),
    [
        (["convolve", "-k", "nope"], b"", 2, b"unknown kernel 'nope'"),
        (["convolve", "-k", "box"], b"", 1, b"stdin: empty input"),
        (["convolve", "-k", "box"], b"\x89PNG\r\n\x1a\n garbage", 1, b"stdin: corrupt PNG"),
    ],
)
def test_failures_exit_cleanly(args: list[str], data: bytes, status: int, fragment: bytes) -> None:
    out = run(args, data)
    assert out.returncode == status
    assert out.stdout == b""
    assert fragment in out.stderr and b"Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 2


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["convolve", "--help"],
        ["correlate", "--help"],
        ["verify", "--help"],
        ["explain", "--help"],
        ["probe", "--help"],
        ["kernels", "--help"],
        ["kernels", "show", "--help"],
        ["kernels"],
        ["presets"],
        ["presets", "--help"],
        ["--version"],
    ],
)
def test_startup_imports_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from flipconv.cli.main import cli\n"
        f"try:\n    cli.main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('numpy', 'scipy', 'imageio', 'rich', 'PIL') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in out.stderr, out.stderr


def test_shell_completion_offers_commands_options_and_kernels() -> None:
    def complete(words: str, cword: int, shell: str = "bash") -> str:
        env = {
            **os.environ,
            "_FLIPCONV_COMPLETE": f"{shell}_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(cword),
        }
        code = (
            "import sys\nfrom flipconv.cli.main import main\ntry:\n    main()\n"
            "except SystemExit:\n    pass\nprint('HEAVY', [m for m in ('numpy', 'scipy', "
            "'imageio', 'rich') if m in sys.modules], file=sys.stderr)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert "HEAVY []" in out.stderr, out.stderr
        return out.stdout

    assert complete("flipconv co", 1).splitlines() == ["plain,convolve", "plain,correlate"]
    assert "plain,--mode" in complete("flipconv convolve --mo", 2).splitlines()
    assert "plain,gaussian" in complete("flipconv convolve -k gau", 3).splitlines()
    assert "sobel-x" in complete("flipconv kernels show so", 3, "zsh").splitlines()
    source = subprocess.run(
        [sys.executable, "-c", "from flipconv.cli.main import main; main()"],
        env={**os.environ, "_FLIPCONV_COMPLETE": "fish_source"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "complete --no-files --command flipconv" in source.stdout


def test_refuses_a_real_terminal(samples: Path) -> None:
    """stdout on a pseudo-terminal: no image bytes, exit 2, a message instead."""
    pid, fd = pty.fork()
    if pid == 0:  # child: stdout and stderr are the terminal
        os.execv(FLIPCONV, [FLIPCONV, "convolve", "-k", "box", str(samples / "glyph.png")])
    chunks = []
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = b"".join(chunks)
    assert os.waitstatus_to_exitcode(status) == 2
    assert b"refusing to write image bytes to a terminal" in text
    assert b"\x89PNG" not in text


def test_early_closed_pipe_is_quiet(samples: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.zeros((600, 800, 3), np.uint8))
    proc = subprocess.Popen(
        [FLIPCONV, "convolve", "-k", "box", str(big), "-f", "npy"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(10)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 141
    assert err == b""


def test_the_quick_exit_runs_atexit_handlers_and_delivers_every_byte(tmp_path: Path) -> None:
    # The entry point skips the interpreter's teardown (os._exit): what a
    # caller registered with atexit (coverage, say) must still run, and a
    # 2 MB image on stdout must arrive whole through the pipe.
    pixels = np.random.default_rng(5).integers(0, 256, (600, 1100, 3), np.uint8)
    src = tmp_path / "in.npy"
    np.save(src, pixels)
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('handler ran\\n'))\n"
        "from flipconv.cli.main import run\n"
        "sys.argv = ['flipconv', 'correlate', '-k', '0,1,0', '-f', 'npy', sys.argv[1]]\n"
        "run()\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(src)], capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr == b"handler ran\n"
    got = read_image(out.stdout).pixels
    np.testing.assert_array_equal(got, pixels)  # the middle weight of three: the identity


def test_stdout_redirected_to_a_file_takes_the_format_its_name_says(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(encode_image(np.full((16, 16, 3), 90, np.uint8), "jpeg"))
    command = f"{FLIPCONV} convolve -k box {src}"
    named = subprocess.run(
        ["bash", "-c", f"{command} > {tmp_path / 'out.png'}"], capture_output=True, timeout=60
    )
    assert named.returncode == 0 and named.stderr == b""
    assert (tmp_path / "out.png").read_bytes().startswith(b"\x89PNG")
    forced = subprocess.run(
        ["bash", "-c", f"{command} -f jpeg > {tmp_path / 'out2.png'}"],
        capture_output=True,
        timeout=60,
    )
    assert forced.returncode == 0
    assert (tmp_path / "out2.png").read_bytes().startswith(b"\xff\xd8")
    assert b"as --format says, though the name says PNG" in forced.stderr
    piped = subprocess.run(
        ["bash", "-c", f"{command} | head -c 2"], capture_output=True, timeout=60
    )
    assert piped.stdout == b"\xff\xd8"  # a pipe has no name: the input's format
