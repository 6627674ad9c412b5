"""Every recipe in the README and docs/ runs as written (skipped where a tool it needs is absent).

A recipe is a ```sh block after ``<!-- recipe: NAME; needs: TOOL ... -->``; a
need written ``py:MODULE`` is a Python module. ``<!-- file: NAME -->`` before a
block writes that block to NAME in the scratch folder first (a wrapper the
recipe runs).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flipconv.core.io.readers import read_image
from flipconv.core.kernels.specs import parse_kernel_spec
from reference import assert_matches_reference, reference_image

ROOT = Path(__file__).resolve().parent.parent
RECIPE = re.compile(r"<!-- recipe: ([\w-]+)(?:; needs: ([^>]*?))? -->\n```sh\n(.*?)```", re.S)
FILE = re.compile(r"<!-- file: ([\w.-]+) -->\n```\w*\n(.*?)```", re.S)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def recipes() -> list[tuple[str, list[str], str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text()
        found += [(name, (needs or "").split(), body) for name, needs, body in RECIPE.findall(text)]
    return found


def files() -> dict[str, str]:
    return {name: body for doc in DOCS for name, body in FILE.findall(doc.read_text())}


def _missing(tool: str) -> bool:
    if tool.startswith("py:"):
        return importlib.util.find_spec(tool[3:]) is None
    return shutil.which(tool) is None


def outputs(body: str) -> list[str]:
    """Files a recipe writes: after -o, after >, and the last word of a tool call."""
    words = shlex.split(body.replace("\\\n", " "), comments=True)
    found = [b for a, b in zip(words, words[1:], strict=False) if a in ("-o", ">")]
    return [w for w in found if not w.endswith("/")]


def test_the_readme_has_the_recipes_the_issue_asks_for() -> None:
    names = [name for name, _, _ in recipes()]
    for name in ("batch", "pipes", "npy", "netpbm", "imagemagick", "stdin-kernel", "edges"):
        assert name in names
    assert "probe-torch" in names and "wrap_torch.py" in files()


@pytest.mark.parametrize(("name", "needs", "body"), recipes(), ids=[r[0] for r in recipes()])
def test_recipe_runs(name: str, needs: list[str], body: str, tmp_path: Path) -> None:
    missing = [tool for tool in needs if _missing(tool)]
    if missing:
        pytest.skip(f"needs {' '.join(missing)}")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    for file_name, text in files().items():
        (tmp_path / file_name).write_text(text)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", body],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert b"error" not in run.stderr, run.stderr.decode()
    for path in outputs(body):
        assert (tmp_path / path).stat().st_size > 0, path
    check = CHECKS.get(name)
    if check is not None:
        check(tmp_path)


def _batch(folder: Path) -> None:
    assert sorted(p.name for p in (folder / "blurred").iterdir()) == ["a-blur.png", "b-blur.png"]
    lines = (folder / "edges.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all('"status": "ok"' in line for line in lines)
    assert read_image(folder / "edges" / "a.tif").pixels.dtype == np.float32


def _npy(folder: Path) -> None:
    out = read_image(folder / "gradient16.png").pixels
    assert out.dtype == np.uint16 and out.max() > 0


EMBOSS = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], dtype=float)


def _scene(folder: Path) -> np.ndarray:
    return read_image(folder / "samples" / "scene.png").pixels


def _pipes(folder: Path) -> None:
    boxed = np.clip(
        np.rint(reference_image(_scene(folder), np.full((5, 5), 1 / 25), operation="convolve")[0]),
        0,
        255,
    )
    relief = read_image(folder / "relief.png").pixels
    assert_matches_reference(relief, boxed.astype(np.uint8), EMBOSS, operation="correlate")
    # the built-in emboss sums to 1: the relief keeps the image's brightness
    assert abs(relief.mean() - boxed.mean()) < 0.1 * boxed.mean()


def _netpbm(folder: Path) -> None:
    streak = parse_kernel_spec("motion:9,30")
    assert_matches_reference(
        read_image(folder / "streak.png").pixels,
        _scene(folder),
        streak.values,
        streak.origin,
        operation="convolve",
    )


def _imagemagick(folder: Path) -> None:
    # ImageMagick's own convolution of flipconv's kernel: within its 1 LSB truncation
    streak = parse_kernel_spec("motion:9,30")
    want, _ = reference_image(
        _scene(folder), streak.values, streak.origin, operation="convolve", mode="nearest"
    )
    got = read_image(folder / "im-streak.png").pixels[..., :3].astype(float)
    assert np.abs(got - np.clip(want, 0, 255)).max() <= 1


def _vips(folder: Path) -> None:
    ours = read_image(folder / "flipconv-emboss.png").pixels
    assert_matches_reference(ours, _scene(folder), EMBOSS, operation="correlate")
    theirs = read_image(folder / "vips-emboss.png").pixels[..., :3]
    # vips repeats the edge pixel where flipconv reflects: compare the inside
    assert np.abs(theirs[1:-1, 1:-1].astype(int) - ours[1:-1, 1:-1]).max() <= 1


def _stdin_kernel(folder: Path) -> None:
    assert_matches_reference(
        read_image(folder / "horizontal.png").pixels,
        _scene(folder),
        [[1, 2, 1], [0, 0, 0], [-1, -2, -1]],
        operation="correlate",
    )


SOBEL_X = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])


def _edges(folder: Path) -> None:
    scene = _scene(folder)  # uint8: the float64 reference comes out in 0..1
    gx = reference_image(scene, SOBEL_X, operation="correlate", dtype="float64")[0]
    gy = reference_image(scene, SOBEL_X.T, operation="correlate", dtype="float64")[0]
    expected = np.clip(np.rint(np.hypot(gx, gy) * 255), 0, 255)  # float64 out is /255
    got = read_image(folder / "edges.png").pixels.astype(np.float64)
    assert np.abs(got - expected).max() <= 1
    assert (folder / "edges.png").read_bytes() == (folder / "edges2.png").read_bytes()


def _probe_torch(folder: Path) -> None:
    import json

    doc = json.loads((folder / "torch.json").read_text())
    assert (doc["orientation"], doc["even_rule"], doc["border"][:4]) == (
        "correlation",
        "up-left",
        "zero",
    )
    assert doc["reproduction"]["arguments"][3:] == [
        "--origin",
        "up-left",
        "--mode",
        "constant",
        "--scale",
        "255",
        "--dtype",
        "float64",
    ]
    assert doc["reproduction"]["max_difference"] < 1e-9


CHECKS = {
    "edges": _edges,
    "probe-torch": _probe_torch,
    "batch": _batch,
    "npy": _npy,
    "pipes": _pipes,
    "netpbm": _netpbm,
    "imagemagick": _imagemagick,
    "vips": _vips,
    "stdin-kernel": _stdin_kernel,
}
