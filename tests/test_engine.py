"""flipconv.core.engine.planner: every method equals direct; threads change no bit.

Also the int16 exact sums (core/engine/exact8.py) and the steps they share
(core/engine/steps.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import MODES
from flipconv.core.engine import planner as engine
from flipconv.core.engine import strips
from flipconv.core.engine.filters import convolve, correlate, filter_image
from flipconv.core.engine.planner import apply_plane, correlate_plane, plan
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import parse_kernel_spec
from hypothesis import event, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# zero or a moderate value, drawn without filtering (big arrays need many)
moderate = st.integers(-10_000, 10_000).map(lambda v: v / 100.0)


def bound(image: np.ndarray, kernel: Kernel, cval: float) -> float:
    return float(np.abs(kernel.values).sum()) * max(1.0, float(np.abs(image).max()), abs(cval))


@st.composite
def cases(draw: st.DrawFn, rank_one: bool = False, min_rows: int = 1) -> tuple:  # type: ignore[type-arg]
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if rank_one:
        col = draw(hnp.arrays(np.float64, kh, elements=moderate))
        row = draw(hnp.arrays(np.float64, kw, elements=moderate))
        values = np.outer(col, row)
    else:
        values = draw(hnp.arrays(np.float64, (kh, kw), elements=moderate))
    origin = (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    shape = (draw(st.integers(min_rows, min_rows + 40)), draw(st.integers(1, 30)))
    image = draw(hnp.arrays(np.float64, shape, elements=moderate))
    return image, Kernel(values, origin), draw(st.sampled_from(MODES)), draw(moderate)


@pytest.mark.parametrize("method", ["direct", "lowrank", "fft", "auto"])
@settings(max_examples=120, deadline=None)
@given(case=cases())
def test_every_method_equals_direct(method: str, case: tuple) -> None:  # type: ignore[type-arg]
    image, k, mode, cval = case
    for operation, reference in (("correlate", correlate), ("convolve", convolve)):
        got = apply_plane(operation, image, k, mode=mode, cval=cval, method=method, threads=1)  # type: ignore[arg-type]
        want = reference(image, k, mode=mode, cval=cval)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * bound(image, k, cval))


@settings(max_examples=200, deadline=None)
@given(case=cases(rank_one=True))
def test_separable_equals_direct(case: tuple) -> None:  # type: ignore[type-arg]
    image, k, mode, cval = case
    for operation, reference in (("correlate", correlate), ("convolve", convolve)):
        got = apply_plane(
            operation,
            image,
            k,
            mode=mode,
            cval=cval,
            method="separable",  # type: ignore[arg-type]
            threads=1,
        )
        want = reference(image, k, mode=mode, cval=cval)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * bound(image, k, cval))


@pytest.mark.parametrize("method", ["direct", "separable", "lowrank"])
@settings(max_examples=40, deadline=None)
@given(case=cases(rank_one=True, min_rows=130), threads=st.integers(2, 5))
def test_threads_change_no_bit(method: str, case: tuple, threads: int) -> None:  # type: ignore[type-arg]
    image, k, mode, cval = case
    one = correlate_plane(image, k, mode=mode, cval=cval, method=method, threads=1)  # type: ignore[arg-type]
    assert len(strips.row_strips(image.shape[0], threads)) > 1  # really cut into strips
    many = correlate_plane(image, k, mode=mode, cval=cval, method=method, threads=threads)  # type: ignore[arg-type]
    np.testing.assert_array_equal(one, many)


def test_strips_really_split_and_match_exactly() -> None:
    rng = np.random.default_rng(8)
    image = rng.random((400, 90))
    k = Kernel(rng.random((9, 4)), (7, 1))  # off-centre origin: asymmetric halos
    for mode in MODES:
        one = correlate_plane(image, k, mode=mode, cval=0.5, method="direct", threads=1)  # type: ignore[arg-type]
        four = correlate_plane(image, k, mode=mode, cval=0.5, method="direct", threads=4)  # type: ignore[arg-type]
        np.testing.assert_array_equal(one, four)
        np.testing.assert_array_equal(one, correlate(image, k, mode=mode, cval=0.5))  # type: ignore[arg-type]


def test_plans() -> None:
    big = (2000, 3000)
    assert plan(parse_kernel_spec("gaussian:2"), big).method == "separable"
    assert plan(parse_kernel_spec("box:9"), big).method == "separable"
    assert plan(parse_kernel_spec("laplacian"), big).method == "direct"
    assert plan(parse_kernel_spec("laplacian:8"), big, "lowrank").rank == 2
    rng = np.random.default_rng(1)
    assert plan(Kernel(rng.random((41, 41)), (20, 20)), big).method == "fft"
    with pytest.raises(OptionError, match="not separable"):
        plan(parse_kernel_spec("emboss"), big, "separable")
    with pytest.raises(OptionError, match="method 'magic'"):
        plan(parse_kernel_spec("box"), big, "magic")  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["gaussian:2", "sobel-x", "emboss", "1,2;4,8", "motion:9,30"])
@pytest.mark.parametrize("method", ["auto", "lowrank", "fft"])
def test_integer_outputs_equal_direct(spec: str, method: str) -> None:
    # FFT and low-rank sums are settled where their rounding is in doubt (engine.settle)
    rng = np.random.default_rng(4)
    img = rng.integers(0, 65536, (150, 170, 3), dtype=np.uint16)
    k = parse_kernel_spec(spec)
    want = filter_image(img, k, operation="convolve", method="direct", threads=1, mode="wrap")
    got = filter_image(img, k, operation="convolve", method=method, threads=2, mode="wrap")
    np.testing.assert_array_equal(got, want)


@st.composite
def engine_cases(draw: st.DrawFn) -> tuple:  # type: ignore[type-arg]
    # 1xN and Nx1 images included; kernels up to 12 taps a side, often larger than the image
    h, w = draw(
        st.sampled_from([(1, 9), (9, 1)]) | st.tuples(st.integers(1, 20), st.integers(1, 20))
    )
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32", "float64"]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    top = {"uint8": 255, "uint16": 65535}.get(dtype, 1.0)
    shape = (h, w) if channels is None else (h, w, channels)
    image = (rng.random(shape) * top).astype(dtype)
    kh, kw = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    values = rng.normal(size=(kh, kw))
    if draw(st.booleans()):  # rank one, so the separable method applies
        values = np.outer(rng.normal(size=kh), rng.normal(size=kw))
    kernel = Kernel(values, (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))))
    mode = draw(st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]))
    cval = draw(st.floats(-300, 300)) if mode == "constant" else 0.0
    return image, kernel, mode, cval


@pytest.mark.parametrize("backend", ["opencv", "scipy"])
@pytest.mark.parametrize("method", ["auto", "direct", "separable", "lowrank", "fft"])
@settings(max_examples=60, deadline=None)
@given(case=engine_cases(), operation=st.sampled_from(["correlate", "convolve"]))
def test_every_backend_and_method_equals_scipy_direct(
    backend: str,
    method: str,
    case: tuple,
    operation: str,  # type: ignore[type-arg]
) -> None:
    from flipconv.core.engine.planner import plan
    from flipconv.core.engine.scipy_backend import scipy_filter

    image, kernel, mode, cval = case
    if method == "separable" and len(engine._terms(kernel)) != 1:
        method = "lowrank"
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    for plane in planes:
        want = scipy_filter(operation, plane.astype(np.float64), kernel, mode, cval)
        got = apply_plane(
            operation,
            plane,
            kernel,
            mode=mode,
            cval=cval,
            method=method,  # type: ignore[arg-type]
            threads=2,
            backend=backend,
        )  # type: ignore[arg-type]
        scale = np.abs(kernel.values).sum() * max(1.0, float(np.abs(plane).max()), abs(cval))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * scale)
    used = plan(kernel, image.shape[:2], method, backend)  # type: ignore[arg-type]
    taps = kernel.shape[0] * kernel.shape[1]
    if backend == "scipy" or (method == "fft" and taps < 50) or (method == "direct" and taps >= 50):
        assert used.backend == "scipy"  # what OpenCV cannot do here falls back to scipy
    else:
        assert used.backend == "opencv"


def test_opencv_direct_is_bit_identical_to_scipy_on_8_bit_pictures() -> None:
    from flipconv.core.engine.scipy_backend import scipy_filter

    rng = np.random.default_rng(11)
    plane = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    for side in (3, 5, 7):
        kernel = Kernel(rng.normal(size=(side, side)), (side // 2, side // 2))
        for mode in ("reflect", "mirror", "nearest", "constant"):
            got = correlate_plane(plane, kernel, mode=mode, method="direct", backend="opencv")  # type: ignore[arg-type]
            np.testing.assert_array_equal(got, scipy_filter("correlate", plane, kernel, mode, 0.0))


@settings(max_examples=150, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 30), st.integers(1, 30)),
    channels=st.sampled_from([None, 3, 4]),
    side=st.tuples(st.integers(1, 6), st.integers(1, 6)),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    operation=st.sampled_from(["correlate", "convolve"]),
    out_range=st.sampled_from(["clip", "abs"]),
    cval=st.sampled_from([0.0, 50.0, 255.0, 17.5]),
)
def test_integer_kernels_on_8_bit_images_are_exact(
    shape: tuple[int, int],
    channels: int | None,
    side: tuple[int, int],
    seed: int,
    mode: str,
    operation: str,
    out_range: str,
    cval: float,
) -> None:
    from reference import assert_matches_reference

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape if channels is None else (*shape, channels), dtype=np.uint8)
    values = rng.integers(-8, 9, side).astype(float)
    while np.abs(values).sum() > 128:  # where int16 sums are exact
        values = np.trunc(values / 2)
    origin = (int(rng.integers(0, side[0])), int(rng.integers(0, side[1])))
    got = filter_image(
        pixels,
        values,
        anchor=origin,
        operation=operation,
        mode=mode,  # type: ignore[arg-type]
        cval=cval,
        out_range=out_range,
        alpha="keep",  # the reference keeps alpha; a shift by default moves it too
    )  # type: ignore[arg-type]
    assert_matches_reference(
        got,
        pixels,
        values,
        origin,
        operation=operation,
        mode=mode,
        cval=cval if mode == "constant" else 0.0,
        out_range=out_range,
    )


@pytest.fixture
def int16_calls(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each call of the exact int16 path applied (filled as filters run); a
    kernel it cannot take never reaches it (choose_route decides first)."""
    from flipconv.core.engine import opencv_backend as opencv

    calls: list[bool] = []
    real = opencv.correlate_u8_exact

    def spy(*args: object) -> object:
        result = real(*args)  # type: ignore[arg-type]
        calls.append(result is not None)
        return result

    monkeypatch.setattr(opencv, "correlate_u8_exact", spy)
    return calls


