"""Channels and alpha (core/engine/channels.py): what a user blurring a logo expects.

The references are premultiplied sums written out here with scipy.ndimage,
and the RGB image filtered without any alpha.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core.engine.channels import alpha_policy
from flipconv.core.engine.filters import filter_image
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.kernels.coercion import as_filter
from flipconv.core.kernels.specs import parse_kernel_spec
from hypothesis import given, settings
from hypothesis import strategies as st


def _logo() -> np.ndarray:
    """A red square, opaque, on a transparent (black) background."""
    logo = np.zeros((12, 12, 4), dtype=np.uint8)
    logo[3:9, 3:9] = (255, 0, 0, 255)
    return logo


def test_blurring_a_logo_keeps_its_red_red_at_the_edge(tmp_path: Path) -> None:
    write_image(_logo(), tmp_path / "logo.png")
    result = CliRunner().invoke(
        cli,
        ["convolve", "-k", "gaussian:1", str(tmp_path / "logo.png"), "-o", str(tmp_path / "o.png")],
    )
    assert result.exit_code == 0, result.stderr
    out = read_image(tmp_path / "o.png").pixels
    seen = out[..., 3] > 0
    # with alpha kept, the edge's red went to 198 and 153 (the black beside it bled in)
    assert (out[..., 0][seen] == 255).all(), np.unique(out[..., 0][seen])
    assert (out[..., 1:3][seen] == 0).all()
    weights = parse_kernel_spec("gaussian:1").values
    alpha = ndi.convolve(_logo()[..., 3].astype(float), weights, mode="reflect")
    np.testing.assert_array_equal(out[..., 3], np.rint(alpha).astype(np.uint8))


@pytest.mark.parametrize(
    ("spec", "policy"),
    [
        ("gaussian:1", "filter"),
        ("box:3", "filter"),
        ("motion:5", "filter"),
        (["gaussian:1", "box:3"], "keep"),  # a chain: tiles could not weight it
        (["gaussian:1", "sobel-x"], "keep"),
        ("sobel", "keep"),  # a magnitude
        ("sobel-x", "keep"),  # sums to 0
        ("sharpen", "keep"),  # sums to 1 with negative weights
        ("1,1,1", "keep"),  # sums to 3: it brightens, so alpha is not a weight
        ("identity", "filter"),
    ],
)
def test_auto_weights_colours_by_alpha_only_for_weighted_averages(
    spec: str | list[str], policy: str
) -> None:
    assert alpha_policy("auto", as_filter(spec)) == policy
    assert alpha_policy("keep", as_filter(spec)) == "keep"
    assert alpha_policy("filter", as_filter(spec)) == "filter"


def test_an_identity_keeps_even_the_colours_alpha_hides() -> None:
    rgba = np.random.default_rng(4).integers(0, 256, (9, 8, 4), dtype=np.uint8)
    rgba[2:5, 3:6, 3] = 0
    out = filter_image(rgba, [[1.0]], operation="correlate")  # before: 0 under alpha 0
    np.testing.assert_array_equal(out, rgba)


def test_an_opaque_alpha_changes_no_colour_byte() -> None:
    rgb = np.random.default_rng(3).integers(0, 256, (20, 23, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    weights = parse_kernel_spec("gaussian:1.5").values
    expected = np.stack(
        [ndi.convolve(rgb[..., c].astype(float), weights, mode="reflect") for c in range(3)], -1
    )
    out = filter_image(rgba, "gaussian:1.5", operation="convolve")
    np.testing.assert_array_equal(out[..., :3], np.rint(expected).astype(np.uint8))
    assert (out[..., 3] == 255).all()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["reflect", "constant", "nearest", "mirror", "wrap"]),
    spec=st.sampled_from(["gaussian:1", "box:3", "box:2", "motion:4", "1,2,1;2,4,2;1,2,1"]),
    operation=st.sampled_from(["convolve", "correlate"]),
)
def test_premultiplied_where_alpha_reaches_and_plain_where_all_is_opaque(
    seed: int, mode: str, spec: str, operation: str
) -> None:
    rng = np.random.default_rng(seed)
    rgba = rng.integers(0, 256, (14, 15, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    rgba[rng.random((14, 15)) < 0.05, 3] = rng.integers(0, 255)
    rgba[:3, :4, 3] = 0  # a transparent corner: where nothing opaque is in reach
    kernel = parse_kernel_spec(spec).normalized()
    weights = kernel.values  # scipy's convolve and correlate place it as flipconv does

    def run(plane: np.ndarray, cval: float = 0.0, weights: np.ndarray = weights) -> np.ndarray:
        call = ndi.correlate if operation == "correlate" else ndi.convolve
        return call(plane, weights, mode=mode, cval=cval)

    a = rgba[..., 3] / 255.0
    clear = (rgba[..., 3] < 255).astype(float)
    reached = run(clear, 1.0, (weights != 0).astype(float)) > 0.5
    fa = run(a)
    out = filter_image(rgba, spec, operation=operation, mode=mode, normalize=True)
    for c in range(3):
        plain = run(rgba[..., c].astype(float))  # also where nothing opaque is in reach
        premultiplied = np.divide(run(rgba[..., c] * a), fa, out=plain.copy(), where=fa > 1e-12)
        expected = np.where(reached, premultiplied, plain)
        np.testing.assert_array_equal(out[..., c], np.clip(np.rint(expected), 0, 255))
    np.testing.assert_array_equal(out[..., 3], np.clip(np.rint(fa * 255), 0, 255))
