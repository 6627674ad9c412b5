"""Every README recipe runs as written (skipped where a tool it needs is absent)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from flipconv.core.images import read_image

ROOT = Path(__file__).resolve().parent.parent
RECIPE = re.compile(r"<!-- recipe: ([\w-]+)(?:; needs: ([^>]*?))? -->\n```sh\n(.*?)```", re.S)


def recipes() -> list[tuple[str, list[str], str]]:
    text = (ROOT / "README.md").read_text()
    return [(name, (needs or "").split(), body) for name, needs, body in RECIPE.findall(text)]


def outputs(body: str) -> list[str]:
    """Files a recipe writes: after -o, after >, and the last word of a tool call."""
    words = shlex.split(body.replace("\\\n", " "), comments=True)
    found = [b for a, b in zip(words, words[1:], strict=False) if a in ("-o", ">")]
    return [w for w in found if not w.endswith("/")]


def test_the_readme_has_the_recipes_the_issue_asks_for() -> None:
    names = [name for name, _, _ in recipes()]
    for name in ("batch", "pipes", "npy", "netpbm", "imagemagick", "stdin-kernel"):
        assert name in names


@pytest.mark.parametrize(("name", "needs", "body"), recipes(), ids=[r[0] for r in recipes()])
def test_recipe_runs(name: str, needs: list[str], body: str, tmp_path: Path) -> None:
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"needs {' '.join(missing)}")
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                         capture_output=True, timeout=300)  # fmt: skip
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


CHECKS = {"batch": _batch, "npy": _npy}
