"""The verify picture and kernel pictures hold the real results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.lessons.render import NEUTRAL, PANEL, Layout, signed_colours

WHITE = (255, 255, 255)
SPECS = ["gaussian:1.5", "box:5", "sobel-x", "emboss", "motion:9,30"]


def panel(sheet: np.ndarray, rows: int, row: int, column: int) -> np.ndarray:
    left, top, right, bottom = Layout(rows).panel_box(row, column)
    return sheet[top:bottom, left:right]


def colours(area: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in c) for c in area.reshape(-1, 3)}


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    path = tmp_path_factory.mktemp("pic") / "v.png"
    args = ["verify", "--picture", str(path)]
    for spec in SPECS:
        args += ["-k", spec]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return read_image(path).pixels


def test_sheet_size_follows_the_layout(sheet: np.ndarray) -> None:
    width, height = Layout(len(SPECS)).size
    assert sheet.shape == (height, width, 3)
    assert PANEL >= 128


@pytest.mark.parametrize("row", [0, 1])  # gaussian, box
def test_symmetric_kernels_give_a_flat_difference_panel(sheet: np.ndarray, row: int) -> None:
    assert colours(panel(sheet, len(SPECS), row, 3)) <= {NEUTRAL, WHITE}
    # ...while their result panels hold a real picture
    assert len(colours(panel(sheet, len(SPECS), row, 1))) > 50


@pytest.mark.parametrize("row", [3, 4])  # emboss, motion
def test_asymmetric_kernels_give_a_visible_difference(sheet: np.ndarray, row: int) -> None:
    diff = panel(sheet, len(SPECS), row, 3).astype(int)
    far_from_neutral = np.abs(diff - np.array(NEUTRAL)).sum(axis=2) > 60
    assert far_from_neutral.sum() > 100


def test_sobel_panels_are_negated_colours(sheet: np.ndarray) -> None:
    conv = panel(sheet, len(SPECS), 2, 1).astype(int)
    corr = panel(sheet, len(SPECS), 2, 2).astype(int)

    def red(a: np.ndarray) -> np.ndarray:
        return (a[..., 0] - a[..., 2]) > 60

    def blue(a: np.ndarray) -> np.ndarray:
        return (a[..., 2] - a[..., 0]) > 60

    assert red(conv).sum() > 50 and blue(conv).sum() > 50
    np.testing.assert_array_equal(red(conv), blue(corr))
    np.testing.assert_array_equal(blue(conv), red(corr))


def test_convolve_panel_of_an_impulse_shows_the_kernel_orientation(tmp_path: Path) -> None:
    image = np.zeros((32, 32), np.uint8)
    image[16, 16] = 255
    write_image(image, tmp_path / "dot.png")
    out = tmp_path / "v.png"
    # one weight, right of and below the origin: convolve puts the dot there
    result = CliRunner().invoke(
        cli,
        [
            "verify",
            "-k",
            "0,0,0;0,0,0;0,0,1",
            "--mode",
            "constant",
            "--image",
            str(tmp_path / "dot.png"),
            "--picture",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    sheet = read_image(out).pixels
    factor = PANEL // 32

    def brightest(column: int) -> tuple[int, int]:
        area = panel(sheet, 1, 0, column).astype(int).sum(axis=2)
        r, c = np.unravel_index(int(area.argmax()), area.shape)
        return r // factor, c // factor

    assert brightest(1) == (17, 17)  # convolve: the kernel as written
    assert brightest(2) == (15, 15)  # correlate: rotated, up and left
    # the kernel panel marks its origin (the centre cell) with a black box
    kernel_area = panel(sheet, 1, 0, 0)
    assert (kernel_area == 0).all(axis=2).sum() > 0


def test_large_images_are_downscaled_and_labelled(tmp_path: Path) -> None:
    from flipconv.core.lessons.verification import picture_input, verify_picture

    big = np.random.default_rng(0).random((500, 700))
    small, note = picture_input(big, PANEL)
    assert small.shape == (500 // 5, 700 // 5) and note == "downscaled 1/5 from 700x500"
    assert small[0, 0] == pytest.approx(big[:5, :5].mean())
    from flipconv.core.kernels.specs import parse_kernel_spec

    sheet = verify_picture([parse_kernel_spec("box")], big, source="big.png")
    assert sheet.shape[2] == 3


def test_one_to_twenty_kernels_lay_out_sensibly() -> None:
    for rows in (1, 20):
        width, height = Layout(rows).size
        assert width < 800
        assert Layout(rows).panel_box(rows - 1, 3)[3] < height
    boxes = [Layout(3).panel_box(r, c) for r in range(3) for c in range(4)]
    for i, a in enumerate(boxes):  # no two panels overlap
        for b in boxes[i + 1 :]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_signed_colours_are_symmetric_about_neutral() -> None:
    values = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    rgb = signed_colours(values, 2.0)
    assert tuple(rgb[2]) == NEUTRAL
    assert rgb[0].tolist() == [33, 84, 170] and rgb[4].tolist() == [190, 30, 40]


def test_kernel_picture(tmp_path: Path) -> None:
    out = tmp_path / "k.png"
    result = CliRunner().invoke(cli, ["kernels", "show", "emboss", "--picture", str(out)])
    assert result.exit_code == 0
    assert "emboss" in result.stdout  # the usual text report still comes
    image = read_image(out).pixels
    assert image.ndim == 3 and image.shape[0] >= PANEL
    found = colours(image)
    assert tuple(signed_colours(np.array([2.0]), 2.0)[0]) in found  # the +2 cell
    assert tuple(signed_colours(np.array([-2.0]), 2.0)[0]) in found  # the -2 cell


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["verify", "-k", "box", "--picture", "v.jpg"], "end the name in .png"),
        (["verify", "-k", "box", "--picture", "-"], "not stdout"),
        (["verify", "-k", "box", "--picture", "missing/v.png"], "does not exist"),
        (["kernels", "show", "box", "--picture", "missing/k.png"], "does not exist"),
    ],
)
def test_bad_picture_paths_get_a_clean_error(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code in (1, 2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []
