"""A short lesson about one kernel: its rotation, symmetry, origin and impulse response.

:func:`explain` gathers the facts (pure data); ``flipconv explain`` prints
them as tables and ``--json`` as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from flipconv.core.engine.filters import convolve, correlate
from flipconv.core.kernels.kernel import PREDICTION, Kernel, Stack, symmetry

_WHAT_ROTATION_GIVES = {
    "symmetric": "the same kernel",
    "antisymmetric": "the same kernel negated",
    "asymmetric": "a different kernel",
}
_WHAT_FOLLOWS = {
    "symmetric": "convolve and correlate give the same result",
    "antisymmetric": "convolve gives exactly the negated result of correlate",
    "asymmetric": "convolve and correlate give different results",
}


@dataclass(frozen=True)
class Explanation:
    """Everything ``flipconv explain`` shows (the keys of its ``--json``)."""

    spec: str
    shape: tuple[int, int]
    origin: tuple[int, int]
    values: np.ndarray
    rotated: np.ndarray
    reflected_origin: tuple[int, int]
    symmetry: str
    prediction: str
    impulse_shape: tuple[int, int]
    impulse_at: tuple[int, int]
    impulse_convolve: np.ndarray
    impulse_correlate: np.ndarray
    lesson: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The explanation as ``explain --json`` prints it."""
        return {
            "spec": self.spec,
            "shape": list(self.shape),
            "origin": list(self.origin),
            "values": self.values.tolist(),
            "rotated": self.rotated.tolist(),
            "reflected_origin": list(self.reflected_origin),
            "symmetry": self.symmetry,
            "prediction": self.prediction,
            "impulse": {
                "shape": list(self.impulse_shape),
                "at": list(self.impulse_at),
                "convolve": self.impulse_convolve.tolist(),
                "correlate": self.impulse_correlate.tolist(),
            },
            "lesson": list(self.lesson),
        }


def _axis_note(name: str, size: int, origin: int, side: tuple[str, str]) -> str | None:
    centre = (size - 1) / 2
    if size % 2 == 0:
        where = side[1] if origin > centre else side[0]
        return (
            f"It is {size} {name} wide, an even number, so there is no centre {name[:-1]}: "
            f"the origin is {name[:-1]} {origin}, just {where} the middle. Rotating about it "
            f"moves it to {name[:-1]} {size - 1 - origin}."
        )
    if origin != int(centre):
        return (
            f"Its origin is {name[:-1]} {origin}, off the centre ({int(centre)}); rotating "
            f"moves it to {name[:-1]} {size - 1 - origin}."
        )
    return None


