"""Nothing a run reads is ever written over, and nothing it did not make is deleted.

Every case snapshots the folder (the sha256 of every file, hidden ones
included) before the command and compares after: the inputs untouched and
no stray file left.

Every write against every read: core/io/guard.py.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import OptionError
from flipconv.core.files.pipeline import Settings, filter_file, filter_file_in_tiles
from flipconv.core.io.writers import write_image

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (hidden ones too) and its sha256."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding a photo ``a.png`` and a kernel file ``k.png`` (text, named .png)."""
    monkeypatch.chdir(tmp_path)
    pixels = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    write_image(pixels, tmp_path / "a.png")
    (tmp_path / "k.png").write_text("1 2 1\n2 4 2\n1 2 1\n")
    return tmp_path


def refused(runner: CliRunner, folder: Path, args: list[str], needle: str) -> None:
    before = snapshot(folder)
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert needle in lines[0], result.stderr
    assert lines[1:] in ([], [f"Try 'cli {args[0]} --help' for help."]), result.stderr
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["verify", "-k", "box:3", "--image", "a.png", "--picture", "a.png"],
            "the picture 'a.png' is the image itself",
        ),
        (
            ["verify", "-k", "box:3", "--image", "a.png", "--picture", "./a.png"],
            "the picture './a.png' is the image itself ('a.png')",
        ),
        (
            ["kernels", "show", "@k.png", "--picture", "k.png"],
            "the picture 'k.png' is the kernel file itself",
        ),
        (
            ["verify", "-k", "@k.png", "--picture", "k.png"],
            "the picture 'k.png' is the kernel file itself",
        ),
        # beyond the examples: the filtered image onto a kernel file
        (
            ["convolve", "-k", "@k.png", "a.png", "-o", "k.png"],
            "the output 'k.png' is the kernel file itself",
        ),
        (
            ["convolve", "-k", "@k.png", "a.png", "-o", "./k.png", "--in-place"],
            "the output './k.png' is the kernel file itself",
        ),
        (
            ["correlate", "-k", "box:3", "-k", "@./k.png", "a.png", "-o", "k.png"],
            "the output 'k.png' is the kernel file itself",
        ),
    ],
)
def test_no_write_replaces_anything_read(
    runner: CliRunner, folder: Path, args: list[str], needle: str
) -> None:
    refused(runner, folder, args, needle)


def test_a_picture_onto_the_file_stdin_comes_from_is_refused(folder: Path) -> None:
    before = snapshot(folder)
    with open(folder / "a.png", "rb") as stdin:
        done = subprocess.run(
            [*FLIPCONV, "verify", "-k", "box:3", "--image", "-", "--picture", "a.png"],
            stdin=stdin,
            capture_output=True,
            cwd=folder,
        )
    assert done.returncode == 2
    assert b"the picture 'a.png' is the image itself (stdin)" in done.stderr
    assert snapshot(folder) == before


def test_a_kernel_from_stdin_redirected_from_the_output_is_refused(folder: Path) -> None:
    before = snapshot(folder)
    with open(folder / "k.png", "rb") as stdin:
        done = subprocess.run(
            [*FLIPCONV, "correlate", "-k", "@-", "a.png", "-o", "k.png"],
            stdin=stdin,
            capture_output=True,
            cwd=folder,
        )
    assert done.returncode == 2, done.stderr
    assert b"the output 'k.png' is the kernel file itself (stdin)" in done.stderr
    assert snapshot(folder) == before


def test_the_api_refuses_an_output_onto_a_kernel_file_even_in_place(folder: Path) -> None:
    before = snapshot(folder)
    with pytest.raises(OptionError, match="is the kernel file itself"):
        filter_file("a.png", "k.png", "@k.png", Settings("convolve"), in_place=True)
    assert snapshot(folder) == before


def test_a_picture_elsewhere_is_written(runner: CliRunner, folder: Path) -> None:
    result = runner.invoke(
        cli, ["verify", "-k", "@k.png", "--image", "a.png", "--picture", "v.png"]
    )
    assert result.exit_code == 0, result.stderr
    assert (folder / "v.png").stat().st_size > 0
    assert os.path.exists("a.png")


