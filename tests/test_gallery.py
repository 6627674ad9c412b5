"""The README gallery's script runs and makes what the README shows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
from flipconv.core.io.readers import read_image

ROOT = Path(__file__).resolve().parent.parent


def test_gallery_script_makes_the_readme_pictures(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "make_gallery", ROOT / "tools" / "make_gallery.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    assert sorted(p.name for p in written) == ["builtins.png", "verify.png"]
    readme = (ROOT / "README.md").read_text()
    committed = ROOT / "docs" / "gallery"
    for path in written:
        assert f"docs/gallery/{path.name}" in readme
        # the committed picture is this script's output, pixel for pixel (a Pillow
        # release that draws text differently may move a few glyph pixels)
        made, shown = read_image(path).pixels, read_image(committed / path.name).pixels
        assert made.shape == shown.shape
        assert np.count_nonzero(made != shown) <= 0.001 * made.size
    total = sum(p.stat().st_size for p in committed.iterdir())
    assert total < 1_000_000
