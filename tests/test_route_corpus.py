"""Every route's bytes and choice, pinned (tests/route_corpus.py): a refactoring of the
engine must leave each of these cases' output, and the route it takes, unchanged."""

from __future__ import annotations

import json

import pytest
from route_corpus import HASHES, compute


def test_the_corpus_gives_the_recorded_bytes_on_the_recorded_routes() -> None:
    pytest.importorskip("dask")
    want = json.loads(HASHES.read_text())
    got = compute()
    changed = {k: (want[k], got.get(k)) for k in want if want[k] != got.get(k)}
    assert not changed, f"{len(changed)} of {len(want)} cases changed: {list(changed.items())[:5]}"