# ---------------------------------------------------------------- batches


def test_a_batch_output_onto_another_input_is_refused(runner: CliRunner, folder: Path) -> None:
    (folder / "0.png").write_bytes((folder / "a.png").read_bytes())
    # 'a.png' is file 0 of the batch: its output would be 0.png, the other input
    refused(
        runner,
        folder,
        ["convolve", "-k", "box:3", "a.png", "0.png", "--output-template", "{index}.png"],
        "the output for 'a.png', '0.png', would replace the input '0.png'",
    )


def test_a_batch_output_onto_a_kernel_file_is_refused(runner: CliRunner, folder: Path) -> None:
    (folder / "k").mkdir()
    (folder / "k" / "a.png").write_text("1 1 1\n")
    refused(
        runner,
        folder,
        ["convolve", "-k", "@k/a.png", "a.png", "-o", "k/"],
        "the output for 'a.png', 'k/a.png', would replace the kernel file 'k/a.png'",
    )


def _bind_mount(source: Path, target: Path) -> None:
    target.mkdir()
    try:
        done = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True)
    except OSError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip("bind mounts need privileges this machine does not give")


def test_one_file_named_twice_through_a_bind_mount_is_filtered_once(
    runner: CliRunner, folder: Path
) -> None:
    _bind_mount(folder / ".", folder / "mnt")
    try:
        before = snapshot(folder / "mnt")
        result = runner.invoke(
            cli, ["convolve", "-k", "shift:dx=1", "a.png", "mnt/a.png", "--in-place", "-j1"]
        )
        assert result.exit_code == 2, result.output
        assert "'a.png' and 'mnt/a.png' are one file, named twice" in result.stderr
        assert snapshot(folder / "mnt") == before
    finally:
        subprocess.run(["umount", str(folder / "mnt")], check=False)


def _batch_folder(folder: Path, count: int) -> list[str]:
    pixels = np.random.default_rng(4).integers(0, 256, (6, 7), dtype=np.uint8)
    (folder / "in").mkdir()
    names = []
    for i in range(count):
        write_image(pixels, folder / "in" / f"p{i}.png")
        names.append(f"in/p{i}.png")
    return names


def test_a_batch_removes_only_the_temporary_files_it_made(folder: Path) -> None:
    from flipconv.core.files.batch import plan_batch
    from flipconv.core.files.workers import run_batch
    from flipconv.core.io.atomic import run_tag

    inputs = _batch_folder(folder, 2)
    (folder / "out").mkdir()
    theirs = {
        ".p0.png.notes.tmp": b"a user's notes",
        ".p0.png.flipconv1a2b3c4d5e6f.k2j4h5g6.tmp": b"another run's live file",
        ".p1.png.tmp": b"",
    }
    for name, data in theirs.items():
        (folder / "out" / name).write_bytes(data)
    ours = folder / "out" / f".p1.png.{run_tag()}.abcdefgh.tmp"  # a killed worker's leftover
    ours.write_bytes(b"half a file")
    jobs = plan_batch(inputs, out_dir="out")
    assert [r.status for r in run_batch(jobs, "box:3", Settings("convolve"))] == ["ok", "ok"]
    left = {p.name: p.read_bytes() for p in (folder / "out").iterdir() if p.name.startswith(".")}
    assert left == theirs


def test_the_clean_up_lists_each_folder_once(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flipconv.core.files.batch import plan_batch
    from flipconv.core.files.workers import run_batch

    inputs = _batch_folder(folder, 30)
    jobs = plan_batch(inputs, out_dir="out", mkdir=True)
    listed: list[str] = []
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path: object = ".") -> object:
        listed.append(os.fspath(path))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    def listdir(path: object = ".") -> object:
        listed.append(os.fspath(path))  # type: ignore[arg-type]
        return real_listdir(path)  # type: ignore[arg-type]

    results = run_batch(jobs, "box:3", Settings("convolve"))
    for result in results:  # the clean-up runs once the last result is taken
        assert result.status == "ok"
        if result.input == inputs[-2]:
            monkeypatch.setattr(os, "scandir", scandir)
            monkeypatch.setattr(os, "listdir", listdir)
    assert listed.count("out") <= 1


