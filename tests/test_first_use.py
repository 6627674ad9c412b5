"""First use: what a new user types, and what they should get."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image


@pytest.fixture
def photo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    write_image(np.random.default_rng(1).integers(0, 256, (8, 9, 3), dtype=np.uint8), "a.png")
    write_image(np.random.default_rng(2).integers(0, 256, (8, 9, 3), dtype=np.uint8), "b.png")
    return tmp_path


def test_one_output_file_for_several_inputs_is_never_made_a_folder(photo: Path) -> None:
    for extra in ([], ["--mkdir"]):
        result = CliRunner().invoke(
            cli, ["convolve", "-k", "box:3", "a.png", "b.png", "-o", "one.png", *extra]
        )
        assert result.exit_code == 2
        assert "'one.png' names one file, and several inputs write one file each" in result.stderr
        assert not (photo / "one.png").exists()  # --mkdir made a folder of that name


def test_mkdir_makes_a_single_outputs_folder(photo: Path) -> None:
    result = CliRunner().invoke(
        cli, ["convolve", "-k", "box:3", "a.png", "-o", "new/deeper/out.png", "--mkdir"]
    )
    assert result.exit_code == 0, result.stderr
    assert read_image(photo / "new" / "deeper" / "out.png").pixels.shape == (8, 9, 3)


@pytest.mark.parametrize(
    ("alias", "magic"), [("jpg", b"\xff\xd8"), ("tif", b"II"), ("JPG", b"\xff\xd8")]
)
def test_format_names_as_extensions_spell_them(photo: Path, alias: str, magic: bytes) -> None:
    result = CliRunner().invoke(cli, ["convolve", "-k", "box:3", "a.png", "-f", alias])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(magic)


def test_a_misspelt_kernel_suggests_the_name_people_mean(photo: Path) -> None:
    result = CliRunner().invoke(cli, ["convolve", "-k", "sobell", "a.png", "-o", "o.png"])
    assert result.exit_code == 2
    assert "did you mean sobel or " in result.stderr


def test_a_small_batch_runs_in_this_process_and_a_large_one_on_every_core(
    tmp_path: Path,
) -> None:
    from flipconv.core.files.run import SMALL_BATCH_BYTES, choose_workers

    small = [str(tmp_path / f"s{i}.png") for i in range(50)]
    for name in small:
        Path(name).write_bytes(bytes(30_000))  # 50 small PNGs: 1.5 MB
    assert choose_workers(small, 4) == 1  # two workers took 2.1x -j 1's time on 20 such
    large = [str(tmp_path / f"l{i}.tif") for i in range(3)]
    for name in large:
        with open(name, "wb") as f:
            f.truncate(SMALL_BATCH_BYTES // 2)
    assert choose_workers(large, 4) == 3  # one per file, at most one per core
    assert choose_workers([*large, *small], 2) == 2
