"""`flipconv diff` (core/peers/diffing.py): what turned BEFORE into AFTER, from files alone.

Each AFTER is made by the real tool or library; the verdict is checked against
what that tool is documented to do, and the command against AFTER itself.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.ndimage as ndi
from click.testing import CliRunner
from external import require_tool
from flipconv.cli.main import cli
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image

RNG = np.random.default_rng(21)
BEFORE = RNG.integers(0, 256, (40, 47)).astype(np.uint8)
K3 = np.array([[1.0, 2, 0], [0, 4, 1], [3, 0, 1]])  # asymmetric: every turn differs
K4 = np.array([[1.0, 0, 2, 0], [0, 3, 0, 1], [2, 0, 0, 1], [0, 1, 1, 0]])


def _rows(kernel: np.ndarray) -> str:
    return ";".join(",".join(repr(float(v)) for v in row) for row in kernel)


def _diff(tmp: Path, after: np.ndarray, kernel: np.ndarray | None, *extra: str) -> Any:
    write_image(BEFORE, tmp / "before.png")
    write_image(after, tmp / "after.png")
    args = ["diff", str(tmp / "before.png"), str(tmp / "after.png"), "--json", *extra]
    if kernel is not None:
        args += ["-k", _rows(kernel)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _reproduces(tmp: Path, report: dict[str, Any], after: np.ndarray) -> np.ndarray:
    """The reported command, run as printed; its output's distance from AFTER."""
    words = shlex.split(report["command"])
    result = CliRunner().invoke(cli, words[1:])
    assert result.exit_code == 0, result.stderr
    out = read_image(words[-1]).pixels
    return np.abs(out.astype(int) - after.astype(int))


def _u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def test_cv2_filter2d_is_a_correlation_with_a_mirror_border(tmp_path: Path) -> None:
    import cv2

    after = cv2.filter2D(BEFORE, -1, K3 / 12)
    report = _diff(tmp_path, after, K3)
    assert report["operation"] == "correlation" and report["origin"] == [1, 1]
    assert report["border"] == "mirror" and report["normalized"]
    # OpenCV's 8-bit filter2D sums in float32: sums over 12 that end in .5 go either way
    assert _reproduces(tmp_path, report, after).max() <= 1


def test_scipy_ndimage_convolve_is_a_convolution(tmp_path: Path) -> None:
    after = _u8(ndi.convolve(BEFORE.astype(float), K3 / 12, mode="reflect"))
    report = _diff(tmp_path, after, K3)
    assert report["operation"] == "convolution" and report["border"] == "reflect"
    assert _reproduces(tmp_path, report, after).max() == 0


def test_scipy_signal_convolve2d_with_an_even_kernel(tmp_path: Path) -> None:
    from scipy.signal import convolve2d

    after = _u8(convolve2d(BEFORE.astype(float), K4 / 12, mode="same"))
    report = _diff(tmp_path, after, K4)
    assert report["operation"] == "convolution" and report["border"] == "constant"
    assert report["origin"] == [2, 2]  # its kernel's 'same' centre, (shape - 1) // 2 rotated
    assert _reproduces(tmp_path, report, after).max() <= 1  # ties of sums over 12


def test_pillows_kernel_reads_the_rows_reversed(tmp_path: Path) -> None:
    from PIL import Image, ImageFilter

    theirs = Image.fromarray(BEFORE).filter(ImageFilter.Kernel((3, 3), K3.ravel().tolist()))
    after = np.asarray(theirs)
    report = _diff(tmp_path, after, K3)
    assert report["operation"] == "rows reversed, then correlation"
    assert report["border"] == "unfiltered"
    assert report["rounding"] in ("half-up", "nearest")  # they differ only on exact ties
    assert _reproduces(tmp_path, report, after).max() <= 1  # Pillow sums in float32