@pytest.mark.parametrize(
    ("weights", "path"),
    [
        ([[64.0, -64.0]], True),  # sum|K| = 128: the int16 sums are exact
        ([[64.0, -65.0]], False),  # 129: the float path
        ([[100001.0, -100000.0]], False),  # float32 would give 200 on 201s
    ],
)
def test_the_integer_path_stops_at_its_bound(
    weights: list[list[float]], path: bool, int16_calls: list[bool]
) -> None:
    taken = int16_calls
    image = np.full((6, 7), 201, np.uint8)
    image[:, 3:] = 3
    got = filter_image(image, weights, operation="correlate", mode="nearest")
    left, right = weights[0]
    # by hand: each output sums left * I[n] + right * I[n + 1] (origin at the right tap)
    rows = image.astype(float)
    shifted = np.concatenate([rows[:, :1], rows[:, :-1]], axis=1)  # I[n - 1], edge repeated
    want = np.clip(np.rint(left * shifted + right * rows), 0, 255)
    np.testing.assert_array_equal(got, want)
    assert taken == ([True] if path else [])  # chosen before, not tried and declined


def test_the_integer_path_is_not_taken_with_a_cval() -> None:
    # the int16 path pads with 0: with --cval 50 the border must be 50
    image = np.zeros((5, 5), np.uint8)
    got = filter_image(image, "1,1,1", operation="correlate", mode="constant", cval=50.0)
    assert got[:, 0].tolist() == [50] * 5 and got[:, 2].tolist() == [0] * 5


