"""Measure the per-pixel costs behind flipconv.core.engine.planner's `auto` choice.

Run: python benchmarks/crossover.py   (one thread, 2160x3840 float64 plane, best of 3)
Prints ns per output pixel per tap for direct and separable passes, the FFT
cost per pixel for several kernel sizes, and the kernel sizes where FFT
starts to win. Copy the figures into DIRECT_TAP_NS, SEPARABLE_TAP_NS and
FFT_NS_PER_PIXEL in core/engine/planner.py.
"""

from __future__ import annotations

import time

import numpy as np
from flipconv.core.engine.planner import correlate_plane
from flipconv.core.kernels.kernel import Kernel


def best(fn, runs: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    plane = rng.random((2160, 3840))
    pixels = plane.size
    print(
        "size  direct ns/px/tap  separable ns/px/tap  fft ns/px   direct ns/px  "
        "separable ns/px  fft wins"
    )
    for n in (3, 5, 7, 9, 11, 15, 21, 31, 45, 63):
        full = Kernel(rng.random((n, n)), (n // 2, n // 2))
        col, row = rng.random(n), rng.random(n)
        sep = Kernel(np.outer(col, row), (n // 2, n // 2), factors=(col, row))
        direct = (
            best(lambda full=full: correlate_plane(plane, full, method="direct", threads=1))
            if n <= 31
            else float("nan")
        )
        separable = best(lambda sep=sep: correlate_plane(plane, sep, method="separable", threads=1))
        fft = best(lambda full=full: correlate_plane(plane, full, method="fft", threads=1))
        d_ns = direct * 1e9 / pixels
        s_ns = separable * 1e9 / pixels
        print(
            f"{n:4d}  {d_ns / (n * n):16.3f}  {s_ns / (2 * n):19.3f}  "
            f"{fft * 1e9 / pixels:9.1f}  {d_ns:12.1f}  {s_ns:15.1f}  "
            f"{'yes' if fft < direct else 'no'}"
        )


if __name__ == "__main__":
    main()
