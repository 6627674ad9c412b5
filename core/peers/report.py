"""What :func:`~flipconv.core.peers.probing.probe` reports: plain data, ``probe --json``'s keys."""

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
        """The reproduction as ``probe --json`` prints it."""
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
    #: Where ``kernel`` came from: ``given`` (handed to the tool), ``the tool's
    #: own`` (a layer's weights), ``the tool's own, as given`` (``kernel=`` for a
    #: tool that takes none) or ``measured`` (read from its impulse response).
    kernel_source: str = "given"

    def to_json(self) -> dict[str, Any]:
        """The report as ``probe --json`` prints it."""
        doc = dict(self.__dict__)
        doc["reproduction"] = self.reproduction.to_json() if self.reproduction else None
        return doc

    def __str__(self) -> str:
        """The verdict in plain lines, as ``print(probe(...))`` shows it."""
        rows = [self.kernel] if isinstance(self.kernel[0], float) else self.kernel
        width = max(len(f"{v:g}") for row in rows for v in row)
        matrix = ["    " + " ".join(f"{v:>{width}g}" for v in row) for row in rows]
        lines = [
            f"orientation    {self.orientation}: the tool {self.description}",
            f"kernel         {self.kernel_source}, origin {self.origin[0]},{self.origin[1]}:",
            *matrix,
            f"normalisation  {self.normalization}",
            f"units          {self.units}",
            f"border         {self.border}",
            f"negatives      {self.negatives}",
        ]
        if self.even_convention is not None:
            lines.append(f"even origin    {self.even_convention}")
        lines += [f"note           {note}" for note in self.notes]
        rep = self.reproduction
        if rep is None:
            lines.append("flipconv       no reproduction: the verdict is not clear enough")
        else:
            lines.append(f"flipconv       {rep.command}")
            if rep.max_difference is not None:
                lines.append(
                    f"               largest difference {rep.max_difference:.3g} over "
                    f"{rep.compared}"
                )
            lines += [f"no equivalent  {missing}" for missing in rep.unmatched]
        return "\n".join(lines)
