"""What :func:`flipconv.core.probing.probe` reports: plain data, the keys of ``probe --json``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reproduction:
    """The flipconv command for the probed tool, and how close it came."""

    arguments: list[str]
    command: str
    max_difference: float | None
    compared: str
    unmatched: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ProbeReport:
    """What the probe found (the keys of ``flipconv probe --json``).

    ``scale`` is the factor left after normalisation: 1 in the input's
    units, ``1/255`` for 0..1 floats from 8-bit samples. ``impulse_at`` is
    where the impulse was in ``response``.
    """

    kernel: list[list[float]]
    orientation: str
    description: str
    exact: bool
    max_error: float
    ties: list[str]
    normalization: str
    units: str
    scale: float
    uses_kernel: bool
    origin: list[int]
    even_origin: list[int] | None
    even_convention: str | None
    even_rule: str | None
    border: str
    border_candidates: list[str]
    negatives: str
    response: list[list[float]]
    impulse_value: float
    impulse_at: list[int]
    float_output: bool
    runs: int
    notes: list[str] = field(default_factory=list)
    reproduction: Reproduction | None = None

    def to_json(self) -> dict[str, Any]:
        doc = dict(self.__dict__)
        doc["reproduction"] = self.reproduction.to_json() if self.reproduction else None
        return doc
