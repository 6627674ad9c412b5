"""flipconv.core.lessons.verification: predictions, measurements, and the JSON contract."""

from __future__ import annotations

import numpy as np
import pytest
from flipconv.core.kernels.builtins import BUILTINS
from flipconv.core.kernels.specs import parse_kernel_spec
from flipconv.core.lessons.verification import (
    DEMONSTRATORS,
    demo_image,
    verify,
    verify_kernel,
)


def test_every_default_prediction_holds_on_the_demo_image() -> None:
    results = verify()
    assert [r.kernel for r in results] == [*BUILTINS, *DEMONSTRATORS]
    assert all(r.ok and r.identity_holds for r in results)
    by_class = {r.kernel: (r.symmetry, r.measured) for r in results}
    assert by_class["gaussian"] == ("symmetric", "agree")
    assert by_class["sobel-x"] == ("antisymmetric", "negated")
    assert by_class["emboss"] == ("asymmetric", "differ")
    assert by_class["1,2;4,8"] == ("asymmetric", "differ")
    assert by_class["0,1,0,-1"] == ("antisymmetric", "negated")


@pytest.mark.parametrize("mode", ["reflect", "constant", "nearest", "mirror", "wrap"])
def test_predictions_hold_in_every_mode(mode: str) -> None:
    assert all(r.ok for r in verify(["gaussian:2", "sobel-y", "motion:5,30", "1,2;4,8"], mode=mode))  # type: ignore[arg-type]


def test_measured_difference_is_the_real_one() -> None:
    img = demo_image(12, 10)
    r = verify_kernel(parse_kernel_spec("shift:dx=1"), img, mode="wrap")
    # convolve moves content right, correlate left: their difference on a wrap border
    expected = np.abs(np.roll(img, 1, axis=1) - np.roll(img, -1, axis=1)).max()
    assert r.max_abs_diff == pytest.approx(expected, rel=1e-12)
    assert (r.symmetry, r.expected, r.measured, r.ok) == ("asymmetric", "differ", "differ", True)


def test_a_flat_image_cannot_show_a_difference() -> None:
    flat = np.full((8, 8), 0.5)
    r = verify_kernel(parse_kernel_spec("emboss"), flat)
    assert r.agree and not r.ok  # an asymmetric kernel measured "agree": prediction fails


def test_origin_applies_to_every_kernel() -> None:
    results = verify(["1,2,1"], anchor=(0, 0))
    assert verify(["1,2,1"], origin=(0, -1))[0].origin == (0, 0)  # scipy's offset
    assert results[0].origin == (0, 0)
    assert results[0].symmetry == "asymmetric"  # symmetric matrix, off-centre origin


def test_json_keys_are_stable() -> None:
    doc = verify(["sobel-x"])[0].to_json()
    assert set(doc) == {
        "kernel",
        "shape",
        "origin",
        "symmetry",
        "expected",
        "measured",
        "max_abs_diff",
        "max_abs_sum",
        "agree",
        "negated",
        "identity_holds",
        "ok",
    }
    assert doc["shape"] == [3, 3] and doc["expected"] == "negated"
    assert isinstance(doc["max_abs_diff"], float)


def test_demo_image_is_deterministic_and_asymmetric() -> None:
    a, b = demo_image(), demo_image()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, a[::-1, ::-1]) and not np.allclose(a, a[:, ::-1])
    assert 0.0 <= a.min() and a.max() <= 1.0