# ---------------------------------------------------------------- Zarr stores and folders


@pytest.fixture
def store(folder: Path) -> Path:
    """``in.npy`` filtered into the Zarr store ``in.zarr``, read back as an input."""
    pytest.importorskip("zarr")
    np.save(folder / "in.npy", np.random.default_rng(5).random((40, 36)))
    filter_file_in_tiles("in.npy", "in.zarr", "box:3", Settings("convolve"), chunk=16)
    return folder / "in.zarr"


def test_the_api_refuses_a_zarr_store_as_its_own_output(folder: Path, store: Path) -> None:
    before = snapshot(folder)
    with pytest.raises(OptionError, match="the output 'in.zarr' is the input itself"):
        filter_file_in_tiles("in.zarr", "in.zarr", "box:3", Settings("convolve"), chunk=16)
    with pytest.raises(OptionError, match=r"the output '\./in\.zarr' is the input itself"):
        filter_file_in_tiles("in.zarr", "./in.zarr", "box:3", Settings("convolve"), chunk=16)
    assert snapshot(folder) == before


def test_an_output_inside_an_input_store_is_refused(
    runner: CliRunner, folder: Path, store: Path
) -> None:
    refused(
        runner,
        folder,
        ["convolve", "-k", "box:3", "in.zarr", "-o", "in.zarr/out.tif", "--chunk", "16"],
        "the output 'in.zarr/out.tif' is inside the input 'in.zarr'",
    )


def test_a_folder_that_is_not_a_zarr_store_is_never_replaced(
    runner: CliRunner, folder: Path
) -> None:
    np.save(folder / "in.npy", np.zeros((20, 20)))
    (folder / "mine.zarr").mkdir()
    (folder / "mine.zarr" / "thesis.txt").write_text("years of work")
    refused(
        runner,
        folder,
        ["convolve", "-k", "box:3", "in.npy", "-o", "mine.zarr", "--chunk", "16"],
        "'mine.zarr' is a folder that is not a Zarr store (it holds 'thesis.txt')",
    )
    before = snapshot(folder)
    with pytest.raises(OptionError, match="is a folder that is not a Zarr store"):
        filter_file_in_tiles("in.npy", "mine.zarr", "box:3", Settings("convolve"), chunk=16)
    assert snapshot(folder) == before


def test_a_folder_holding_an_input_is_never_replaced(runner: CliRunner, folder: Path) -> None:
    np.save(folder / "in.npy", np.zeros((20, 20)))
    (folder / "d.zarr").mkdir()
    np.save(folder / "d.zarr" / "in.npy", np.zeros((20, 20)))
    refused(
        runner,
        folder,
        ["convolve", "-k", "box:3", "d.zarr/in.npy", "-o", "d.zarr", "--chunk", "16"],
        "the output 'd.zarr' is a folder that holds the input 'd.zarr/in.npy'",
    )


def test_rerunning_into_a_zarr_store_replaces_the_store(
    runner: CliRunner, folder: Path, store: Path
) -> None:
    import zarr

    np.save(folder / "two.npy", np.full((24, 20), 7.0))
    args = ["convolve", "-k", "identity", "two.npy", "-o", "o.zarr", "--chunk", "16"]
    for _ in range(2):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir("o.zarr")) == ["c", "zarr.json"]  # no o.zarr/two.npy inside
    np.testing.assert_array_equal(zarr.open_array("o.zarr", mode="r")[:], np.full((24, 20), 7.0))
    assert not [p for p in os.listdir(folder) if p.startswith(".")]  # nothing set aside is left


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> object:
    """A 256 KiB file system at ``tmp_path/full`` (a tmpfs; skipped where it cannot be mounted)."""
    disk = tmp_path / "full"
    disk.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(disk)], capture_output=True
        )
    except OSError:
        pytest.skip("no mount command")
    if done.returncode != 0:
        pytest.skip("mounting a tmpfs needs privileges this machine does not give")
    yield disk
    subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".zarr"])
