"""flipconv.core.engine.filters: literal cases, laws (hypothesis), scipy and reference equality."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import MODES
from flipconv.core.engine.channels import iter_planes, stack_planes
from flipconv.core.engine.filters import convolve, correlate
from flipconv.core.kernels.kernel import Kernel, default_origin, symmetry
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# An asymmetric powers-of-two kernel: no flip, transpose or mirror of it can
# coincide with it, so a flip bug cannot cancel out.
POW2 = np.array([[1, 2, 4], [8, 16, 32], [64, 128, 256]], dtype=np.float64)


def impulse(shape: tuple[int, int], at: tuple[int, int]) -> np.ndarray:
    img = np.zeros(shape)
    img[at] = 1.0
    return img


# ---------------------------------------------------------------- literal cases


def test_correlate_literal_row_kernel() -> None:
    img = np.array([[1.0, 2.0, 3.0, 4.0]])
    k = Kernel([[1.0, 10.0, 100.0]], (0, 1))
    # out[n] = 1*I[n-1] + 10*I[n] + 100*I[n+1], constant 0 outside
    assert correlate(img, k, mode="constant").tolist() == [[210.0, 321.0, 432.0, 43.0]]
    # convolve: out[n] = 1*I[n+1] + 10*I[n] + 100*I[n-1]
    assert convolve(img, k, mode="constant").tolist() == [[12.0, 123.0, 234.0, 340.0]]


def test_even_kernel_lands_at_default_origin() -> None:
    img = np.array([[1.0, 2.0, 3.0]])
    k = Kernel([[1.0, 10.0]], (0, 1))  # default origin of a 1x2 is element 1
    # correlate: out[n] = 1*I[n-1] + 10*I[n];  convolve: out[n] = 1*I[n+1] + 10*I[n]
    assert correlate(img, k, mode="constant").tolist() == [[10.0, 21.0, 32.0]]
    assert convolve(img, k, mode="constant").tolist() == [[12.0, 23.0, 30.0]]


def test_explicit_origin_moves_the_output() -> None:
    img = np.array([[1.0, 2.0, 3.0]])
    k = Kernel([[1.0, 10.0]], (0, 0))
    # correlate: out[n] = 1*I[n] + 10*I[n+1]
    assert correlate(img, k, mode="constant").tolist() == [[21.0, 32.0, 3.0]]
    # convolve: out[n] = 1*I[n] + 10*I[n-1]
    assert convolve(img, k, mode="constant").tolist() == [[1.0, 12.0, 23.0]]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("reflect", [1 + 10 + 200, 1 + 20 + 300, 2 + 30 + 300]),  # d c b a | a b c d
        ("mirror", [2 + 10 + 200, 1 + 20 + 300, 2 + 30 + 200]),  # c b | a b c d | c b
        ("nearest", [1 + 10 + 200, 1 + 20 + 300, 2 + 30 + 300]),
        ("wrap", [3 + 10 + 200, 1 + 20 + 300, 2 + 30 + 100]),
        ("constant", [7 + 10 + 200, 1 + 20 + 300, 2 + 30 + 700]),
    ],
)
def test_border_modes_literal(mode: str, expected: list[int]) -> None:
    # I = [1, 2, 3], K = [1, 10, 100] centred: out[n] = I[n-1] + 10 I[n] + 100 I[n+1]
    img = np.array([[1.0, 2.0, 3.0]])
    k = Kernel([[1.0, 10.0, 100.0]], (0, 1))
    out = correlate(img, k, mode=mode, cval=7.0)  # type: ignore[arg-type]
    assert out[0].tolist() == [float(v) for v in expected]


def test_impulse_reproduces_kernel_under_convolve_and_rotation_under_correlate() -> None:
    img = impulse((7, 7), (3, 3))
    k = Kernel(POW2, (1, 1))
    conv = convolve(img, k, mode="constant")
    corr = correlate(img, k, mode="constant")
    np.testing.assert_array_equal(conv[2:5, 2:5], POW2)
    np.testing.assert_array_equal(corr[2:5, 2:5], POW2[::-1, ::-1])
    assert conv.sum() == corr.sum() == POW2.sum()


def test_integers_never_wrap() -> None:
    img = np.array([[0, 255, 0]], dtype=np.uint8)
    k = Kernel([[-1.0, 0.0, 1.0]], (0, 1))
    assert correlate(img, k, mode="constant").tolist() == [[255.0, 0.0, -255.0]]


@pytest.mark.parametrize("magnitude", [1e-17, 1e-30, 1e-300, 1e30])
def test_weights_of_any_magnitude_count(magnitude: float) -> None:
    # scipy.ndimage alone skips weights <= 2**-52 and would return all zeros here.
    img = np.arange(5.0)[None, :]
    k = Kernel(np.array([[1.0, 2.0, 1.0]]) * magnitude, (0, 1))
    expected = np.array([[0 + 0 + 1, 0 + 2 + 2, 1 + 4 + 3, 2 + 6 + 4, 3 + 8 + 4]]) * magnitude
    np.testing.assert_allclose(correlate(img, k, mode="nearest"), expected, rtol=1e-15)
    np.testing.assert_allclose(convolve(img, k, mode="nearest"), expected, rtol=1e-15)


def test_bad_mode_and_dimensions() -> None:
    k = Kernel([[1.0]], (0, 0))
    with pytest.raises(OptionError, match="mode 'bogus'"):
        correlate(np.zeros((2, 2)), k, mode="bogus")  # type: ignore[arg-type]
    for shape in ((2, 2, 3, 1),):  # a 1-D signal is one row (tests/test_scipy_calls.py)
        with pytest.raises(OptionError, match=r"\(H, W\) or \(H, W, C\)"):
            correlate(np.zeros(shape), k)
    with pytest.raises(OptionError, match="cval"):
        correlate(np.zeros((2, 2)), k, cval=float("nan"))


# ---------------------------------------------------------------- hypothesis laws

shapes = st.tuples(st.integers(1, 5), st.integers(1, 5))
modes = st.sampled_from(MODES)
# Weights below 2**-52 of the largest are skipped (scipy's direct path), a
# documented limit; draw either exact zeros or values of moderate range.
finite = st.one_of(
    st.just(0.0),
    st.floats(-100, 100, allow_nan=False, allow_infinity=False).filter(lambda v: abs(v) >= 1e-3),
)


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, Kernel, str, float]:
    kshape = draw(shapes)
    values = draw(hnp.arrays(np.float64, kshape, elements=finite))
    origin = (draw(st.integers(0, kshape[0] - 1)), draw(st.integers(0, kshape[1] - 1)))
    image = draw(
        hnp.arrays(np.float64, (draw(st.integers(1, 9)), draw(st.integers(1, 9))), elements=finite)
    )
    return image, Kernel(values, origin), draw(modes), draw(finite)


def close(
    a: np.ndarray, b: np.ndarray, image: np.ndarray, kernel: Kernel, cval: float = 0.0
) -> None:
    """Equal up to float64 rounding: 1e-12 of the largest possible term sum."""
    bound = float(np.abs(kernel.values).sum()) * max(1.0, float(np.abs(image).max()), abs(cval))
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * bound)


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_correlate_matches_independent_reference(case, ref_correlate) -> None:  # type: ignore[no-untyped-def]
    image, k, mode, cval = case
    close(
        correlate(image, k, mode=mode, cval=cval),  # type: ignore[arg-type]
        ref_correlate(image, k.values, k.origin, mode, cval),
        image,
        k,
        cval,
    )


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_convolve_matches_independent_reference(case, ref_convolve) -> None:  # type: ignore[no-untyped-def]
    image, k, mode, cval = case
    close(
        convolve(image, k, mode=mode, cval=cval),  # type: ignore[arg-type]
        ref_convolve(image, k.values, k.origin, mode, cval),
        image,
        k,
        cval,
    )


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_flip_identity_about_the_origin(case) -> None:  # type: ignore[no-untyped-def]
    """convolve(I, K, o) == correlate(I, rot180(K), shape-1-o): odd, even, non-square."""
    image, k, mode, cval = case
    rotated = Kernel(
        k.values[::-1, ::-1], (k.shape[0] - 1 - k.origin[0], k.shape[1] - 1 - k.origin[1])
    )
    close(
        convolve(image, k, mode=mode, cval=cval),  # type: ignore[arg-type]
        correlate(image, rotated, mode=mode, cval=cval),
        image,
        k,
        cval,
    )  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(case=cases())
def test_symmetrised_kernel_agrees_and_antisymmetrised_negates(case) -> None:  # type: ignore[no-untyped-def]
    image, k, mode, cval = case
    if mode == "constant":
        cval = 0.0  # with a non-zero border value, -K does not negate the border term
    base = Kernel(np.pad(k.values, 2), (k.origin[0] + 2, k.origin[1] + 2))
    from flipconv.core.kernels.kernel import centred

    p = centred(base)
    origin = default_origin(p.shape)
    sym = Kernel(p + p[::-1, ::-1], origin)
    anti = Kernel(p - p[::-1, ::-1], origin)
    assert symmetry(sym) == "symmetric"
    assert symmetry(anti) in ("antisymmetric", "symmetric")  # all-zero is symmetric
    close(
        convolve(image, sym, mode=mode, cval=cval),  # type: ignore[arg-type]
        correlate(image, sym, mode=mode, cval=cval),
        image,
        sym,
        cval,
    )  # type: ignore[arg-type]
    close(
        convolve(image, anti, mode=mode, cval=cval),  # type: ignore[arg-type]
        -correlate(image, anti, mode=mode, cval=cval),
        image,
        anti,
        cval,
    )  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(hnp.arrays(np.float64, shapes, elements=finite))
def test_impulse_response_law(values: np.ndarray) -> None:
    """An impulse reproduces K under convolve and rot180(K) under correlate, any origin."""
    h, w = values.shape
    for origin in [(0, 0), (h - 1, w - 1), default_origin((h, w))]:
        k = Kernel(values, origin)
        size = (2 * h + 1, 2 * w + 1)
        at = (h, w)
        conv = convolve(impulse(size, at), k, mode="constant")
        corr = correlate(impulse(size, at), k, mode="constant")
        top, left = at[0] - origin[0], at[1] - origin[1]
        np.testing.assert_array_equal(conv[top : top + h, left : left + w], values)
        rtop, rleft = at[0] - (h - 1 - origin[0]), at[1] - (w - 1 - origin[1])
        np.testing.assert_array_equal(corr[rtop : rtop + h, rleft : rleft + w], values[::-1, ::-1])


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, shapes, elements=finite),
    hnp.arrays(np.float64, (6, 7), elements=finite),
    modes,
)
def test_default_origin_equals_scipy(values: np.ndarray, image: np.ndarray, mode: str) -> None:
    k = Kernel(values, default_origin(values.shape))
    np.testing.assert_array_equal(
        correlate(image, k, mode=mode),  # type: ignore[arg-type]
        ndi.correlate(image, values, mode=mode),
    )
    np.testing.assert_array_equal(
        convolve(image, k, mode=mode),  # type: ignore[arg-type]
        ndi.convolve(image, values, mode=mode),
    )


# ---------------------------------------------------------------- channels and alpha


def test_channels_are_filtered_independently() -> None:
    rng = np.random.default_rng(3)
    img = rng.random((5, 6, 3))
    k = Kernel(POW2, (1, 1))
    out = stack_planes(iter_planes("convolve", img, k), img.shape)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], convolve(img[..., c], k))


def test_alpha_keep_copies_alpha() -> None:
    rng = np.random.default_rng(4)
    img = rng.random((5, 6, 4)) * 255
    k = Kernel(POW2 / POW2.sum(), (1, 1))
    out = stack_planes(iter_planes("correlate", img, k, alpha="keep", alpha_max=255), img.shape)
    np.testing.assert_array_equal(out[..., 3], img[..., 3])
    np.testing.assert_array_equal(out[..., 0], correlate(img[..., 0], k))


def test_alpha_filter_does_not_bleed_transparent_colour() -> None:
    # left pixel opaque red (255), right pixel fully transparent with colour 0
    img = np.array([[[255.0, 255.0], [0.0, 0.0]]])  # gray+alpha, 1x2
    k = Kernel([[0.5, 0.5]], (0, 1))
    keep = stack_planes(
        iter_planes("correlate", img, k, alpha="keep", alpha_max=255, mode="nearest"), img.shape
    )
    filt = stack_planes(
        iter_planes("correlate", img, k, alpha="filter", alpha_max=255, mode="nearest"), img.shape
    )
    assert keep[0, 1, 0] == 127.5  # the transparent black leaks in
    assert filt[0, 1, 0] == 255.0  # premultiplied: only opaque colour counts
    assert filt[0, 1, 1] == 127.5  # alpha itself is blurred


@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "wrap"])
def test_kernels_reaching_far_past_a_tiny_image(mode: str, ref_correlate, ref_convolve) -> None:  # type: ignore[no-untyped-def]
    # scipy.ndimage's n-D "reflect" reflects only once; a 25x25 kernel on a
    # 2x3 image reaches 12 pixels out, several periods of the reflection.
    reference_correlate, reference_convolve = ref_correlate, ref_convolve
    rng = np.random.default_rng(7)
    image, values = rng.random((2, 3)), rng.random((25, 25))
    k = Kernel(values, (12, 5))
    np.testing.assert_allclose(
        correlate(image, k, mode=mode),
        reference_correlate(image, values, (12, 5), mode),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        convolve(image, k, mode=mode), reference_convolve(image, values, (12, 5), mode), atol=1e-12
    )


def test_a_rank_one_kernel_is_factored_exactly() -> None:
    # hypothesis found it: SVD factors of this kernel gave 0.9999999999999998
    # where the impulse must give back its weight 1
    values = np.zeros((4, 4))
    values[3, 2:] = 1.0
    for origin in [(0, 0), (3, 3), (2, 2)]:
        conv = convolve(impulse((9, 9), (4, 4)), Kernel(values, origin), mode="constant")
        top, left = 4 - origin[0], 4 - origin[1]
        np.testing.assert_array_equal(conv[top : top + 4, left : left + 4], values)
