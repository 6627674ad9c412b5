"""Engine 3 against the float64 route: filter time, recomputed share, equal bytes.

For each kernel, on the sample scene rendered at 3072x2048 RGB and on 8-bit
noise of that size, in process (best of --runs):

* the default route (``method='auto'``: Engine 3 where its gate takes the
  kernel, the float64 route elsewhere), with the share it recomputed;
* the float64 route alone (the engine's own method forced);
* Engine 3 forced on whatever it can follow (``budget=inf``), to show what
  the gate avoided;

and checks that all three give the same bytes. Run:

    python benchmarks/engine3.py [--runs 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import runpy
import time
from pathlib import Path

import numpy as np
from flipconv.core.engine.certified import certified_u8
from flipconv.core.engine.filters import filter_image
from flipconv.core.engine.planner import plan
from flipconv.core.kernels.specs import parse_kernel_spec

ROOT = Path(__file__).resolve().parent.parent
KERNELS = [
    "box:5",
    "gaussian:1",
    "gaussian:2",
    "gaussian:10",
    "motion:9,30",
    "emboss",
    "sharpen",
    "log",
    "0.1,0.2,0.3;0.4,0.5,0.6;0.7,0.8,0.9",
]


def best(runs: int, call: object) -> tuple[float, object]:
    """The fastest of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scene = runpy.run_path(str(ROOT / "samples" / "make_samples.py"))["scene"]
    images = {
        "scene": np.round(scene(2048, 3072) * 255).astype(np.uint8),
        "noise": np.random.default_rng(5).integers(0, 256, (2048, 3072, 3), dtype=np.uint8),
    }
    rows = []
    for name, pixels in images.items():
        for spec in KERNELS:
            kernel = parse_kernel_spec(spec)
            method = plan(kernel, pixels.shape[:2]).method
            engine: dict[str, object] = {}
            auto_s, auto = best(
                args.runs,
                lambda: filter_image(pixels, kernel, operation="correlate", engine=engine),  # noqa: B023
            )
            f64_s, f64 = best(
                args.runs,
                lambda: filter_image(pixels, kernel, operation="correlate", method=method),  # noqa: B023
            )
            forced_s, forced = best(
                args.runs,
                lambda: certified_u8(
                    pixels,  # noqa: B023
                    kernel,  # noqa: B023
                    "correlate",
                    "reflect",
                    0.0,
                    "clip",
                    None,
                    budget=math.inf,
                ),
            )
            same = np.array_equal(auto, f64) and (
                forced is None or np.array_equal(forced[0], f64)  # type: ignore[index]
            )
            share = (
                forced[1].recomputed / forced[1].samples  # type: ignore[index]
                if forced is not None
                else None
            )
            rows.append(
                {
                    "image": name,
                    "kernel": spec,
                    "route": engine.get("route"),
                    "auto_ms": round(auto_s * 1e3, 1),
                    "float64_ms": round(f64_s * 1e3, 1),
                    "forced_ms": round(forced_s * 1e3, 1) if forced is not None else None,
                    "forced_recomputed": round(share, 5) if share is not None else None,
                    "same_bytes": bool(same),
                }
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(
            "image  kernel            route", " " * 16, "auto   float64  forced  recomputed  same"
        )
        for r in rows:
            print(
                f"{r['image']:6s} {r['kernel'][:16]:16s}  {r['route']!s:20s} {r['auto_ms']:6.1f} "
                f"{r['float64_ms']:8.1f} {r['forced_ms']!s:>7} {r['forced_recomputed']!s:>10}  "
                f"{r['same_bytes']}"
            )
    return 0 if all(r["same_bytes"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
