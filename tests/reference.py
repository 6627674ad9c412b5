"""An independent reference for filtered images, shared by the tests.

Nothing here comes from flipconv or scipy.ndimage: the image is padded with
numpy.pad and shifted slices are summed, one loop per kernel element; the
conversion to the output type (full scales, rounding, clipping) is written
again from the policy the README states.
"""

from __future__ import annotations

import numpy as np

# scipy.ndimage mode name -> numpy.pad mode name
NUMPY_PAD = {
    "reflect": "symmetric",
    "mirror": "reflect",
    "nearest": "edge",
    "wrap": "wrap",
    "constant": "constant",
}


def _pad(
    image: np.ndarray, before: tuple[int, int], after: tuple[int, int], mode: str, cval: float
) -> np.ndarray:
    widths = ((before[0], after[0]), (before[1], after[1]))
    if mode == "constant":
        return np.pad(image, widths, mode="constant", constant_values=cval)
    return np.pad(image, widths, mode=NUMPY_PAD[mode])


def reference_correlate(
    image: np.ndarray,
    kernel: np.ndarray,
    origin: tuple[int, int],
    mode: str = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """out[n] = sum_m K[o+m] I[n+m], by padding and summing shifted slices."""
    (h, w), (r, c) = kernel.shape, origin
    H, W = image.shape
    padded = _pad(image.astype(np.float64), (r, c), (h - 1 - r, w - 1 - c), mode, cval)
    out = np.zeros((H, W))
    for i in range(h):
        for j in range(w):
            out += kernel[i, j] * padded[i : i + H, j : j + W]
    return out


def reference_convolve(
    image: np.ndarray,
    kernel: np.ndarray,
    origin: tuple[int, int],
    mode: str = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """out[n] = sum_m K[o+m] I[n-m], written directly (not through a flip)."""
    (h, w), (r, c) = kernel.shape, origin
    H, W = image.shape
    padded = _pad(image.astype(np.float64), (h - 1 - r, w - 1 - c), (r, c), mode, cval)
    out = np.zeros((H, W))
    for i in range(h):
        for j in range(w):
            out += kernel[i, j] * padded[h - 1 - i : h - 1 - i + H, w - 1 - j : w - 1 - j + W]
    return out


#: Nominal full scale of each sample type (written here, not taken from flipconv).
FULL_SCALE = {"uint8": 255.0, "uint16": 65535.0, "float32": 1.0, "float64": 1.0}


def reference_image(
    pixels: np.ndarray,
    matrix: object,
    origin: tuple[int, int] | None = None,
    *,
    operation: str,
    mode: str = "reflect",
    cval: float = 0.0,
    scale: float = 1.0,
    bias: float = 0.0,
    out_range: str = "clip",
    dtype: str | None = None,
) -> tuple[np.ndarray, np.dtype]:
    """An image filtered by the reference above: float64 in the output's units, and its type.

    Colour channels get ``(F(I) * scale + bias) * full(out) / full(in)``; alpha (the
    last of 2 or 4 channels) is only converted. Rounding is left to the caller.
    """
    kernel = np.asarray(matrix, dtype=np.float64)
    origin = origin or (kernel.shape[0] // 2, kernel.shape[1] // 2)
    filt = reference_correlate if operation == "correlate" else reference_convolve
    planes = pixels[..., None] if pixels.ndim == 2 else pixels
    alpha = planes.shape[2] - 1 if planes.shape[2] in (2, 4) else None
    out_type = np.dtype(dtype or pixels.dtype)
    factor = FULL_SCALE[out_type.name] / FULL_SCALE[pixels.dtype.name]
    result = np.empty(planes.shape)
    for c in range(planes.shape[2]):
        if c == alpha:
            result[..., c] = planes[..., c] * factor
            continue
        values = (filt(planes[..., c], kernel, origin, mode, cval) * scale + bias) * factor
        result[..., c] = np.abs(values) if out_range == "abs" else values
    return (result[..., 0] if pixels.ndim == 2 else result), out_type


def assert_matches_reference(
    got: np.ndarray,
    pixels: np.ndarray,
    matrix: object,
    origin: tuple[int, int] | None = None,
    **options: object,
) -> None:
    """``got`` equals the reference rounded to nearest and clipped, sample for sample.

    Integer samples may differ by one only where the reference lies within 1e-7
    of a rounding tie (x.5), where float64 summation order decides.
    """
    values, out_type = reference_image(pixels, matrix, origin, **options)  # type: ignore[arg-type]
    assert got.dtype == out_type and got.shape == pixels.shape
    if out_type.kind == "f":
        np.testing.assert_allclose(got, values.astype(out_type), rtol=1e-6, atol=1e-9)
        return
    expected = np.clip(np.rint(values), 0, FULL_SCALE[out_type.name])
    tie = np.abs(values - np.floor(values) - 0.5) < 1e-7
    diff = np.abs(got.astype(np.float64) - expected)
    bad = (diff > 0) & ~(tie & (diff <= 1))
    assert not bad.any(), f"{int(bad.sum())} of {bad.size} samples differ from the reference"
