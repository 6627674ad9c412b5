"""Startup time of the commands that must not load numpy/scipy/imageio/rich.

Runs each command N times as a fresh process (the installed console script,
as a user would) and prints the median wall time next to the median of
``python -c "import click"`` measured in the same run, and their ratio.

    python benchmarks/startup.py [--runs 21] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [
    ["--help"],
    ["convolve", "--help"],
    ["correlate", "--help"],
    ["verify", "--help"],
    ["explain", "--help"],
    ["probe", "--help"],
    ["kernels", "--help"],
    ["kernels", "show", "--help"],
    ["kernels"],
    ["presets"],
    ["--version"],
]


def _median(argv: list[str], runs: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, env=env
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    script = shutil.which("flipconv") or str(Path(sys.executable).parent / "flipconv")
    baseline = _median([sys.executable, "-c", "import click"], args.runs)
    rows = []
    for command in COMMANDS:
        seconds = _median([script, *command], args.runs)
        rows.append(
            {
                "command": "flipconv " + " ".join(command),
                "median_s": round(seconds, 4),
                "ratio": round(seconds / baseline, 2),
            }
        )
    env = {
        **os.environ,
        "_FLIPCONV_COMPLETE": "bash_complete",
        "COMP_WORDS": "flipconv convolve -k gau",
        "COMP_CWORD": "3",
    }
    seconds = _median([script], args.runs, env)
    rows.append(
        {
            "command": "completion of 'flipconv convolve -k gau'",
            "median_s": round(seconds, 4),
            "ratio": round(seconds / baseline, 2),
        }
    )
    if args.json:
        print(
            json.dumps(
                {
                    "baseline_import_click_s": round(baseline, 4),
                    "runs": args.runs,
                    "commands": rows,
                },
                indent=2,
            )
        )
        return
    print(f"python -c 'import click': {baseline * 1000:.0f} ms (median of {args.runs})")
    for row in rows:
        print(f"{row['command']:<45} {row['median_s'] * 1000:6.0f} ms  {row['ratio']:.2f}x")


if __name__ == "__main__":
    main()
