"""Make the README's pictures from samples/: the verify sheet and a gallery of built-ins.

    python tools/make_gallery.py [OUT_DIR]      (default: docs/gallery)

Writes ``verify.png`` (gaussian, box, sobel-x, emboss, motion and an even
2x2 on the generated test image, as ``flipconv verify --picture`` draws it)
and ``builtins.png`` (built-in kernels convolved with samples/scene.png,
labelled). Deterministic: the same inputs give the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from flipconv.core.engine.filters import filter_image
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.kernels.specs import parse_kernel_spec
from flipconv.core.lessons.verification import demo_image, verify_picture

ROOT = Path(__file__).resolve().parent.parent
VERIFY_SPECS = ["gaussian:1.5", "box:5", "sobel-x", "emboss", "motion:9,30", "0.5,0.25;0.25,0"]
#: (label, spec, options for filter_image)
GALLERY = [
    ("original", "identity", {}),
    ("gaussian:2", "gaussian:2", {}),
    ("box:7", "box:7", {}),
    ("sharpen:1.5", "sharpen:1.5", {}),
    ("sobel-x, |result|", "sobel-x", {"out_range": "abs"}),
    ("laplacian:8, |result|", "laplacian:8", {"out_range": "abs", "scale": 2.0}),
    ("log:1.4, rescaled", "log:1.4", {"out_range": "rescale"}),
    ("emboss", "emboss", {}),  # sums to 1: the relief keeps the brightness, no bias
    ("motion:15,30", "motion:15,30", {}),
    ("shift:20,10", "shift:20,10", {"mode": "wrap"}),
]


def make_verify(out_dir: Path) -> Path:
    kernels = [parse_kernel_spec(s) for s in VERIFY_SPECS]
    sheet = verify_picture(kernels, demo_image(), source="generated test image")
    path = out_dir / "verify.png"
    write_image(sheet, path, compression=9)
    return path


def make_builtins(out_dir: Path, sample: Path) -> Path:
    from flipconv.core.lessons.render import _font  # the sheet's font, so the pictures match
    from PIL import Image, ImageDraw

    pixels = read_image(sample).pixels
    h, w = pixels.shape[:2]
    columns, label_h, gap = 5, 18, 8
    rows = -(-len(GALLERY) // columns)
    sheet = Image.new(
        "RGB", (columns * (w + gap) + gap, rows * (h + label_h + gap) + gap), (255, 255, 255)
    )
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    for index, (label, spec, options) in enumerate(GALLERY):
        out = filter_image(pixels, parse_kernel_spec(spec), operation="convolve", **options)
        if out.ndim == 2:
            out = np.repeat(out[..., None], 3, axis=2)
        x = gap + (index % columns) * (w + gap)
        y = gap + (index // columns) * (h + label_h + gap)
        draw.text((x, y), label, fill=(20, 20, 20), font=font)
        sheet.paste(Image.fromarray(out[..., :3]), (x, y + label_h))
    path = out_dir / "builtins.png"
    write_image(np.asarray(sheet), path, compression=9)
    return path


def main(out_dir: Path, sample: Path = ROOT / "samples" / "scene.png") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [make_verify(out_dir), make_builtins(out_dir, sample)]


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "gallery"
    for written in main(target):
        print(f"{written} ({written.stat().st_size // 1024} KiB)", file=sys.stderr)
