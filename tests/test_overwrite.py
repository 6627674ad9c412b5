"""The input is never replaced unless asked: every spelling of "the same file"."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import OptionError
from flipconv.core.files.pipeline import Settings, filter_file, filter_file_in_tiles
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]

# Each makes, inside the folder, another name for "s1.png" and returns it.
SPELLINGS: dict[str, Callable[[Path], str]] = {
    "as given": lambda d: "s1.png",
    "dot slash": lambda d: "./s1.png",
    "up and back": lambda d: (d / "sub").mkdir() or "sub/../s1.png",
    "absolute": lambda d: str(d / "s1.png"),
    "symlink": lambda d: os.symlink("s1.png", d / "link.png") or "link.png",
    "hard link": lambda d: os.link(d / "s1.png", d / "hard.png") or "hard.png",
}


def _photo(folder: Path) -> bytes:
    pixels = np.random.default_rng(21).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    write_image(pixels, folder / "s1.png")
    return (folder / "s1.png").read_bytes()


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_output_that_is_the_input_is_refused_in_every_spelling(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _photo(tmp_path)
    output = SPELLINGS[spelling](tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    result = runner.invoke(cli, ["convolve", "-k", "gaussian:2", "s1.png", "-o", output])
    assert result.exit_code == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"flipconv: error: the output {output!r} is the input itself"
        + ("" if output == "s1.png" else " ('s1.png')")
        + "; --in-place lets the output replace it"
    ]
    assert (tmp_path / "s1.png").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == names  # no temporary left


@pytest.mark.parametrize("spelling", ["dot slash", "symlink", "hard link"])
def test_in_place_replaces_a_single_input_when_asked(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spelling: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _photo(tmp_path)
    before = read_image(tmp_path / "s1.png").pixels
    output = SPELLINGS[spelling](tmp_path)
    result = runner.invoke(
        cli,
        ["convolve", "-k", "shift:dx=1", "--mode", "wrap", "s1.png", "-o", output, "--in-place"],
    )
    assert result.exit_code == 0, result.stderr
    # the output name now holds the input moved one pixel right
    np.testing.assert_array_equal(read_image(output).pixels, np.roll(before, 1, axis=1))


def test_stdin_redirected_from_the_output_is_refused(tmp_path: Path) -> None:
    before = _photo(tmp_path)
    with open(tmp_path / "s1.png", "rb") as stdin:
        done = subprocess.run(
            [*FLIPCONV, "convolve", "-k", "box:3", "-o", "s1.png"],
            stdin=stdin,
            capture_output=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert done.returncode == 2
    assert b"is the input itself (stdin)" in done.stderr
    assert (tmp_path / "s1.png").read_bytes() == before


def test_the_library_refuses_too_and_in_place_is_a_keyword(tmp_path: Path) -> None:
    before = _photo(tmp_path)
    link = tmp_path / "hard.png"
    os.link(tmp_path / "s1.png", link)
    with pytest.raises(OptionError, match="is the input itself"):
        filter_file(tmp_path / "s1.png", link, "box:3", Settings("convolve"))
    assert (tmp_path / "s1.png").read_bytes() == before
    filter_file(tmp_path / "s1.png", link, "box:3", Settings("convolve"), in_place=True)
    assert (tmp_path / "s1.png").read_bytes() == before  # the rename replaced the link only
    assert link.read_bytes() != before


def test_tiles_refuse_the_input_as_output(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    pixels = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    src = tmp_path / "big.npy"
    np.save(src, pixels)
    before = src.read_bytes()
    os.symlink(src, tmp_path / "same.npy")
    with pytest.raises(OptionError, match="is the input itself"):
        filter_file_in_tiles(
            str(src), str(tmp_path / "same.npy"), "box:3", Settings("convolve"), chunk=32
        )
    assert src.read_bytes() == before


def test_a_batch_output_that_is_a_hard_link_to_its_input_is_refused(
    runner: CliRunner, tmp_path: Path
) -> None:
    before = _photo(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    os.link(tmp_path / "s1.png", out / "s1.png")
    result = runner.invoke(
        cli, ["convolve", "-k", "box", str(tmp_path / "s1.png"), "-o", f"{out}/"]
    )
    assert result.exit_code == 2
    assert "is the input itself; --in-place" in result.stderr
    assert (tmp_path / "s1.png").read_bytes() == before


def test_a_template_without_o_writes_beside_each_input(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, matches_reference
) -> None:
    monkeypatch.chdir(tmp_path)
    before = _photo(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "s2.png").write_bytes(before)
    result = runner.invoke(
        cli,
        [
            "convolve",
            "-k",
            "box:3",
            "s1.png",
            "sub/s2.png",
            "--output-template",
            "{stem}-blur{suffix}",
        ],
    )
    assert result.exit_code == 0, result.stderr
    source = read_image(tmp_path / "s1.png").pixels
    for name in ("s1-blur.png", "sub/s2-blur.png"):
        matches_reference(
            read_image(tmp_path / name).pixels, source, np.full((3, 3), 1 / 9), operation="convolve"
        )
    assert (tmp_path / "s1.png").read_bytes() == before
    # a template that names the input itself is still refused
    same = runner.invoke(cli, ["convolve", "-k", "box:3", "s1.png", "--output-template", "{name}"])
    assert same.exit_code == 2 and "--in-place lets" in same.stderr
    assert (tmp_path / "s1.png").read_bytes() == before
