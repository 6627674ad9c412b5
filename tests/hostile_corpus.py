"""A replayable corpus of hostile and careless command lines: one line OK or BAD per case.

Run it as ``python tests/hostile_corpus.py`` (exit 1 if any case is BAD);
``tests/test_hostile_corpus.py`` runs it in the suite. Each case builds a
fresh folder, runs the installed command as a user would, and checks the
exit status, the one-line message, that every file read is unchanged
(sha256) and that no stray file was left. The cases are the sweeps' findings
(data loss, misleading messages, hangs) and stay here once fixed.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FLIPCONV = [sys.executable, "-m", "flipconv.cli"]


@dataclass
class Case:
    """One command line in a prepared folder, and what must come of it."""

    name: str
    argv: list[str]
    status: int
    message: str = ""  # a regular expression the first stderr line must match
    setup: Callable[[Path], None] | None = None
    stdin: str | None = None  # a file of the folder to redirect stdin from
    made: list[str] = field(default_factory=list)  # files the case may create
    timeout: float = 60.0
    stdout: str = "null"  # or "full" (/dev/full), or "closed" (>&-)


def _photo(folder: Path, name: str = "a.png", shape: tuple[int, ...] = (12, 16, 3)) -> None:
    from flipconv.core.io.writers import write_image

    pixels = np.random.default_rng(len(name)).integers(0, 256, shape, dtype=np.uint8)
    write_image(pixels, folder / name)


def _photo_and_kernel(folder: Path) -> None:
    _photo(folder)
    (folder / "k.png").write_text("1 2 1\n2 4 2\n1 2 1\n")


def _zarr_folder(folder: Path) -> None:
    np.save(folder / "in.npy", np.zeros((20, 20)))
    (folder / "mine.zarr").mkdir()
    (folder / "mine.zarr" / "thesis.txt").write_text("years of work")


def _thousand_channels(folder: Path) -> None:
    import tifffile

    data = np.zeros((256, 128, 1000), np.uint8)
    tifffile.imwrite(
        folder / "s.tif", data, photometric="minisblack", compression="zlib",
        tile=(64, 64), planarconfig="contig",
    )  # fmt: skip


def _fifo_tif(folder: Path) -> None:
    from flipconv.core.io.writers import encode_image

    data = encode_image(np.zeros((9, 13), np.uint8), "tiff")
    os.mkfifo(folder / "p.tif")

    def feed() -> None:
        with open(folder / "p.tif", "wb") as f:
            f.write(data)

    threading.Thread(target=feed, daemon=True).start()


CASES = [
    Case("picture onto the --image", ["verify", "-k", "box:3", "--image", "a.png",
         "--picture", "a.png"], 2, r"the picture 'a\.png' is the image itself", _photo),
    Case("picture onto stdin's file", ["verify", "-k", "box:3", "--image", "-", "--picture",
         "a.png"], 2, r"is the image itself \(stdin\)", _photo, stdin="a.png"),
    Case("picture onto the kernel file", ["kernels", "show", "@k.png", "--picture", "k.png"],
         2, r"is the kernel file itself", _photo_and_kernel),
    Case("-o onto the kernel file", ["convolve", "-k", "@k.png", "a.png", "-o", "k.png"], 2,
         r"the output 'k\.png' is the kernel file itself", _photo_and_kernel),
    Case("-o onto the input", ["convolve", "-k", "box:3", "a.png", "-o", "./a.png"], 2,
         r"is the input itself", _photo),
    Case("a batch output onto another input", ["convolve", "-k", "box:3", "a.png", "0.png",
         "--output-template", "{index}.png"], 2, r"would replace the input '0\.png'",
         lambda d: (_photo(d), _photo(d, "0.png"))),
    Case("a folder that is not a Zarr store", ["convolve", "-k", "box:3", "in.npy", "-o",
         "mine.zarr", "--chunk", "16"], 2, r"is a folder that is not a Zarr store", _zarr_folder),
    Case("a thousand samples per pixel", ["convolve", "-k", "box:3", "s.tif", "-o", "o.tif"],
         1, r"1000 channels", _thousand_channels),
    Case("a named pipe called .tif", ["convolve", "-k", "box:3", "p.tif", "-o", "o.png"], 0,
         "", _fifo_tif, made=["o.png"], timeout=30),
    Case("template width", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "{index:99999999999}"], 2, r"wider than a file name may be", _photo),
    Case("template attribute", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "{stem.upper}.png"], 2, r"placeholders are plain names", _photo),
    Case("template conversion", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "{index!x}.png"], 2, r"conversions are not supported", _photo),
    Case("template spec", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "{stem:d}.png"], 2, r"Unknown format code 'd'", _photo),
    Case("template folder missing", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "sub/{name}"], 2, r"output folder 'sub' does not exist", _photo),
    Case("template absolute", ["convolve", "-k", "box:3", "a.png", "--output-template",
         "/{name}"], 2, r"is an absolute path", _photo),
    Case("json to a full stdout", ["kernels", "show", "box:3", "--json"], 1,
         r"cannot write the JSON report \(No space left on device\)", stdout="full"),
    Case("json with stdout closed", ["convolve", "-k", "box:3", "a.png", "-o", "b.png",
         "--json"], 2, r"stdout is closed, so --json has nowhere to print", _photo,
         stdout="closed"),
    Case("-o inside the input store", ["convolve", "-k", "box:3", "d.zarr/in.npy", "-o",
         "d.zarr", "--chunk", "16"], 2, r"is a folder that holds the input", lambda d: (
         (d / "d.zarr").mkdir(), np.save(d / "d.zarr" / "in.npy", np.zeros((20, 20))))),
    Case("an empty array", ["convolve", "-k", "box:3", "e.npy", "-o", "o.npy"], 1,
         r"e\.npy", lambda d: np.save(d / "e.npy", np.zeros((0, 5)))),
    Case("a decompression bomb", ["convolve", "-k", "box:3", "bomb.png", "-o", "o.png"], 1,
         r"over the limit", lambda d: (d / "bomb.png").write_bytes(_png_header(100000, 100000))),
    Case("a kernel file that never ends", ["convolve", "-k", "@/dev/zero", "a.png", "-o",
         "b.png"], 2, r"/dev/zero", _photo),
    Case("probe: a tool's escape sequences", ["probe", "--", "sh", "-c", "printf "
         "'\\033[2J\\033[31mboom\\033[0m\\n' >&2; exit 3 # {in} {out} {kernel}"], 1,
         r"^flipconv: error: the command exited with status 3: boom$"),
    Case("probe: a tool writing a huge image", ["probe", "--", sys.executable, "huge.py",
         "{in}", "{out}"], 1, r"wrote a 12000x12000 image", lambda d: _huge_writer(d)),
    Case("NaN kernel", ["convolve", "-k", "1,nan;2,3", "a.png", "-o", "b.png"], 2, r"NaN|nan",
         _photo),
    Case("missing input", ["convolve", "-k", "box:3", "nope.png", "-o", "b.png"], 1,
         r"nope\.png", None),
    Case("truncated input", ["convolve", "-k", "box:3", "t.png", "-o", "b.png"], 1,
         r"t\.png: (corrupt|truncated)", lambda d: (_photo(d, "t.png", (40, 40, 3)),
         (d / "t.png").write_bytes((d / "t.png").read_bytes()[:90]))),
    Case("-o /dev/null as a stream", ["convolve", "-k", "box:3", "a.png", "-o",
         "/dev/null", "-f", "png"], 0, "", _photo),
]  # fmt: skip


def _png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` and holds no pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    head = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IEND", b"")


def _huge_writer(folder: Path) -> None:
    (folder / "huge.py").write_text(
        f"import sys\nopen(sys.argv[2], 'wb').write({_png_header(12000, 12000)!r})\n"
    )


def snapshot(folder: Path) -> dict[str, str]:
    """Every regular file below ``folder`` and its sha256 (pipes and folders left out)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def run_case(case: Case) -> str | None:
    """None when the case holds, else what went wrong."""
    with tempfile.TemporaryDirectory(prefix="flipconv-hostile-") as tmp:
        folder = Path(tmp)
        if case.setup is not None:
            case.setup(folder)
        before = snapshot(folder)
        try:
            done = _run(case, folder)
        except subprocess.TimeoutExpired:
            return f"no answer in {case.timeout:g} s"
        return _judge(case, done, before, snapshot(folder))


