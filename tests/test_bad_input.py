"""Hostile input and faults: every failure is one clean line, nothing is left half-done.

Each case checks the whole contract: exit status, nothing on stdout, one or
two lines on stderr without a traceback, no output file (nor a temporary
one) left behind, and the input unchanged.
"""

from __future__ import annotations

import io
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.cli.status import ExitStatus
from flipconv.core._shared.errors import KernelError
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import encode_image
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import parse_kernel_spec
from forged import png_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage
from processes import with_default_sigint

FLIPCONV = str(Path(sys.executable).parent / "flipconv")
TOOLS = Path(__file__).resolve().parent.parent / "tools"


def png_header_claiming(width: int, height: int) -> bytes:
    return png_header(width, height, colour=2, tail=64)


def pil_bytes(mode: str, fmt: str = "PNG", **save: object) -> bytes:
    rng = np.random.default_rng(1)
    im = PILImage.fromarray(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    im.save(buf, format=fmt, **save)
    return buf.getvalue()


def truncated(fmt: str) -> bytes:
    data = encode_image(np.random.default_rng(2).integers(0, 256, (30, 40, 3), np.uint8), fmt)
    return data[: len(data) * 2 // 3]


class Outcome:
    def __init__(self, status: int, stdout: bytes, stderr: str) -> None:
        self.status, self.stdout, self.stderr = status, stdout, stderr


def run_on_file(
    tmp_path: Path, data: bytes | None, args: list[str], name: str = "in.png", out: str = "out.png"
) -> Outcome:
    """Run flipconv on a file holding ``data`` (or nothing, if None) writing ``out``."""
    src = tmp_path / name
    if data is not None:
        src.write_bytes(data)
        os.utime(src, (1_000_000_000, 1_000_000_000))
    result = CliRunner().invoke(cli, [*args, str(src), "-o", str(tmp_path / out)])
    if data is not None:
        assert src.read_bytes() == data, "input changed"
        assert src.stat().st_mtime == 1_000_000_000, "input touched"
    return Outcome(result.exit_code, result.stdout_bytes, result.stderr)


def assert_clean_failure(
    outcome: Outcome,
    status: int,
    fragment: str,
    tmp_path: Path,
    inputs: tuple[str, ...] = ("in.png",),
) -> None:
    assert outcome.status == status, (outcome.status, outcome.stderr)
    assert outcome.stdout == b""
    lines = outcome.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, lines
    assert "Traceback" not in outcome.stderr and "internal error" not in outcome.stderr
    assert fragment in outcome.stderr, outcome.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p for p in inputs if (tmp_path / p).exists()
    ), "something was left behind"


# ---------------------------------------------------------------- files that must fail


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty input"),
        (b"just some text, not an image\n", "not a recognised image"),
        (truncated("png"), "truncated PNG"),
        (truncated("jpeg"), "corrupt or truncated JPEG"),
        (truncated("tiff"), "corrupt or truncated TIFF"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "PNG"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not a recognised image"),
        (b"PK\x03\x04" + b"\x00" * 40, "not a recognised image"),
        (png_header_claiming(0, 10), "has no pixels"),
        (b"P5\n0 0\n255\n", "has no pixels"),
    ],
)
def test_bad_files_fail_cleanly(tmp_path: Path, data: bytes, fragment: str) -> None:
    outcome = run_on_file(tmp_path, data, ["convolve", "-k", "box"])
    assert_clean_failure(outcome, ExitStatus.ERROR, fragment, tmp_path)


def test_decompression_bomb_is_refused_from_the_header(tmp_path: Path) -> None:
    outcome = run_on_file(
        tmp_path, png_header_claiming(200_000, 200_000), ["convolve", "-k", "box"]
    )
    assert_clean_failure(outcome, ExitStatus.ERROR, "over the limit of 500,000,000", tmp_path)


def test_pixel_limit_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLIPCONV_MAX_PIXELS", "50")
    outcome = run_on_file(
        tmp_path, encode_image(np.zeros((8, 8), np.uint8), "png"), ["convolve", "-k", "box"]
    )
    assert_clean_failure(outcome, ExitStatus.ERROR, "64 pixels, over the limit of 50", tmp_path)