def test_streaming_tiles_onto_a_full_disk_fails_cleanly(
    tmp_path: Path, small_disk: Path, suffix: str
) -> None:
    if suffix == ".zarr":
        pytest.importorskip("zarr")
    np.save(tmp_path / "big.npy", np.random.default_rng(6).random((400, 400)))
    target = small_disk / f"o{suffix}"
    done = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box:3", "big.npy", "-o", str(target), "--chunk", "64"],
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr  # was 135: SIGBUS through a memory map
    assert done.stderr.decode().splitlines() == [
        f"flipconv: error: {target}: cannot write (No space left on device)"
    ]
    assert os.listdir(small_disk) == []  # no hidden temporary file left on the full disk


# ---------------------------------------------------------------- signals


def test_signals_deferred_acts_on_sigterm_after_the_block() -> None:
    import signal

    from flipconv.core.io.atomic import signals_deferred

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(143)

    old = signal.signal(signal.SIGTERM, stop)
    finished = []
    try:
        with pytest.raises(SystemExit):
            with signals_deferred():
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(1000):  # bytecodes run: an undeferred handler would fire here
                    pass
                finished.append(True)
        assert finished == [True]
        assert signal.getsignal(signal.SIGTERM) is stop  # the handler is back
    finally:
        signal.signal(signal.SIGTERM, old)


def test_sigterm_while_streaming_to_zarr_leaves_no_temporary_folder(tmp_path: Path) -> None:
    import signal
    import time

    pytest.importorskip("zarr")
    np.save(tmp_path / "big.npy", np.random.default_rng(7).random((1500, 1500)))
    for delay in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        process = subprocess.Popen(
            [*FLIPCONV, "convolve", "-k", "box:5", "big.npy", "-o", "o.zarr", "--chunk", "128"],
            cwd=tmp_path,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) in (0, 143, -signal.SIGTERM)  # -15: before the handler
        assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []


def test_ctrl_c_inside_an_import_is_an_interruption_not_an_internal_error(
    runner: CliRunner, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flipconv.core.files import pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:  # as Python 3.11 wraps it in a class's set-up
            raise RuntimeError("Error calling __set_name__ on 'cached_property'") from exc

    monkeypatch.setattr(pipeline, "filter_file", interrupted)
    result = runner.invoke(cli, ["convolve", "-k", "box:3", "a.png", "-o", "b.png"])
    assert (result.exit_code, result.stderr) == (130, "flipconv: interrupted\n")


# ---------------------------------------------------------------- stdout and terminals


def _on_a_terminal_only(args: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run with stdout and stderr on a pseudo-terminal that is also the controlling one."""
    import fcntl
    import pty
    import select
    import termios

    master, slave = pty.openpty()

    def take_terminal() -> None:
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
        preexec_fn=take_terminal, pass_fds=(slave,),
    )  # fmt: skip
    os.close(slave)
    shown = b""
    while select.select([master], [], [], 60)[0]:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        shown += data
    os.close(master)
    return proc.wait(timeout=60), shown


@pytest.mark.parametrize("target", ["/dev/tty", "/dev/stdout", "/proc/self/fd/1"])
def test_no_image_bytes_reach_a_terminal_through_a_device_name(folder: Path, target: str) -> None:
    status, shown = _on_a_terminal_only(
        [*FLIPCONV, "convolve", "-k", "box:3", "a.png", "-o", target, "-f", "png"], folder
    )
    assert status == 1, shown
    assert b"refusing to write image bytes to a terminal" in shown
    assert b"PNG" not in shown and len(shown) < 300


@pytest.mark.parametrize("args", [["kernels", "show", "box:3", "--json"], ["presets", "--json"]])
def test_a_json_report_to_a_full_stdout_is_an_error(args: list[str]) -> None:
    with open("/dev/full", "wb") as full:
        done = subprocess.run([*FLIPCONV, *args], stdout=full, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "flipconv: error: stdout: cannot write the JSON report (No space left on device)\n"
    )


def test_json_with_stdout_closed_is_refused_before_any_work(folder: Path) -> None:
    done = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box:3", "a.png", "-o", "b.png", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=folder,
        pass_fds=(),
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 2
    assert "stdout is closed, so --json has nowhere to print" in done.stderr.decode()
    assert not (folder / "b.png").exists()


# ---------------------------------------------------------------- empty arrays


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0, 3), (3, 4, 0)])
def test_empty_arrays_are_refused_by_name_everywhere(shape: tuple[int, ...]) -> None:
    from flipconv.core import verify
    from flipconv.core._shared.errors import FlipconvError
    from flipconv.core.io.writers import encode_image

    import flipconv

    empty = np.zeros(shape, np.uint8)
    calls = [
        lambda: flipconv.correlate(empty, "box:3"),
        lambda: flipconv.convolve(empty, "box:3", channel_axis=0 if len(shape) == 3 else None),
        lambda: flipconv.filter_image(empty, "box:3", operation="convolve"),
        lambda: verify(["box:3"], image=empty),
        lambda: encode_image(empty, "png"),
        lambda: encode_image(empty, "tiff"),
    ]
    for call in calls:
        with pytest.raises(FlipconvError, match=r"empty|cannot write an image of shape"):
            call()


# ---------------------------------------------------------------- probe's messages and paths


def test_a_tools_escape_sequences_never_reach_the_terminal(tmp_path: Path) -> None:
    tool = "printf '\\033[2J\\033]0;pwned\\007\\033[31mboom\\033[0m\\n' >&2; exit 3"
    status, shown = _on_a_terminal_only(
        [*FLIPCONV, "probe", "--", "sh", "-c", tool + " # {in} {out} {kernel}"], tmp_path
    )
    assert status == 1
    assert shown.strip() == b"flipconv: error: the command exited with status 3: boom"


def test_a_tmpdir_holding_a_placeholder_is_left_as_it_is(tmp_path: Path) -> None:
    odd = tmp_path / "x{kernel}y{out}"
    odd.mkdir()
    tool = [
        *FLIPCONV,
        "correlate",
        "-k",
        "{kernel_rows}",
        "--mode",
        "nearest",
        "{in}",
        "-o",
        "{out}",
    ]
    done = subprocess.run(
        [*FLIPCONV, "probe", "--json", "--", *tool],
        capture_output=True,
        env={**os.environ, "TMPDIR": str(odd)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert b'"flipconv correlate' in done.stdout


def test_a_tool_whose_output_changes_size_gets_one_line(tmp_path: Path) -> None:
    from flipconv.core.peers import probe

    calls = [0]

    def shrinking(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        calls[0] += 1
        out = ndi.correlate(image.astype(float), kernel, mode="nearest")
        return out[1:] if calls[0] % 3 == 0 else out  # every third run one row short

    from flipconv.core.peers.probing import ProbeError

    with pytest.raises(ProbeError, match=r"returned a 11x10 image for a 11x11 input"):
        probe(shrinking)


def test_an_oversized_output_is_refused_from_its_header(tmp_path: Path) -> None:
    script = tmp_path / "huge.py"
    script.write_text(
        "import sys, zlib, struct\n"
        "def chunk(kind, data):\n"
        "    body = kind + data\n"
        "    return struct.pack('>I', len(data)) + body + struct.pack('>I', zlib.crc32(body))\n"
        "head = struct.pack('>IIBBBBB', 12000, 12000, 8, 0, 0, 0, 0)\n"
        "open(sys.argv[1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + chunk(b'IHDR', head)"
        " + chunk(b'IEND', b''))\n"
    )
    done = subprocess.run(
        [*FLIPCONV, "probe", "--", sys.executable, str(script), "{out}", "{in}"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.decode() == (
        "flipconv: error: the command wrote a 12000x12000 image, far larger than the "
        "probe's: not read\n"
    )


# ---------------------------------------------------------------- what a probed tool starts


def _running(marker: str) -> list[int]:
    """Processes but flipconv's whose command line holds ``marker`` (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    line = f.read().replace(b"\0", b" ")
                with open(f"/proc/{entry}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if marker.encode() in line and b"flipconv.cli" not in line and state != "Z":
                found.append(int(entry))
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_nothing_a_probed_tool_starts_outlives_the_probe(tmp_path: Path) -> None:
    marker = f"{os.getpid() % 1000 + 41000}"
    tool = f"setsid sleep {marker} & (setsid sleep {marker}.5 &); cp {{in}} {{out}} # {{kernel}}"
    done = subprocess.run(
        [*FLIPCONV, "probe", "--json", "--", "sh", "-c", tool],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    left = _running(f"sleep {marker}")
    for pid in left:
        os.kill(pid, 9)
    assert left == []  # 8-23 were left a probe


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_a_probed_tool_ends_when_flipconv_is_killed(tmp_path: Path) -> None:
    import signal
    import time

    marker = f"time.sleep({os.getpid() % 1000 + 42000})"
    tool = [sys.executable, "-c", f"import time; {marker}", "{in}", "{out}"]
    probe = subprocess.Popen([*FLIPCONV, "probe", "--", *tool], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(marker)
    probe.send_signal(signal.SIGKILL)
    probe.wait()
    deadline = time.monotonic() + 10
    while _running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = _running(marker)
    for pid in left:
        os.kill(pid, 9)
    assert left == []


# ---------------------------------------------------------------- named pipes


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".png"])
def test_a_named_pipe_called_like_an_image_is_read_as_a_stream(tmp_path: Path, suffix: str) -> None:
    import threading

    from flipconv.core.io.writers import encode_image

    pixels = np.random.default_rng(11).integers(0, 256, (9, 13), dtype=np.uint8)
    data = encode_image(pixels, {".tif": "tiff", ".npy": "npy", ".png": "png"}[suffix])
    pipe = tmp_path / f"in{suffix}"
    os.mkfifo(pipe)

    def feed() -> None:
        with open(pipe, "wb") as f:
            f.write(data)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    done = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "identity", str(pipe), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        timeout=60,  # it never returned for .tif and .npy
    )
    assert done.returncode == 0, done.stderr
    from flipconv.core.io.readers import read_image

    np.testing.assert_array_equal(read_image(tmp_path / "o.png").pixels, pixels)


def test_tiles_from_a_named_pipe_say_it_is_a_pipe(tmp_path: Path) -> None:
    pipe = tmp_path / "in.tif"
    os.mkfifo(pipe)
    with pytest.raises(OptionError, match="is a pipe or device; tiles read a file by region"):
        filter_file_in_tiles(str(pipe), str(tmp_path / "o.tif"), "box:3", Settings("convolve"))


# ---------------------------------------------------------------- headers that declare too much


@pytest.mark.parametrize("layout", ["tiled", "planar"])
def test_a_thousand_samples_per_pixel_are_refused_from_the_header(
    tmp_path: Path, layout: str
) -> None:
    import tifffile

    if layout == "tiled":  # 32 MiB of samples in a 40 KB file, tile by tile
        data = np.zeros((256, 128, 1000), np.uint8)
        extra = {"tile": (64, 64), "planarconfig": "contig"}
    else:
        data, extra = np.zeros((1000, 256, 128), np.uint8), {"planarconfig": "separate"}
    tifffile.imwrite(
        tmp_path / "s.tif", data, photometric="minisblack", compression="zlib", **extra
    )
    for stderr in _whole_and_in_tiles(tmp_path, "s.tif", "o.tif"):
        assert stderr == (
            "flipconv: error: s.tif: 1000 channels; flipconv filters gray, gray+alpha, RGB "
            "and RGBA images\n"
        )


def test_an_npy_header_with_a_thousand_channels_is_refused(tmp_path: Path) -> None:
    header = {"descr": "|u1", "fortran_order": False, "shape": (64, 64, 1000)}
    with open(tmp_path / "s.npy", "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(64 * 64 * 1000))
    for stderr in _whole_and_in_tiles(tmp_path, "s.npy", "o.npy"):
        assert "s.npy: 1000 channels" in stderr


def _whole_and_in_tiles(folder: Path, src: str, dst: str) -> list[str]:
    """Filter ``src`` whole and in tiles, each refused (exit 1): their stderr."""
    said = []
    for chunk in ([], ["--chunk", "32"]):
        done = subprocess.run(
            [*FLIPCONV, "convolve", "-k", "box:3", src, "-o", dst, *chunk],
            capture_output=True,
            cwd=folder,
            timeout=60,
        )
        assert done.returncode == 1, done.stderr
        said.append(done.stderr.decode())
    return said


# ---------------------------------------------------------------- output templates


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("{index:99999999999}", "{index:99999999999} is wider than a file name may be (255)"),
        ("{stem.upper}.png", "{stem.upper}: placeholders are plain names"),
        ("{stem[0]}.png", "{stem[0]}: placeholders are plain names"),
        ("{index.real}.png", "{index.real}: placeholders are plain names"),
        ("{index!x}.png", "{index!x}: conversions are not supported"),
        ("{stem!r}.png", "{stem!r}: conversions are not supported"),
        ("{stem:d}.png", "Unknown format code 'd' for object of type 'str'"),
        ("{index:s}.png", "Unknown format code 's' for object of type 'int'"),
        ("{stem:%}.png", "Unknown format code '%'"),
        ("{stem:{stem}}.png", "a spec cannot hold a placeholder"),
        ("{index:0>2000}.png", "is wider than a file name may be"),
        ("/{name}", "is an absolute path"),
        ("sub/{name}", "output folder 'sub' does not exist (--mkdir creates it)"),
        ("{name}/x.png", "output folder 'a.png' does not exist"),
    ],
)
def test_template_mistakes_are_said_before_any_file_is_read(
    runner: CliRunner, folder: Path, template: str, said: str
) -> None:
    refused(
        runner, folder, ["convolve", "-k", "box:3", "a.png", "--output-template", template], said
    )


def test_a_template_folder_is_made_with_mkdir_and_a_long_name_works(
    runner: CliRunner, folder: Path
) -> None:
    result = runner.invoke(
        cli,
        ["convolve", "-k", "box:3", "a.png", "--output-template", "sub/{stem}-b.png", "--mkdir"],
    )
    assert result.exit_code == 0, result.stderr
    assert (folder / "sub" / "a-b.png").is_file()
    longest = "{index:0>250}{name}"  # 255 bytes: the longest name, its temporary name cut
    result = runner.invoke(cli, ["convolve", "-k", "box:3", "a.png", "--output-template", longest])
    assert result.exit_code == 0, result.stderr
    assert (folder / ("0" * 250 + "a.png")).is_file()


# ---------------------------------------------------------------- stopping


def test_a_long_direct_sum_is_cut_into_strips_it_can_stop_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flipconv.core.engine import planner
    from flipconv.core.kernels.specs import parse_kernel_spec

    kernel = parse_kernel_spec("box:41")
    plane = np.zeros((2000, 2000))
    ran: list[int] = []
    real = planner._direct

    def direct(src: np.ndarray, *args: object) -> np.ndarray:
        ran.append(src.shape[0])
        if len(ran) == 3:
            raise KeyboardInterrupt  # as Ctrl-C lands in the waiting thread
        return real(src, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(planner, "_direct", direct)
    with pytest.raises(KeyboardInterrupt):
        planner.correlate_plane(plane, kernel, method="direct", threads=2, backend="scipy")
    # 2000 rows of 1,681 taps: six strips of 333 rows and their 40 halo rows (at
    # least eight halos high), not two halves; the strips not yet started were dropped
    assert max(ran) <= 333 + 41 and len(ran) <= 5


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
def test_ctrl_c_reaching_a_starting_worker_does_not_break_the_batch(tmp_path: Path) -> None:
    import signal
    import time

    pixels = np.random.default_rng(12).integers(0, 256, (60, 80, 3), dtype=np.uint8)
    names = []
    for i in range(12):
        write_image(pixels, tmp_path / f"s{i}.png")
        names.append(f"s{i}.png")
    batch = subprocess.Popen(
        [*FLIPCONV, "convolve", "-k", "gaussian:3", *names, "-o", "out/", "--mkdir", "-j", "2"],
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    )
    hit: set[str] = set()
    deadline = time.monotonic() + 60
    while batch.poll() is None and time.monotonic() < deadline:
        try:  # each worker gets Ctrl-C the moment it appears, while it is still importing
            with open(f"/proc/{batch.pid}/task/{batch.pid}/children") as listing:
                children = listing.read().split()
        except OSError:
            break
        for child in set(children) - hit:
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    worker = b"multiprocessing" in f.read()
                if worker:
                    os.kill(int(child), signal.SIGINT)
            except OSError:
                continue
            hit.add(child)
        time.sleep(0.002)
    _, err = batch.communicate(timeout=120)
    # it was 'internal error: BrokenProcessPool' (or a worker's traceback)
    assert (batch.returncode, err) == (0, b"")
    assert len(os.listdir(tmp_path / "out")) == 12


# ---------------------------------------------------------------- probe's verdicts


SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]) / 4


