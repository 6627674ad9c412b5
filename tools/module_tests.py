"""Print docs/development.md's module -> tests table: which test files exercise each core module.

A test file counts for a module when it imports it (``flipconv.core.engine.filters``,
``from flipconv.core.engine import filters``), names its file (``core/engine/filters.py``,
in its docstring), or is named after it (``tests/test_filters.py``).
``python tools/module_tests.py`` prints the table; tests/test_docs.py checks that the
one in docs/development.md is current.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def table() -> str:
    """The Markdown table, one row per module of core/."""
    modules = sorted(
        p.relative_to(ROOT) for p in (ROOT / "core").rglob("*.py") if p.name != "__init__.py"
    )
    tests = sorted((ROOT / "tests").glob("test_*.py"))
    texts = {t.name: t.read_text() for t in tests}
    rows = ["| module | tests |", "| --- | --- |"]
    for module in modules:
        dotted = ".".join(module.with_suffix("").parts)  # core.engine.filters
        package, name = dotted.rsplit(".", 1)
        found = [
            t
            for t, text in texts.items()
            if re.search(rf"flipconv\.{re.escape(dotted)}\b", text)
            or re.search(rf"from flipconv\.{re.escape(package)} import [^\n]*\b{name}\b", text)
            or str(module) in text
            or t == f"test_{name}.py"
        ]
        rows.append(f"| `{module}` | {', '.join(f'`{t}`' for t in found) or '-'} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(table(), end="")
