"""Make the files in samples/: small, deterministic images and kernels.

Run: python samples/make_samples.py [FOLDER]   (default: this script's folder)

Every image is drawn here from formulas and a fixed random seed, so the set
can be rebuilt bit for bit (tests/test_samples.py checks the pixels).

glyph.png      8-bit gray, an "F" and an arrow: asymmetric on both axes,
               so any flip of the kernel shows.
scene.png      8-bit RGB landscape-like picture with edges, texture, noise.
scene16.png    the same scene at 16 bits per sample.
gray16.tif     16-bit gray ramp with rings (TIFF).
badge.png      RGBA: an opaque disc on a transparent background.
asym3x3.txt    asymmetric 3x3 kernel of distinct powers of two.
even2x2.txt    an even-sized kernel (its origin is below/right of centre).
wide3x5.csv    a non-square kernel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def glyph(height: int = 96, width: int = 96) -> np.ndarray:
    img = np.full((height, width), 40.0)
    img[16:80, 18:28] = 230  # stem of the F
    img[16:26, 18:60] = 230  # top bar
    img[44:53, 18:50] = 230  # middle bar
    y, x = np.mgrid[0:height, 0:width]
    # an arrow pointing right, lower right
    img[(y >= 66) & (y <= 70) & (x >= 50) & (x <= 78)] = 180
    head = (x >= 78) & (x <= 88) & (np.abs(y - 68) <= (88 - x) * 0.8)
    img[head] = 180
    return img.astype(np.uint8)


def scene(height: int = 120, width: int = 160) -> np.ndarray:
    """RGB float in [0, 1]."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    v = y / height
    sky = np.stack([0.35 + 0.3 * v, 0.55 + 0.25 * v, 0.95 - 0.1 * v], axis=-1)
    img = sky.copy()
    sun = (x - 0.75 * width) ** 2 + (y - 0.25 * height) ** 2 < (0.09 * width) ** 2
    img[sun] = (1.0, 0.92, 0.55)
    ridge = (
        0.55 * height
        + 0.08 * height * np.sin(x / width * 7.0)
        + 0.04 * height * np.sin(x / width * 23.0 + 1.0)
    )
    hill = y > ridge
    shade = 0.25 + 0.35 * (1 - (y - ridge) / height)
    img[hill] = np.stack([0.2 * shade, 0.55 * shade + 0.1, 0.15 * shade], axis=-1)[hill]
    field = y > 0.82 * height
    stripes = 0.5 + 0.5 * np.sin(x * 0.9 + y * 0.35)
    img[field] = np.stack(
        [0.55 + 0.2 * stripes, 0.45 + 0.15 * stripes, 0.2 + 0 * stripes], axis=-1
    )[field]
    house = (x > 0.18 * width) & (x < 0.32 * width) & (y > 0.6 * height) & (y < 0.8 * height)
    img[house] = (0.75, 0.2, 0.15)
    img += rng.normal(0.0, 0.015, img.shape)
    return np.clip(img, 0.0, 1.0)


def gray_rings(height: int = 96, width: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = np.hypot(x - width * 0.4, y - height * 0.6)
    img = 0.45 * x / width + 0.35 * (0.5 + 0.5 * np.cos(r / 3.0)) * np.exp(-r / 60.0) + 0.1
    return np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)


def badge(size: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r = np.hypot(x - size * 0.45, y - size * 0.55)
    img = np.zeros((size, size, 4), dtype=np.uint8)
    img[..., 0] = np.clip(255 - r * 4, 0, 255)
    img[..., 1] = 90
    img[..., 2] = np.clip(x * 4, 0, 255)
    img[..., 3] = np.where(r < size * 0.3, 255, 0)
    return img


KERNEL_FILES = {
    "asym3x3.txt": "# asymmetric: distinct powers of two, so every flip is visible\n"
    "1 2 4\n8 16 32\n64 128 256\n",
    "even2x2.txt": "# even-sized: default origin is the lower-right element (1,1)\n1 2\n4 8\n",
    "wide3x5.csv": "1,0,0,0,-1\n2,0,0,0,-2\n1,0,0,0,-1\n",
}


def main(folder: Path) -> None:
    from flipconv.core.io.writers import write_image

    folder.mkdir(parents=True, exist_ok=True)
    write_image(glyph(), folder / "glyph.png")
    rgb = scene()
    write_image(np.round(rgb * 255).astype(np.uint8), folder / "scene.png")
    write_image(np.round(rgb * 65535).astype(np.uint16), folder / "scene16.png")
    write_image(gray_rings(), folder / "gray16.tif")
    write_image(badge(), folder / "badge.png")
    for name, text in KERNEL_FILES.items():
        (folder / name).write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
