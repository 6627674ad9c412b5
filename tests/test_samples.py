"""samples/: the committed files are exactly what samples/make_samples.py makes."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
from flipconv.core.io.readers import read_image


def test_samples_are_reproducible(samples: Path, tmp_path: Path) -> None:
    module = runpy.run_path(str(samples / "make_samples.py"))
    module["main"](tmp_path)
    made = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in samples.iterdir() if p.name != "make_samples.py")
    assert made == committed
    for name in made:
        if name.endswith((".txt", ".csv")):
            assert (tmp_path / name).read_text() == (samples / name).read_text()
        else:
            a, b = read_image(tmp_path / name), read_image(samples / name)
            assert a.pixels.dtype == b.pixels.dtype
            np.testing.assert_array_equal(a.pixels, b.pixels)


def test_samples_cover_what_the_docs_promise(samples: Path) -> None:
    assert read_image(samples / "scene16.png").pixels.dtype == np.uint16
    assert read_image(samples / "gray16.tif").pixels.ndim == 2
    assert read_image(samples / "badge.png").pixels.shape[2] == 4
    glyph = read_image(samples / "glyph.png").pixels
    assert not np.array_equal(glyph, glyph[:, ::-1]) and not np.array_equal(glyph, glyph[::-1])
    assert sum(p.stat().st_size for p in samples.iterdir()) < 400_000
