"""PNG deflate levels: time and size of flipconv's writer at each level, on three images.

    python benchmarks/compression.py            # results in benchmarks/results/compression.json

Images: the sample scene rendered at 3840x2160 RGB, that scene after
`gaussian:2` (what a blur writes), the same scene at 4000x3000 with seeded
noise of +-8 levels (a 12 MP camera image's grain), and a 12 MP synthetic of
random gradients and noise.
Each level is written three times by each deflate (zlib-ng, the default,
and zlib) on all cores; the median time is kept. The default level
(pngwrite.DEFAULT_LEVEL) was chosen from this file's output.
"""

from __future__ import annotations

import json
import os
import runpy
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def images() -> dict[str, np.ndarray]:
    scene = runpy.run_path(str(ROOT / "samples" / "make_samples.py"))["scene"]
    rng = np.random.default_rng(12)
    smooth = np.round(scene(2160, 3840) * 255).astype(np.uint8)
    camera = scene(3000, 4000) * 255 + rng.uniform(-8, 8, (3000, 4000, 3))
    y, x = np.mgrid[0:3000, 0:4000] / 4000.0
    synthetic = np.stack([x * 255, y * 255, (x + y) * 127], -1) + rng.normal(0, 20, (3000, 4000, 3))
    from flipconv.core import filter_image

    return {
        "scene-4k-rgb": smooth,
        "scene-4k-rgb-gaussian2": filter_image(smooth, "gaussian:2", operation="convolve"),
        "scene-12mp-grain": np.clip(np.round(camera), 0, 255).astype(np.uint8),
        "synthetic-12mp-noise": np.clip(np.round(synthetic), 0, 255).astype(np.uint8),
    }


def main() -> None:
    from flipconv.core.io.pngwrite import encode_png

    found: dict[str, dict[str, dict[str, float]]] = {}
    for name, pixels in images().items():
        found[name] = {}
        for codec in ("zlib-ng", "zlib"):
            for level in (1, 2, 3, 4, 6, 9):
                times, size = [], 0
                for _ in range(3):
                    start = time.perf_counter()
                    size = len(
                        encode_png(pixels, level=level, threads=os.cpu_count() or 1, codec=codec)
                    )
                    times.append(time.perf_counter() - start)
                found[name][f"{codec}-{level}"] = {
                    "seconds": statistics.median(times),
                    "bytes": size,
                }
                seconds = statistics.median(times)
                print(f"{name} {codec} level {level}: {seconds:.3f} s {size / 1e6:.2f} MB")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compression.json").write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