def test_the_integer_path_is_taken_for_sobel(int16_calls: list[bool]) -> None:
    calls = int16_calls
    img = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    out = filter_image(img, "sobel-x", operation="correlate", out_range="abs")
    assert calls == [True] and out.dtype == np.uint8  # the three channels in one call
    calls.clear()
    filter_image(img, "gaussian:1", operation="correlate")  # not integer: never tried
    assert calls == []


@pytest.mark.parametrize("height", range(150, 166))
@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant"])
def test_integer_sums_in_strips_give_the_whole_image_bytes_and_counts(
    height: int, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 15-tall integer kernel anchored at its top, then at its bottom row:
    # a border reflected at the image's bottom (or top) reaches 14 rows back,
    # past a short last strip's own rows. Strips of 64 rows (the fewest)
    # leave 22..37 at the end. Checked against the independent reference,
    # and the clipped counts against the reference's sums.
    from flipconv.core.engine import strips
    from reference import reference_image

    monkeypatch.setattr(strips, "STRIP_BYTES", 1)
    rng = np.random.default_rng(height)
    pixels = rng.integers(0, 256, (height, 23, 3), np.uint8)
    values = rng.integers(-1, 2, (15, 5)).astype(float)  # sum|K| <= 75: exact in int16
    for origin in ((0, 2), (14, 2)):
        notes: list[str] = []
        engine: dict[str, object] = {}
        got = filter_image(pixels, Kernel(values, origin), operation="correlate", mode=mode,
                           notes=notes, engine=engine)  # type: ignore[arg-type]  # fmt: skip
        assert engine["route"] == "int16 exact sums"
        sums, _ = reference_image(pixels, values, origin, operation="correlate", mode=mode)
        np.testing.assert_array_equal(got, np.clip(sums, 0, 255))
        clipped = int(np.count_nonzero(sums < 0) + np.count_nonzero(sums > 255))
        assert any(n.startswith(f"{clipped} of {sums.size} samples") for n in notes), notes


@settings(max_examples=150, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 9), st.integers(1, 9)),
    side=st.tuples(st.integers(1, 40), st.integers(1, 40)),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    operation=st.sampled_from(["correlate", "convolve"]),
    cval=st.floats(-3, 3),
)
def test_kernels_far_larger_than_the_image_fold_exactly(
    shape: tuple[int, int],
    side: tuple[int, int],
    seed: int,
    mode: str,
    operation: str,
    cval: float,
) -> None:
    from flipconv.core.engine import filters
    from reference import reference_convolve, reference_correlate

    rng = np.random.default_rng(seed)
    image = rng.random(shape) * 10 - 3
    values = rng.random(side) - 0.4  # signed weights
    anchor = (int(rng.integers(0, side[0])), int(rng.integers(0, side[1])))
    ours = getattr(filters, operation)(image, values, anchor=anchor, mode=mode, cval=cval)
    ref = reference_correlate if operation == "correlate" else reference_convolve
    want = ref(image, values, anchor, mode, cval)
    scale = 1 + np.abs(values).sum() * max(abs(cval), float(np.abs(image).max()))
    np.testing.assert_allclose(ours, want, rtol=0, atol=1e-12 * scale)