def _eight_bit(kernel: np.ndarray, mode: str):  # noqa: ANN202
    def tool(image: np.ndarray) -> np.ndarray:  # holds its own kernel, rounds to 8 bits
        out = ndi.correlate(image.astype(float), kernel, mode=mode)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return tool


def test_an_8bit_tools_signed_sharpen_is_measured_as_itself() -> None:
    from flipconv.core.peers import probe

    report = probe(_eight_bit(SHARPEN, "nearest"))
    np.testing.assert_array_equal(np.array(report.kernel), SHARPEN)  # the negatives too
    assert report.scale == 1.0  # an impulse of 1 rounded 1.25 to 1: "scaled by 0.8"
    assert report.border.startswith("nearest")  # it said "zero"
    assert report.reproduction is not None and report.reproduction.max_difference == 0.0
    assert report.exact


def test_a_verdict_never_claims_more_than_its_check_shows() -> None:
    from flipconv.core.peers import probe

    sharpen = _eight_bit(SHARPEN, "nearest")

    def brightened(image: np.ndarray) -> np.ndarray:  # the sharpen, one level moved on top
        out = sharpen(image)
        return np.where(out == 77, 120, out).astype(np.uint8)

    report = probe(brightened)
    assert report.reproduction is not None and report.reproduction.max_difference > 1
    assert not report.exact
    assert any("does not explain every sample" in note for note in report.notes)


# ---------------------------------------------------------------- chains in tiles


def test_a_chain_in_tiles_filters_each_block_once_per_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("zarr")
    from flipconv.core.engine import tiled
    from flipconv.core.engine.filters import filter_image

    image = np.random.default_rng(13).integers(0, 256, (96, 80), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    calls = [0]
    real = tiled._filter_region

    def counted(*args: object, **kwargs: object) -> np.ndarray:
        calls[0] += 1
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tiled, "_filter_region", counted)
    chain = ["box:3", "sobel-x", "gaussian:1", "box:3", "emboss"]
    filter_file_in_tiles(
        str(tmp_path / "in.npy"), str(tmp_path / "o.npy"), chain, Settings("convolve"), chunk=16
    )
    # 6 x 5 blocks, five passes: each block once a pass (the output rows used to
    # compute the earlier passes' blocks again, a square of the chain's length)
    assert calls[0] == 5 * 30
    want = filter_image(image, chain, operation="convolve")
    np.testing.assert_array_equal(np.load(tmp_path / "o.npy"), want)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
