"""flipconv against the tools a user would otherwise pick, on the same workloads.

Run from the repository root (competitors are used where installed; Debian
packages imagemagick, graphicsmagick, libvips-tools, gmic; PyPI
opencv-python-headless for the OpenCV rows):

    python benchmarks/run.py                       # everything, 3 runs
    python benchmarks/run.py --runs 1 --images rgb4k --formats png

Images are generated deterministically (samples/make_samples.py's scene at
4K, and an 8K gray version). Every (workload, tool) pair runs once per round,
rounds interleaved, and the median wall time is reported, with MP/s and the
ratio to flipconv. End to end = read, filter, write one file as a separate
process; in-process = the filter call alone on an array already in memory.
Results go to benchmarks/results/ (JSON, Markdown table, chart PNG).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import runpy
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"

WORKLOADS = {  # name -> (flipconv spec, kind)
    "gaussian-2": ("gaussian:2", "gaussian"),
    "gaussian-10": ("gaussian:10", "gaussian"),
    "sobel": ("sobel-x", "matrix"),
    "box-5": ("box:5", "matrix"),
    "random-15": ("@{tmp}/random15.txt", "matrix"),
    "random-31": ("@{tmp}/random31.txt", "matrix"),
}


def make_images(tmp: Path, names: list[str], formats: list[str]) -> dict[tuple[str, str], Path]:
    from flipconv.core.io.writers import write_image

    scene = runpy.run_path(str(ROOT / "samples" / "make_samples.py"))["scene"]
    out: dict[tuple[str, str], Path] = {}
    for name in names:
        if name == "rgb4k":
            pixels = np.round(scene(2160, 3840) * 255).astype(np.uint8)
        else:  # gray8k
            rgb = scene(4320, 7680)
            pixels = np.round(rgb @ np.array([0.299, 0.587, 0.114]) * 255).astype(np.uint8)
        for fmt in formats:
            path = tmp / f"{name}.{'png' if fmt == 'png' else 'tif'}"
            write_image(pixels, path, compression=6) if fmt == "png" else write_image(pixels, path)
            out[(name, fmt)] = path
    return out


def kernel_files(tmp: Path) -> dict[str, np.ndarray]:
    from flipconv.core.kernels.specs import parse_kernel_spec

    rng = np.random.default_rng(31)
    kernels = {}
    for n in (15, 31):
        k = rng.random((n, n))
        k /= k.sum()
        np.savetxt(tmp / f"random{n}.txt", k)
    for name, (spec, _) in WORKLOADS.items():
        kernels[name] = parse_kernel_spec(spec.format(tmp=tmp)).values
    return kernels


# ---------------------------------------------------------------- commands per tool


def im_matrix(k: np.ndarray) -> str:
    h, w = k.shape
    return f"{w}x{h}:" + ",".join(f"{v:.10g}" for v in k.ravel())


def write_mat(k: np.ndarray, path: Path) -> Path:
    h, w = k.shape
    rows = "\n".join(" ".join(f"{v:.10g}" for v in row) for row in k)
    path.write_text(f"{w} {h} 1 0\n{rows}\n")
    return path


def commands(
    tool: str, workload: str, src: Path, out: Path, k: np.ndarray, tmp: Path, sigma: float | None
) -> list[str] | None:
    spec = WORKLOADS[workload][0].format(tmp=tmp)
    py = sys.executable
    if tool == "flipconv":
        flipconv = shutil.which("flipconv", path=str(Path(py).parent)) or "flipconv"
        return [flipconv, "correlate", "-k", spec, str(src), "-o", str(out)]
    if tool == "imagemagick":
        kernel = f"Gaussian:0x{sigma:g}" if sigma else im_matrix(k)
        return ["convert", str(src), "-morphology", "Correlate", kernel, str(out)]
    if tool == "graphicsmagick":
        if sigma:  # its own Gaussian, as a GraphicsMagick user would write it
            return ["gm", "convert", str(src), "-gaussian", f"0x{sigma:g}", str(out)]
        values = ",".join(f"{v:.5g}" for v in k.ravel())
        if k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0 or len(values) > 2000:
            return None  # -convolve takes odd square kernels up to about 2000 characters
        return ["gm", "convert", str(src), "-convolve", values, str(out)]
    if tool == "vips-conv":
        return [
            "vips",
            "conv",
            str(src),
            str(out),
            str(write_mat(k, tmp / f"{workload}.mat")),
            "--precision",
            "float",
        ]
    if tool == "vips-best":
        if sigma:
            # vips' default route, which a user would pick for speed: integer
            # arithmetic and min-ampl 0.2 (7 taps at sigma 2), so approximate.
            # (vips 8.14 rejects --min-ampl 0.0001 and falls back to 0.2.)
            return ["vips", "gaussblur", str(src), str(out), f"{sigma:g}"]
        u, s, vt = np.linalg.svd(k)
        if s.size > 1 and s[1] > 1e-10 * s[0]:
            return None  # not separable: vips conv above is its route
        row = (vt[0] * np.sqrt(s[0]))[None, :]
        return [
            "vips",
            "convsep",
            str(src),
            str(out),
            str(write_mat(row, tmp / f"{workload}-sep.mat")),
            "--precision",
            "float",
        ]
    if tool == "gmic":
        rows = ";".join(",".join(f"{v:.8g}" for v in row) for row in k)
        return [
            "gmic",
            "-v",
            "-1",
            str(src),
            f"({rows})",
            "correlate[0]",
            "[1]",
            "rm[1]",
            "o[0]",
            str(out),
        ]
    if tool == "opencv":
        code = (
            "import sys,cv2,numpy as np;k=np.loadtxt(sys.argv[3],ndmin=2);"
            "i=cv2.imread(sys.argv[1],cv2.IMREAD_UNCHANGED);"
            "cv2.imwrite(sys.argv[2],cv2.filter2D(i,-1,k,borderType=cv2.BORDER_REFLECT))"
        )
        kfile = tmp / f"{workload}.kernel.txt"
        np.savetxt(kfile, k)
        return [py, "-c", code, str(src), str(out), str(kfile)]
    if tool == "scipy":
        code = (
            "import sys,numpy as np,imageio.v3 as iio,scipy.ndimage as ndi;"
            "k=np.loadtxt(sys.argv[3],ndmin=2);i=iio.imread(sys.argv[1]).astype(float);"
            "o=np.stack([ndi.correlate(i[...,c],k) for c in range(i.shape[2])],-1) "
            "if i.ndim==3 else ndi.correlate(i,k);"
            "iio.imwrite(sys.argv[2],np.clip(np.rint(o),0,255).astype(np.uint8))"
        )
        kfile = tmp / f"{workload}.kernel.txt"
        np.savetxt(kfile, k)
        return [py, "-c", code, str(src), str(out), str(kfile)]
    raise ValueError(tool)


TOOLS = [
    "flipconv",
    "imagemagick",
    "graphicsmagick",
    "vips-conv",
    "vips-best",
    "gmic",
    "opencv",
    "scipy",
]


def available(tool: str) -> bool:
    need = {
        "imagemagick": "convert",
        "graphicsmagick": "gm",
        "vips-conv": "vips",
        "vips-best": "vips",
        "gmic": "gmic",
    }.get(tool)
    if need:
        path = shutil.which(need)
        if not path:
            return False
        if tool == "imagemagick":
            out = subprocess.run([path, "-version"], capture_output=True, text=True)
            return "ImageMagick" in out.stdout
        return True
    if tool == "opencv":
        return (
            subprocess.run([sys.executable, "-c", "import cv2"], capture_output=True).returncode
            == 0
        )
    return True


def run_once(cmd: list[str], timeout: float) -> float | None:
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if proc.returncode != 0:
        sys.stderr.write(f"failed: {' '.join(cmd[:4])}...: {proc.stderr.decode()[:200]}\n")
        return float("nan")
    return time.perf_counter() - start


# ---------------------------------------------------------------- in-process


def in_process(kernels: dict[str, np.ndarray], runs: int) -> list[dict[str, object]]:
    from flipconv.core.engine.filters import filter_image
    from flipconv.core.kernels.kernel import Kernel

    scene = runpy.run_path(str(ROOT / "samples" / "make_samples.py"))["scene"]
    img = np.round(scene(2160, 3840) * 255).astype(np.uint8)
    rows = []
    try:
        import cv2
    except ImportError:
        cv2 = None
    import scipy.ndimage as ndi

    extra = {f"random-{n}": np.random.default_rng(n).random((n, n)) for n in (3, 5, 7)}
    for name, k in {**extra, **kernels}.items():
        k = k / k.sum() if name.startswith("random") else k
        kern = Kernel(k, (k.shape[0] // 2, k.shape[1] // 2))
        if name.startswith("gaussian") or name in ("sobel", "box-5"):
            from flipconv.core.kernels.specs import parse_kernel_spec

            kern = parse_kernel_spec(WORKLOADS[name][0])
        times: dict[str, list[float]] = {"flipconv": [], "opencv": [], "scipy": []}
        for _ in range(runs):
            t = time.perf_counter()
            filter_image(img, kern, operation="correlate")
            times["flipconv"].append(time.perf_counter() - t)
            if cv2 is not None:  # float64, as exact as flipconv; no rounding to 8 bits
                t = time.perf_counter()
                if kern.factors is not None:
                    col, row = kern.factors
                    cv2.sepFilter2D(img, cv2.CV_64F, row, col, borderType=cv2.BORDER_REFLECT)
                elif kern.values.size >= 50:  # its DFT, which needs float64 input to be exact
                    cv2.filter2D(
                        img.astype(np.float64),
                        cv2.CV_64F,
                        kern.values,
                        borderType=cv2.BORDER_REFLECT,
                    )
                else:
                    cv2.filter2D(img, cv2.CV_64F, kern.values, borderType=cv2.BORDER_REFLECT)
                times["opencv"].append(time.perf_counter() - t)
            if k.size <= 81 or runs == 1:
                t = time.perf_counter()
                for c in range(3):
                    ndi.correlate(img[..., c].astype(float), k)
                times["scipy"].append(time.perf_counter() - t)
        for tool, ts in times.items():
            if ts:
                rows.append(
                    {
                        "workload": name,
                        "tool": tool,
                        "seconds": statistics.median(ts),
                        "shape": f"{k.shape[0]}x{k.shape[1]}",
                    }
                )
    return rows


# ---------------------------------------------------------------- report


def table(rows: list[dict[str, object]], pixels: dict[str, int]) -> str:
    keys = sorted(
        {(r["image"], r["format"], r["workload"]) for r in rows},  # type: ignore[index]
        key=lambda t: (t[0], t[1], list(WORKLOADS).index(t[2])),
    )  # type: ignore[arg-type]
    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    lines = [
        "| image | format | workload | " + " | ".join(tools) + " |",
        "|" + "---|" * (3 + len(tools)),
    ]
    for image, fmt, workload in keys:
        cell = {
            r["tool"]: r
            for r in rows
            if (r["image"], r["format"], r["workload"]) == (image, fmt, workload)
        }
        base = cell.get("flipconv", {}).get("seconds")  # type: ignore[union-attr]
        out = []
        for tool in tools:
            r = cell.get(tool)
            if r is None:
                out.append("–")
            elif r["seconds"] is None:
                out.append(f">{r['timeout']:.0f} s")
            else:
                s = float(r["seconds"])  # type: ignore[arg-type]
                ratio = f" ({s / base:.1f}x)" if base and tool != "flipconv" else ""
                out.append(f"{s:.2f} s{ratio}")
        lines.append(f"| {image} | {fmt} | {workload} | " + " | ".join(out) + " |")
    return "\n".join(lines)


def chart(rows: list[dict[str, object]], path: Path, title: str) -> None:
    """Horizontal bars, log scale, one group per workload: drawn with Pillow."""
    import math

    from PIL import Image, ImageDraw, ImageFont

    palette = {
        "flipconv": (214, 39, 40),
        "imagemagick": (31, 119, 180),
        "graphicsmagick": (44, 160, 44),
        "vips-conv": (148, 103, 189),
        "vips-best": (140, 86, 75),
        "gmic": (227, 119, 194),
        "opencv": (127, 127, 127),
        "scipy": (188, 189, 34),
    }
    groups = [w for w in WORKLOADS if any(r["workload"] == w for r in rows)]
    tools = [t for t in TOOLS if any(r["tool"] == t for r in rows)]
    font = ImageFont.load_default()
    bar, gap, left, width = 9, 12, 110, 560
    height = 40 + len(groups) * (len(tools) * bar + gap) + 20 * ((len(tools) + 3) // 4) + 30
    im = Image.new("RGB", (left + width + 70, height), "white")
    d = ImageDraw.Draw(im)
    d.text((10, 8), title, fill="black", font=font)
    lo, hi = 0.1, 200.0

    def x(seconds: float) -> int:
        return left + int(
            width * (math.log10(seconds) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
        )

    y = 30
    for tick in (0.1, 1, 10, 100):
        d.line(
            [(x(tick), 26), (x(tick), height - 20 * ((len(tools) + 3) // 4) - 30)],
            fill=(220, 220, 220),
        )
        d.text(
            (x(tick) - 8, height - 20 * ((len(tools) + 3) // 4) - 28),
            f"{tick:g} s",
            fill="black",
            font=font,
        )
    for g in groups:
        d.text((8, y + len(tools) * bar // 2 - 5), g, fill="black", font=font)
        for t in tools:
            r = next((r for r in rows if r["workload"] == g and r["tool"] == t), None)
            if r is not None:
                s = r["seconds"] if r["seconds"] is not None else r.get("timeout", hi)
                s = min(max(float(s), lo), hi)  # type: ignore[arg-type]
                d.rectangle([left, y, x(s), y + bar - 2], fill=palette[t])
                label = f"{float(r['seconds']):.2f}" if r["seconds"] is not None else ">timeout"  # type: ignore[arg-type]
                d.text((x(s) + 3, y - 2), label, fill="black", font=font)
            y += bar
        y += gap
    y = height - 20 * ((len(tools) + 3) // 4) - 10
    for i, t in enumerate(tools):
        cx, cy = 10 + (i % 4) * 170, y + (i // 4) * 18
        d.rectangle([cx, cy, cx + 10, cy + 10], fill=palette[t])
        d.text((cx + 14, cy - 1), t, fill="black", font=font)
    im.save(path, optimize=True)


def _cell(cells: dict[str, dict[str, object]], tool: str, base: float) -> str:
    """A time, and its ratio to flipconv's, for the in-process table."""
    if tool not in cells:
        return "–"
    seconds = float(cells[tool]["seconds"])  # type: ignore[arg-type]
    ratio = f" ({seconds / base:.2f}x)" if tool != "flipconv" else ""
    return f"{seconds:.3f} s{ratio}"


