"""NaN and infinities stay where scipy.ndimage's direct sums put them, on every route."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

from flipconv import convolve, correlate

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]
METHODS = ["auto", "direct", "fft", "lowrank"]


def same_nonfinite(got: np.ndarray, want: np.ndarray) -> None:
    """Identical NaN and +-inf positions; the finite samples to float64 rounding."""
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got == np.inf, want == np.inf)
    np.testing.assert_array_equal(got == -np.inf, want == -np.inf)
    ok = np.isfinite(want)
    scale = max(1.0, float(np.abs(want[ok]).max(initial=0.0)))
    np.testing.assert_allclose(got[ok], want[ok], rtol=0, atol=1e-9 * scale)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, str, float, tuple[int, int]]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    kernel = rng.normal(size=(h, w))
    # zeros and weights below DBL_EPSILON are skipped by a direct sum
    holes = rng.random((h, w))
    kernel[holes < draw(st.floats(0, 0.5))] = 0.0
    kernel[(holes > 0.9)] *= draw(st.sampled_from([1.0, 1e-17, -1e-300]))
    rows, cols = draw(st.integers(3, 40)), draw(st.integers(3, 40))
    image = rng.normal(size=(rows, cols)) * draw(st.sampled_from([1.0, 255.0]))
    for _ in range(draw(st.integers(1, 4))):
        value = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        image[rng.integers(rows), rng.integers(cols)] = value
    origin = (
        draw(st.integers(-(h // 2), (h - 1) // 2)),
        draw(st.integers(-(w // 2), (w - 1) // 2)),
    )
    return image, kernel, draw(st.sampled_from(MODES)), draw(st.sampled_from([0.0, 7.5])), origin


@settings(max_examples=150, deadline=None)
@given(case=cases(), method=st.sampled_from(METHODS), flip=st.booleans())
def test_nonfinite_samples_spread_as_scipy_spreads_them(
    case: tuple[np.ndarray, np.ndarray, str, float, tuple[int, int]], method: str, flip: bool
) -> None:
    image, kernel, mode, cval, origin = case
    ours, theirs = (convolve, ndi.convolve) if flip else (correlate, ndi.correlate)
    if method == "lowrank" and np.linalg.matrix_rank(kernel) < 1:
        method = "auto"
    got = ours(image, kernel, mode=mode, cval=cval, origin=origin, method=method)
    want = theirs(image, kernel, mode=mode, cval=cval, origin=origin, output=np.float64)
    same_nonfinite(got, want)


@pytest.mark.parametrize("method", METHODS)
def test_one_nan_under_a_large_kernel_stays_in_its_footprint(method: str) -> None:
    rng = np.random.default_rng(0)
    image = rng.random((300, 300))
    image[150, 150] = np.nan
    kernel = rng.random((15, 15))  # 225 taps: auto takes the FFT
    got = correlate(image, kernel, method=method)
    assert int(np.isnan(got).sum()) == 225  # it was 58,564 through the FFT
    same_nonfinite(got, ndi.correlate(image, kernel))


def test_opposite_infinities_meet_as_nan_and_alone_keep_their_sign() -> None:
    row = np.zeros((1, 7))
    row[0, 2], row[0, 4] = np.inf, -np.inf
    got = correlate(row, [[1.0, 1.0, 1.0]], mode="constant")[0]
    assert got[[1, 2, 4, 5]].tolist() == [np.inf, np.inf, -np.inf, -np.inf]
    assert np.isnan(got[3]) and got[0] == got[6] == 0.0
    got = correlate(row, [[-1.0, 0.0, 0.0]], mode="constant")  # the zero taps carry nothing
    assert got[0].tolist() == [0.0, 0.0, 0.0, -np.inf, 0.0, np.inf, 0.0]


def test_nonfinite_samples_in_tiles_match_the_whole_image(tmp_path) -> None:  # noqa: ANN001
    from flipconv.core.files.pipeline import Settings, filter_file_in_tiles

    rng = np.random.default_rng(1)
    image = rng.random((90, 70)).astype(np.float32)
    image[[5, 40, 88], [3, 35, 69]] = [np.nan, np.inf, -np.inf]
    np.save(tmp_path / "in.npy", image)
    kernel = rng.normal(size=(11, 9))  # 99 taps: the FFT on the whole image
    settings = Settings("correlate", dtype="float64", mode="reflect")
    filter_file_in_tiles(
        str(tmp_path / "in.npy"), str(tmp_path / "o.npy"), kernel, settings, chunk=32
    )
    want = ndi.correlate(image.astype(np.float64), kernel, mode="reflect")
    same_nonfinite(np.load(tmp_path / "o.npy"), want)
