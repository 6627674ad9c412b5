"""PNG zlib levels: time and size of flipconv's writer at each level, on three images.

    python benchmarks/compression.py            # results in benchmarks/results/compression.json

Images: the sample scene rendered at 3840x2160 RGB (smooth, like a photo
after a blur), the same at 4000x3000 with seeded noise of +-8 levels (a 12 MP
camera image's grain), and a 12 MP synthetic of random gradients and noise.
Each level is written three times; the median time is kept. The README's
claim about the default level (4) against 6 comes from this file's output.
"""

from __future__ import annotations

import io
import json
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
    return {
        "scene-4k-rgb": smooth,
        "scene-12mp-grain": np.clip(np.round(camera), 0, 255).astype(np.uint8),
        "synthetic-12mp-noise": np.clip(np.round(synthetic), 0, 255).astype(np.uint8),
    }


def main() -> None:
    from flipconv.core.io.writers import write_image

    found: dict[str, dict[str, dict[str, float]]] = {}
    for name, pixels in images().items():
        found[name] = {}
        for level in (1, 4, 6, 9):
            times, size = [], 0
            for _ in range(3):
                buffer = io.BytesIO()
                start = time.perf_counter()
                write_image(pixels, buffer, fmt="png", compression=level)
                times.append(time.perf_counter() - start)
                size = buffer.getbuffer().nbytes
            found[name][str(level)] = {"seconds": statistics.median(times), "bytes": size}
        four, six = found[name]["4"], found[name]["6"]
        print(
            f"{name}: level 4 {four['seconds']:.2f} s {four['bytes'] / 1e6:.1f} MB; "
            f"level 6 {six['seconds']:.2f} s {six['bytes'] / 1e6:.1f} MB; "
            f"4 is {100 * (four['bytes'] / six['bytes'] - 1):.1f}% larger, "
            f"{six['seconds'] / four['seconds']:.1f}x faster"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compression.json").write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
