"""Every route gives the direct sums' integers: FFT and low-rank sums settled where in doubt.

The reference is the engine's own ``method='direct'`` for the bytes (its sums
are scipy.ndimage's, checked elsewhere against tests/reference.py), and
scipy.ndimage here for the integers of the noise cases.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from flipconv.core.engine import settle
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.planner import plan
from flipconv.core.kernels.specs import parse_kernel_spec
from hypothesis import given, settings
from hypothesis import strategies as st

MODES = ["reflect", "mirror", "nearest", "wrap", "constant"]


def decimal_kernel(rng: np.random.Generator, h: int, w: int, q: int) -> np.ndarray:
    """Weights that are multiples of ``1/q`` and sum to 1: many sums land on ties."""
    k = rng.integers(-3, 4, (h, w)) / q
    k[h // 2, w // 2] += 1 - k.sum()
    return np.round(k * q) / q


def rank_two(rng: np.random.Generator, n: int, q: int) -> np.ndarray:
    u, v = rng.integers(-3, 4, (n, 2)), rng.integers(-3, 4, (n, 2))
    return (u @ v.T) / (q * n)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    q=st.sampled_from([2, 4, 10, 100]),
    method=st.sampled_from(["fft", "lowrank", "auto"]),
    mode=st.sampled_from(MODES),
    cval=st.sampled_from([0.0, 37.0]),
    channels=st.sampled_from([1, 3]),
    scale_bias=st.sampled_from([(1.0, 0.0), (0.5, 64.0), (-1.0, 128.0), (2.5, 0.5)]),
    out_range=st.sampled_from(["clip", "abs"]),
)
def test_fft_and_lowrank_give_the_direct_sums_bytes(
    seed: int,
    q: int,
    method: str,
    mode: str,
    cval: float,
    channels: int,
    scale_bias: tuple[float, float],
    out_range: str,
) -> None:
    rng = np.random.default_rng(seed)
    side = int(rng.integers(7, 12))
    kernel = decimal_kernel(rng, side, side, q) if method != "lowrank" else rank_two(rng, side, q)
    shape = (int(rng.integers(20, 60)), int(rng.integers(20, 60)))
    image = rng.integers(0, 256, (*shape, channels) if channels > 1 else shape, dtype=np.uint8)
    scale, bias = scale_bias
    options = dict(
        operation="correlate", mode=mode, cval=cval, scale=scale, bias=bias, out_range=out_range
    )
    direct = filter_image(image, kernel, method="direct", **options)
    routed = filter_image(image, kernel, method=method, **options)
    assert int((routed != direct).sum()) == 0


def test_the_direct_bytes_are_scipys_integers() -> None:
    # the reference for the case above, once: direct = rint(clip(scipy.ndimage))
    rng = np.random.default_rng(8)
    kernel = decimal_kernel(rng, 13, 13, 10)
    image = rng.integers(0, 256, (80, 90), dtype=np.uint8)
    want = np.clip(np.rint(ndi.correlate(image.astype(float), kernel, mode="reflect")), 0, 255)
    for method in ("fft", "lowrank", "auto", "direct"):
        got = filter_image(image, kernel, operation="correlate", method=method, mode="reflect")
        np.testing.assert_array_equal(got, want.astype(np.uint8))


def test_the_bounds_hold_with_room_to_spare() -> None:
    rng = np.random.default_rng(9)
    plane = rng.integers(0, 256, (200, 300)).astype(np.float64)
    kernel = parse_kernel_spec("motion:15,60")
    from flipconv.core.engine.planner import correlate_plane

    direct = correlate_plane(plane, kernel, method="direct")
    fft = correlate_plane(plane, kernel, method="fft")
    low = correlate_plane(plane, kernel, method="lowrank")
    terms = plan(kernel, plane.shape, "lowrank").terms
    assert np.abs(fft - direct).max() * 10 <= settle.fft_bound(plane, kernel, "reflect", 0.0)
    assert np.abs(low - direct).max() * 10 <= settle.lowrank_bound(
        plane, kernel, terms, "reflect", 0.0
    )
    assert settle.fft_bound(plane, kernel, "reflect", 0.0) < 1e-6  # so few samples are in doubt


def test_a_sparse_kernel_is_summed_directly() -> None:
    # motion:9,30 is 9x15 with 16 non-zero weights: 16 multiply-adds, not an FFT
    assert plan(parse_kernel_spec("motion:9,30"), (2000, 3000)).method == "direct"


PHOTO_KERNELS = {
    "motion:9,30": lambda rng: "motion:9,30",
    "motion:15,60": lambda rng: "motion:15,60",
    "13x13 one-decimal": lambda rng: decimal_kernel(rng, 13, 13, 10),
    "rank-2 11x11": lambda rng: rank_two(rng, 11, 10),
}


@pytest.mark.parametrize("photo", ["astronaut", "coffee", "chelsea", "rocket"])
@pytest.mark.parametrize("name", PHOTO_KERNELS)
def test_real_photos_come_out_as_the_direct_sums(photo: str, name: str) -> None:
    data = pytest.importorskip("skimage.data")
    image = getattr(data, photo)()
    kernel = PHOTO_KERNELS[name](np.random.default_rng(3))
    direct = filter_image(image, kernel, operation="convolve", method="direct")
    for method in ("auto", "fft", "lowrank"):
        got = filter_image(image, kernel, operation="convolve", method=method)
        assert int((got != direct).sum()) == 0, method  # 3-199 samples a photo were off


def test_tiles_give_the_direct_sums_bytes(tmp_path) -> None:  # noqa: ANN001
    from flipconv.core.files.pipeline import Settings, filter_file_in_tiles

    rng = np.random.default_rng(10)
    image = rng.integers(0, 256, (100, 90, 3), dtype=np.uint8)
    np.save(tmp_path / "in.npy", image)
    kernel = decimal_kernel(rng, 13, 13, 10)
    for method in ("fft", "lowrank"):
        settings = Settings("correlate", method=method, mode="mirror")
        filter_file_in_tiles(
            str(tmp_path / "in.npy"), str(tmp_path / f"{method}.npy"), kernel, settings, chunk=32
        )
        direct = filter_image(image, kernel, operation="correlate", method="direct", mode="mirror")
        assert int((np.load(tmp_path / f"{method}.npy") != direct).sum()) == 0, method
