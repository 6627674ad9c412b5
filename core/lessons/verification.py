"""Show, on real pixels, where convolve and correlate agree and why.

For each kernel :func:`verify_kernel` computes both operations in float64
and compares what was measured with what the kernel's point symmetry about
its origin predicts:

==============  ===========  =============================================
symmetry        prediction   why
==============  ===========  =============================================
symmetric       agree        rotating K by 180 degrees about o gives K
antisymmetric   negated      rotating gives -K, so convolve = -correlate
asymmetric      differ       rotating gives another kernel
==============  ===========  =============================================
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import Mode, Operation
from flipconv.core.engine.filters import KernelLike, as_filter, check_image
from flipconv.core.engine.pixels import full_scale
from flipconv.core.engine.scipy_backend import scipy_filter
from flipconv.core.engine.steps import run_stack
from flipconv.core.kernels.builtins import BUILTINS
from flipconv.core.kernels.kernel import PREDICTION, Kernel, OffsetLike, OriginLike, Stack, symmetry
from flipconv.core.lessons.render import PANEL, SheetRow, verify_sheet

#: Relative tolerance for "equal" (agree, negated, identity).
TOLERANCE = 1e-9

#: Extra kernels verified by default: asymmetric powers of two (so no flip can
#: cancel), a non-square one, and even-sized ones that are symmetric or
#: antisymmetric about their origin because their first row/column is zero.
DEMONSTRATORS: tuple[str, ...] = (
    "1,2;4,8",
    "1,2,4;8,16,32;64,128,256",
    "1,2,4,8,16;32,64,128,256,512;1024,2048,4096,8192,16384",
    "0,0;0,1",
    "0,1,0,-1",
)

EXPLANATIONS: dict[str, str] = {
    "symmetric": "K rotated 180 degrees about its origin is K itself, so convolve and "
    "correlate agree.",
    "antisymmetric": "K rotated 180 degrees about its origin is -K, so convolve is "
    "correlate negated.",
    "asymmetric": "K rotated 180 degrees about its origin is a different kernel, so the "
    "results differ (every even-sized kernel is asymmetric unless the row/column the "
    "rotation cannot map is zero).",
}


@dataclass(frozen=True)
class VerifyResult:
    """What one kernel did under both operations (keys of ``verify --json``)."""

    kernel: str
    shape: tuple[int, int]
    origin: tuple[int, int]
    symmetry: str
    expected: str
    measured: str
    max_abs_diff: float
    max_abs_sum: float
    agree: bool
    negated: bool
    identity_holds: bool
    ok: bool

    def to_json(self) -> dict[str, Any]:
        """One kernel's row of ``verify --json``."""
        out = asdict(self)
        out["shape"] = list(self.shape)
        out["origin"] = list(self.origin)
        return out


def default_kernel_specs() -> list[str]:
    """Every built-in at its defaults, then the demonstrators."""
    return [*BUILTINS, *DEMONSTRATORS]


