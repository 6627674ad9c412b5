"""scipy.ndimage code runs unchanged on flipconv (core/engine/scipy_calls.py).

The reference is scipy.ndimage itself, called the same way: its documented
examples (values as its docs print them), every line of docs/usage.md's
"Porting from scipy.ndimage", and drawn calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.ndimage
from flipconv.core._shared.errors import OptionError
from hypothesis import given, settings
from hypothesis import strategies as st

import flipconv

DOCS = Path(__file__).resolve().parents[1] / "docs" / "usage.md"

#: Calls from scipy.ndimage's documentation, with the results it prints: the
#: examples of correlate, convolve, correlate1d and convolve1d (scipy 1.17),
#: and the origin examples of its tutorial "Multidimensional image processing".
SCIPY_DOC_EXAMPLES = [
    (
        "correlate(np.arange(25).reshape(5, 5), [[0, 1, 0], [1, 1, 1], [0, 1, 0]])",
        [[6, 10, 15, 20, 24], [26, 30, 35, 40, 44], [51, 55, 60, 65, 69],
         [76, 80, 85, 90, 94], [96, 100, 105, 110, 114]],
    ),
    (
        "convolve(a, k, mode='constant', cval=0.0)",
        [[11, 10, 7, 4], [10, 3, 11, 11], [15, 12, 14, 7], [12, 3, 7, 0]],
    ),
    (
        "convolve(a, k, mode='constant', cval=1.0)",
        [[13, 11, 8, 7], [11, 3, 11, 14], [16, 12, 14, 10], [15, 6, 10, 5]],
    ),
    (
        "convolve(b, np.array([[0,1,0], [0,1,0], [0,1,0]]), mode='reflect')",
        [[5, 0, 0], [3, 0, 0], [1, 0, 0]],
    ),
    (
        "convolve(b, np.array([[1,0,0],[0,1,0],[0,0,1]]))",
        [[4, 2, 0], [3, 2, 0], [1, 1, 0]],
    ),
    (
        "convolve(c, np.array([[0, 1, 0]] * 5), mode='nearest')",
        [[7, 0, 3], [5, 0, 2], [3, 0, 1]],
    ),
    ("correlate1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])", [8, 26, 8, 12, 7, 28, 36, 9]),
    ("convolve1d([2, 8, 0, 4, 1, 9, 9, 0], weights=[1, 3])", [14, 24, 4, 13, 12, 36, 27, 0]),
    ("correlate1d([0, 0, 0, 1, 0, 0, 0], [1, 1, 1])", [0, 0, 1, 1, 1, 0, 0]),
    ("correlate1d([0, 0, 0, 1, 0, 0, 0], [1, 1, 1], origin = -1)", [0, 1, 1, 1, 0, 0, 0]),
    ("correlate1d([0, 0, 1, 1, 1, 0, 0], [-1, 1])", [0, 0, 1, 0, 0, -1, 0]),
    ("correlate1d([0, 0, 1, 1, 1, 0, 0], [-1, 1], origin = -1)", [0, 1, 0, 0, -1, 0, 0]),
    ("correlate1d([0, 0, 1, 1, 1, 0, 0], [0, -1, 1])", [0, 1, 0, 0, -1, 0, 0]),
]  # fmt: skip

_DOC_ARRAYS = {
    "np": np,
    "a": np.array([[1, 2, 0, 0], [5, 3, 0, 4], [0, 0, 0, 7], [9, 3, 0, 0]]),
    "k": np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]]),
    "b": np.array([[2, 0, 0], [1, 0, 0], [0, 0, 0]]),
    "c": np.array([[2, 0, 1], [1, 0, 0], [0, 0, 0]]),
}


def _names(module: Any) -> dict[str, Any]:
    return {n: getattr(module, n) for n in ("correlate", "convolve", "correlate1d", "convolve1d")}


@pytest.mark.parametrize(("call", "printed"), SCIPY_DOC_EXAMPLES)
def test_scipys_documented_examples_give_its_printed_numbers(call: str, printed: Any) -> None:
    ours = eval(call, {**_DOC_ARRAYS, **_names(flipconv)})  # noqa: S307
    theirs = eval(call, {**_DOC_ARRAYS, **_names(scipy.ndimage)})  # noqa: S307
    np.testing.assert_array_equal(theirs, printed)  # the docs still say what scipy does
    np.testing.assert_array_equal(ours, printed)


def _porting_lines() -> list[str]:
    text = DOCS.read_text()
    section = text[text.index("## Porting from scipy.ndimage") :]
    block = re.search(r"```python\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line.startswith("ndimage.")]


def _fixtures() -> dict[str, Any]:
    rng = np.random.default_rng(11)
    return {
        "np": np,
        "img": rng.random((9, 11)) * 300 - 20,  # some out of 8-bit range: wrapping shows
        "k": rng.normal(size=(3, 3)),
        "rgb": rng.random((8, 10, 3)) * 255,
        "signal": rng.random(17) * 10,
    }


def test_the_porting_section_has_a_line_per_feature() -> None:
    assert len(_porting_lines()) >= 12


@pytest.mark.parametrize("line", _porting_lines())
def test_every_porting_line_runs_unchanged_and_gives_scipys_numbers(line: str) -> None:
    theirs = eval(line, {**_fixtures(), "ndimage": scipy.ndimage})  # noqa: S307
    ours = eval(line, {**_fixtures(), "ndimage": flipconv})  # noqa: S307
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    if "1d(" in line:  # scipy's 1-D routine adds symmetric weights' pairs first
        np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)
    else:
        np.testing.assert_array_equal(ours, theirs)


def test_scipys_casting_truncates_and_wraps_as_scipy_does() -> None:
    img = np.array([[1, 200, 3], [4, 5, 6]], dtype=np.uint8)
    weights = [[-1, 0.5]]
    for output in (np.uint8, np.int16, np.float32, "uint16"):
        theirs = scipy.ndimage.correlate(img, weights, output=output)
        ours = flipconv.correlate(img, weights, output=output)
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    into = np.zeros((2, 3), np.int16)
    assert flipconv.correlate(img, weights, into) is into  # filled and returned, as scipy
    np.testing.assert_array_equal(into, scipy.ndimage.correlate(img, weights, np.int16))
    # the default keeps what scipy's would truncate: 100.5, and -2 not 254
    np.testing.assert_array_equal(flipconv.correlate(img, [[0.5, 0.5]])[0], [1.0, 100.5, 101.5])
    assert flipconv.correlate(img, weights)[1, 1] == -1.5


_GREY, _RGB = np.zeros((4, 4)), np.zeros((4, 4, 3))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: flipconv.correlate(_RGB, np.ones((3, 3, 3))), "across the channels"),
        (lambda: flipconv.correlate(_RGB[..., None], np.ones((3, 3, 1, 1))), "scipy.ndimage"),
        (lambda: flipconv.correlate1d(_RGB, [1, 2]), "across the channels"),
        (lambda: flipconv.correlate(_GREY, np.ones(3), axes=(0, 1)), "one weight axis"),
        (lambda: flipconv.correlate(_GREY, np.ones((3, 3)), axes=(0, 0)), "twice"),
        (lambda: flipconv.correlate(input=_GREY, image=_GREY, kernel="box"), "not both"),
        (lambda: flipconv.correlate(_GREY, "box", output=complex), "real sample type"),
        (lambda: flipconv.correlate(_GREY, "box", output=np.zeros((3, 3))), "shape"),
    ],
)  # fmt: skip
def test_what_stays_unsupported_says_what_to_do(call: Any, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        call()


@settings(max_examples=120, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(["correlate", "convolve"]),
    mode=st.sampled_from(
        [
            "reflect",
            "constant",
            "nearest",
            "mirror",
            "wrap",
            "grid-wrap",
            "grid-mirror",
            "grid-constant",
        ]
    ),
    cval=st.sampled_from([0.0, -3.5, 255.0]),
    channels=st.sampled_from([None, 1, 3]),
    output=st.sampled_from([None, np.uint8, np.int16, np.float32]),
)
def test_drawn_scipy_calls_give_scipys_numbers(
    data: st.DataObject, name: str, mode: str, cval: float, channels: int | None, output: Any
) -> None:
    kh, kw = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = (kh + data.draw(st.integers(0, 6)), kw + data.draw(st.integers(0, 6)))
    image = rng.integers(-50, 300, shape if channels is None else (*shape, channels)).astype(float)
    weights = rng.integers(-4, 5, (kh, kw)) * data.draw(st.sampled_from([1.0, 0.5, 0.1]))
    origin = (
        data.draw(st.integers(-(kh // 2), (kh - 1) // 2)),
        data.draw(st.integers(-(kw // 2), (kw - 1) // 2)),
    )
    args: dict[str, Any] = {"mode": mode, "cval": cval, "output": output}
    if channels is None:
        call_w, call_o, axes = weights, origin, None
    elif data.draw(st.booleans()):  # scipy's idiom: a third weight axis of extent 1
        call_w, call_o, axes = weights[:, :, None], (*origin, 0), None
    else:
        call_w, call_o, axes = weights, origin, (0, 1)
    if axes is not None:
        args["axes"] = axes
    theirs = getattr(scipy.ndimage, name)(image, call_w, origin=call_o, **args)
    ours = getattr(flipconv, name)(image, call_w, origin=call_o, **args)
    if output is None:
        theirs = theirs.astype(np.float64)
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(["correlate1d", "convolve1d"]),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    ndim=st.sampled_from([1, 2, 3]),
)
def test_drawn_one_axis_calls_give_scipys_numbers(
    data: st.DataObject, name: str, mode: str, ndim: int
) -> None:
    size = data.draw(st.integers(1, 5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = [size + data.draw(st.integers(0, 5)) for _ in range(min(ndim, 2))] + [3] * (ndim == 3)
    image = rng.normal(size=shape) * 100
    weights = rng.normal(size=size)
    axis = data.draw(
        st.sampled_from([-1] if ndim == 1 else [0, 1, -2] if ndim == 3 else [0, 1, -1])
    )
    origin = data.draw(st.integers(-(size // 2), (size - 1) // 2))
    theirs = getattr(scipy.ndimage, name)(image, weights, axis, None, mode, 2.0, origin)
    ours = getattr(flipconv, name)(image, weights, axis, None, mode, 2.0, origin)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-9)
