"""choose_route (core/engine/choose.py): asked about each route, then the filter takes it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core.engine.choose import LABELS, choose_route
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.settings import FilterSettings
from flipconv.core.io.writers import write_image
from flipconv.core.kernels.specs import parse_kernel_spec

RNG = np.random.default_rng(8)
U8 = RNG.integers(0, 256, (48, 52, 3)).astype(np.uint8)

CASES = [
    ("int16", U8, "sobel-x", {}),
    ("int16", U8[..., 0], "laplacian", {"mode": "nearest"}),
    ("certified", U8, "gaussian:1.5", {}),
    ("rational", U8, "box:5", {"out_range": "abs"}),  # ones over 25
    ("rational", U8, "-0.125,-0.125,-0.125;-0.125,2,-0.125;-0.125,-0.125,-0.125", {}),
    ("float64", U8, "-1,-1,-1;-1,16,-1;-1,-1,-1", {"scale": 0.125}),  # the same as a scale
    ("float64", U8, "0.1,0.2,0.1;0.2,0.4,0.2;0.1,0.2,0.1", {}),  # over 10: ties to float64
    ("float64", U8, "gaussian:1.5", {"scale": 1.5}),
    ("float64", U8, "sobel-x", {"mode": "wrap"}),
    ("float64", U8.astype(np.uint16) * 257, "box:3", {}),
    ("float64", U8, "box:3", {"rounding": "truncate"}),
    ("float64", U8, "gaussian:1", {"method": "fft"}),
    ("pillow", U8, "box:3", {"arithmetic": "pillow", "mode": "unfiltered", "normalize": True}),
]


@pytest.mark.parametrize(("name", "image", "spec", "options"), CASES)
def test_the_route_chosen_is_the_route_taken(
    name: str, image: np.ndarray, spec: str, options: dict[str, Any]
) -> None:
    settings = FilterSettings("convolve", **options)
    kernel = parse_kernel_spec(spec)
    if settings.normalize and name != "pillow":
        kernel = kernel.normalized()
    route = choose_route(image.shape, image.dtype, kernel, settings)
    assert route.name == name, route.reason
    engine: dict[str, Any] = {}
    filter_image(image, spec, operation="convolve", engine=engine, **options)
    assert engine["route"] == LABELS[name] and engine["reason"] == route.reason


def test_tiles_are_chosen_for_a_dask_array() -> None:
    route = choose_route(U8.shape, U8.dtype, parse_kernel_spec("box:3"),
                         FilterSettings("correlate"), lazy=True)  # fmt: skip
    assert route.name == "tiles"


def test_json_reports_the_route_and_why(tmp_path: Path) -> None:
    write_image(U8, tmp_path / "a.png")
    args = ["convolve", "-k", "gaussian:1.5", "--scale", "1.5", str(tmp_path / "a.png")]
    result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "b.png"), "--json"])
    assert result.exit_code == 0, result.stderr
    engine = json.loads(result.stdout)["engine"]
    assert engine["route"] == "float64" and "scale or bias" in engine["reason"]