def demo_image(height: int = 64, width: int = 80) -> np.ndarray:
    """A deterministic float64 image in [0, 1] with no symmetry to hide a flip.

    A bright "F" glyph (asymmetric on both axes), a diagonal edge, a gentle
    gradient, and seeded noise so that no kernel can agree by accident.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = 0.15 + 0.2 * x / width + 0.1 * y / height
    img[x + 0.6 * y > 0.9 * width] += 0.25  # diagonal edge, bright side lower right
    r0, c0 = height // 5, width // 5
    t = max(2, height // 12)
    img[r0 : r0 + 3 * height // 5, c0 : c0 + t] = 0.95  # stem of the F
    img[r0 : r0 + t, c0 : c0 + width // 3] = 0.95  # top bar
    img[r0 + height // 4 : r0 + height // 4 + t, c0 : c0 + width // 4] = 0.95  # middle bar
    img += np.random.default_rng(20261123).uniform(-0.03, 0.03, img.shape)
    return np.clip(img, 0.0, 1.0)


def as_verify_image(pixels: np.ndarray) -> np.ndarray:
    """Colour channels of an image as float64 in [0, 1] units, channels last."""
    check_image(pixels)
    values = pixels.astype(np.float64) / full_scale(pixels.dtype)
    if values.ndim == 3 and values.shape[2] in (2, 4):
        values = values[..., :-1]  # alpha plays no part in the comparison
    return values


def _per_channel(
    operation: Operation, image: np.ndarray, kernel: Kernel | Stack, mode: Mode
) -> np.ndarray:
    """scipy.ndimage's own routine for ``operation``, channel by channel.

    Always scipy's two separate routines (not the engine, which convolves by
    correlating with the rotated kernel), so that the flip identity relates
    two independent computations.
    """
    planes = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]

    def step(plane: np.ndarray, k: Kernel) -> np.ndarray:
        return scipy_filter(operation, plane, k, mode, 0.0)

    if isinstance(kernel, Stack):
        out = [run_stack(kernel, p, step) for p in planes]
    else:
        out = [step(p, kernel) for p in planes]
    return out[0] if image.ndim == 2 else np.stack(out, -1)


def verify_kernel(
    kernel: Kernel | Stack, image: np.ndarray, *, mode: Mode = "reflect"
) -> VerifyResult:
    """Compare convolve and correlate of ``image`` with ``kernel``.

    ``image`` is float64 (see :func:`as_verify_image`). ``agree`` and
    ``negated`` hold when ``max|conv - corr|`` resp. ``max|conv + corr|`` is
    at most ``TOLERANCE * max(1, peak)``; ``identity_holds`` checks
    ``convolve(I, K) == correlate(I, K.reflected())`` to the same tolerance.

    Examples
    --------
    >>> img = demo_image(16, 16)
    >>> r = verify_kernel(as_filter("sobel-x"), img)
    >>> r.symmetry, r.expected, r.measured, r.ok
    ('antisymmetric', 'negated', 'negated', True)
    """
    conv = _per_channel("convolve", image, kernel, mode)
    corr = _per_channel("correlate", image, kernel, mode)
    flipped = _per_channel("correlate", image, kernel.reflected(), mode)
    peak = max(1.0, float(np.abs(conv).max()), float(np.abs(corr).max()))
    tol = TOLERANCE * peak
    diff = float(np.abs(conv - corr).max())
    total = float(np.abs(conv + corr).max())
    agree, negated = diff <= tol, total <= tol
    kind = symmetry(kernel)
    expected = PREDICTION[kind]
    measured = "agree" if agree else "negated" if negated else "differ"
    if expected == "agree":
        ok = agree
    elif expected == "negated":
        ok = negated
    else:
        ok = not agree and not negated
    return VerifyResult(
        kernel=kernel.spec,
        shape=kernel.shape,
        origin=kernel.origin,
        symmetry=kind,
        expected=expected,
        measured=measured,
        max_abs_diff=diff,
        max_abs_sum=total,
        agree=agree,
        negated=negated,
        identity_holds=bool(float(np.abs(conv - flipped).max()) <= tol),
        ok=ok,
    )


def picture_input(image: np.ndarray, side: int = 160) -> tuple[np.ndarray, str | None]:
    """Shrink a verify image to fit a picture panel of ``side`` pixels.

    Returns the image and what was done to it (None when nothing was):
    larger images are reduced by a whole factor, each output pixel the mean
    of a block, so the filters still act on real pixels at a coarser scale.

    Examples
    --------
    >>> small, note = picture_input(np.zeros((400, 300)))
    >>> small.shape, note
    ((133, 100), 'downscaled 1/3 from 300x400')
    """
    h, w = image.shape[:2]
    factor = -(-max(h, w) // side)
    if factor <= 1:
        return image, None
    hh, ww = h // factor, w // factor
    blocks = image[: hh * factor, : ww * factor].reshape(hh, factor, ww, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3)), f"downscaled 1/{factor} from {w}x{h}"


def verify_picture(
    kernels: Sequence[Kernel | Stack],
    image: np.ndarray,
    *,
    mode: Mode = "reflect",
    source: str = "generated test image",
) -> np.ndarray:
    """The verify sheet (RGB uint8): per kernel, the kernel, both results and their difference.

    ``image`` is float64 as from :func:`as_verify_image` or :func:`demo_image`;
    it is shrunk to fit the panels first (:func:`picture_input`), and the
    sheet says so. Drawing is :mod:`flipconv.core.lessons.render`'s.
    """
    pixels, note = picture_input(image, PANEL)
    h, w = pixels.shape[:2]
    label = f"{source}, {w}x{h}" + (f" ({note})" if note else "")
    rows = []
    for kernel in kernels:
        if isinstance(kernel, Stack):
            raise OptionError(
                f"the verify picture draws single kernels; {kernel.spec} is "
                f"{len(kernel.kernels)} kernels (verify it without `picture`, or its "
                "kernels one by one)"
            )
        result = verify_kernel(kernel, pixels, mode=mode)
        rows.append(
            SheetRow(
                spec=kernel.spec,
                values=kernel.values,
                origin=kernel.origin,
                convolve=_per_channel("convolve", pixels, kernel, mode),
                correlate=_per_channel("correlate", pixels, kernel, mode),
                symmetry=result.symmetry,
                measured=result.measured,
                max_abs_diff=result.max_abs_diff,
                ok=result.ok,
            )
        )
    return verify_sheet(rows, source=label)


@dataclass
class VerifyReport:
    """Every kernel's result on one image; :meth:`to_json` is ``verify --json``."""

    image: str
    image_shape: list[int]
    mode: Mode
    results: list[VerifyResult]
    #: The kernels and the float64 image they ran on (for :func:`verify_picture`).
    kernels: list[Kernel | Stack] = field(default_factory=list, repr=False)
    pixels: np.ndarray | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when every prediction held."""
        return all(r.ok for r in self.results)

    def __iter__(self) -> Iterator[VerifyResult]:
        return iter(self.results)

    def __getitem__(self, index: int) -> VerifyResult:
        return self.results[index]

    def __len__(self) -> int:
        return len(self.results)

    def to_json(self) -> dict[str, Any]:
        """The whole report as ``verify --json`` prints it."""
        return {
            "image": self.image,
            "image_shape": self.image_shape,
            "mode": self.mode,
            "ok": self.ok,
            "results": [r.to_json() for r in self.results],
        }


def verify(
    kernels: Sequence[KernelLike] | None = None,
    *,
    image: np.ndarray | None = None,
    source: str | None = None,
    mode: Mode = "reflect",
    origin: OffsetLike = None,
    anchor: OriginLike = None,
) -> VerifyReport:
    """Verify each kernel (Kernels or spec strings; default: :func:`default_kernel_specs`).

    ``image`` is raw pixels of any supported sample type (default:
    :func:`demo_image`), named ``source`` in the report; ``origin`` (scipy's
    offset from the centre) or ``anchor`` (the element's index), when given,
    applies to every kernel. A :class:`~flipconv.core.kernels.kernel.Stack`
    (or a name such as ``"sobel"``) is verified as one filter: its
    prediction follows from its members' (:func:`~flipconv.core.kernels.kernel.symmetry`).

    >>> report = verify(["sobel-x", "emboss"])
    >>> report.ok, [r.measured for r in report]
    (True, ['negated', 'differ'])
    """
    pixels = demo_image() if image is None else as_verify_image(image)
    source = source or ("generated test image" if image is None else "image")
    chosen = [as_filter(k, origin=origin, anchor=anchor) for k in kernels or default_kernel_specs()]
    results = [verify_kernel(k, pixels, mode=mode) for k in chosen]
    return VerifyReport(source, list(pixels.shape), mode, results, chosen, pixels)