def explain(kernel: Kernel) -> Explanation:
    """Explain ``kernel``: its 180-degree rotation, symmetry, prediction and impulse response.

    The impulse image is just large enough for both responses: one pixel of
    value 1 at its centre, zero elsewhere (``mode='constant'``). Convolve
    reproduces the kernel with its origin on that pixel; correlate
    reproduces the rotated kernel with the reflected origin there.

    Examples
    --------
    >>> e = explain(Kernel([[1.0, 2.0]], (0, 1)))
    >>> e.rotated.tolist(), e.reflected_origin, e.symmetry
    ([[2.0, 1.0]], (0, 0), 'asymmetric')
    >>> e.impulse_at, e.impulse_convolve.tolist(), e.impulse_correlate.tolist()
    ((0, 1), [[1.0, 2.0, 0.0]], [[0.0, 2.0, 1.0]])
    """
    (h, w), (r, c) = kernel.shape, kernel.origin
    reflected = kernel.reflected()
    kind = symmetry(kernel)
    reach_r, reach_c = (max(side) for side in kernel.reach())
    shape = (2 * reach_r + 1, 2 * reach_c + 1)
    at = (reach_r, reach_c)
    image = np.zeros(shape)
    image[at] = 1.0
    plain = Kernel(kernel.values, kernel.origin, kernel.spec, kernel.factors)  # no offset
    conv = convolve(image, plain, mode="constant")
    corr = correlate(image, plain, mode="constant")
    lesson = [
        "convolve turns the kernel 180 degrees about its origin before sliding it over the "
        "image; correlate (what CNN libraries call convolution) slides it as written.",
        f"Turned about its origin, {kernel.spec or 'this kernel'} becomes "
        f"{_WHAT_ROTATION_GIVES[kind]}, so {_WHAT_FOLLOWS[kind]}.",
    ]
    notes = [
        _axis_note("rows", h, r, ("above", "below")),
        _axis_note("columns", w, c, ("left of", "right of")),
    ]
    lesson += [n for n in notes if n]
    if any(notes):
        lesson.append(
            f"So correlate reproduces convolve only with the rotated matrix AND the reflected "
            f"origin {reflected.origin[0]},{reflected.origin[1]}; keeping origin {r},{c} would "
            "shift the result."
        )
    lesson.append(
        "One bright pixel shows it: convolve paints the kernel itself with its origin on the "
        "pixel; correlate paints the rotated kernel."
    )
    return Explanation(
        spec=kernel.spec,
        shape=kernel.shape,
        origin=kernel.origin,
        values=kernel.values,
        rotated=reflected.values,
        reflected_origin=reflected.origin,
        symmetry=kind,
        prediction=PREDICTION[kind],
        impulse_shape=shape,
        impulse_at=at,
        impulse_convolve=conv,
        impulse_correlate=corr,
        lesson=tuple(lesson),
    )


_HOW_JOINED = {
    None: "applies them in turn, each to the result of the one before (float64 in between)",
    "magnitude": "filters with each and takes sqrt(a**2 + b**2 + ...) per pixel",
    "sum": "filters with each and adds the results",
    "max": "filters with each and keeps the largest result per pixel",
    "min": "filters with each and keeps the smallest result per pixel",
}


@dataclass(frozen=True)
class StackExplanation:
    """``flipconv explain`` for several kernels: how they join, and each one's lesson."""

    spec: str
    combine: str | None
    symmetry: str
    prediction: str
    members: tuple[Explanation | StackExplanation, ...]
    lesson: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The explanation as ``explain --json`` prints it."""
        return {
            "spec": self.spec,
            "combine": self.combine,
            "symmetry": self.symmetry,
            "prediction": self.prediction,
            "members": [m.to_json() for m in self.members],
            "lesson": list(self.lesson),
        }


def explain_stack(stack: Stack) -> StackExplanation:
    """Explain a stack: how its kernels join, what that predicts, and each kernel.

    >>> from flipconv.core.kernels.specs import parse_filter_spec
    >>> e = explain_stack(parse_filter_spec("sobel"))
    >>> e.symmetry, e.prediction, [m.symmetry for m in e.members]
    ('symmetric', 'agree', ['antisymmetric', 'antisymmetric'])
    """
    kind = symmetry(stack)
    kinds = [symmetry(k) for k in stack.kernels]
    names = ", ".join(k.spec or "kernel" for k in stack.kernels)
    lesson = [f"{stack.spec} {_HOW_JOINED[stack.combine]}: {names}."]
    if stack.combine == "magnitude" and kind == "symmetric" and "antisymmetric" in kinds:
        why = "a magnitude drops the sign that convolve gives the antisymmetric ones"
    elif stack.combine is None:
        why = (
            "in a chain the signs multiply: "
            f"{kinds.count('antisymmetric')} antisymmetric kernel(s)"
            + (", and an asymmetric one changes the whole" if "asymmetric" in kinds else "")
        )
    else:
        why = "its kernels are " + ", ".join(kinds)
    lesson.append(f"Rotating every kernel 180 degrees, {_WHAT_FOLLOWS[kind]}: {why}.")
    members = tuple(explain_stack(k) if isinstance(k, Stack) else explain(k) for k in stack.kernels)
    return StackExplanation(
        spec=stack.spec,
        combine=stack.combine,
        symmetry=kind,
        prediction=PREDICTION[kind],
        members=members,
        lesson=tuple(lesson),
    )