def _run(case: Case, folder: Path) -> subprocess.CompletedProcess[bytes]:
    full = open("/dev/full", "wb") if case.stdout == "full" else None  # noqa: SIM115
    stdin = open(folder / case.stdin, "rb") if case.stdin else None  # noqa: SIM115
    try:
        return subprocess.run(
            [*FLIPCONV, *case.argv],
            cwd=folder,
            stdin=stdin or subprocess.DEVNULL,
            stdout=full or subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=case.timeout,
            preexec_fn=(lambda: os.close(1)) if case.stdout == "closed" else None,
        )
    finally:
        for stream in (full, stdin):
            if stream is not None:
                stream.close()


def _judge(
    case: Case,
    done: subprocess.CompletedProcess[bytes],
    before: dict[str, str],
    after: dict[str, str],
) -> str | None:
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    if done.returncode != case.status:
        return f"exit {done.returncode}, not {case.status}: {lines[:1]}"
    if case.message and not (lines and re.search(case.message, lines[0])):
        return f"message {lines[:1]} does not say /{case.message}/"
    if any("Traceback" in line or "internal error" in line for line in lines):
        return "a traceback or an internal error"
    if re.search("[\x00-\x08\x0b-\x1f\x7f]", done.stderr.decode("utf-8", "replace")):
        return "control characters on stderr"
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    if changed:
        return f"changed or removed: {changed}"
    stray = sorted(set(after) - set(before) - set(case.made))
    return f"left behind: {stray}" if stray else None


def main() -> int:
    """Run every case; print OK or BAD for each, and a count."""
    bad = 0
    for case in CASES:
        why = run_case(case)
        print(f"{'OK ' if why is None else 'BAD'} {case.name}" + (f": {why}" if why else ""))
        bad += why is not None
    print(f"hostile corpus: {len(CASES) - bad} passed, {bad} failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
