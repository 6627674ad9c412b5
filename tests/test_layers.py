"""flipconv.core's layers, as docs/development.md draws them: no import runs upward.

Each subpackage of core/ is a layer; a module may import its own layer and
those below it, never one above, and the two top layers (peers, lessons)
never each other. Every import is read with ``ast``, at a module's top or
inside a function alike (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core"
#: Bottom to top; packages in one tuple are peers that must not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_shared",),
    ("kernels",),
    ("engine",),
    ("io",),
    ("files",),
    ("peers", "lessons"),
)
RANK = {package: rank for rank, peers in enumerate(LAYERS) for package in peers}


def imported(source: str, package: str) -> list[tuple[int, str]]:
    """The flipconv modules ``source`` imports, with their lines.

    ``package`` is the importer's own dotted package (for relative imports).
    """
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            found.append((node.lineno, base))
    return [(line, name) for line, name in found if name.startswith("flipconv.")]


def violations(importer: str, source: str) -> list[str]:
    """Upward or sideways imports of ``importer`` (``engine.filters``, say)."""
    own = importer.split(".")[0]
    wrong = []
    for line, name in imported(source, f"flipconv.core.{own}"):
        if name.startswith("flipconv.cli"):
            wrong.append(f"core/{importer}:{line} imports the command line ({name})")
            continue
        parts = name.split(".")
        if parts[:2] != ["flipconv", "core"] or len(parts) < 3 or parts[2] not in RANK:
            continue  # flipconv.core itself, or a name from its face
        target = parts[2]
        if RANK[target] > RANK[own] or (RANK[target] == RANK[own] and target != own):
            wrong.append(f"core/{importer.replace('.', '/')}.py:{line} ({own}) imports {name}")
    return wrong


def modules() -> list[tuple[str, Path]]:
    return [
        (".".join(path.relative_to(CORE).with_suffix("").parts), path)
        for path in sorted(CORE.glob("*/*.py"))
    ]


def test_every_module_sits_in_a_layer() -> None:
    packages = {path.parent.name for _, path in modules()}
    assert packages == set(RANK), "a new subpackage of core/ needs its place in LAYERS"
    loose = [p.name for p in CORE.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules directly in core/ belong in a layer: {loose}"


def test_no_import_runs_upward() -> None:
    wrong = [v for name, path in modules() for v in violations(name, path.read_text())]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("importer", "source", "caught"),
    [
        ("kernels.kernel", "from flipconv.core.engine.filters import filter_image", True),
        ("_shared.errors", "def f():\n    import flipconv.core.io.readers\n", True),
        ("peers.probing", "from flipconv.core.lessons import render", True),
        ("engine.notes", "from flipconv.cli.output import stderr", True),
        ("files.batch", "from ..peers.presets import PRESETS", True),
        ("engine.filters", "from flipconv.core.kernels.kernel import Kernel", False),
        ("engine.filters", "from flipconv.core.engine import planner", False),
        ("lessons.render", "from flipconv.core.io.writers import write_image", False),
    ],
)
def test_the_check_catches_an_upward_import(importer: str, source: str, caught: bool) -> None:
    assert bool(violations(importer, source)) is caught
