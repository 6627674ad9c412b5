"""The README and docs/: no broken link or anchor, a README read in minutes, every doc reachable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's heading slugs: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


def links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return [t for t in LINK.findall(text) if not t.startswith(("http://", "https://", "mailto:"))]


@pytest.mark.parametrize("doc", DOCS, ids=[d.name for d in DOCS])
def test_every_link_resolves(doc: Path) -> None:
    for target in links(doc):
        file_part, _, anchor = target.partition("#")
        where = (doc.parent / file_part).resolve() if file_part else doc
        assert where.exists(), f"{doc.name}: {target} does not exist"
        if anchor:
            assert anchor in anchors(where), f"{doc.name}: no heading #{anchor} in {where.name}"


def test_the_link_checker_finds_broken_links(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Top\n\n[ok](#top) [bad](missing.md) [gone](#nowhere)\n")
    assert links(tmp_path / "a.md") == ["#top", "missing.md", "#nowhere"]
    assert anchors(tmp_path / "a.md") == {"top"}
    assert not (tmp_path / "missing.md").exists()


def test_the_readme_is_short_and_reaches_every_doc() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 250
    for doc in DOCS[1:]:
        assert f"docs/{doc.name}" in readme, doc.name
    for doc in DOCS[1:]:
        assert "../README.md" in doc.read_text(), f"{doc.name} does not link back"


def test_moved_facts_stayed_somewhere() -> None:
    """What the README used to hold is still in the docs (spot checks of each section)."""
    text = "\n".join(d.read_text() for d in DOCS)
    for fact in (
        "`mirror` (`dcb",
        "--keep-going",
        "FLIPCONV_MAX_PIXELS",
        "_FLIPCONV_COMPLETE=bash_source",
        "--tile --bigtiff",
        "dask scheduler --host",
        "python tools/fuzz_images.py",
        "benchmarks/run.py",
        "| 143 | terminated (SIGTERM) |",
        "--as txt|csv|npy|json|imagemagick|vips",
    ):
        assert fact in text, fact


def test_the_module_tests_table_is_current() -> None:
    import runpy

    table = runpy.run_path(str(ROOT / "tools" / "module_tests.py"))["table"]()
    assert table in (ROOT / "docs" / "development.md").read_text(), (
        "docs/development.md's module table is stale: paste `python tools/module_tests.py`"
    )
