"""flipconv.core.engine.pixels and filter_image: the sample-type policy, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from flipconv.core._shared.errors import KernelError, OptionError
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.pixels import finish
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import parse_kernel_spec
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def test_round_to_nearest_then_clip() -> None:
    v = np.array([-0.6, -0.4, 0.49, 0.5, 0.51, 1.5, 2.5, 254.5, 255.4, 1e9])
    assert finish(v, in_dtype="uint8", out_dtype="uint8").tolist() == [
        0,
        0,
        0,
        0,
        1,
        2,
        2,
        254,
        255,
        255,  # ties go to even
    ]


def test_uint16_keeps_sixteen_bits() -> None:
    v = np.array([1.4, 257.5, 40000.2, 65535.6])
    out = finish(v, in_dtype="uint16", out_dtype="uint16")
    assert out.dtype == np.uint16
    assert out.tolist() == [1, 258, 40000, 65535]


def test_scale_and_bias_in_input_units() -> None:
    v = np.array([-10.0, 0.0, 10.0])
    assert finish(v, in_dtype="uint8", out_dtype="uint8", bias=128).tolist() == [118, 128, 138]
    assert finish(v, in_dtype="uint8", out_dtype="uint8", scale=2, bias=100).tolist() == [
        80,
        100,
        120,
    ]


def test_abs_and_rescale() -> None:
    v = np.array([-300.0, -20.0, 0.0, 40.0])
    assert finish(v, in_dtype="uint8", out_dtype="uint8", out_range="abs").tolist() == [
        255,
        20,
        0,
        40,
    ]
    assert finish(v, in_dtype="uint8", out_dtype="uint8", out_range="rescale").tolist() == [
        0,
        210,
        225,
        255,  # (v + 300) * 255 / 340 = (v + 300) * 0.75
    ]
    flat = finish(np.full(3, 7.0), in_dtype="uint8", out_dtype="uint8", out_range="rescale")
    assert flat.tolist() == [0, 0, 0]
    f = finish(v, in_dtype="uint8", out_dtype="float32", out_range="rescale")
    assert f.min() == 0.0 and f.max() == 1.0


def test_type_changes_keep_full_scale() -> None:
    v = np.array([0.0, 255.0])
    assert finish(v, in_dtype="uint8", out_dtype="uint16").tolist() == [0, 65535]
    assert finish(v, in_dtype="uint8", out_dtype="float32").tolist() == [0.0, 1.0]
    assert finish(np.array([0.5]), in_dtype="float32", out_dtype="uint8").tolist() == [128]
    sixteen = np.array([65535.0, 32768.0])
    assert finish(sixteen, in_dtype="uint16", out_dtype="uint8").tolist() == [255, 128]


def test_float_output_is_not_clipped() -> None:
    v = np.array([-0.25, 1.75])
    out = finish(v, in_dtype="float32", out_dtype="float32")
    assert out.dtype == np.float32 and out.tolist() == [-0.25, 1.75]


def test_alpha_is_converted_but_not_biased() -> None:
    v = np.array([[[10.0, 200.0]]])
    out = finish(v, in_dtype="uint8", out_dtype="uint8", bias=100, scale=2, alpha=1)
    assert out.tolist() == [[[120, 200]]]


def test_nan_float_input_becomes_zero_in_integers() -> None:
    out = finish(np.array([np.nan, 1.0]), in_dtype="float32", out_dtype="uint8")
    assert out.tolist() == [0, 255]


def test_bad_policy_values() -> None:
    with pytest.raises(OptionError):
        finish(np.zeros(2), in_dtype="uint8", out_dtype="int16")
    with pytest.raises(OptionError):
        finish(np.zeros(2), in_dtype="uint8", out_dtype="uint8", out_range="wrap")  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        finish(np.zeros(2), in_dtype="uint8", out_dtype="uint8", scale=float("nan"))


@given(hnp.arrays(np.uint16, st.tuples(st.integers(1, 8), st.integers(1, 8))))
def test_identity_filter_round_trips_every_sample_type(img: np.ndarray) -> None:
    ident = parse_kernel_spec("identity")
    assert (filter_image(img, ident, operation="convolve") == img).all()
    as8 = (img >> 8).astype(np.uint8)
    assert (filter_image(as8, ident, operation="correlate") == as8).all()
    f = img.astype(np.float32) / 65535
    assert (filter_image(f, ident, operation="convolve") == f).all()
    back = filter_image(f, ident, operation="convolve", dtype="uint16")
    assert (back == img).all()


def test_filter_image_sixteen_bit_is_exact() -> None:
    # a 16-bit ramp blurred by a 1x2 box: half-integers round to even
    img = np.array([[1000, 1001, 1003, 60001]], dtype=np.uint16)
    k = Kernel([[0.5, 0.5]], (0, 1))  # out[n] = (I[n-1] + I[n]) / 2
    out = filter_image(img, k, operation="correlate", mode="nearest")
    assert out.dtype == np.uint16
    assert out.tolist() == [[1000, 1000, 1002, 30502]]


def test_normalize_option() -> None:
    img = np.full((3, 3), 10, dtype=np.uint8)
    k = parse_kernel_spec("1,1,1;1,1,1;1,1,1")
    assert filter_image(img, k, operation="convolve").tolist() == [[90] * 3] * 3
    assert filter_image(img, k, operation="convolve", normalize=True).tolist() == [[10] * 3] * 3
    with pytest.raises(KernelError, match="sum to 0"):
        filter_image(img, parse_kernel_spec("laplacian"), operation="convolve", normalize=True)


@pytest.mark.parametrize(
    ("samples", "dtype", "scale", "bias", "expected"),
    [
        # (v * scale + bias) in the input's units, then to the output's: x257 to 16 bits
        ([10, 100], "uint16", 2.0, 20.0, [(10 * 2 + 20) * 257, (100 * 2 + 20) * 257]),
        # 16 -> 8 bits: (1000 * 0.5 + 500) / 257 = 3.89 -> 4; (60000 * 0.5 + 500) / 257 = 118.68
        (np.array([1000, 60000], np.uint16), "uint8", 0.5, 500.0, [4, 119]),
        # 8 bits -> float: (51 * 2 - 10) / 255
        ([51, 255], "float32", 2.0, -10.0, [92 / 255, 500 / 255]),
        # float -> 8 bits: (0.25 * 2 + 0.1) * 255 = 153; (0.5 * 2 + 0.1) * 255 clips
        (np.array([0.25, 0.5], np.float32), "uint8", 2.0, 0.1, [153, 255]),
    ],
)
def test_bias_and_scale_are_in_input_units_across_type_changes(
    samples: object, dtype: str, scale: float, bias: float, expected: list[float]
) -> None:
    img = np.asarray(samples, dtype=getattr(samples, "dtype", np.uint8))[None, :]
    identity = Kernel([[1.0]], (0, 0))
    out = filter_image(img, identity, operation="correlate", scale=scale, bias=bias, dtype=dtype)
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out[0], expected, rtol=1e-6)


def test_alpha_filter_weights_colours_by_alpha() -> None:
    # red opaque | green fully transparent | blue opaque, blurred by a 1x3 box
    img = np.array([[[255, 0, 0, 255], [0, 255, 0, 0], [0, 0, 255, 255]]], dtype=np.uint8)
    box = Kernel([[1 / 3, 1 / 3, 1 / 3]], (0, 1))
    out = filter_image(img, box, operation="convolve", mode="nearest", alpha="filter")
    # middle: F(a) = 2/3; red F(r*a) = 1/3 * 255, divided: 127.5 -> 128 (ties to even);
    # the transparent pixel's green has weight 0 and must not bleed (it would be 85)
    assert out.tolist() == [[[255, 0, 0, 170], [128, 0, 128, 170], [0, 0, 255, 170]]]
    kept = filter_image(img, box, operation="convolve", mode="nearest", alpha="keep")
    assert kept.tolist() == [[[170, 85, 0, 255], [85, 85, 85, 0], [0, 85, 170, 255]]]


@pytest.mark.parametrize("dst", ["uint8", "uint16"])
def test_opencv_rounding_equals_numpys_for_every_finite_value(dst: str) -> None:
    # ties both ways, the range's edges, far outside, infinities
    top = 255.0 if dst == "uint8" else 65535.0
    special = [0.5, 1.5, 2.5, -0.5, -0.49, top - 0.5, top + 0.5, top + 0.49, 1e300, -1e300,
               np.inf, -np.inf, 7.499999999999999, 7.500000000000001]  # fmt: skip
    values = np.concatenate(
        [special, np.random.default_rng(4).uniform(-2 * top, 2 * top, 10_000)]
    ).reshape(2, -1)
    from flipconv.core.engine.pixels import _clip_round, _opencv_round

    fast = _opencv_round(values.copy(), np.dtype(dst))
    assert fast is not None
    slow = values.copy()
    _clip_round(slow, top)
    np.testing.assert_array_equal(fast, slow.astype(dst))


@pytest.mark.parametrize("rule", ["nearest", "half-up", "truncate"])
def test_each_rounding_rule_on_exact_sums(rule: str, tmp_path) -> None:
    """Box 2x2 sums of integers end in .0, .25, .5 or .75 exactly: every rule's boundary."""
    from click.testing import CliRunner
    from flipconv.cli.main import cli
    from flipconv.core.io.readers import read_image
    from flipconv.core.io.writers import write_image

    image = np.random.default_rng(4).integers(0, 256, (16, 17)).astype(np.uint8)
    write_image(image, tmp_path / "a.png")
    padded = np.pad(image.astype(np.int64), ((0, 1), (0, 1)), mode="edge")
    quarters = padded[:-1, :-1] + padded[1:, :-1] + padded[:-1, 1:] + padded[1:, 1:]  # sum * 4
    exact = {  # in integers: no float rounding in the reference
        "nearest": np.rint(quarters / 4),  # .5 to even: exact in binary
        "half-up": (quarters + 2) // 4,
        "truncate": quarters // 4,
    }[rule]
    args = ["correlate", "-k", "0.25,0.25;0.25,0.25", "--origin", "0,0", "--mode", "nearest"]
    result = CliRunner().invoke(
        cli, [*args, "--rounding", rule, str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png")]
    )
    assert result.exit_code == 0, result.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "b.png").pixels, exact)


def test_truncation_keeps_a_sum_that_is_an_integer_in_exact_arithmetic() -> None:
    """0.1 + 0.2 + ... in float64 can land a hair below the integer it is: not one level."""
    from flipconv.core.engine.filters import filter_image

    image = np.full((5, 5), 10, dtype=np.uint8)
    weights = np.full((1, 10), 0.1)  # sums to 0.9999999999999999 in float64
    out = filter_image(image, weights, operation="correlate", rounding="truncate")
    assert (out == 10).all()