def compile_bytecode() -> None:
    """Write flipconv's bytecode before timing, as installing a package does.

    An editable install leaves that to the first import, and a machine with
    PYTHONDONTWRITEBYTECODE set (this project's is) would then compile the
    modules again in every timed process: about 40 ms that an installed
    flipconv does not pay. The competitors' own packages are compiled.
    """
    import compileall

    for part in ("core", "cli", "flipconv"):
        compileall.compile_dir(str(ROOT / part), quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--images", nargs="+", default=["rgb4k", "gray8k"], choices=["rgb4k", "gray8k"]
    )
    parser.add_argument("--formats", nargs="+", default=["png", "tiff"], choices=["png", "tiff"])
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--tools", nargs="+", default=TOOLS, choices=TOOLS)
    parser.add_argument("--timeout", type=float, default=120.0, help="per command, seconds")
    parser.add_argument("--no-in-process", action="store_true")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    compile_bytecode()
    tools = [t for t in args.tools if available(t)]
    print(f"tools: {', '.join(tools)}", file=sys.stderr)
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        images = make_images(tmp, args.images, args.formats)
        kernels = kernel_files(tmp)
        timed_out: set[tuple[str, ...]] = set()
        samples: dict[tuple[str, ...], list[float]] = {}
        for round_ in range(args.runs):
            for (image, fmt), src in images.items():
                for workload in args.workloads:
                    sigma = (
                        float(workload.split("-")[1]) if workload.startswith("gaussian") else None
                    )
                    for tool in tools:
                        key = (image, fmt, workload, tool)
                        if key in timed_out:
                            continue
                        out = tmp / f"out-{tool}{src.suffix}"
                        cmd = commands(tool, workload, src, out, kernels[workload], tmp, sigma)
                        if cmd is None:
                            continue
                        seconds = run_once(cmd, args.timeout)
                        if seconds is None:
                            timed_out.add(key)
                            print(f"{key}: timed out", file=sys.stderr)
                            continue
                        samples.setdefault(key, []).append(seconds)
                        print(f"round {round_ + 1} {key}: {seconds:.2f} s", file=sys.stderr)
                        out.unlink(missing_ok=True)
        pixels = {"rgb4k": 3840 * 2160, "gray8k": 7680 * 4320}
        for key in sorted(set(samples) | timed_out):
            image, fmt, workload, tool = key
            ts = [t for t in samples.get(key, []) if t == t]
            seconds = statistics.median(ts) if ts and key not in timed_out else None
            rows.append(
                {
                    "image": image,
                    "format": fmt,
                    "workload": workload,
                    "tool": tool,
                    "seconds": seconds,
                    "runs": len(ts),
                    "timeout": args.timeout,
                    "mp_per_s": pixels[image] / 1e6 / seconds if seconds else None,
                }
            )
        process_rows = [] if args.no_in_process else in_process(kernels, args.runs)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    doc = {"machine": machine, "runs": args.runs, "end_to_end": rows, "in_process": process_rows}
    (RESULTS / "results.json").write_text(json.dumps(doc, indent=2))
    md = [
        f"Machine: {machine}; median of {args.runs} interleaved run(s).",
        "",
        "End to end:",
        "",
        table(rows, pixels),
    ]
    if process_rows:
        md += [
            "",
            "In process (4K RGB uint8 array, filter call only):",
            "",
            "| workload | kernel | flipconv | opencv | scipy.ndimage |",
            "|---|---|---|---|---|",
        ]
        for w in dict.fromkeys(r["workload"] for r in process_rows):
            cells = {r["tool"]: r for r in process_rows if r["workload"] == w}
            base = cells["flipconv"]["seconds"]
            tools = [_cell(cells, t, base) for t in ("flipconv", "opencv", "scipy")]
            md.append(f"| {w} | {cells['flipconv']['shape']} | {' | '.join(tools)} |")
    (RESULTS / "results.md").write_text("\n".join(md) + "\n")
    for image in args.images:
        subset = [r for r in rows if r["image"] == image and r["format"] == args.formats[0]]
        if subset:
            chart(
                subset,
                RESULTS / f"chart-{image}-{args.formats[0]}.png",
                f"{image} {args.formats[0].upper()} end to end, median seconds (log scale)",
            )
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
