"""The rational route (core/engine/rational.py): integer weights over a divisor on 8 bits.

Checked against the independent reference (tests/reference.py), and byte for byte
against the float64 route itself, ties included (with the fast routes turned off).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flipconv.core.engine import choose
from flipconv.core.engine.filters import filter_image
from flipconv.core.kernels.kernel import Kernel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import assert_matches_reference


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    divisor=st.integers(1, 64),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror"]),
    channels=st.sampled_from([None, 3, 4]),
    operation=st.sampled_from(["convolve", "correlate"]),
    out_range=st.sampled_from(["clip", "abs"]),
    signed=st.booleans(),
)
def test_rational_kernels_give_the_float64_routes_bytes(
    monkeypatch: pytest.MonkeyPatch,
    data: st.DataObject,
    divisor: int,
    mode: str,
    channels: int | None,
    operation: str,
    out_range: str,
    signed: bool,
) -> None:
    rows, cols = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    whole = rng.integers(-6 if signed else 0, 10, (rows, cols)).astype(float)
    if not whole.any():
        whole[0, 0] = 1
    kernel = Kernel(whole / divisor, (rows // 2, cols // 2))
    # few levels make ties (sums ending in exactly .5) common
    top = data.draw(st.sampled_from([255, 3]))
    size = data.draw(st.sampled_from([(17, 19), (5, 6)]))  # (5, 6): under OpenCV's 64 samples
    shape = size if channels is None else (*size, channels)
    pixels = rng.integers(0, top + 1, shape).astype(np.uint8)
    options: dict[str, Any] = {"operation": operation, "mode": mode, "out_range": out_range}
    got = filter_image(pixels, kernel, alpha="keep", **options)
    assert_matches_reference(got, pixels, kernel.values, kernel.origin, **options)
    with monkeypatch.context() as patch:  # the float64 route alone
        patch.setattr(choose, "_rational", lambda used, shape: None)
        patch.setattr(choose, "plan_certified", lambda used, shape: None)
        float64 = filter_image(pixels, kernel, alpha="keep", **options)
    np.testing.assert_array_equal(got, float64)


def test_libvips_sharpen_mask_takes_the_rational_route() -> None:
    """The mask of the big-images benchmark: integers over 8, on 8-bit RGB."""
    sharpen = np.array([[-1.0, -1, -1], [-1, 16, -1], [-1, -1, -1]]) / 8
    pixels = np.random.default_rng(1).integers(0, 256, (40, 50, 3)).astype(np.uint8)
    engine: dict[str, Any] = {}
    filter_image(pixels, sharpen, operation="correlate", engine=engine)
    assert engine["route"] == "rational, exact integer sums"
    assert "over 8" in engine["reason"]
