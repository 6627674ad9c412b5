"""Batches: many inputs to a folder, naming, parallel jobs, failures, JSON, progress."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import OptionError
from flipconv.core.engine.filters import filter_image
from flipconv.core.files.batch import output_name, plan_batch
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.kernels.specs import parse_kernel_spec
from processes import with_default_sigint

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]


def _images(folder: Path, count: int, size: tuple[int, int] = (20, 30)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.png"
        write_image(rng.integers(0, 256, (*size, 3), dtype=np.uint8), path)
        paths.append(path)
    return paths


def test_batch_writes_each_file_as_a_single_run_would(
    runner: CliRunner, tmp_path: Path, matches_reference
) -> None:
    inputs = _images(tmp_path / "in", 3)
    result = runner.invoke(
        cli,
        [
            "convolve",
            "-k",
            "emboss",
            *map(str, inputs),
            "-o",
            str(tmp_path / "out") + "/",
            "--mkdir",
            "-j1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    for path in inputs:
        matches_reference(
            read_image(tmp_path / "out" / path.name).pixels,
            read_image(path).pixels,
            [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            operation="convolve",
        )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in inputs]


def test_parallel_jobs_write_the_same_bytes_as_one_job(tmp_path: Path) -> None:
    # Real worker processes; one image is big enough for several PNG deflate parts.
    big = _images(tmp_path / "big", 1, size=(700, 600))[0]
    inputs = [*_images(tmp_path / "in", 4), big.rename(big.with_name("big.png"))]
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        run = subprocess.run(
            [
                *FLIPCONV,
                "correlate",
                "-k",
                "motion:7,30",
                *map(str, inputs),
                "-o",
                f"{out}/",
                "--mkdir",
                "-j",
                jobs,
            ],
            capture_output=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout == b"" and run.stderr == b""  # nothing on a pipe
        outs[jobs] = {p.name: p.read_bytes() for p in out.iterdir()}
    assert len(outs["1"]) == 5
    assert outs["1"] == outs["2"]


def test_template_format_and_placeholders(runner: CliRunner, tmp_path: Path) -> None:
    inputs = _images(tmp_path / "shots", 2)
    result = runner.invoke(
        cli,
        [
            "correlate",
            "-k",
            "box",
            *map(str, inputs),
            "-o",
            str(tmp_path / "out"),
            "--mkdir",
            "-f",
            "npy",
            "--dtype",
            "float32",
            "--output-template",
            "{parent}-{index}-{stem}{suffix}",
            "-j1",
        ],
    )
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["shots-0-img000.npy", "shots-1-img001.npy"]
    assert read_image(tmp_path / "out" / names[0]).pixels.dtype == np.float32


def test_output_name_placeholders() -> None:
    assert output_name("{name}", "a/b.png", 0, ".tif") == "b.tif"
    assert output_name("{stem}{suffix}", "a/b.png", 0, None) == "b.png"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"out_dir": None}, "is the input itself; `in_place` lets"),
        ({"out_dir": "missing"}, "does not exist \\(`mkdir` creates it\\)"),
        ({"out_dir": "out", "template": "same.png", "mkdir": True}, "has no placeholder"),
        ({"out_dir": "out", "template": "{stme}.png", "mkdir": True}, "unknown placeholder"),
        ({"out_dir": "out", "template": "{stem}.xyz", "mkdir": True}, "no image extension"),
        (
            {"out_dir": "out", "template": "{stem}.png", "fmt": "tiff", "mkdir": True},
            "disagrees with `fmt` tiff",
        ),
    ],
)
def test_plan_refuses_bad_batches(
    tmp_path: Path, kwargs: dict, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = [str(p) for p in _images(tmp_path, 2)]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OptionError, match=message):
        plan_batch(inputs, **kwargs)


def test_two_inputs_to_one_output_are_refused(runner: CliRunner, tmp_path: Path) -> None:
    a = _images(tmp_path / "a", 1)[0]
    b = _images(tmp_path / "b", 1)[0]  # the same name in another folder
    result = runner.invoke(
        cli, ["convolve", "-k", "box", str(a), str(b), "-o", str(tmp_path / "out") + "/", "--mkdir"]
    )
    assert result.exit_code == 2
    assert "would both be written to" in result.stderr and "{parent}" in result.stderr
    assert not any((tmp_path / "out").iterdir())


def test_in_place_replaces_inputs_and_only_when_asked(
    runner: CliRunner, tmp_path: Path, matches_reference
) -> None:
    inputs = _images(tmp_path, 2)
    before = [p.read_bytes() for p in inputs]
    refused = runner.invoke(
        cli, ["convolve", "-k", "box", *map(str, inputs), "-o", str(tmp_path) + "/"]
    )
    assert refused.exit_code == 2 and "--in-place" in refused.stderr
    assert [p.read_bytes() for p in inputs] == before
    done = runner.invoke(cli, ["convolve", "-k", "box", *map(str, inputs), "--in-place", "-j1"])
    assert done.exit_code == 0, done.output
    for path, old in zip(inputs, before, strict=True):
        matches_reference(
            read_image(path).pixels,
            read_image(old).pixels,
            np.full((3, 3), 1 / 9),
            operation="convolve",
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in inputs)


def test_keep_going_reports_and_processes_the_rest(runner: CliRunner, tmp_path: Path) -> None:
    good = _images(tmp_path / "in", 3)
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    inputs = [good[0], bad, good[1], good[2]]
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        [
            "correlate",
            "-k",
            "sobel-x",
            *map(str, inputs),
            "-o",
            f"{out}/",
            "--mkdir",
            "--keep-going",
            "-j1",
            "--json",
            "-q",
        ],
    )
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d["status"] for d in lines] == ["ok", "error", "ok", "ok"]
    assert set(lines[0]) == {
        "input",
        "output",
        "status",
        "shape",
        "dtype",
        "format",
        "seconds",
        "notes",
        "engine",
    }
    assert lines[0]["engine"]["route"] == "int16 exact sums"  # sobel-x on 8 bits
    assert "integer weights" in lines[0]["engine"]["reason"]
    assert "engine" not in lines[1]  # the failed file ran no filter
    assert lines[0]["shape"] == [20, 30, 3] and lines[0]["dtype"] == "uint8"
    assert "bad.png" in lines[1]["error"]
    errors = result.stderr.splitlines()
    assert errors[0].startswith("flipconv: error: ") and "bad.png" in errors[0]
    assert errors[-1] == "flipconv: 1 of 4 files failed"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in good)


def test_without_keep_going_the_batch_stops_at_the_first_failure(
    runner: CliRunner, tmp_path: Path
) -> None:
    good = _images(tmp_path / "in", 3)
    bad = tmp_path / "in" / "bad.png"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out"
    result = runner.invoke(
        cli,
        ["correlate", "-k", "box", str(bad), *map(str, good), "-o", f"{out}/", "--mkdir", "-j1"],
    )
    assert result.exit_code == 1
    assert "3 not processed" in result.stderr.splitlines()[-1]
    assert list(out.iterdir()) == []  # nothing written, nothing half-written


def test_single_file_json_and_its_refusal_on_stdout(runner: CliRunner, tmp_path: Path) -> None:
    src = _images(tmp_path, 1)[0]
    result = runner.invoke(
        cli, ["convolve", "-k", "box", str(src), "-o", str(tmp_path / "o.tif"), "--json"]
    )
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert (doc["status"], doc["format"], doc["shape"]) == ("ok", "tiff", [20, 30, 3])
    refused = runner.invoke(cli, ["convolve", "-k", "box", str(src), "--json"])
    assert refused.exit_code == 2 and "needs -o FILE" in refused.stderr
    several = runner.invoke(cli, ["convolve", "-k", "box", str(src), str(src)])
    assert several.exit_code == 2 and "-o FOLDER/" in several.stderr
    assert "--in-place" not in several.stderr  # never hint at replacing what may be an output


def test_a_positional_output_gets_a_hint_that_cannot_lose_data(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ImageMagick's habit: `flipconv convolve -k K myphoto.png blurred.png`
    monkeypatch.chdir(tmp_path)
    photo = _images(tmp_path, 1)[0]
    before = photo.read_bytes()
    hint = runner.invoke(cli, ["convolve", "-k", "box", photo.name, "blurred.png"])
    assert hint.exit_code == 2
    assert "did you mean -o blurred.png?" in hint.stderr and "--in-place" not in hint.stderr
    # following a hint the old way (--in-place) must now write nothing at all
    in_place = runner.invoke(
        cli, ["convolve", "-k", "box", photo.name, "blurred.png", "--in-place", "-j1"]
    )
    assert in_place.exit_code == 1
    assert in_place.stderr.splitlines() == ["flipconv: error: blurred.png: no such file"]
    assert photo.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [photo.name]


@pytest.mark.parametrize("keep_going", [[], ["--keep-going"]])
def test_every_input_is_checked_before_any_output(
    runner: CliRunner, tmp_path: Path, keep_going: list[str]
) -> None:
    good = _images(tmp_path / "in", 2)
    (tmp_path / "in" / "sub").mkdir()
    out = tmp_path / "out"
    for bad, message in (
        (tmp_path / "in" / "gone.png", "no such file"),
        (tmp_path / "in" / "sub", "is a folder"),
    ):
        result = runner.invoke(
            cli,
            [
                "correlate",
                "-k",
                "box",
                *map(str, good),
                str(bad),
                "-o",
                f"{out}/",
                "--mkdir",
                "-j1",
                *keep_going,
            ],
        )
        assert result.exit_code == 1, result.output
        assert message in result.stderr and str(bad) in result.stderr
        assert not out.exists()  # refused before the folder was even created


def test_stdin_cannot_join_a_batch(runner: CliRunner, tmp_path: Path) -> None:
    src = _images(tmp_path, 1)[0]
    result = runner.invoke(
        cli, ["convolve", "-k", "box", str(src), "-", "-o", f"{tmp_path}/x/", "--mkdir"]
    )
    assert result.exit_code == 2 and "stdin" in result.stderr


def test_a_200_file_batch_shows_progress_on_a_terminal_and_nothing_on_a_pipe(
    tmp_path: Path, on_a_terminal
) -> None:  # type: ignore[no-untyped-def]
    _images(tmp_path / "in", 200, size=(8, 8))
    names = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "in").iterdir())
    args = [*FLIPCONV, "convolve", "-k", "box", *names, "--mkdir"]
    status, shown = on_a_terminal([*args, "-o", "tty/"], tmp_path)
    assert status == 0
    assert "200/200" in shown and "files/s" in shown
    assert "200 files written" in shown
    quiet_status, quiet = on_a_terminal([*args, "-o", "quiet/", "-q"], tmp_path)
    assert quiet_status == 0 and quiet == ""
    piped = subprocess.run([*args, "-o", "pipe/"], cwd=tmp_path, capture_output=True, timeout=300)
    assert piped.returncode == 0 and piped.stderr == b"" and piped.stdout == b""
    assert len(list((tmp_path / "pipe").iterdir())) == 200


# ---------------------------------------------------------------- kernels on stdin


def test_kernel_from_stdin_in_every_notation(runner: CliRunner, tmp_path: Path) -> None:
    src = _images(tmp_path, 1)[0]
    expected = filter_image(
        read_image(src).pixels, parse_kernel_spec("emboss"), operation="correlate"
    )
    notations = [
        "-2 -1 0\n-1 1 1\n0 1 2\n",
        "3x3+1+1: -2,-1,0,-1,1,1,0,1,2",
        "3 3 1 0\n-2 -1 0\n-1 1 1\n0 1 2\n",
        "emboss",
    ]
    for i, text in enumerate(notations):
        out = tmp_path / f"o{i}.png"
        result = runner.invoke(cli, ["correlate", "-k", "@-", str(src), "-o", str(out)], input=text)
        assert result.exit_code == 0, (text, result.output)
        np.testing.assert_array_equal(read_image(out).pixels, expected)


def test_kernel_on_stdin_needs_the_image_from_a_file(runner: CliRunner, tmp_path: Path) -> None:
    src = _images(tmp_path, 1)[0]
    result = runner.invoke(
        cli, ["correlate", "-k", "@-", "-o", str(tmp_path / "o.png")], input=src.read_bytes()
    )
    assert result.exit_code == 2
    assert "stdin holds an image" in result.stderr
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("fmt", ["txt", "csv", "json", "imagemagick", "vips", "npy"])
def test_kernels_show_as_round_trips_through_the_cli(
    runner: CliRunner, tmp_path: Path, fmt: str
) -> None:
    shown = runner.invoke(cli, ["kernels", "show", "motion:4,30", "--as", fmt])
    assert shown.exit_code == 0
    src = _images(tmp_path, 1)[0]
    out = tmp_path / "o.npy"
    again = runner.invoke(
        cli,
        ["convolve", "-k", "@-", str(src), "-o", str(out), "--dtype", "float64"],
        input=shown.stdout_bytes,
    )
    assert again.exit_code == 0, again.output
    direct = filter_image(
        read_image(src).pixels,
        parse_kernel_spec("motion:4,30"),
        operation="convolve",
        dtype="float64",
        method="direct",
    )
    np.testing.assert_allclose(read_image(out).pixels, direct, rtol=0, atol=1e-9)


def test_netpbm_pipeline(tmp_path: Path, samples: Path, matches_reference) -> None:
    tools = [shutil.which(t) for t in ("pngtopnm", "pnmtopng")]
    if None in tools:
        pytest.skip("netpbm is not installed")
    script = (
        f"pngtopnm {samples / 'scene.png'} | {' '.join(FLIPCONV)} convolve -k box:3 "
        f"-f pnm | pnmtopng > out.png"
    )
    run = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script], cwd=tmp_path, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    matches_reference(
        read_image(tmp_path / "out.png").pixels,
        read_image(samples / "scene.png").pixels,
        np.full((3, 3), 1 / 9),
        operation="convolve",
    )


@pytest.mark.parametrize(("signum", "status"), [(2, 130), (15, 143)])
def test_an_interrupted_parallel_batch_leaves_only_complete_files(
    tmp_path: Path, signum: int, status: int
) -> None:
    import signal
    import time

    inputs = _images(tmp_path / "in", 60, size=(300, 400))
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *FLIPCONV,
            "convolve",
            "-k",
            "gaussian:3",
            *map(str, inputs),
            "-o",
            f"{out}/",
            "--mkdir",
            "-j2",
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=with_default_sigint,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.exists() and any(out.glob("*.png"))):
        time.sleep(0.05)  # wait until the batch is under way
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err
    assert b"Traceback" not in err
    written = list(out.iterdir())
    assert all(not p.name.startswith(".") for p in written)  # no temporary files
    assert 0 < len(written) < 60
    for path in written:  # every file that exists is whole
        assert read_image(path).pixels.shape == (300, 400, 3)


def test_a_closed_parallel_batch_leaves_no_executor_thread_behind(tmp_path: Path) -> None:
    # CPython 3.11's exit hook writes to each process pool's wake-up pipe
    # unlocked; a manager thread still closing that pipe at exit made it fail
    # with EBADF, and an interrupted batch printed a traceback (1 run in ~100).
    import threading
    from contextlib import closing

    from flipconv.core.files.pipeline import Settings
    from flipconv.core.files.workers import run_batch

    inputs = _images(tmp_path / "in", 12, size=(200, 300))
    jobs = plan_batch(list(map(str, inputs)), out_dir=str(tmp_path / "out"), mkdir=True)
    before = set(threading.enumerate())
    with closing(run_batch(jobs, "gaussian:3", Settings("convolve"), workers=2)) as results:
        assert next(results).status == "ok"
    left = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert left == []
