"""The package as ``pip install .`` installs it (not editable): the README's Python
example and every documented import, from the repository's root and from an
empty folder.

The repository's root holds a ``flipconv/`` folder (the package's face), which
Python finds first when it runs there: the installed ``flipconv.core`` must still
be found. An editable install hides that (its finder maps every name), so the
package is installed into a folder of its own here and run by the base
interpreter, with the test environment's libraries on ``PYTHONPATH`` (whose
``.pth`` files, the editable finder's among them, are not read from there).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

IMPORTS = """
import flipconv
from flipconv import convolve, correlate, filter_image, Kernel, FlipconvError
from flipconv.core import Settings, filter_file, verify, probe
from flipconv.peers import probe, PRESETS
from flipconv.lessons import verify, explain
import flipconv.peers, flipconv.lessons, flipconv.core.peers
assert flipconv.peers.probe is flipconv.core.peers.probe
print(flipconv.core.__file__)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    target, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "flipconv", "core", "cli"):  # (the build
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy  # leaves build/)
        copy(ROOT / name, source / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps",
         "--target", str(target), str(source)],
        capture_output=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"pip could not install the package here: {done.stderr.decode()[-300:]}")
    return target


def _run(code: list[str], cwd: Path, site: Path) -> subprocess.CompletedProcess[str]:
    libraries = sysconfig.get_paths()["purelib"]
    base = getattr(sys, "_base_executable", sys.executable)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), libraries])}
    env.pop("PYTHONHOME", None)
    return subprocess.run(
        [base, *code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("where", ["root", "empty"])
def test_every_documented_import_works_from_any_folder(
    installed: Path, tmp_path: Path, where: str
) -> None:
    cwd = ROOT if where == "root" else tmp_path
    done = _run(["-c", IMPORTS], cwd, installed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(ROOT / "core") if where == "root" else str(installed))


@pytest.mark.parametrize("where", ["root", "empty"])
def test_the_readme_python_example_runs_from_any_folder(
    installed: Path, tmp_path: Path, where: str
) -> None:
    cwd = ROOT if where == "root" else tmp_path
    script = (
        "import doctest, sys\n"
        f"failed, _ = doctest.testfile({str(ROOT / 'README.md')!r}, module_relative=False, "
        "optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)\n"
        "sys.exit(1 if failed else 0)\n"
    )
    done = _run(["-c", script], cwd, installed)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
