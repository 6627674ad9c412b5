"""Tiles: lazy Dask filtering equals the in-memory result.

On the scipy backend, bit for bit. On OpenCV's (the default) to float64
rounding: its vectorised passes round differently from its scalar ones, and
which runs depends on the width of what is filtered, a tile or the image.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")

from flipconv.core._shared.vocabulary import MODES  # noqa: E402
from flipconv.core.engine.borders import border_indices  # noqa: E402
from flipconv.core.engine.filters import convolve, correlate, filter_image  # noqa: E402
from flipconv.core.engine.tiled import filter_array  # noqa: E402
from flipconv.core.kernels.kernel import Kernel  # noqa: E402
from flipconv.core.kernels.specs import parse_kernel_spec  # noqa: E402


@st.composite
def cases(draw):  # type: ignore[no-untyped-def]
    h, w = draw(st.integers(1, 24)), draw(st.integers(1, 24))
    kh, kw = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kernel = Kernel(
        rng.normal(size=(kh, kw)), (draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1)))
    )
    chunks = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    return rng.random((h, w)) * 255, kernel, chunks, draw(st.sampled_from(MODES)), seed


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=cases(), operation=st.sampled_from(["correlate", "convolve"]))
def test_tiled_floats_equal_in_memory(case, operation: str, backend: str) -> None:  # type: ignore[no-untyped-def]
    image, kernel, chunks, mode, _ = case
    fn = correlate if operation == "correlate" else convolve
    lazy = fn(da.from_array(image, chunks=chunks), kernel, mode=mode, cval=17.5)
    assert lazy.chunks[0][0] == min(chunks[0], image.shape[0])  # the chunks are kept
    _same(lazy.compute(), fn(image, kernel, mode=mode, cval=17.5), backend, kernel)


@pytest.fixture(params=["scipy", "opencv"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    from flipconv.core.engine import planner as engine

    if request.param == "scipy":
        monkeypatch.setattr(engine, "has_opencv", lambda: False)
    return str(request.param)


def _same(got: np.ndarray, want: np.ndarray, backend: str, kernel: object = None) -> None:
    # in memory, a kernel longer than the image is folded onto it first
    # (borders.fold_to_image): the same sums in another order
    shape = getattr(kernel, "shape", (0, 0))
    folded = shape[0] > got.shape[0] or shape[1] > got.shape[1]
    if (backend == "scipy" and not folded) or got.dtype == np.uint8 and np.array_equal(got, want):
        np.testing.assert_array_equal(got, want)
    elif got.dtype.kind == "f":
        # folded: the same terms added in another order, and `alpha` filter
        # divides by alpha, which can be small (hypothesis found 4.6e-12
        # relative on a 1x4 image, 1x5 kernel, alpha near 0.003)
        np.testing.assert_allclose(got, want, rtol=1e-10 if folded else 1e-12, atol=1e-12)
    else:  # one unit at most, and only where float64 rounding decides a tie
        assert np.abs(got.astype(int) - want).max() <= 1


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=cases(),
    method=st.sampled_from(["direct", "separable", "lowrank"]),
    alpha=st.sampled_from(["keep", "filter"]),
)
def test_tiled_bytes_equal_in_memory_for_every_exact_method(
    case, method: str, alpha: str, backend: str
) -> None:  # type: ignore[no-untyped-def]
    image, kernel, chunks, mode, seed = case
    rng = np.random.default_rng(seed)
    if method == "separable":  # a rank-one kernel of the same shape and origin
        kernel = Kernel(
            np.outer(rng.normal(size=kernel.shape[0]), rng.normal(size=kernel.shape[1])),
            kernel.origin,
        )
    pixels = rng.integers(0, 256, (*image.shape, 4), dtype=np.uint8)
    options = dict(
        operation="convolve",
        mode=mode,
        cval=9.0,
        alpha=alpha,
        method=method,
        bias=3.0,
        out_range="abs",
    )
    for dtype in ("uint8", "float64"):
        lazy = filter_image(
            da.from_array(pixels, chunks=(*chunks, 4)), kernel, dtype=dtype, **options
        )
        _same(lazy.compute(), filter_image(pixels, kernel, dtype=dtype, **options), backend, kernel)


def test_fft_blocks_agree_to_rounding() -> None:
    rng = np.random.default_rng(1)
    image = rng.random((70, 90)) * 255
    k = parse_kernel_spec("motion:15,30")
    lazy = filter_array(da.from_array(image, chunks=16), k, operation="convolve", method="fft")
    np.testing.assert_allclose(lazy.compute(), convolve(image, k), rtol=0, atol=1e-9)


def test_images_and_chunks_smaller_than_the_kernel() -> None:
    image = np.arange(6.0).reshape(2, 3)
    k = parse_kernel_spec("gaussian:3")  # 25x25
    for mode in MODES:
        lazy = correlate(da.from_array(image, chunks=1), k, mode=mode)
        # in memory the 25x25 kernel is folded onto the 2x3 image: same sums, other order
        np.testing.assert_allclose(
            lazy.compute(), correlate(image, k, mode=mode), rtol=1e-13, atol=1e-13
        )


def test_halos_are_asymmetric() -> None:
    k = Kernel(np.ones((2, 5)), (0, 1))
    assert k.reach("correlate") == ((0, 1), (1, 3))
    assert k.reach("convolve") == ((1, 0), (3, 1))
    index, inside = border_indices(-2, 3, 2, "constant")
    assert inside.tolist() == [False, False, True, True, False]


def test_offset_and_rescale() -> None:
    k = Kernel([[1.0, 1.0]], (0, 0), offset=5.0)
    image = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(
        correlate(da.from_array(image, chunks=2), k).compute(), correlate(image, k)
    )
    from flipconv.core._shared.errors import OptionError

    with pytest.raises(OptionError, match="rescale needs the whole image"):
        filter_image(
            da.from_array(image.astype(np.uint8), chunks=2),
            k,
            operation="convolve",
            out_range="rescale",
        )


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_tiles_hold_a_few_blocks_not_rows_of_them(threads: int) -> None:
    """Memory must not grow with the image's width: blocks filtered and not yet
    taken by the writer stay within the window, however many make a row."""
    import threading

    from flipconv.core.engine.local_tiles import filter_tiles
    from flipconv.core.engine.settings import Finish

    pixels = np.random.default_rng(4).integers(0, 256, (48, 16 * 90), dtype=np.uint8)
    tiles = filter_tiles(pixels, parse_kernel_spec("gaussian:1"), operation="correlate",
                         finish=Finish(np.dtype(np.uint8)), chunks=16)  # fmt: skip
    lock, held, most = threading.Lock(), [0], [0]
    real = tiles.block

    def counted(i: int, j: int) -> np.ndarray:
        block = real(i, j)
        with lock:
            held[0] += 1
            most[0] = max(most[0], held[0])
        return block

    object.__setattr__(tiles, "block", counted)  # a frozen dataclass: count its calls
    rows = []
    for row in tiles.rows(threads):
        blocks = []
        for block in row:
            with lock:
                held[0] -= 1
            blocks.append(block)
        rows.append(np.concatenate(blocks, axis=1))
    assert len(rows) == 3 and held[0] == 0
    assert most[0] <= 2 * threads + 1, f"{most[0]} blocks held at once, rows are 90"
    whole = filter_image(pixels, "gaussian:1", operation="correlate")
    np.testing.assert_array_equal(np.concatenate(rows), whole)


@settings(max_examples=100, deadline=None)
@given(
    case=cases(),
    channels=st.sampled_from([None, 1, 3, 4]),
    operation=st.sampled_from(["correlate", "convolve"]),
    alpha=st.sampled_from(["keep", "filter"]),
    out_range=st.sampled_from(["clip", "abs"]),
    dtype=st.sampled_from(["uint8", "float64"]),
    threads=st.integers(1, 3),
)
def test_tiles_run_here_give_the_dask_routes_bytes(  # type: ignore[no-untyped-def]
    case, channels, operation, alpha, out_range, dtype, threads
) -> None:
    from flipconv.core.engine.local_tiles import Tiles
    from flipconv.core.engine.routes import filter_with
    from flipconv.core.engine.settings import FilterSettings

    image, kernel, chunks, mode, seed = case
    side = chunks[0]
    rng = np.random.default_rng(seed)
    shape = image.shape if channels is None else (*image.shape, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    settings = FilterSettings(operation, mode=mode, cval=9.0, alpha=alpha, out_range=out_range,
                              dtype=dtype, bias=2.0)  # type: ignore[arg-type]  # fmt: skip
    here = filter_with(pixels, kernel, settings, chunks=side, by_region=True)
    assert isinstance(here, Tiles)
    got = np.concatenate([np.concatenate(list(row), axis=1) for row in here.rows(threads)], axis=0)
    lazy = filter_with(da.from_array(pixels, chunks=(side, side, *shape[2:])), kernel, settings,
                       chunks=side)  # fmt: skip
    np.testing.assert_array_equal(got, lazy.compute())
    assert got.dtype == np.dtype(dtype) and got.shape == pixels.shape
    whole = filter_image(pixels, kernel, operation=operation, mode=mode, cval=9.0, alpha=alpha,
                         out_range=out_range, dtype=dtype, bias=2.0)  # fmt: skip
    _same(got, whole, "opencv", kernel)
