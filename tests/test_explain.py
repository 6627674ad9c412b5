"""`flipconv explain`: the facts, worked out by hand, and the lesson's shape.

The lesson itself: core/lessons/explanation.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli


def explain_json(*args: str) -> dict:
    result = CliRunner().invoke(cli, ["explain", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_sobel_x() -> None:
    doc = explain_json("-k", "sobel-x")
    k = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    turned = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]
    assert doc["values"] == k and doc["rotated"] == turned
    assert doc["origin"] == [1, 1] and doc["reflected_origin"] == [1, 1]
    assert (doc["symmetry"], doc["prediction"]) == ("antisymmetric", "negated")
    assert doc["impulse"] == {"shape": [3, 3], "at": [1, 1], "convolve": k, "correlate": turned}


def test_emboss() -> None:
    doc = explain_json("-k", "emboss")
    k = [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    turned = [[2, 1, 0], [1, 1, -1], [0, -1, -2]]
    assert doc["values"] == k and doc["rotated"] == turned
    assert (doc["symmetry"], doc["prediction"]) == ("asymmetric", "differ")
    assert doc["impulse"]["convolve"] == k and doc["impulse"]["correlate"] == turned


def test_even_2x2() -> None:
    doc = explain_json("-k", "1,2;4,8")
    assert doc["origin"] == [1, 1]  # below/right of the missing centre
    assert doc["rotated"] == [[8, 4], [2, 1]] and doc["reflected_origin"] == [0, 0]
    assert doc["impulse"]["shape"] == [3, 3] and doc["impulse"]["at"] == [1, 1]
    # convolve: the kernel with its origin (the 8) on the pixel; correlate: rotated
    assert doc["impulse"]["convolve"] == [[1, 2, 0], [4, 8, 0], [0, 0, 0]]
    assert doc["impulse"]["correlate"] == [[0, 0, 0], [0, 8, 4], [0, 2, 1]]
    assert any("even number" in line and "row 0" in line for line in doc["lesson"])
    assert any("reflected origin 0,0" in line for line in doc["lesson"])


def test_3x5_with_an_off_centre_origin() -> None:
    doc = explain_json("-k", "1,2,3,4,5;6,7,8,9,10;11,12,13,14,15", "--origin", "0,1")
    k = np.arange(1, 16).reshape(3, 5)
    assert doc["rotated"] == [[15, 14, 13, 12, 11], [10, 9, 8, 7, 6], [5, 4, 3, 2, 1]]
    assert doc["reflected_origin"] == [2, 3]
    # reach: 2 rows below the origin and 3 columns right of it, so a 5x7 image, pixel at (2, 3)
    assert doc["impulse"]["shape"] == [5, 7] and doc["impulse"]["at"] == [2, 3]
    conv = np.zeros((5, 7))
    conv[2:5, 2:7] = k  # the origin element (0, 1) lands on (2, 3)
    corr = np.zeros((5, 7))
    corr[0:3, 0:5] = k[::-1, ::-1]  # the reflected origin (2, 3) lands on (2, 3)
    assert doc["impulse"]["convolve"] == conv.tolist()
    assert doc["impulse"]["correlate"] == corr.tolist()
    assert any("off the centre" in line for line in doc["lesson"])


@pytest.mark.parametrize("spec", ["emboss", "1,2;4,8", "gaussian:3"])
def test_human_output_reads_like_a_lesson(spec: str) -> None:
    result = CliRunner().invoke(cli, ["explain", "-k", spec])
    assert result.exit_code == 0
    text = result.stdout
    for phrase in (
        "rotated 180 degrees",
        "convolve turns the kernel",
        "One bright pixel",
        "[brackets]",
    ):
        assert phrase in text
    if spec == "gaussian:3":  # 25x25: a window around the origin, said so
        assert "rows 8-16, columns 8-16 of 25x25" in text


def test_bad_kernel_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["explain", "-k", "1,nan"])
    assert result.exit_code == 2 and "not a finite number" in result.stderr
