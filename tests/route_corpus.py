"""A fixed corpus through every route, hashed: the bytes a refactoring must not change.

``python tests/route_corpus.py --write`` records the hashes in
tests/route_hashes.json; tests/test_route_corpus.py (and so CI) checks that
every case still gives the recorded bytes and takes the recorded route.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

HASHES = Path(__file__).with_name("route_hashes.json")


def _images() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20261208)
    rows, cols = np.mgrid[0:61, 0:67]
    smooth = 127.5 + 120 * np.sin(rows / 6.0) * np.cos(cols / 4.0)
    rgba = rng.integers(0, 256, (61, 67, 4)).astype(np.uint8)
    rgba[..., 3] = 255
    rgba[10:20, 5:30, 3] = rng.integers(0, 255, (10, 25))
    return {
        "grey8": rng.integers(0, 256, (61, 67)).astype(np.uint8),
        "smooth8": np.clip(np.dstack([smooth] * 3) + rng.normal(0, 2, (61, 67, 3)), 0, 255).astype(
            np.uint8
        ),
        "rgba8": rgba,
        "grey16": rng.integers(0, 65536, (61, 67)).astype(np.uint16),
        "float": rng.random((61, 67, 3)),
    }


KERNELS = ["sobel-x", "gaussian:1", "gaussian:2.5", "box:3", "box:4", "motion:7,30",
           "0.1,0.2,0.1;0.2,-0.3,0.2;0.1,0.2,0.1", "emboss", "laplacian"]  # fmt: skip
OPTIONS: list[dict[str, Any]] = [
    {},
    {"mode": "constant", "cval": 3.0},
    {"mode": "wrap"},
    {"scale": 2.0, "bias": 10.0},
    {"out_range": "abs"},
    {"method": "fft"},
    {"alpha": "keep"},
    {"rounding": "truncate"},
    {"dtype": "float32"},
    {"arithmetic": "pillow", "mode": "unfiltered", "normalize": True},
]


def cases() -> Iterator[tuple[str, np.ndarray, str, dict[str, Any]]]:
    """Every (name, image, kernel, options) of the corpus."""
    for image_name, image in _images().items():
        for spec in KERNELS:
            for n, options in enumerate(OPTIONS):
                if "dtype" in options and image.dtype != np.uint8:
                    continue
                yield f"{image_name}|{spec}|{n}", image, spec, options


def run(image: np.ndarray, spec: str, options: dict[str, Any], lazy: bool) -> tuple[str, str]:
    """The hash of the bytes and the route taken (``tiles`` for a dask input)."""
    from flipconv.core.engine.filters import filter_image

    engine: dict[str, Any] = {}
    pixels: Any = image
    if lazy:
        import dask.array as da

        pixels = da.from_array(image, chunks=(23, 29) + image.shape[2:])
    from flipconv.core._shared.errors import FlipconvError

    try:
        out = filter_image(pixels, spec, operation="convolve", engine=engine, **options)
    except FlipconvError as exc:
        return "refused", type(exc).__name__
    out = np.asarray(out)
    digest = hashlib.sha256(out.tobytes() + str(out.dtype).encode()).hexdigest()[:16]
    return digest, "tiles" if lazy else str(engine.get("route"))


def compute() -> dict[str, list[str]]:
    """Every case's hash and route, in memory and (where tiles take it) in tiles."""
    found: dict[str, list[str]] = {}
    for name, image, spec, options in cases():
        found[name] = list(run(image, spec, options, lazy=False))
        if "arithmetic" in options or (image.ndim == 3 and options.get("alpha") != "keep"):
            continue  # (tiles: no Pillow arithmetic; RGBA's alpha is kept there)
        found[name + "|tiles"] = list(run(image, spec, options, lazy=True))
    return found


if __name__ == "__main__":
    got = compute()
    if "--write" in sys.argv:
        HASHES.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"{len(got)} cases written to {HASHES}")
    else:
        want = json.loads(HASHES.read_text())
        bad = [k for k in want if want[k] != got.get(k)]
        print(f"{len(want) - len(bad)} of {len(want)} cases unchanged")
        for k in bad[:20]:
            print(f"  {k}: was {want[k]}, now {got.get(k)}")
        sys.exit(1 if bad else 0)
