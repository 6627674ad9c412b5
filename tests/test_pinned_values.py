"""Literal values, worked out by hand, on every route that computes them.

A mutation audit found behaviour-changing edits that the whole suite let
through (a dropped offset or bias, swapped origin axes, a refusal gone):
each is pinned here by a number that needs no other computation to check.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import OptionError
from flipconv.core.engine.filters import correlate, filter_image
from flipconv.core.files.pipeline import Settings, filter_file_in_tiles
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image


def flat(value: int, shape: tuple[int, ...] = (40, 50, 3)) -> np.ndarray:
    return np.full(shape, value, np.uint8)


# ---------------------------------------------------------------- offsets and biases


def test_a_libvips_offset_is_added_in_tiles(tmp_path: Path) -> None:
    # a 1x1 matrix of 1, scale 1, offset 10: a flat 100 becomes 110
    (tmp_path / "k.mat").write_text("1 1 1 10\n1\n")
    write_image(flat(100), tmp_path / "in.tif")
    for chunk in ("16", None):  # tiles here, and the whole image
        args = ["convolve", "-k", str(tmp_path / "k.mat"), str(tmp_path / "in.tif")]
        args += ["-o", str(tmp_path / "out.tif")] + (["--chunk", chunk] if chunk else [])
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.stderr
        assert np.unique(read_image(tmp_path / "out.tif").pixels).tolist() == [110]


@pytest.mark.parametrize(
    ("kernel", "route"),
    [
        ([[0, 1, 0], [1, -1, 0], [0, 0, 0]], "int16 exact sums"),
        ("box:3", "rational, exact integer sums"),
        ("gaussian:1", "float32, certified"),
    ],
)
def test_bias_is_added_whatever_the_route(kernel: object, route: str) -> None:
    engine: dict[str, object] = {}
    plain = filter_image(flat(100), kernel, operation="correlate", engine=engine)
    assert engine["route"] == route  # without a bias the kernel takes that route
    assert np.unique(plain).tolist() == [100]
    biased = filter_image(flat(100), kernel, operation="correlate", bias=10)
    assert np.unique(biased).tolist() == [110]  # 100 * 1 + 10, on whichever route it takes


def test_bias_is_in_output_units_not_divided_by_the_input_scale() -> None:
    image = np.full((6, 7), 100.0)
    out = filter_image(
        image, "identity", operation="correlate", input_scale=255, bias=10, dtype="uint8"
    )
    assert np.unique(out).tolist() == [110]


# ---------------------------------------------------------------- origins and layouts


def test_origin_is_row_then_column() -> None:
    # the weight at element (0, 0), the origin at row 1, column 2: out[r, c] = I[r - 1, c - 2]
    image = np.arange(30.0).reshape(5, 6)
    kernel = [[1, 0, 0], [0, 0, 0]]
    got = correlate(image, kernel, anchor=(1, 2), mode="constant")
    assert got[3, 4] == image[2, 2] == 14.0
    assert got[0].tolist() == [0.0] * 6 and got[:, :2].tolist() == [[0.0, 0.0]] * 5
    result = CliRunner().invoke(cli, ["explain", "-k", "1,0,0;0,0,0", "--origin", "1,2", "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"origin": [\n    1,\n    2\n  ]' in result.stdout


def test_a_channels_first_image_is_refused() -> None:
    with pytest.raises(OptionError, match=r"looks channels-first \(4 channels of 20x30\)"):
        correlate(np.zeros((4, 20, 30)), "box:3")


def test_a_one_bit_tiff_reads_as_black_and_white(tmp_path: Path) -> None:
    import tifffile

    tifffile.imwrite(tmp_path / "bit.tif", np.array([[1, 0, 1, 1, 0, 0, 0, 1]], bool))
    assert read_image(tmp_path / "bit.tif").pixels.tolist() == [[255, 0, 255, 255, 0, 0, 0, 255]]


# ---------------------------------------------------------------- rounding, exactly


HALVES = np.array([[1, 3, 5, 7, 255, 254]], np.uint8)
#: [[0.5]] makes every sum a binary half: round half to even, no tie is in doubt.
TO_EVEN = [0, 2, 2, 4, 128, 127]


@pytest.mark.parametrize("method", ["auto", "direct", "fft", "lowrank"])
def test_exact_halves_round_to_even_on_every_route(method: str) -> None:
    image = np.repeat(HALVES, 4, axis=0)
    out = filter_image(image, [[0.5]], operation="convolve", method=method)
    assert out[0].tolist() == TO_EVEN


def test_exact_halves_round_to_even_in_tiles(tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", np.repeat(HALVES, 20, axis=0))
    filter_file_in_tiles(
        str(tmp_path / "in.npy"), str(tmp_path / "o.npy"), [[0.5]], Settings("convolve"), chunk=16
    )
    assert np.load(tmp_path / "o.npy")[0].tolist() == TO_EVEN


# ---------------------------------------------------------------- where scipy.ndimage is wrong


def test_a_kernel_reaching_far_past_a_small_image_follows_the_border_rule() -> None:
    # reflect: a 10-row kernel, its origin offset +4 (scipy's origin=(4, 0)), over an
    # image 2 rows high reaches 8 rows past its edge. The image extended by the rule
    # (numpy.pad's "symmetric", in tests/reference.py) gives the sums flipconv gives;
    # scipy.ndimage's n-D filter reflects only once there, and reads wrong samples
    # (scipy 1.17 returned a value of the order of 1e267 for one of these).
    from reference import reference_correlate

    rng = np.random.default_rng(0)
    image, kernel = rng.random((2, 3)), rng.random((10, 2))
    want = reference_correlate(image, kernel, (9, 1), "reflect")
    got = correlate(image, kernel, origin=(4, 0), mode="reflect")
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