def test_memory_limit(tmp_path: Path) -> None:
    outcome = run_on_file(
        tmp_path,
        encode_image(np.zeros((100, 100, 3), np.uint8), "png"),
        ["convolve", "-k", "box", "--memory-limit", "100KiB"],
    )
    assert_clean_failure(outcome, ExitStatus.ERROR, "needs about 625.0 KiB of memory", tmp_path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    outcome = run_on_file(tmp_path, None, ["convolve", "-k", "box"], name="absent.png")
    assert_clean_failure(outcome, ExitStatus.ERROR, "absent.png: no such file", tmp_path)
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(
        cli, ["convolve", "-k", "box", str(tmp_path / "folder"), "-o", str(tmp_path / "o.png")]
    )
    assert result.exit_code == ExitStatus.ERROR and "is a directory" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read anything")
    src = tmp_path / "locked.png"
    src.write_bytes(encode_image(np.zeros((2, 2), np.uint8), "png"))
    src.chmod(0)
    result = CliRunner().invoke(cli, ["convolve", "-k", "box", str(src), "-o", "-"])
    assert result.exit_code == ExitStatus.ERROR and "permission denied" in result.stderr


# ---------------------------------------------------------------- files that must work


@pytest.mark.parametrize(
    ("data", "shape", "dtype"),
    [
        (pil_bytes("P"), (9, 11, 3), np.uint8),
        (pil_bytes("P", transparency=0), (9, 11, 4), np.uint8),
        (pil_bytes("1"), (9, 11), np.uint8),
        (pil_bytes("LA"), (9, 11, 2), np.uint8),
        (pil_bytes("RGBA"), (9, 11, 4), np.uint8),
        (encode_image(np.full((9, 11, 3), 40000, np.uint16), "png"), (9, 11, 3), np.uint16),
        (encode_image(np.full((9, 11, 2), 40000, np.uint16), "png"), (9, 11, 2), np.uint16),
        (encode_image(np.full((1, 1), 77, np.uint8), "png"), (1, 1), np.uint8),
    ],
)
def test_awkward_but_valid_images_work(
    tmp_path: Path, data: bytes, shape: tuple[int, ...], dtype: type
) -> None:
    outcome = run_on_file(tmp_path, data, ["convolve", "-k", "gaussian:3"])
    assert outcome.status == 0, outcome.stderr
    assert outcome.stderr == ""
    out = read_image(tmp_path / "out.png").pixels
    assert out.shape == shape and out.dtype == dtype


def test_kernel_larger_than_the_image(tmp_path: Path) -> None:
    img = np.arange(6, dtype=np.uint8).reshape(2, 3) * 40
    outcome = run_on_file(
        tmp_path, encode_image(img, "png"), ["correlate", "-k", "gaussian:3", "--mode", "wrap"]
    )
    assert outcome.status == 0, outcome.stderr
    # a 19x19 Gaussian wrapped around a 2x3 image is nearly the mean everywhere
    assert np.abs(read_image(tmp_path / "out.png").pixels.astype(int) - img.mean()).max() <= 25


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (None, "has 2 pages; using the first"),
        (
            pil_bytes("P", "GIF", save_all=True, append_images=[PILImage.new("P", (11, 9))]),
            "has 2 frames; using the first",
        ),
    ],
)
def test_multi_image_files_use_the_first_with_a_note(
    tmp_path: Path, data: bytes | None, note: str
) -> None:
    if data is None:
        import tifffile

        buf = io.BytesIO()
        with tifffile.TiffWriter(buf) as tw:
            tw.write(np.full((3, 4), 7, np.uint8))
            tw.write(np.full((3, 4), 9, np.uint8))
        data = buf.getvalue()
    outcome = run_on_file(tmp_path, data, ["convolve", "-k", "box"], name="multi.img")
    assert outcome.status == 0
    assert outcome.stderr.strip().splitlines() == [
        f"flipconv: note: {tmp_path / 'multi.img'}: {note}"
    ]
    quiet = run_on_file(tmp_path, data, ["convolve", "-k", "box", "-q"], name="multi.img")
    assert quiet.status == 0 and quiet.stderr == ""


# ---------------------------------------------------------------- stdin


@pytest.mark.parametrize(
    ("data", "fragment"),
    [(b"", "stdin: empty input"), (os.urandom(5000), "stdin: "), (truncated("png"), "stdin: ")],
)
def test_bad_stdin(data: bytes, fragment: str) -> None:
    result = CliRunner().invoke(cli, ["convolve", "-k", "box", "-f", "png"], input=data)
    assert result.exit_code == ExitStatus.ERROR
    assert result.stdout_bytes == b"" and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_endless_streams_are_cut_off() -> None:
    for prefix in (b"", b"P5\n64 64\n255\n"):
        proc = subprocess.Popen(
            [FLIPCONV, "convolve", "-k", "box", "-f", "png"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(prefix)
            for _ in range(64):  # up to 64 MiB, far more than the budget
                proc.stdin.write(b"\0" * (1 << 20))
        except BrokenPipeError:
            pass
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        assert proc.stdout is not None and proc.stderr is not None
        err = proc.stderr.read()
        out = proc.stdout.read()
        proc.stdout.close()
        proc.stderr.close()
        assert proc.wait(timeout=60) == ExitStatus.ERROR
        assert out == b"" and len(err.strip().splitlines()) == 1


# ---------------------------------------------------------------- signals


def slow_job(tmp_path: Path) -> tuple[list[str], Path]:
    src = tmp_path / "big.npy"
    np.save(src, np.zeros((1500, 1500, 3), np.uint8))
    out = tmp_path / "out.tif"
    return [
        FLIPCONV,
        "convolve",
        "-k",
        "gaussian:4",
        "--method",
        "direct",
        "--threads",
        "1",
        str(src),
        "-o",
        str(out),
    ], out


@pytest.mark.parametrize(
    ("sig", "status", "message"),
    [(signal.SIGINT, 130, b"flipconv: interrupted"), (signal.SIGTERM, 143, b"")],
)
def test_signals_leave_nothing_behind(
    tmp_path: Path, sig: int, status: int, message: bytes
) -> None:
    args, out = slow_job(tmp_path)
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=with_default_sigint
    )
    time.sleep(2.0)  # past start-up, into the filtering
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == status, stderr
    assert stdout == b"" and b"Traceback" not in stderr
    assert message in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]
    assert not out.exists()