def test_imagemagick_morphology_convolve(tmp_path: Path) -> None:
    require_tool("convert")
    write_image(BEFORE, tmp_path / "in.png")
    flat = ",".join(repr(float(v)) for v in (K3 / 12).ravel())
    subprocess.run(
        ["convert", str(tmp_path / "in.png"), "-morphology", "Convolve", f"3x3: {flat}",
         str(tmp_path / "im.png")],
        check=True, capture_output=True,
    )  # fmt: skip
    after = read_image(tmp_path / "im.png").pixels
    after = after[..., 0] if after.ndim == 3 else after
    report = _diff(tmp_path, after, K3)
    assert report["operation"] == "convolution" and report["rounding"] == "truncate"
    # a 3x3 kernel reaches one pixel past the edge, where reflect and nearest agree
    assert report["border"] in ("nearest", "reflect") and "nearest" in " ".join(report["notes"])
    assert _reproduces(tmp_path, report, after).max() <= 1


def test_a_cnn_same_layer_with_a_4x4_kernel(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(BEFORE.astype(np.float64))[None, None]
    w = torch.from_numpy(K4 / 12)[None, None]
    with warnings.catch_warnings():  # even kernels: "may require a zero-padded copy"
        warnings.simplefilter("ignore", UserWarning)
        after = _u8(torch.nn.functional.conv2d(x, w, padding="same")[0, 0].numpy())
    report = _diff(tmp_path, after, K4)
    assert report["operation"] == "correlation" and report["origin"] == [1, 1]  # up-left
    assert report["border"] == "constant"
    assert _reproduces(tmp_path, report, after).max() == 0


def test_a_median_filter_gets_no_reproduction(tmp_path: Path) -> None:
    after = ndi.median_filter(BEFORE, size=3)
    report = _diff(tmp_path, after, np.ones((3, 3)))
    assert report["explained"] is False and report["command"] is None
    assert report["fit_error"] > 1


def test_without_a_kernel_the_differences_are_described(tmp_path: Path) -> None:
    same = _diff(tmp_path, BEFORE, None)
    assert same["identical"] and same["max_difference"] == 0
    band = BEFORE.copy()
    band[:2] = 0
    edge = _diff(tmp_path, band, None)
    assert edge["band"] == 2 and not edge["identical"]
    moved = np.roll(BEFORE, (1, -2), axis=(0, 1))
    assert _diff(tmp_path, moved, None)["shift"] == [1, -2]
    darker = (BEFORE // 2).astype(np.uint8)
    half = _diff(tmp_path, darker, None)
    assert half["scale"] == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize(
    ("after", "kernel", "message"),
    [
        (np.zeros((40, 46), np.uint8), None, "BEFORE is 47x40 and AFTER 46x40"),
        (BEFORE, np.ones((41, 3)), "larger than the images"),
        (BEFORE.astype(np.float32) / 255, None, "BEFORE holds uint8 samples and AFTER float32"),
    ],
)
def test_bad_input_is_one_line_and_a_usage_error(
    tmp_path: Path, after: np.ndarray, kernel: np.ndarray | None, message: str
) -> None:
    write_image(BEFORE, tmp_path / "before.png")
    name = "after.tif" if after.dtype.kind == "f" else "after.png"
    write_image(after, tmp_path / name)
    args = ["diff", str(tmp_path / "before.png"), str(tmp_path / name)]
    if kernel is not None:
        args += ["-k", _rows(kernel)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_the_picture_shows_where_they_differ_and_never_lands_on_an_input(tmp_path: Path) -> None:
    band = BEFORE.copy()
    band[:2] = 0
    write_image(BEFORE, tmp_path / "before.png")
    write_image(band, tmp_path / "after.png")
    args = ["diff", str(tmp_path / "before.png"), str(tmp_path / "after.png")]
    result = CliRunner().invoke(cli, [*args, "--picture", str(tmp_path / "where.png")])
    assert result.exit_code == 0, result.stderr
    where = read_image(tmp_path / "where.png").pixels
    assert where[2:].max() == 0 and where[:2].max() == 255
    snapshot = (tmp_path / "after.png").read_bytes()
    refused = CliRunner().invoke(cli, [*args, "--picture", str(tmp_path / "after.png")])
    assert refused.exit_code == 2 and "after.png" in refused.stderr
    assert (tmp_path / "after.png").read_bytes() == snapshot
