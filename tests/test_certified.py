"""Engine 3 (core/engine/certified.py): float32, a certified bound, the float64 route's bytes.

Each case runs twice: as ``method='auto'`` (Engine 3 where it applies) and
with the float64 route's own method forced (which Engine 3 never takes). The
bytes must be equal, and both must match the independent reference. Kernels
are drawn to make rounding hard: decimal weights put a tenth of the sums on
an exact tie, where only the same float64 operations decide alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from flipconv.core.engine import certified, settle, strips
from flipconv.core.engine.certified import certified_u8, error_bound, plan_certified
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.planner import plan
from flipconv.core.io.readers import read_image
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import parse_kernel_spec
from hypothesis import event, given, settings
from hypothesis import strategies as st
from reference import assert_matches_reference


@st.composite
def kernels(draw: st.DrawFn) -> Kernel:
    """Direct kernels (up to 7x7, decimal or random, signed) and outer products."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["decimal", "random", "signed", "outer", "symmetric-outer"]))
    h, w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    if kind == "decimal":  # 0.1 steps: exact ties in real arithmetic, a tenth of the time
        values = rng.integers(0, 10, (h, w)) / 10
    elif kind == "random":
        values = rng.random((h, w)) / (h * w)
    elif kind == "signed":
        values = (rng.random((h, w)) - 0.5) / 2
    else:
        h, w = draw(st.integers(2, 15)), draw(st.integers(2, 15))
        col, row = rng.random(h), rng.random(w)
        if kind == "symmetric-outer":
            col, row = col + col[::-1], row + row[::-1]
            col = col * (rng.integers(-1, 2) or 1)  # sometimes the column negated
        values = np.outer(col, row) / (col.sum() * row.sum())
    if not values.any():
        values[0, 0] = 0.5
    origin = (int(rng.integers(0, values.shape[0])), int(rng.integers(0, values.shape[1])))
    if draw(st.booleans()):
        origin = (values.shape[0] // 2, values.shape[1] // 2)
    return Kernel(values, origin)


@settings(max_examples=200, deadline=None)
@given(
    kernel=kernels(),
    shape=st.tuples(st.integers(16, 48), st.integers(16, 64)),
    channels=st.sampled_from([None, 1, 2, 3, 4]),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror"]),
    operation=st.sampled_from(["correlate", "convolve"]),
    out_range=st.sampled_from(["clip", "abs"]),
    strip_bytes=st.sampled_from([1, 300, 4 << 20]),
)
def test_engine3_bytes_equal_the_float64_route(
    kernel: Kernel,
    shape: tuple[int, int],
    channels: int | None,
    seed: int,
    mode: str,
    operation: str,
    out_range: str,
    strip_bytes: int,
) -> None:
    with _strips_of(strip_bytes):
        _engine3_equals_float64(kernel, shape, channels, seed, mode, operation, out_range)


@contextmanager
def _strips_of(strip_bytes: int) -> Iterator[None]:
    """Engine 3 in strips of about ``strip_bytes`` of float32 sums (1: the fewest rows)."""
    saved = strips.STRIP_BYTES
    strips.STRIP_BYTES = strip_bytes
    try:
        yield
    finally:
        strips.STRIP_BYTES = saved


def _engine3_equals_float64(
    kernel: Kernel,
    shape: tuple[int, int],
    channels: int | None,
    seed: int,
    mode: str,
    operation: str,
    out_range: str,
) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape if channels is None else (*shape, channels), np.uint8)
    engine: dict[str, object] = {}
    # alpha kept: a blur's default weights colours by alpha, and those are not sums
    options = {"operation": operation, "mode": mode, "out_range": out_range, "alpha": "keep"}
    got = filter_image(pixels, kernel, engine=engine, **options)  # type: ignore[arg-type]
    used = kernel.reflected() if operation == "convolve" else kernel
    method = plan(used, shape).method
    float64 = filter_image(pixels, kernel, method=method, **options)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, float64)
    assert_matches_reference(
        got, pixels, kernel.values, kernel.origin, operation=operation, mode=mode,
        out_range=out_range,
    )  # fmt: skip
    event(str(engine["route"]))
    # Engine 3 on every kernel it can follow, however much it must recompute
    alpha = {2: 1, 4: 3}.get(channels or 0)  # grey + alpha, RGBA: the alpha is kept
    forced = certified_u8(pixels, kernel, operation, mode, 0.0, out_range, None, None, alpha,
                          budget=math.inf)  # type: ignore[arg-type]  # fmt: skip
    if forced is not None:
        event("forced through Engine 3")
        np.testing.assert_array_equal(forced[0], float64)


