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
    #: For float images in the tool's own units (a layer's, a float .npy): the
    #: command, and its largest difference on a random float image.
    float_command: str | None = None
    float_max_difference: float | None = None
    #: The Python call for an array ``x`` (float64 sums in its units), as text
    #: and as data: ``function``, ``kwargs``, ``scale``, ``bias``, ``crop``.
    python: str | None = None
    python_call: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The reproduction as ``probe --json`` prints it."""
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        """The reproductions, each labelled with the data it is for, and what has none."""
        label = "8-bit images  " if self.float_command else ""
        lines = [f"flipconv       {label}{self.command}"]
        if self.max_difference is not None:
            lines.append(
                f"               largest difference {self.max_difference:.3g} over {self.compared}"
            )
        else:
            lines.append(f"               {self.compared}")
        if self.float_command:
            lines.append(f"               float images  {self.float_command}")
            if self.float_max_difference is not None:
                lines.append(
                    f"               largest difference {self.float_max_difference:.3g} "
                    "over a random float image in 0..1"
                )
        if self.python:
            lines.append(f"Python         {self.python}")
        return lines + [f"no equivalent  {missing}" for missing in self.unmatched]


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
    #: A constant the tool adds to every output, in its output's units (a layer's bias).
    bias: float = 0.0
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
            lines += rep.lines()
        return "\n".join(lines)
