"""The hostile corpus (tests/hostile_corpus.py), one test per case."""

from __future__ import annotations

import pytest
from hostile_corpus import CASES, run_case


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_case(case: object) -> None:
    why = run_case(case)  # type: ignore[arg-type]
    assert why is None, why
