"""Mutation fuzzer for flipconv's image input.

Takes valid images of every format flipconv reads, mutates their bytes (bit
flips, interesting bytes, truncations, slice swaps, duplications, deletions,
header-targeted edits) and feeds them to flipconv, checking that every
outcome is either success or a clean failure: a FlipconvError in process; in
a subprocess exit status 0, 1 or 2, at most two lines on stderr, no
traceback, nothing on stdout on failure, and no file left behind.

Long run:  python tools/fuzz_images.py --cases 3000 --subprocess-every 10 --seed 1
The test suite runs a short version (tests/test_fuzz.py).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SUBPROCESS_TIMEOUT = 30.0


def seeds() -> dict[str, bytes]:
    """Small valid images in every readable format and several pixel layouts."""
    from flipconv.core.io.writers import encode_image
    from PIL import Image as PILImage

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    out = {
        "rgb.png": encode_image(rgb, "png"),
        "rgba16.png": encode_image(rng.integers(0, 65536, (9, 7, 4), dtype=np.uint16), "png"),
        "gray16.png": encode_image(rng.integers(0, 65536, (9, 7), dtype=np.uint16), "png"),
        "rgb.jpg": encode_image(rgb, "jpeg"),
        "f32.tif": encode_image(rng.random((8, 6, 3)).astype(np.float32), "tiff"),
        "ga.tif": encode_image(rng.integers(0, 256, (8, 6, 2), dtype=np.uint8), "tiff"),
        "rgb.bmp": encode_image(rgb, "bmp"),
        "rgb16.pnm": encode_image(rng.integers(0, 65536, (6, 5, 3), dtype=np.uint16), "pnm"),
        "ga.pam": encode_image(rng.integers(0, 256, (6, 5, 2), dtype=np.uint8), "pnm"),
        "f64.npy": encode_image(rng.random((5, 6)), "npy"),
        "ascii.pgm": b"P2\n3 2\n1000\n0 500 1000\n7 8 9\n",
    }
    for mode, name in (("P", "pal.png"), ("1", "bit.png"), ("P", "anim.gif")):
        im = PILImage.fromarray(rgb).convert(mode)
        buf = io.BytesIO()
        if name.endswith(".gif"):
            im.save(buf, format="GIF", save_all=True, append_images=[im.rotate(90)])
        else:
            im.save(buf, format="PNG", transparency=0 if mode == "P" else None)
        out[name] = buf.getvalue()
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One to three random mutations of ``data``."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(7)
        n = len(buf)
        if n == 0:
            break
        if kind == 0:  # bit flips
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(n)
                buf[i] ^= 1 << rng.randrange(8)
        elif kind == 1:  # interesting bytes, biased to the header
            i = rng.randrange(min(n, 64)) if rng.random() < 0.7 else rng.randrange(n)
            buf[i] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE))
        elif kind == 2:  # truncation
            del buf[rng.randrange(n) :]
        elif kind == 3:  # swap two slices
            a, b = sorted(rng.randrange(n) for _ in range(2))
            size = rng.randint(1, max(1, min(64, (b - a) or 1)))
            x, y = bytes(buf[a : a + size]), bytes(buf[b : b + size])
            buf[a : a + len(x)], buf[b : b + len(y)] = y[: len(x)].ljust(len(x), b"\0"), x[: len(y)]
        elif kind == 4:  # duplicate a slice
            a = rng.randrange(n)
            piece = bytes(buf[a : a + rng.randint(1, 256)])
            at = rng.randrange(n)
            buf[at:at] = piece
        elif kind == 5:  # delete a slice
            a = rng.randrange(n)
            del buf[a : a + rng.randint(1, 64)]
        else:  # large numbers into a header field (dimensions)
            i = rng.randrange(min(n, 40))
            buf[i : i + 4] = rng.choice(
                (b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x00\x00\x00\x00", b"99999", b"-1 ")
            )
    return bytes(buf)


@dataclass
class Report:
    cases: int = 0
    in_process: int = 0
    subprocesses: int = 0
    accepted: int = 0
    rejected: int = 0
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.cases} cases ({self.in_process} in process, {self.subprocesses} as "
            f"subprocesses): {self.accepted} accepted, {self.rejected} rejected cleanly, "
            f"{len(self.crashes)} crashes, {len(self.hangs)} hangs"
        )


def check_in_process(data: bytes) -> str | None:
    """None if flipconv accepted or cleanly refused ``data``; else what went wrong."""
    from flipconv.core._shared.errors import FlipconvError
    from flipconv.core.engine.filters import filter_image
    from flipconv.core.io.readers import read_image
    from flipconv.core.kernels.specs import parse_kernel_spec

    try:
        image = read_image(data, max_pixels=4_000_000)
        filter_image(
            image.pixels, parse_kernel_spec("1,2;4,8"), operation="convolve", memory_limit=1 << 30
        )
    except FlipconvError:
        return "rejected"
    except Exception as exc:  # anything else is a bug
        return f"{type(exc).__name__}: {exc}"
    return "accepted"


def check_subprocess(data: bytes, command: list[str], workdir: Path) -> str:
    """Run the real command on ``data`` (stdin) writing into ``workdir``."""
    out = workdir / "out.png"
    before = set(os.listdir(workdir))
    try:
        proc = subprocess.run(
            [
                *command,
                "convolve",
                "-k",
                "box",
                "-o",
                str(out),
                "-f",
                "png",
                "--max-pixels",
                "4000000",
                "--dtype",
                "uint8",
            ],
            input=data,
            capture_output=True,
            timeout=SUBPROCESS_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return "hang"
    err = proc.stderr.decode(errors="replace")
    problems = []
    if proc.returncode not in (0, 1, 2):
        problems.append(f"exit {proc.returncode}")
    if "Traceback" in err or "internal error" in err:
        problems.append("traceback/internal error")
    if proc.stdout:
        problems.append("bytes on stdout")
    if len(err.strip().splitlines()) > 2 and proc.returncode != 0:
        problems.append("more than two lines on stderr")
    left = set(os.listdir(workdir)) - before - ({"out.png"} if proc.returncode == 0 else set())
    if left:
        problems.append(f"left behind {sorted(left)}")
    if proc.returncode != 0 and out.exists():
        problems.append("output written despite failure")
    if out.exists():
        out.unlink()
    if problems:
        return "crash: " + "; ".join(problems) + f" | {err.strip()[:300]}"
    return "accepted" if proc.returncode == 0 else "rejected"


def fuzz(
    cases: int,
    seed: int,
    subprocess_every: int = 0,
    command: list[str] | None = None,
    seconds: float | None = None,
    save: Path | None = None,
) -> Report:
    rng = random.Random(seed)
    corpus = seeds()
    names = sorted(corpus)
    report = Report()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for i in range(cases):
            if seconds is not None and time.monotonic() - started > seconds:
                break
            name = rng.choice(names)
            data = mutate(corpus[name], rng)
            report.cases += 1
            if subprocess_every and command and i % subprocess_every == 0:
                report.subprocesses += 1
                outcome = check_subprocess(data, command, workdir)
            else:
                report.in_process += 1
                outcome = check_in_process(data)
            if outcome == "accepted":
                report.accepted += 1
            elif outcome == "rejected":
                report.rejected += 1
            else:
                where = f"case {i} from {name}: {outcome}"
                (report.hangs if outcome == "hang" else report.crashes).append(where)
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    (save / f"case{i}-{name}").write_bytes(data)
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument(
        "--subprocess-every",
        type=int,
        default=10,
        help="run every Nth case through the real command (0: never)",
    )
    parser.add_argument("--save", type=Path, default=None, help="keep failing inputs here")
    args = parser.parse_args()
    flipconv = Path(sys.executable).parent / "flipconv"
    command = [str(flipconv)] if flipconv.exists() else [sys.executable, "-m", "flipconv.cli"]
    started = time.monotonic()
    report = fuzz(args.cases, args.seed, args.subprocess_every, command, args.seconds, args.save)
    print(f"{report.line()} in {time.monotonic() - started:.0f} s")
    for problem in report.crashes + report.hangs:
        print("  " + problem)
    return 1 if report.crashes or report.hangs else 0


if __name__ == "__main__":
    sys.exit(main())
