"""kernels.builtins: declared facts match the matrices; documented conventions hold.

The matrices are built by core/kernels/builders.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from flipconv.core.engine.filters import convolve, correlate
from flipconv.core.kernels.builtins import BUILTINS
from flipconv.core.kernels.kernel import is_separable, symmetry
from flipconv.core.kernels.specs import parse_kernel_spec


@pytest.mark.parametrize("name", list(BUILTINS))
def test_declared_catalogue_matches_the_matrix(name: str) -> None:
    b = BUILTINS[name]
    k = parse_kernel_spec(name)
    assert k.shape == b.shape
    assert symmetry(k) == b.symmetry
    assert is_separable(k) == b.separable
    if k.factors is not None:
        np.testing.assert_allclose(np.outer(*k.factors), k.values, rtol=0, atol=1e-15)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 3.7])
def test_gaussian_taps_are_scipys(sigma: float) -> None:
    k = parse_kernel_spec(f"gaussian:{sigma}")
    r = k.shape[0] // 2
    impulse = np.zeros(2 * r + 1)
    impulse[r] = 1.0
    taps = ndi.gaussian_filter1d(impulse, sigma, mode="constant")
    np.testing.assert_allclose(k.factors[0], taps, rtol=0, atol=1e-16)  # type: ignore[index]
    assert k.values.sum() == pytest.approx(1.0, abs=1e-15)


def test_smoothing_kernels_are_normalised_and_zero_sum_ones_are_zero() -> None:
    for spec in ("box", "box:4", "gaussian:2", "motion:7,45", "sharpen:3", "identity:3"):
        assert parse_kernel_spec(spec).values.sum() == pytest.approx(1.0, abs=1e-12), spec
    for spec in ("laplacian", "laplacian:8", "log", "sobel-x", "scharr-y", "roberts-x"):
        assert parse_kernel_spec(spec).values.sum() == pytest.approx(0.0, abs=1e-12), spec


def ramp_right() -> np.ndarray:
    return np.tile(np.arange(8.0), (6, 1))  # brightness grows to the right


@pytest.mark.parametrize("family", ["sobel", "scharr", "prewitt"])
def test_derivative_signs(family: str) -> None:
    img = ramp_right()
    kx = parse_kernel_spec(f"{family}-x")
    ky = parse_kernel_spec(f"{family}-y")
    inner = (slice(1, -1), slice(1, -1))
    assert (correlate(img, kx, mode="nearest")[inner] > 0).all()
    assert (convolve(img, kx, mode="nearest")[inner] < 0).all()
    assert (correlate(img.T.copy(), ky, mode="nearest")[inner] > 0).all()


def test_shift_moves_content_right_and_down_under_convolve() -> None:
    img = np.zeros((7, 7))
    img[3, 3] = 1.0
    k = parse_kernel_spec("shift:dx=2,dy=1")
    assert np.argwhere(convolve(img, k, mode="constant") == 1).tolist() == [[4, 5]]
    assert np.argwhere(correlate(img, k, mode="constant") == 1).tolist() == [[2, 1]]


def test_motion_smears_along_the_angle_under_convolve() -> None:
    img = np.zeros((21, 21))
    img[10, 10] = 1.0
    up = convolve(img, parse_kernel_spec("motion:length=5,angle=90"), mode="constant")
    lit = np.argwhere(up > 0)[:, 0]
    assert lit.min() == 6 and lit.max() == 10  # rows 6..10: upwards on screen
    right = correlate(img, parse_kernel_spec("motion:length=5,angle=0"), mode="constant")
    cols = np.argwhere(right > 0)[:, 1]
    assert cols.min() == 6 and cols.max() == 10  # correlate smears the opposite way


def test_emboss_direction() -> None:
    k = parse_kernel_spec("emboss:e").values
    assert k.tolist() == [[-1, 0, 1], [-1, 1, 1], [-1, 0, 1]]
    assert parse_kernel_spec("emboss").values.tolist() == [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    assert parse_kernel_spec("emboss:w").values.tolist() == np.fliplr(k).tolist()


def test_laplacians_and_sharpen() -> None:
    assert parse_kernel_spec("laplacian").values.tolist() == [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    assert parse_kernel_spec("laplacian:8").values[1, 1] == -8
    assert parse_kernel_spec("sharpen").values.tolist() == [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]


def test_roberts_are_even_sized() -> None:
    assert parse_kernel_spec("roberts-x").values.tolist() == [[1, 0], [0, -1]]
    assert parse_kernel_spec("roberts-y").origin == (1, 1)