# ---------------------------------------------------------------- fuzzing (short runs)

SPEC_ALPHABET = "0123456789,; .-+e:=[]@abcdefghijklmnopqrstuvwxyz_nainf"


@settings(max_examples=400, deadline=None)
@given(st.text(SPEC_ALPHABET, max_size=40))
def test_any_spec_text_gives_a_kernel_or_a_kernel_error(text: str) -> None:
    try:
        k = parse_kernel_spec(text)
    except KernelError:
        return
    assert isinstance(k, Kernel) and np.isfinite(k.values).all()


builtin_names = st.sampled_from(
    [
        "gaussian",
        "box",
        "motion",
        "shift",
        "emboss",
        "log",
        "sharpen",
        "laplacian",
        "identity",
        "sobel-x",
    ]
)
values = st.sampled_from(["0", "1", "-1", "2.5", "1e9", "nan", "inf", "x", "", "99999", "n", "8"])


@settings(max_examples=300, deadline=None)
@given(
    builtin_names,
    st.lists(
        st.tuples(
            st.sampled_from(
                ["", "sigma=", "size=", "length=", "angle=", "dx=", "direction=", "bogus="]
            ),
            values,
        ),
        max_size=3,
    ),
)
def test_builtin_parameters_never_crash(name: str, params: list[tuple[str, str]]) -> None:
    spec = name + (":" + ",".join(k + v for k, v in params) if params else "")
    try:
        kernel = parse_kernel_spec(spec)
    except KernelError as exc:  # refused: one line that names what is wrong
        message = str(exc)
        assert message and "\n" not in message
        assert name in message or any(k.rstrip("=") in message for k, _ in params if k)
        return
    # taken: a usable kernel, finite, its origin inside it, its spec as given
    assert np.isfinite(kernel.values).all() and kernel.values.ndim == 2
    assert 0 <= kernel.origin[0] < kernel.shape[0] and 0 <= kernel.origin[1] < kernel.shape[1]
    assert kernel.spec == spec


OPTION_VALUES = {
    "--mode": ["reflect", "constant", "nearest", "mirror", "wrap", "bogus"],
    "--origin": ["0,0", "1,1", "2,2", "5,0", "-1,0", "a,b", "1"],
    "--cval": ["0", "255", "-3.5", "nan", "x"],
    "--scale": ["1", "0", "-2", "1e308", "inf"],
    "--bias": ["0", "128", "-1e9", "nan"],
    "--out-range": ["clip", "abs", "rescale", "wrap"],
    "--dtype": ["uint8", "uint16", "float32", "float64", "int8"],
    "--alpha": ["keep", "filter", "drop"],
    "-f": ["png", "tiff", "npy", "pnm", "jpeg", "bmp", "gif"],
    "--memory-limit": ["1GiB", "1KiB", "lots", "0"],
    "--max-pixels": ["1000000", "10", "0", "-5"],
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["convolve", "correlate"]),
    st.sampled_from(["box", "sobel-x", "1,2;4,8", "laplacian", "gaussian:0.7", "nope"]),
    st.dictionaries(st.sampled_from(sorted(OPTION_VALUES)), st.data(), max_size=5),
    st.booleans(),
    st.sampled_from(["glyph.png", "badge.png", "scene16.png"]),
)
def test_option_combinations_never_crash(
    operation: str, spec: str, chosen: dict[str, st.DataObject], normalize: bool, sample: str
) -> None:
    args = [operation, "-k", spec]
    for option, data in chosen.items():
        args += [option, data.draw(st.sampled_from(OPTION_VALUES[option]))]
    if normalize:
        args.append("--normalize")
    samples = Path(__file__).resolve().parent.parent / "samples"
    result = CliRunner().invoke(cli, args, input=(samples / sample).read_bytes())
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, args
    if result.exit_code == 0:
        assert result.stdout_bytes and read_image(result.stdout_bytes).pixels.size
    else:
        assert result.stdout_bytes == b"" and len(result.stderr.strip().splitlines()) <= 2, args


def test_mutation_fuzzer_short_run() -> None:
    """A few hundred mutated images in process and a few dozen through the real command."""
    fuzzer = runpy.run_path(str(TOOLS / "fuzz_images.py"))
    report = fuzzer["fuzz"](cases=400, seed=2026, subprocess_every=10, command=[FLIPCONV])
    assert report.cases == 400 and report.subprocesses == 40
    assert report.crashes == [] and report.hangs == []
    assert report.rejected > 100 and report.accepted > 10  # the mutations really vary
