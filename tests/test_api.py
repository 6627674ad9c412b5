"""The Python API as a scipy or OpenCV user would call it, checked against both.

``correlate``/``convolve``/``filter_image`` take arrays, spec strings or
Kernels, scipy's ``origin=`` (or the element's index, ``anchor=``) and 1 to 4
channels. These tests compare them
with ``scipy.ndimage.correlate``/``convolve`` and ``cv2.filter2D`` called
directly, channel by channel, over every mode, even and odd kernels, explicit
origins and kernels larger than the image.

Names load on first use (core/_shared/lazy.py): ``import flipconv`` loads no numpy.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage as ndi
from flipconv.core import KernelError, OptionError, convolve, correlate, filter_image
from flipconv.core._shared.vocabulary import MODES
from flipconv.core.kernels.kernel import Kernel
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import reference_convolve, reference_correlate


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, dict[str, object], str, float]:
    """An image, a kernel, where its origin is (none, scipy's ``origin``, or ``anchor``),
    a mode and a cval."""
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    channels = draw(st.sampled_from([None, 1, 2, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    dtype = draw(st.sampled_from([np.uint8, np.float64]))
    elements = st.integers(0, 255) if dtype == np.uint8 else st.floats(-100, 100, width=32)
    image = draw(hnp.arrays(dtype, shape, elements=elements))
    # up to 15 taps: often larger than the image
    kh, kw = draw(st.integers(1, 15)), draw(st.integers(1, 15))
    # integer weights: scipy skips |w| <= 2**-52, which is not what is tested here
    kernel = draw(hnp.arrays(np.float64, (kh, kw), elements=st.integers(-8, 8)))

    def offsets(n: int) -> st.SearchStrategy[int]:  # every origin scipy accepts on an axis
        return st.integers(-(n // 2), (n - 1) // 2)

    both = st.integers(max(-(kh // 2), -(kw // 2)), min((kh - 1) // 2, (kw - 1) // 2))
    where = draw(
        st.just({})
        | st.fixed_dictionaries({"origin": both | st.tuples(offsets(kh), offsets(kw))})
        | st.fixed_dictionaries(
            {"anchor": st.tuples(st.integers(0, kh - 1), st.integers(0, kw - 1))}
        )
    )
    mode = draw(st.sampled_from(MODES))
    cval = float(draw(st.integers(-50, 300))) if mode == "constant" else 0.0
    return image, kernel, where, mode, cval


def _absolute(kernel: np.ndarray, where: dict[str, object]) -> tuple[int, int]:
    """The index of the element over the output pixel, from scipy's documented rule."""
    (kh, kw) = kernel.shape
    if "anchor" in where:
        return where["anchor"]  # type: ignore[return-value]
    off = where.get("origin", 0)
    r, c = (off, off) if isinstance(off, int) else off  # type: ignore[misc]
    return (kh // 2 + r, kw // 2 + c)


def _planes(image: np.ndarray) -> list[np.ndarray]:
    return [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]


def _stack(planes: list[np.ndarray], like: np.ndarray) -> np.ndarray:
    return planes[0] if like.ndim == 2 else np.stack(planes, axis=-1)


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_equals_scipy_ndimage(case: tuple) -> None:  # type: ignore[type-arg]
    image, kernel, where, mode, cval = case
    o = _absolute(kernel, where)
    # scipy's origin= as given, or the one an anchor stands for
    shift = where.get("origin", (o[0] - kernel.shape[0] // 2, o[1] - kernel.shape[1] // 2))
    # scipy.ndimage extends an image only once past each edge: where the kernel
    # reaches further (in any mode but constant) its "reflect" repeats wrong
    # pixels, so there the independent reference is the judge.
    far = mode != "constant" and (
        max(kernel.shape[0] - 1 - o[0], o[0]) >= image.shape[0]
        or max(kernel.shape[1] - 1 - o[1], o[1]) >= image.shape[1]
    )
    pairs = (
        (correlate, ndi.correlate, reference_correlate),
        (convolve, ndi.convolve, reference_convolve),
    )
    for ours, theirs, reference in pairs:
        if far:
            planes = [reference(p, kernel, o, mode, cval) for p in _planes(image)]
        else:
            planes = [
                theirs(p.astype(np.float64), kernel, mode=mode, cval=cval, origin=shift)
                for p in _planes(image)
            ]
        got = ours(image, kernel, mode=mode, cval=cval, **where)  # type: ignore[operator]
        assert got.dtype == np.float64 and got.shape == image.shape
        np.testing.assert_allclose(got, _stack(planes, image), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("operation", ["correlate", "convolve"])
def test_the_issue_case_origin_zero_is_scipys(operation: str) -> None:
    # correlate(a, k3x3, origin=(0, 0)) differed from scipy's origin=0 by up to 8.4
    rng = np.random.default_rng(21)
    image, kernel = rng.random((9, 11)) * 4, rng.random((3, 3)) * 3
    ours, theirs = {"correlate": (correlate, ndi.correlate), "convolve": (convolve, ndi.convolve)}[
        operation
    ]
    for origin in (0, (0, 0), (0, -1), -1, (1, 0)):
        np.testing.assert_allclose(
            ours(image, kernel, origin=origin), theirs(image, kernel, origin=origin), rtol=1e-13
        )
    even = rng.random((2, 4))
    for origin in (-1, (0, 1), (-1, -2)):
        np.testing.assert_allclose(
            ours(image, even, origin=origin), theirs(image, even, origin=origin), rtol=1e-13
        )


def test_scipy_reflects_once_where_flipconv_keeps_reflecting() -> None:
    # the case hypothesis found: a 9-tap row over a 2-pixel image, origin at its start
    image, kernel = np.array([[1.0, 0.0]]), np.ones((1, 9))
    ours = correlate(image, kernel, anchor=(0, 0))
    # reflect extends 1 0 | 0 1 1 0 0 1 1 ...: the first output sums 1 0 0 1 1 0 0 1 1
    assert ours[0, 0] == 5.0
    np.testing.assert_array_equal(ours, reference_correlate(image, kernel, (0, 0), "reflect"))


@settings(max_examples=300, deadline=None)
@given(case=cases())
def test_equals_opencv_filter2d(case: tuple) -> None:  # type: ignore[type-arg]
    cv2 = pytest.importorskip("cv2")
    image, kernel, where, mode, cval = case
    borders = {
        "reflect": cv2.BORDER_REFLECT,
        "mirror": cv2.BORDER_REFLECT_101,
        "nearest": cv2.BORDER_REPLICATE,
        "constant": cv2.BORDER_CONSTANT,
    }
    if mode not in borders:
        mode = "reflect"  # filter2D has no wrap border
    (h, w), (r, c) = kernel.shape, _absolute(kernel, where)

    def filter2d(plane: np.ndarray, k: np.ndarray, anchor: tuple[int, int]) -> np.ndarray:
        return cv2.filter2D(plane, cv2.CV_64F, k, anchor=anchor, borderType=borders[mode])

    # OpenCV's constant border is 0; filter2D correlates, and convolves with the
    # kernel rotated about its anchor
    corr = _stack([filter2d(p, kernel, (c, r)) for p in _planes(image)], image)
    conv = _stack(
        [filter2d(p, kernel[::-1, ::-1].copy(), (w - 1 - c, h - 1 - r)) for p in _planes(image)],
        image,
    )
    for ours, want in ((correlate, corr), (convolve, conv)):
        got = ours(image, kernel, mode=mode, **where)  # type: ignore[operator]
        scale = 1 + np.abs(kernel).sum() * max(1.0, float(np.abs(image).max(initial=0)))
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * scale)


def test_what_a_new_user_tries() -> None:
    rng = np.random.default_rng(3)
    gray, rgb = rng.random((40, 50)), rng.random((40, 50, 3))
    out = correlate(gray, np.array([[1.0, 2], [3, 4]]))
    np.testing.assert_allclose(out, ndi.correlate(gray, [[1.0, 2], [3, 4]]), rtol=1e-13)
    edges = correlate(rgb, "sobel-x")
    for c in range(3):
        np.testing.assert_allclose(
            edges[..., c],
            ndi.correlate(rgb[..., c], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
            rtol=1e-13,
            atol=1e-13,
        )


def test_kernel_forms_agree() -> None:
    img = np.arange(30.0).reshape(5, 6)
    matrix = [[1, 2, 4], [8, 16, 32]]
    as_kernel = Kernel(np.array(matrix, float), (0, 2))
    base = convolve(img, as_kernel)
    np.testing.assert_array_equal(convolve(img, matrix, anchor=(0, 2)), base)
    np.testing.assert_array_equal(convolve(img, matrix, origin=(-1, 1)), base)
    np.testing.assert_array_equal(convolve(img, "1,2,4;8,16,32", anchor=(0, 2)), base)
    np.testing.assert_array_equal(convolve(img, np.array(matrix, np.int16), origin=(-1, 1)), base)
    # origin= and anchor= replace a Kernel's own origin
    np.testing.assert_array_equal(
        convolve(img, Kernel(np.array(matrix, float), (1, 1)), anchor=(0, 2)), base
    )
    np.testing.assert_array_equal(
        convolve(img, Kernel(np.array(matrix, float), (1, 1)), origin=(-1, 1)), base
    )


@pytest.mark.parametrize(
    ("kernel", "where", "error", "message"),
    [
        ([[1, 2], [3, 4]], {"anchor": (2, 0)}, OptionError, "the row must be between 0 and 1"),
        ([[1, 2], [3, 4]], {"anchor": (0, -1)}, OptionError, "the column must be between 0 and 1"),
        ([[1, 2], [3, 4]], {"anchor": (0.5, 0)}, OptionError, "must be two integers"),
        ([[1, 2], [3, 4]], {"anchor": (1,)}, OptionError, "must be two integers"),
        ([[1, 2], [3, 4]], {"origin": 1}, OptionError, "must be between -1 and 0"),
        ([[1, 2, 3]], {"origin": (0, 2)}, OptionError, "3 columns .* between -1 and 1"),
        ([[1, 2], [3, 4]], {"origin": 0.5}, OptionError, "an int or two ints"),
        ([[1, 2], [3, 4]], {"origin": (0, 0, 0)}, OptionError, "an int or two ints"),
        ([[1, 2], [3, 4]], {"origin": 0, "anchor": (0, 0)}, OptionError, "not both"),
        ([1, 2, 3], {}, KernelError, "2-D matrix, got 1-D; a row is"),
        ([[1, np.nan]], {}, KernelError, "NaN"),
        ([["a", "b"]], {}, KernelError, "real numbers"),
        ("nosuchkernel", {}, KernelError, "unknown kernel"),
    ],
)
def test_bad_kernels_and_origins_name_the_rule(
    kernel: object, where: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        correlate(np.zeros((4, 4)), kernel, **where)  # type: ignore[arg-type]


def test_filter_image_takes_the_same_kernels_and_plain_lists() -> None:
    img = np.array([[0, 0, 0], [0, 200, 0], [0, 0, 0]], dtype=np.uint8)
    got = filter_image(img, [[0.25, 0.5]], origin=(0, -1), operation="correlate", mode="constant")
    assert got.tolist() == [[0, 0, 0], [100, 50, 0], [0, 0, 0]]
    assert got.dtype == np.uint8
    # a nested list as the image, as convolve takes one (it raised AttributeError)
    floats = (img / 255).tolist()
    listed = filter_image(floats, [[0.25, 0.5]], anchor=(0, 0), operation="correlate")
    assert listed.dtype == np.float64
    np.testing.assert_allclose(listed[1], [100 / 255, 50 / 255, 0])
    with pytest.raises(OptionError, match=r"list of int64 numbers; .*np.asarray\(pixels, np.uint8"):
        filter_image(img.tolist(), [[0.25, 0.5]], operation="correlate")


def test_dask_arrays_still_work() -> None:
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    img = rng.random((30, 40, 3))
    lazy = correlate(da.from_array(img, chunks=(7, 9, 3)), [[1, 2], [3, 4]], origin=(-1, 0))
    np.testing.assert_array_equal(lazy.compute(), correlate(img, [[1, 2], [3, 4]], origin=(-1, 0)))


def test_every_public_name_is_what_it_says_after_every_module_is_loaded() -> None:
    # A submodule named like a function (core/verify.py and verify()) would
    # replace the function on the package once imported.
    import importlib
    import pkgutil
    import types

    import flipconv.core as core

    for info in pkgutil.iter_modules(core.__path__):
        importlib.import_module(f"flipconv.core.{info.name}")
    for name in core.__all__:
        assert not isinstance(getattr(core, name), types.ModuleType), name


def test_channels_first_is_refused_unless_named_and_then_filtered_per_channel() -> None:
    rng = np.random.default_rng(7)
    chw = rng.random((3, 20, 30))
    with pytest.raises(OptionError, match=r"\(3, 20, 30\) looks channels-first .* channel_axis=0"):
        correlate(chw, "sobel-x")
    got = correlate(chw, "1,2,4;8,16,32", channel_axis=0, mode="constant", cval=0.5)
    assert got.shape == chw.shape
    for c in range(3):
        want = ndi.correlate(chw[c], [[1, 2, 4], [8, 16, 32]], mode="constant", cval=0.5)
        np.testing.assert_allclose(got[c], want, rtol=1e-13)
    # told it is channels-last, it is: 30 channels of 3x20
    last = convolve(chw, [[1, 2], [3, 4]], channel_axis=-1)
    np.testing.assert_allclose(last[..., 29], ndi.convolve(chw[..., 29], [[1, 2], [3, 4]]))
    # filter_image keeps the layout and the sample type; the last of 4 is alpha
    rgba = rng.integers(0, 256, (4, 9, 11), dtype=np.uint8)
    out = filter_image(rgba, "box:3", operation="convolve", channel_axis=0, alpha="keep")
    assert out.shape == rgba.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[3], rgba[3])
    want = np.rint(ndi.correlate(rgba[0].astype(float), np.full((3, 3), 1 / 9)))
    np.testing.assert_array_equal(out[0], want)
    with pytest.raises(OptionError, match="must be 0 .* or -1"):
        correlate(chw, "box:3", channel_axis=1)


def test_import_flipconv_is_the_array_api_and_costs_nothing_until_used() -> None:
    import subprocess
    import sys

    code = (
        "import sys, flipconv\n"
        "assert 'numpy' not in sys.modules, 'import flipconv loaded numpy'\n"
        "import flipconv.core as core\n"
        "for name in flipconv.__all__:\n"
        "    value = getattr(flipconv, name)\n"
        "    assert name in ('peers', 'lessons') or value is getattr(core, name), name\n"
        "assert flipconv.peers.probe is core.probe and flipconv.lessons.verify is core.verify\n"
        "try:\n"
        "    flipconv.filter_file\n"
        "except AttributeError:\n"
        "    pass\n"
        "else:\n"
        "    raise AssertionError('files are not in the array API')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