def test_a_huge_kernel_costs_what_the_image_does(monkeypatch: pytest.MonkeyPatch) -> None:
    from flipconv.core.engine import planner as engine
    from flipconv.core.engine.filters import correlate

    seen = []
    real = engine.correlate_plane

    def spy(plane: np.ndarray, kernel: object, **options: object) -> np.ndarray:
        seen.append(kernel.shape)  # type: ignore[attr-defined]
        return real(plane, kernel, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "correlate_plane", spy)
    image = np.random.default_rng(1).random((16, 16))
    for mode, bound in (("reflect", 32), ("wrap", 16), ("nearest", 31), ("constant", 31)):
        seen.clear()
        out = correlate(image, "box:2001", mode=mode)
        assert max(seen[0]) <= bound, (mode, seen)  # folded, not 2001x2001
        if mode == "wrap":  # every tap reads each pixel about equally often: the mean
            np.testing.assert_allclose(out, image.mean(), rtol=2e-3)


@settings(max_examples=120, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(6, 40), st.integers(6, 40)),
    channels=st.sampled_from([None, 1, 2, 3, 4, 5]),
    size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    divisor=st.sampled_from([1.0, 3.0, 4.0, 7.5]),
    mode=st.sampled_from(["reflect", "mirror", "nearest", "constant"]),
    operation=st.sampled_from(["correlate", "convolve"]),
    out_range=st.sampled_from(["clip", "abs"]),
)
@example(
    seed=0,
    shape=(6, 13),
    channels=None,
    size=(1, 1),
    divisor=3.0,
    mode="reflect",
    operation="correlate",
    out_range="abs",
)  # the rational route counted before abs
def test_the_clipping_note_counts_the_samples_the_reference_clips(
    seed: int,
    shape: tuple[int, int],
    channels: int | None,
    size: tuple[int, int],
    divisor: float,
    mode: str,
    operation: str,
    out_range: str,
) -> None:
    """Every route (int16 sums, rational, certified, float64) counts what it clips, colour
    planes only.

    Integer weights (divisor 1) take OpenCV's int16 route, fractions Engine 3
    or float64; the count is checked against the independent reference's
    sums, more than half a level outside 0..255, alpha (2 or 4 channels) left out.
    """
    from flipconv.core.engine.notes import CLIP_NOTE_SHARE
    from reference import reference_image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape if channels is None else (*shape, channels), np.uint8)
    values = rng.integers(-8, 9, size) / divisor
    if not values.any():
        values[0, 0] = 2.0
    kernel = Kernel(values, (size[0] // 2, size[1] // 2))
    notes: list[str] = []
    engine: dict[str, object] = {}
    options = {"operation": operation, "mode": mode, "out_range": out_range}
    filter_image(pixels, kernel, notes=notes, engine=engine, **options)  # type: ignore[arg-type]
    event(str(engine.get("route")))
    sums, _ = reference_image(pixels, values, kernel.origin, **options)  # type: ignore[arg-type]
    planes = sums[..., None] if sums.ndim == 2 else sums
    colours = [c for c in range(planes.shape[2]) if not (c == planes.shape[2] - 1 and c in (1, 3))]
    kept = planes[..., colours]
    clipped = int(np.count_nonzero(kept < -0.5) + np.count_nonzero(kept > 255.5))
    said = [n for n in notes if "were clipped" in n]
    if clipped > CLIP_NOTE_SHARE * kept.size:
        assert said and said[0].startswith(f"{clipped} of {kept.size} samples were clipped")
    else:
        assert not said
