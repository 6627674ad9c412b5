"""Limits applied on every path, devices and FIFOs, bounded echoes.

One test per class of problem; each would fail on the code before the fix.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from flipconv.core._shared.errors import KernelError
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import encode_image
from flipconv.core.kernels.specs import parse_kernel_spec
from PIL import Image as PILImage

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]


def _peak_kib_of(code: str) -> tuple[int, str]:
    """Run ``code`` in a fresh interpreter; its peak resident memory (KiB) and its stderr."""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    return int(run.stdout.strip() or 0), run.stderr


@pytest.mark.parametrize(
    "spec",
    [
        "gaussian:5000",
        "shift:dx=-5000,dy=5000",
        "motion:3000",
        "Square:3000",
        "Gaussian:5000",
        "log:3000",
        "box:9000",
    ],
)
def test_large_builtin_parameters_are_refused_before_they_allocate(spec: str) -> None:
    code = (
        "import resource\nfrom flipconv.core.kernels.specs import parse_kernel_spec\n"
        f"try:\n    parse_kernel_spec({spec!r})\nexcept Exception as exc:\n"
        "    import sys; print(type(exc).__name__, file=sys.stderr)\n"
        # VmHWM is this process's own peak; ru_maxrss would carry pytest's over the
        # exec (Linux folds the forked parent's resident set into it)
        "import os\nif os.path.exists('/proc/self/status'):\n"
        "    print(next(int(l.split()[1]) for l in open('/proc/self/status') "
        "if l.startswith('VmHWM')))\n"
        "else:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    peak, err = _peak_kib_of(code)
    assert err.strip() == "KernelError"
    assert peak < 300_000, f"{spec} used {peak} KiB before it was refused"


def test_kernel_files_stop_at_the_limit_while_reading(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from flipconv.core.kernels import specs

    monkeypatch.setattr(specs, "MAX_KERNEL_FILE_BYTES", 1 << 16)
    with pytest.raises(KernelError, match="larger than the limit of 65536 bytes"):
        parse_kernel_spec("@/dev/zero")  # reports size 0, never ends
    fifo = tmp_path / "k.fifo"
    os.mkfifo(fifo)

    def endless() -> None:
        try:
            with open(fifo, "wb") as f:
                while True:
                    f.write(b"1 " * 4096)
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=endless, daemon=True)
    writer.start()
    with pytest.raises(KernelError, match="larger than the limit"):
        parse_kernel_spec(f"@{fifo}")
    writer.join(timeout=10)


def test_kernel_errors_name_line_and_column_and_echo_a_short_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "k.txt"
    path.write_text("# weights\n\n1 2 3\n4 " + "x" * 10_000_000 + " 6\n")
    with pytest.raises(KernelError) as caught:
        parse_kernel_spec(f"@{path}")
    message = str(caught.value)
    assert "line 4, column 3" in message and len(message) < 200
    with pytest.raises(KernelError, match=r"row 2, column 3: 'a' is not a number") as caught:
        parse_kernel_spec("1,2;3,a\nb")
    assert "\n" not in str(caught.value)  # the spec's newline is escaped: one line


def test_pillow_bomb_limit_does_not_refuse_what_max_pixels_allows() -> None:
    image = PILImage.new("L", (20, 10))
    buffer = io.BytesIO()
    image.save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    data[18:26] = struct.pack("<ii", 20000, 10000)  # claims 200 MP, over Pillow's 179 MP
    with pytest.raises(Exception, match="truncated") as caught:
        read_image(bytes(data), max_pixels=1_000_000_000)
    assert "header" not in str(caught.value)  # read past the header: not "corrupt header"


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_outputs_to_devices_and_fifos_are_streams(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(encode_image(np.full((8, 9), 7, np.uint8), "png"))
    if kind == "device":  # a private null device: a regression must not replace /dev/null
        import stat

        null = tmp_path / "null"
        try:
            os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making a device node needs root")
        run = subprocess.run(
            [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(null), "-f", "png"],
            capture_output=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert null.is_char_device()
        return
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(fifo), "-f", "png"],
        capture_output=True,
        timeout=60,
    )
    reader.join(timeout=30)
    assert run.returncode == 0, run.stderr
    assert fifo.is_fifo()  # not replaced by a regular file
    assert read_image(received[0]).pixels.tolist() == np.full((8, 9), 7).tolist()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_tiled_outputs_refuse_a_device(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    src = tmp_path / "in.npy"
    np.save(src, np.zeros((40, 40), np.uint8))
    fifo = tmp_path / "out.npy"
    os.mkfifo(fifo)
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(fifo), "--chunk", "16"],
        capture_output=True,
        timeout=60,
        text=True,
    )
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"flipconv: error: {fifo}: is a FIFO, not a file; this output is written in place and "
        "renamed, so it needs a file name"
    ]
    assert fifo.is_fifo()


def test_streamed_outputs_keep_the_mode_of_the_file_they_replace(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    src = tmp_path / "in.npy"
    np.save(src, np.zeros((40, 40), np.uint8))
    os.chmod(src, 0o644)
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(src), "--chunk", "16"]
        + ["--in-place"],
        capture_output=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert src.stat().st_mode & 0o777 == 0o644
    fresh = tmp_path / "new.npy"
    old = os.umask(0o022)
    try:
        subprocess.run(
            [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(fresh), "--chunk", "16"],
            capture_output=True,
            timeout=60,
            check=True,
        )
    finally:
        os.umask(old)
    assert fresh.stat().st_mode & 0o777 == 0o644  # the umask's, not mkstemp's 0600


def _clean_failure(run: subprocess.CompletedProcess, status: int, fragment: str) -> None:  # type: ignore[type-arg]
    err = run.stderr.decode() if isinstance(run.stderr, bytes) else run.stderr
    assert run.returncode == status, err
    lines = err.splitlines()
    assert 1 <= len(lines) <= 2 and "Traceback" not in err and "internal error" not in err, err
    assert fragment in lines[0], err


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("gaussian:1e-308", "must be a number >= 0.01"),  # sigma squared underflowed to 0
        ("gaussian:" + "9" * 400, "sigma='99999999999999999"),  # an excerpt, not 400 digits
        ("box:" + "9" * 5000, "size='9999999999999999999"),
        ("Gaussian:0x1e308", "sigma 1e+308 is over the limit"),
        ("Prewitt:90", "write 'im:Prewitt:90' for ImageMagick's meaning"),
    ],
)
def test_odd_kernel_parameters_are_one_clean_line(tmp_path: Path, spec: str, fragment: str) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(encode_image(np.zeros((6, 7), np.uint8), "png"))
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", spec, str(src), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        timeout=60,
    )
    _clean_failure(run, 2, fragment)
    assert len(run.stderr) < 400
    assert not (tmp_path / "o.png").exists()


def test_weights_near_the_float_limit_follow_ieee_and_clip() -> None:
    from flipconv.core.engine.filters import filter_image

    img = np.zeros((6, 7), dtype=np.uint8)
    img[0, 0] = 9
    out = filter_image(img, "1e308,0;0,1e307", operation="convolve", mode="constant")
    assert out.dtype == np.uint8 and set(np.unique(out)) == {0, 255}  # inf -> 255; 0 stays 0
    with pytest.raises(KernelError, match="overflow float64"):  # their sum is inf: refused
        filter_image(img, "1e308,1e308;1e308,1e308", operation="convolve")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"values": [[1, 1' + "0" * 400 + "]]}", '"values" is not a matrix of numbers'),
        ('{"values": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ],
)
def test_hostile_json_kernels_are_kernel_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "k.json"
    path.write_text(text)
    with pytest.raises(KernelError, match=fragment):
        parse_kernel_spec(f"@{path}")


def test_content_decides_over_the_name_and_odd_arrays_are_refused(tmp_path: Path) -> None:
    pixels = np.arange(20, dtype=np.uint8).reshape(4, 5)
    for name in ("really-a-png.npy", "really-a-png.tif"):
        src = tmp_path / name
        src.write_bytes(encode_image(pixels, "png"))
        run = subprocess.run(
            [*FLIPCONV, "convolve", "-k", "identity", str(src), "-o", str(tmp_path / "o.png")],
            capture_output=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert read_image(tmp_path / "o.png").pixels.tolist() == pixels.tolist()
    flat = tmp_path / "flat.npy"
    np.save(flat, np.arange(10, dtype=np.uint8))
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(flat), "-o", str(tmp_path / "f.npy")],
        capture_output=True,
        timeout=60,
    )
    _clean_failure(run, 1, "is not an image")


def test_stdout_closed_or_full_is_one_clean_line(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    src.write_bytes(encode_image(np.zeros((6, 7), np.uint8), "png"))
    command = " ".join([*FLIPCONV, "convolve", "-k", "box", str(src)])
    closed = subprocess.run(["bash", "-c", f"{command} >&-"], capture_output=True, timeout=60)
    _clean_failure(closed, 2, "stdout is closed: give -o FILE")
    full = subprocess.run(["bash", "-c", f"{command} > /dev/full"], capture_output=True, timeout=60)
    _clean_failure(full, 1, "stdout: cannot write (No space left on device)")


@pytest.mark.parametrize("command", [["verify"], ["explain", "-k", "emboss"]])
def test_reports_to_a_reader_that_is_gone_exit_141(command: list[str]) -> None:
    # the read end is closed before the report is written (| head -c 5 is a race:
    # a short report fits the pipe's buffer and can finish before head closes it)
    read, write = os.pipe()
    os.close(read)
    try:
        run = subprocess.run(
            [*FLIPCONV, *command], stdout=write, stderr=subprocess.PIPE, timeout=120
        )
    finally:
        os.close(write)
    assert run.returncode == 141 and run.stderr == b""


def test_a_newline_in_a_file_name_stays_on_one_line(tmp_path: Path) -> None:
    odd = tmp_path / "two\nlines.png"
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(odd), "-o", str(tmp_path / "o.png")],
        capture_output=True,
        timeout=60,
    )
    _clean_failure(run, 1, "two\\nlines.png")


def test_negative_samples_in_a_plain_pgm_are_refused() -> None:
    with pytest.raises(Exception, match="PNM sample below 0"):
        read_image(b"P2\n2 1\n255\n-1 7\n")


def test_a_dead_worker_does_not_stop_a_keep_going_batch(tmp_path: Path) -> None:
    import multiprocessing
    import signal

    from flipconv.core.files.batch import plan_batch
    from flipconv.core.files.pipeline import Settings
    from flipconv.core.files.workers import run_batch

    good = []
    for i in range(4):
        path = tmp_path / f"g{i}.png"
        path.write_bytes(encode_image(np.full((5, 6), i, np.uint8), "png"))
        good.append(str(path))
    stuck = tmp_path / "stuck.png"
    os.mkfifo(stuck)  # opening it blocks its worker for ever: we kill that worker, twice
    out = tmp_path / "out"
    jobs = plan_batch([str(stuck), *good], out_dir=str(out), mkdir=True)
    results = run_batch(jobs, "box", Settings("convolve"), workers=2, keep_going=True)
    seen = [next(results) for _ in good]  # the good files go through the other worker
    assert all(r.status == "ok" for r in seen)
    stop = threading.Event()

    def killer() -> None:
        while not stop.wait(0.3):
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        last = next(results)
    finally:
        stop.set()
        thread.join()
    assert last.status == "error" and "died twice" in (last.error or "")
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(g).name for g in good)


def _png_bomb(path: Path, side: int) -> None:
    """A valid gray PNG of side x side zeros: a few hundred KB that decode to side^2 bytes."""
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = zlib.compress(b"\x00" * (side + 1) * side, 9)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("command", [["convolve", "-k", "box"], ["verify", "--image"]])
def test_memory_limit_is_applied_from_the_header_before_decoding(
    tmp_path: Path, command: list[str]
) -> None:
    bomb = tmp_path / "bomb.png"
    _png_bomb(bomb, 12000)  # 144 MP: decoding alone would take 144 MB
    out = ["-o", str(tmp_path / "o.png")] if command[0] == "convolve" else []
    argv = [*FLIPCONV, *command, str(bomb), *out, "--memory-limit", "64MiB"]
    code = (
        "import resource, subprocess, sys\n"
        f"run = subprocess.run({argv!r}, capture_output=True, text=True)\n"
        "sys.stderr.write(run.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    peak, err = _peak_kib_of(code)
    assert "needs about" in err and "over the limit of 64.0 MiB" in err, err
    assert peak < 120_000, f"peaked at {peak} KiB before refusing"


def test_tiles_are_bounded_by_max_pixels_before_the_first_tile(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    src = tmp_path / "big.npy"
    np.save(src, np.zeros((1200, 1000), np.uint8))
    run = subprocess.run(
        [
            *FLIPCONV,
            "convolve",
            "-k",
            "box",
            str(src),
            "-o",
            str(tmp_path / "o.npy"),
            "--chunk",
            "256",
            "--max-pixels",
            "1000000",
        ],
        capture_output=True,
        timeout=60,
    )
    _clean_failure(run, 1, "1000x1200 is 1,200,000 pixels, over the limit of 1,000,000")
    assert not (tmp_path / "o.npy").exists()


def test_a_truncated_tile_is_one_clean_line(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    tifffile = pytest.importorskip("tifffile")
    src = tmp_path / "tiled.tif"
    pixels = np.random.default_rng(2).integers(0, 256, (256, 256), dtype=np.uint8)
    tifffile.imwrite(src, pixels, tile=(64, 64), compression="zlib")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) * 2 // 3])  # the last tiles are cut off
    out = tmp_path / "o.tif"
    run = subprocess.run(
        [*FLIPCONV, "convolve", "-k", "box", str(src), "-o", str(out), "--chunk", "64"],
        capture_output=True,
        timeout=120,
    )
    _clean_failure(run, 1, "a tile cannot be read")
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
