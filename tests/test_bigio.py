"""Streaming: read by region, write block by block, and the command's tiled path.

Dask schedulers and clusters: core/files/scheduler.py.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

da = pytest.importorskip("dask.array")
tifffile = pytest.importorskip("tifffile")
zarr = pytest.importorskip("zarr")

from flipconv.cli.main import cli  # noqa: E402
from flipconv.core._shared.errors import OptionError  # noqa: E402
from flipconv.core.engine.filters import filter_image  # noqa: E402
from flipconv.core.io.bigio import open_lazy, probe_shape  # noqa: E402
from flipconv.core.io.bigwrite import choose_chunk, write_streaming  # noqa: E402
from flipconv.core.io.readers import read_image  # noqa: E402
from flipconv.core.kernels.specs import parse_kernel_spec  # noqa: E402
from processes import with_default_sigint  # noqa: E402

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    rng = np.random.default_rng(11)
    return rng.integers(0, 256, (150, 210, 3), dtype=np.uint8)


def _sources(folder: Path, pixels: np.ndarray) -> dict[str, Path]:
    paths = {
        "tiled": folder / "tiled.tif",
        "striped": folder / "striped.tif",
        "plain": folder / "plain.tif",
        "npy": folder / "a.npy",
        "zarr": folder / "a.zarr",
    }
    tifffile.imwrite(paths["tiled"], pixels, tile=(32, 48), compression="zlib", photometric="rgb")
    tifffile.imwrite(
        paths["striped"], pixels, rowsperstrip=7, compression="zlib", photometric="rgb"
    )
    tifffile.imwrite(paths["plain"], pixels, photometric="rgb")
    np.save(paths["npy"], pixels)
    z = zarr.create_array(
        str(paths["zarr"]), shape=pixels.shape, chunks=(40, 40, 3), dtype=pixels.dtype
    )
    z[:] = pixels
    return paths


@pytest.mark.parametrize("kind", ["tiled", "striped", "plain", "npy", "zarr"])
def test_lazy_reads_equal_the_file(tmp_path: Path, picture: np.ndarray, kind: str) -> None:
    path = _sources(tmp_path, picture)[kind]
    lazy = open_lazy(str(path), 64)
    assert lazy.chunks[0][0] == 64
    np.testing.assert_array_equal(lazy.compute(), picture)
    np.testing.assert_array_equal(lazy[37:101, 5:199].compute(), picture[37:101, 5:199])


def test_graphs_hold_paths_not_open_files(tmp_path: Path, picture: np.ndarray) -> None:
    import pickle

    lazy = open_lazy(str(_sources(tmp_path, picture)["tiled"]), 64)
    graph = dict(lazy.__dask_graph__())
    assert len(pickle.dumps(graph)) < 20_000  # no pixels, no file handles


def test_formats_that_cannot_be_read_in_parts_are_refused(tmp_path: Path) -> None:
    one_strip = tmp_path / "one.tif"
    tifffile.imwrite(one_strip, np.zeros((50, 50), np.uint8), compression="zlib", rowsperstrip=50)
    assert probe_shape(str(one_strip)) is None
    with pytest.raises(OptionError, match="cannot be read in parts.*tiled TIFF"):
        open_lazy(str(one_strip), 32)
    png = tmp_path / "a.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(OptionError, match="vips tiffsave"):
        open_lazy(str(png), 32)


@pytest.mark.parametrize("suffix", [".tif", ".npy", ".zarr"])
def test_streamed_writes_round_trip(tmp_path: Path, picture: np.ndarray, suffix: str) -> None:
    import dask

    lazy = da.from_array(picture, chunks=(48, 64, 3))
    seen = []
    out = tmp_path / f"out{suffix}"
    write_streaming(
        lazy,
        str(out),
        compute=lambda *d: dask.compute(*d, scheduler="threads"),
        progress=lambda done, total: seen.append((done, total)),
    )
    if suffix == ".zarr":
        back = zarr.open_array(str(out), mode="r")[:]
    else:
        back = read_image(out).pixels
    np.testing.assert_array_equal(back, picture)
    assert seen[-1] == (16, 16) and len(seen) == 4  # rows of blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]
    if suffix == ".tif":
        with tifffile.TiffFile(out) as tif:
            assert tif.is_bigtiff and tif.pages[0].is_tiled


def test_a_failing_block_leaves_no_file(tmp_path: Path, picture: np.ndarray) -> None:
    import dask

    def broken(block: np.ndarray) -> np.ndarray:
        if block[0, 0, 0] >= 0 and block.shape[0] < 48:  # the last row of blocks
            raise RuntimeError("disk on fire")
        return block

    lazy = da.from_array(picture, chunks=(48, 64, 3)).map_blocks(broken, dtype=picture.dtype)
    for suffix in (".tif", ".npy", ".zarr"):
        with pytest.raises(RuntimeError, match="disk on fire"):
            write_streaming(
                lazy,
                str(tmp_path / f"out{suffix}"),
                compute=lambda *d: dask.compute(*d, scheduler="threads"),
            )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_an_interrupted_stream_stops_its_tile_threads_before_the_error_leaves(
    tmp_path: Path, suffix: str
) -> None:
    # Ctrl-C between rows: the threads filtering blocks must be gone by the
    # time the interrupt leaves the writer, not when the garbage collector
    # happens to finalize the abandoned rows. Collected in a worker thread,
    # their pool's shutdown joined that worker's own pool: the process hung
    # at exit (seen with the quick exit's reference cycle).
    import threading

    from flipconv.core.engine.local_tiles import filter_tiles
    from flipconv.core.engine.settings import Finish

    pixels = np.random.default_rng(6).integers(0, 256, (256, 256), dtype=np.uint8)
    tiles = filter_tiles(pixels, parse_kernel_spec("gaussian:1"), operation="correlate",
                         finish=Finish(np.dtype(np.uint8)), chunks=32)  # fmt: skip

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:
        write_streaming(tiles, str(tmp_path / f"out{suffix}"), progress=interrupt, threads=2)
    assert caught.traceback  # the frames (and whatever they hold) are still alive here
    assert [t.name for t in threading.enumerate() if t.name.startswith("tiles")] == []
    assert list(tmp_path.iterdir()) == []


def test_chunk_size_follows_the_memory_limit() -> None:
    gib = 1 << 30
    big = choose_chunk((32768, 32768), gib, threads=2, reach=8, out_bytes=1, in_bytes=1)
    assert big % 16 == 0 and 256 <= big <= 2048
    small = choose_chunk((32768, 32768), 64 << 20, threads=2, reach=8, out_bytes=1, in_bytes=1)
    assert small < big
    assert choose_chunk((40, 30), gib, threads=2, reach=8, out_bytes=1, in_bytes=1) == 48


def test_tiles_run_here_take_blocks_that_do_not_grow_with_the_width() -> None:
    gib = 1 << 30
    here = {
        side: choose_chunk((side, side), gib, 2, reach=8, out_bytes=1, in_bytes=1, rows_held=False)
        for side in (16384, 32768, 262144)
    }
    assert set(here.values()) == {1024}, here
    dask = choose_chunk((262144, 262144), gib, 2, reach=8, out_bytes=1, in_bytes=1)
    assert dask < here[262144]  # two rows of 262144-pixel blocks must fit there
    far = choose_chunk((32768, 32768), 4 * gib, 2, 300, out_bytes=1, in_bytes=1, rows_held=False)
    assert far > 1024  # a kernel that reaches far gets larger blocks: its halos stay a small share


# ---------------------------------------------------------------- the command


def test_chunk_option_gives_the_in_memory_result(tmp_path: Path, picture: np.ndarray) -> None:
    src = _sources(tmp_path, picture)["striped"]
    runner = CliRunner()
    for kernel in ("gaussian:2", "emboss", "1,2;3,4"):
        for op in ("convolve", "correlate"):
            tiled = tmp_path / f"t-{op}.tif"
            result = runner.invoke(
                cli,
                [
                    op,
                    "-k",
                    kernel,
                    str(src),
                    "-o",
                    str(tiled),
                    "--chunk",
                    "32",
                    "--mode",
                    "wrap",
                    "--json",
                ],
            )
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["chunk"] == 32
            expected = filter_image(
                picture, parse_kernel_spec(kernel), operation=op, mode="wrap", method="direct"
            )
            np.testing.assert_array_equal(read_image(tiled).pixels, expected)


def test_memory_limit_switches_to_tiles_and_says_so(
    tmp_path: Path, picture: np.ndarray, matches_reference
) -> None:
    src = _sources(tmp_path, picture)["tiled"]
    result = CliRunner().invoke(
        cli,
        [
            "convolve",
            "-k",
            "box:5",
            str(src),
            "-o",
            str(tmp_path / "o.npy"),
            "--memory-limit",
            "1MiB",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "filtering it in tiles" in result.stderr
    matches_reference(
        np.load(tmp_path / "o.npy"), picture, np.full((5, 5), 1 / 25), operation="convolve"
    )
    quiet = CliRunner().invoke(
        cli,
        [
            "convolve",
            "-k",
            "box:5",
            str(src),
            "-o",
            str(tmp_path / "q.npy"),
            "--memory-limit",
            "1MiB",
            "-q",
        ],
    )
    assert quiet.exit_code == 0 and quiet.stderr == ""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "-"], "-o FILE"),
        (["-o", "x.png"], "streamed output must be .tif, .npy or .zarr"),
        (["-o", "x.tif", "--out-range", "rescale"], "rescale needs the whole image"),
    ],
)
def test_streaming_refusals(
    tmp_path: Path,
    picture: np.ndarray,
    extra: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = _sources(tmp_path, picture)["npy"]
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["convolve", "-k", "box", str(src), "--chunk", "32", *extra])
    assert result.exit_code in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("extra", "needs_dask"),
    [([], False), (["--scheduler", "synchronous"], False), (["--scheduler", "processes"], True)],
)
def test_tiles_run_here_without_dask_and_only_processes_need_it(
    tmp_path: Path, picture: np.ndarray, extra: list[str], needs_dask: bool
) -> None:
    src = _sources(tmp_path, picture)["tiled"]
    code = (
        "import sys\nfor m in ('dask', 'dask.array', 'distributed', 'zarr'):\n"
        "    sys.modules[m] = None\nfrom flipconv.cli.main import main\nmain()"
    )
    out = tmp_path / "o.tif"
    run = subprocess.run(
        [sys.executable, "-c", code, "convolve", "-k", "gaussian:1.5", str(src), "-o", str(out),
         "--chunk", "32", *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    if needs_dask:
        assert run.returncode == 2
        assert "flipconv[dask]" in run.stderr and "Traceback" not in run.stderr
        assert not out.exists()
        return
    assert run.returncode == 0, run.stderr
    want = filter_image(picture, "gaussian:1.5", operation="convolve")
    np.testing.assert_array_equal(read_image(out).pixels, want)


@pytest.mark.parametrize("compression", [None, "zlib"])  # (LZW needs imagecodecs)
@pytest.mark.parametrize("layout", ["tiles", "strips"])
@pytest.mark.parametrize("channels", [None, 2, 3, 4])
@pytest.mark.parametrize("dtype", [">u2", "<u2", "u1", ">f4"])
def test_tiff_regions_are_read_by_segment_as_stored(
    tmp_path: Path, compression: str | None, layout: str, channels: int | None, dtype: str
) -> None:
    """A window holds the samples as stored, whatever the layout, compression,
    sample type and byte order."""
    from flipconv.core.io.bigio import open_region

    rng = np.random.default_rng(len(layout) + (channels or 1))
    shape = (83, 101) if channels is None else (83, 101, channels)
    pixels = (rng.random(shape) * 65535).astype(dtype)
    path = tmp_path / "a.tif"
    where = {"tile": (32, 48)} if layout == "tiles" else {"rowsperstrip": 7}
    predictor = {"predictor": True} if compression and "f" not in dtype else {}
    photometric = "rgb" if channels in (3, 4) else "minisblack"
    alpha = {"extrasamples": ["unassalpha"]} if channels == 2 else {}
    tifffile.imwrite(path, pixels, compression=compression, photometric=photometric,
                     planarconfig="contig", byteorder=">" if ">" in dtype else "<",
                     **where, **predictor, **alpha)  # fmt: skip
    reader = open_region(str(path))
    assert type(reader._open()).__name__ == "_TiffSegments"  # tifffile alone, not zarr
    for _ in range(12):
        r0, c0 = (int(v) for v in rng.integers(0, (83, 101)))
        r1, c1 = (int(v) for v in rng.integers((r0 + 1, c0 + 1), (84, 102)))
        np.testing.assert_array_equal(reader[r0:r1, c0:c1], pixels[r0:r1, c0:c1])
    np.testing.assert_array_equal(reader[::2, 5], pixels[::2, 5])  # not a window: numpy's indexing
    if channels:
        np.testing.assert_array_equal(reader[3:9, 4:7, 1:], pixels[3:9, 4:7, 1:])


def test_a_cut_tiff_tile_is_one_clean_error(tmp_path: Path, picture: np.ndarray) -> None:
    from flipconv.core._shared.errors import ImageReadError
    from flipconv.core.io.bigio import open_region

    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, picture, tile=(32, 48), photometric="rgb")
    data = path.read_bytes()
    with tifffile.TiffFile(path) as tif:
        last = tif.pages[0].dataoffsets[-1]
    path.write_bytes(data[: last + 10])  # the last tile cut short
    reader = open_region(str(path))
    np.testing.assert_array_equal(reader[0:32, 0:48], picture[0:32, 0:48])
    with pytest.raises(ImageReadError, match="a tile cannot be read"):
        reader[140:150, 200:210]


def test_in_memory_runs_never_import_dask(tmp_path: Path, samples: Path) -> None:
    code = (
        "import sys\nfrom flipconv.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n"
        "    pass\nprint([m for m in ('dask', 'distributed', 'zarr') if m in sys.modules])"
    )
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "convolve",
            "-k",
            "box",
            str(samples / "scene.png"),
            "-o",
            str(tmp_path / "o.tif"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.stdout.strip() == "[]", run.stderr


def test_streaming_shows_tile_progress_on_a_terminal_only(
    tmp_path: Path, picture: np.ndarray, on_a_terminal
) -> None:  # type: ignore[no-untyped-def]
    src = _sources(tmp_path, picture)["npy"]
    args = [*FLIPCONV, "convolve", "-k", "box", str(src), "--chunk", "48"]
    status, shown = on_a_terminal([*args, "-o", "tty.npy"], tmp_path)
    assert status == 0 and "tiles" in shown and "20/20" in shown  # 4 x 5 tiles
    piped = subprocess.run(
        [*args, "-o", str(tmp_path / "pipe.npy")], capture_output=True, timeout=120
    )
    assert piped.returncode == 0 and piped.stderr == b""


def test_ctrl_c_while_streaming_leaves_no_file(tmp_path: Path) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.random.default_rng(0).integers(0, 256, (3000, 3000), dtype=np.uint8))
    out = tmp_path / "out.tif"
    proc = subprocess.Popen(
        [
            *FLIPCONV,
            "convolve",
            "-k",
            "gaussian:6",
            str(big),
            "-o",
            str(out),
            "--chunk",
            "256",
            "--method",
            "direct",
        ],
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=with_default_sigint,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        p.name.endswith(".tmp") for p in tmp_path.iterdir()
    ):
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.npy"]


# ---------------------------------------------------------------- a loopback cluster


def _scheduler_address(info: Path, scheduler: subprocess.Popen[bytes], deadline: float) -> str:
    """The scheduler's address, once its file is whole.

    The scheduler creates the file before it writes it, so a file that
    exists may still be empty or half written: poll until it parses.
    """
    while time.monotonic() < deadline and scheduler.poll() is None:
        try:
            return str(json.loads(info.read_text())["address"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    pytest.fail(f"the dask scheduler wrote no address to {info}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    dask_cli = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    if not Path(dask_cli).exists():
        pytest.skip("the dask command is not installed")
    folder = tmp_path_factory.mktemp("cluster")
    info = folder / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__LOGGING__DISTRIBUTED": "error"}
    scheduler = subprocess.Popen(
        [
            dask_cli,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(info),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    workers = None
    try:
        address = _scheduler_address(info, scheduler, deadline=time.monotonic() + 60)
        workers = subprocess.Popen(
            [
                dask_cli,
                "worker",
                "--scheduler-file",
                str(info),
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in (workers, scheduler):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_a_big_image_through_the_cluster_equals_local(
    cluster: str, tmp_path: Path, picture: np.ndarray
) -> None:
    src = _sources(tmp_path, picture)["tiled"]
    local, remote = tmp_path / "local.tif", tmp_path / "remote.tif"
    for out, extra in ((local, []), (remote, ["--scheduler", cluster])):
        run = subprocess.run(
            [
                *FLIPCONV,
                "correlate",
                "-k",
                "motion:7,30",
                str(src),
                "-o",
                str(out),
                "--chunk",
                "48",
                "--method",
                "direct",
                *extra,
            ],
            capture_output=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
    assert read_image(local).pixels.tobytes() == read_image(remote).pixels.tobytes()


def test_a_worker_killed_mid_batch_changes_nothing(cluster: str, tmp_path: Path) -> None:
    from distributed import Client
    from flipconv.core.io.writers import write_image

    rng = np.random.default_rng(5)
    inputs = []
    for i in range(60):
        path = tmp_path / "in" / f"f{i:02d}.png"
        path.parent.mkdir(exist_ok=True)
        write_image(rng.integers(0, 256, (200, 260, 3), dtype=np.uint8), path)
        inputs.append(str(path))
    with Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            *FLIPCONV,
            "convolve",
            "-k",
            "gaussian:4",
            *inputs,
            "-o",
            f"{out}/",
            "--mkdir",
            "--scheduler",
            cluster,
        ],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 10:
        time.sleep(0.02)
    os.kill(pids[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    reference = tmp_path / "ref"
    local = subprocess.run(
        [
            *FLIPCONV,
            "convolve",
            "-k",
            "gaussian:4",
            *inputs,
            "-o",
            f"{reference}/",
            "--mkdir",
            "-j1",
        ],
        capture_output=True,
        timeout=300,
    )
    assert local.returncode == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in reference.iterdir())
    for path in reference.iterdir():  # every output correct, and no temporary file
        assert (out / path.name).read_bytes() == path.read_bytes()


def test_a_side_narrower_than_the_chunk_is_one_padded_tiff_tile(tmp_path: Path) -> None:
    """70 pixels wide, one block: before, 'TIFF tiles must be multiples of 16, not 70x64'."""
    import tifffile
    from click.testing import CliRunner
    from flipconv.cli.main import cli

    image = np.random.default_rng(3).integers(0, 256, (64, 70), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image)
    args = ["correlate", "-k", "identity", str(tmp_path / "in.tif"), "-o", str(tmp_path / "o.tif")]
    result = CliRunner().invoke(cli, [*args, "--chunk", "1024"])
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "o.tif"), image)