@pytest.mark.parametrize("height", range(150, 166))
@pytest.mark.parametrize("mode", ["reflect", "mirror", "nearest", "constant"])
def test_strips_give_the_whole_image_bytes_whatever_is_left_at_the_bottom(
    height: int, mode: str
) -> None:
    # A 15-tall kernel anchored at its top, then at its bottom row: a border
    # reflected at the image's bottom (or top) reaches 14 rows back, past a
    # short last strip's own rows. Strips of 64 rows leave 22..37 at the end,
    # kept as a strip from 32 rows, joined to the one before below that.
    rng = np.random.default_rng(height)
    pixels = rng.integers(0, 256, (height, 23, 3), np.uint8)
    values = np.outer(rng.random(15) + 0.1, rng.random(5) + 0.1)
    for origin in ((0, 2), (14, 2)):
        kernel = Kernel(values / values.sum(), origin)
        whole = certified_u8(pixels, kernel, "correlate", mode, 0.0, "clip", None, budget=math.inf)
        with _strips_of(1):
            strips = certified_u8(pixels, kernel, "correlate", mode, 0.0, "clip", None,
                                  budget=math.inf)  # fmt: skip
        assert whole is not None and strips is not None
        want = filter_image(pixels, kernel, operation="correlate", mode=mode, method="separable")
        np.testing.assert_array_equal(whole[0], want)
        np.testing.assert_array_equal(strips[0], want)
        assert strips[1].recomputed == whole[1].recomputed


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 4), (2, 2), (1, 1, 3), (1, 1, 4), (2, 2, 4), (4, 4, 4)]
)
@pytest.mark.parametrize("weights", [[[0.3]], [[2.0]], [[1.0, -1.0]], [[0.25, 0.5]]])
def test_tiny_images_are_not_taken_for_scalars(shape: tuple[int, ...], weights: list) -> None:
    # OpenCV's binding reads an array of up to four values as a scalar: a
    # 1x1 gray image came back from the int16 path as an array of four values.
    pixels = np.random.default_rng(len(shape)).integers(0, 256, shape, np.uint8)
    kernel = Kernel(np.array(weights), (0, 0))
    for out_range in ("clip", "abs"):
        got = filter_image(pixels, kernel, operation="correlate", out_range=out_range)
        assert_matches_reference(got, pixels, kernel.values, kernel.origin,
                                 operation="correlate", out_range=out_range)  # fmt: skip
        alpha = 3 if len(shape) == 3 and shape[2] == 4 else None  # RGBA: alpha kept
        forced = certified_u8(pixels, kernel, "correlate", "reflect", 0.0, out_range, None,
                              alpha_index=alpha, budget=math.inf)  # fmt: skip
        if forced is not None:
            assert_matches_reference(forced[0], pixels, kernel.values, kernel.origin,
                                     operation="correlate", out_range=out_range)  # fmt: skip


def test_decimal_weights_are_recomputed_and_still_equal(samples: object) -> None:
    # 0.1..0.9 on 8-bit samples: sums are often exactly x.5, where float32 is never sure
    pixels = read_image(samples / "scene.png").pixels  # type: ignore[operator]
    kernel = Kernel(np.arange(1, 10).reshape(3, 3) / 10, (1, 1))
    engine: dict[str, object] = {}
    filter_image(pixels, kernel, operation="convolve", engine=engine)
    assert engine["route"] == "float64"  # a tenth of the sums tie: not worth it by default
    done = certified_u8(pixels, kernel, "convolve", "reflect", 0.0, "clip", None, budget=math.inf)
    assert done is not None and done[1].recomputed > 0.005 * pixels.size
    want = filter_image(pixels, kernel, operation="convolve", method="direct")
    np.testing.assert_array_equal(done[0], want)


def test_the_bound_holds_where_float32_alone_would_flip() -> None:
    # a gaussian on noise: float32 alone rounds some samples the other way;
    # every one of them must be among those the bound leaves in doubt
    import cv2

    rng = np.random.default_rng(9)
    plane = rng.integers(0, 256, (400, 600), np.uint8)
    x = np.arange(-8, 9)
    g = np.exp(-(x**2) / 8.0)
    g /= g.sum()
    kernel = Kernel(np.outer(g, g), (8, 8), factors=(g, g))
    chosen = plan_certified(kernel, plane.shape, budget=math.inf)
    assert chosen is not None and chosen.method == "separable"
    g32, reflect = g.astype(np.float32), cv2.BORDER_REFLECT  # scipy's reflect
    r32 = cv2.sepFilter2D(plane, cv2.CV_32F, g32, g32, borderType=reflect)
    r64 = cv2.sepFilter2D(plane, cv2.CV_64F, g, g, borderType=reflect)
    flips = np.rint(r32.astype(np.float64)) != np.rint(r64)
    assert flips.any()  # float32 alone is wrong somewhere
    bound = error_bound(kernel, True)
    assert np.abs(r32 - r64).max() < bound  # the bound holds
    near = np.abs(r32 - (np.floor(r32) + 0.5)) <= bound
    assert not (flips & ~near).any()  # every flip is in doubt, so recomputed
    done = certified_u8(plane, kernel, "correlate", "reflect", 0.0, "clip", None, budget=math.inf)
    assert done is not None
    np.testing.assert_array_equal(done[0], np.clip(np.rint(r64), 0, 255))


@pytest.mark.parametrize(
    ("options", "route"),
    [
        ({}, "float32, certified"),
        ({"method": "separable"}, "float64"),  # a method asked for: the float64 route
        ({"scale": 2.0}, "float64"),
        ({"dtype": "uint16"}, "float64"),
        ({"mode": "wrap"}, "float64"),
        ({"mode": "constant", "cval": 9.0}, "float64"),
    ],
)
def test_engine3_takes_only_the_plain_case(
    options: dict[str, object], route: str, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(certified, "SEPARABLE_BUDGET", math.inf)  # as if it always paid
    pixels = np.random.default_rng(2).integers(0, 256, (40, 50, 3), np.uint8)
    engine: dict[str, object] = {}
    filter_image(pixels, "gaussian:1", operation="convolve", engine=engine, **options)  # type: ignore[arg-type]
    assert engine["route"] == route


@pytest.mark.parametrize(
    ("spec", "route"),
    [("box:5", "rational, exact integer sums"), ("gaussian:2", "float32, certified")],
)
def test_the_fast_routes_are_the_default_for_blurs_and_give_the_float64_bytes(
    spec: str, route: str, samples: object
) -> None:
    # measured faster there (SEPARABLE_BUDGET; box:5, ones over 25, in int16); the bytes
    # must not change with the route
    pixels = read_image(samples / "scene.png").pixels  # type: ignore[operator]
    engine: dict[str, object] = {}
    got = filter_image(pixels, spec, operation="convolve", engine=engine)
    assert engine["route"] == route
    assert engine.get("samples", pixels.size) == pixels.size
    want = filter_image(pixels, spec, operation="convolve", method="separable")
    np.testing.assert_array_equal(got, want)
    assert_matches_reference(got, pixels, parse_kernel_spec(spec).values, None,
                             operation="convolve")  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    kernel=kernels(),
    shape=st.tuples(st.integers(20, 60), st.integers(20, 60)),
    channels=st.sampled_from([None, 3, 4]),
    chunk=st.integers(16, 40),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror"]),
    operation=st.sampled_from(["correlate", "convolve"]),
)
def test_tiles_through_engine3_give_the_bytes_of_the_whole_image(
    kernel: Kernel,
    shape: tuple[int, int],
    channels: int | None,
    chunk: int,
    seed: int,
    mode: str,
    operation: str,
) -> None:
    # each tile is a region with its halo: Engine 3 there must match the
    # float64 route with the method planned for the whole image
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape if channels is None else (*shape, channels), np.uint8)
    options = {"operation": operation, "mode": mode}
    whole = filter_image(pixels, kernel, **options)  # type: ignore[arg-type]
    lazy = filter_image(da.from_array(pixels, chunks=chunk), kernel, chunks=chunk,
                        **options)  # type: ignore[arg-type]  # fmt: skip
    np.testing.assert_array_equal(lazy.compute(scheduler="synchronous"), whole)


def test_tiles_take_engine3_where_memory_does(monkeypatch: pytest.MonkeyPatch) -> None:
    da = pytest.importorskip("dask.array")
    from flipconv.core.engine import tiled

    calls: list[str | None] = []
    real = tiled.certified_u8

    def spy(*args: object, **kwargs: object) -> object:
        done = real(*args, **kwargs)  # type: ignore[arg-type]
        calls.append(None if done is None else "taken")
        return done

    monkeypatch.setattr(tiled, "certified_u8", spy)
    pixels = np.random.default_rng(3).integers(0, 256, (90, 100, 3), np.uint8)
    lazy = filter_image(da.from_array(pixels, chunks=32), "gaussian:2", operation="convolve")
    whole = filter_image(pixels, "gaussian:2", operation="convolve")
    np.testing.assert_array_equal(lazy.compute(scheduler="synchronous"), whole)
    assert calls and all(c == "taken" for c in calls)
    calls.clear()  # a method asked for: the float64 route, as in memory
    filter_image(da.from_array(pixels, chunks=32), "gaussian:2", operation="convolve",
                 method="separable").compute(scheduler="synchronous")  # fmt: skip
    assert not calls


def _tie_share_by_fractions(values: np.ndarray) -> float:
    """tie_share's rule again, through the standard library's best rational approximation."""
    from fractions import Fraction

    q = 1
    for weight in values.ravel().tolist():
        near = Fraction(weight).limit_denominator(settle.TIE_DENOMINATOR)
        if abs(float(near) - weight) > 1e-12 * max(1.0, abs(weight)):
            return 0.0
        q = math.lcm(q, near.denominator)
        if q > settle.TIE_DENOMINATOR:
            return 0.0
    return 1.0 / q if q % 2 == 0 else 0.0


@settings(max_examples=300, deadline=None)
@given(
    numerators=st.lists(st.integers(-3000, 3000), min_size=1, max_size=12),
    denominator=st.sampled_from([1, 2, 3, 4, 7, 10, 16, 25, 40, 64, 100, 999, 1000, 1024, 3000]),
    noise=st.sampled_from([0.0, 1e-15, 1e-9, 1e-3]),
    sign=st.sampled_from([1.0, -1.0]),
)
def test_tie_share_finds_the_denominators_fractions_find(
    numerators: list[int], denominator: int, noise: float, sign: float
) -> None:
    values = sign * (np.array(numerators, float) / denominator + noise)
    assert settle.tie_share(values) == _tie_share_by_fractions(values)


@settings(max_examples=150, deadline=None)
@given(
    kernel=kernels(),
    seed=st.integers(0, 2**32 - 1),
    channels=st.sampled_from([None, 3]),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror"]),
)
def test_recomputed_sums_are_the_float64_routes_to_the_bit(
    kernel: Kernel, seed: int, channels: int | None, mode: str
) -> None:
    """The doubtful sums must be OpenCV's float64 sums themselves, not merely close:
    a tie is decided by the last bit, so the same products must be added in the same
    order. Checked on the sums (not the bytes), where any other order shows."""
    import cv2
    from flipconv.core.engine import opencv_backend
    from flipconv.core.engine.recompute import recompute

    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(16, 40)), int(rng.integers(16, 40)))
    pixels = rng.integers(0, 256, shape if channels is None else (*shape, channels), np.uint8)
    chosen = plan_certified(kernel, shape, budget=math.inf)
    if chosen is None:
        return
    border = opencv_backend.borders()[mode]
    anchor = (kernel.origin[1], kernel.origin[0])
    if chosen.method == "separable":
        col, row = chosen.terms[0]
        want = cv2.sepFilter2D(pixels, cv2.CV_64F, row, col, anchor=anchor, borderType=border)
        factors = (col, row)
    else:
        want = cv2.filter2D(pixels, cv2.CV_64F, kernel.values, anchor=anchor, borderType=border)
        factors = None
    want = want.reshape(*shape, channels or 1)
    count = 200
    ys, xs = rng.integers(0, shape[0], count), rng.integers(0, shape[1], count)
    cs = rng.integers(0, channels or 1, count)
    got = recompute(pixels, kernel, ys, xs, cs, mode, factors)  # type: ignore[arg-type]
    np.testing.assert_array_equal(got, want[ys, xs, cs])
