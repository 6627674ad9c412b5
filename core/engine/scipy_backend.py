"""Direct filtering by scipy.ndimage: the reference every faster path is tested against;
and scipy's own ``gaussian_filter`` of an 8-bit array, for ``--like scipy``.

Both operations are computed in float64 with an explicit ``output=``, so
integers never wrap. ``convolve`` and ``correlate`` go through scipy's two
separate routines, so the flip identity checked by ``flipconv verify``
relates two independent code paths.
"""

from __future__ import annotations

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.vocabulary import MODES, OPERATIONS, Mode, Operation, check_choice
from flipconv.core.engine.borders import fold_to_image, pad
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import builtin_parameters


def check_plane(image: np.ndarray, mode: str, cval: float) -> None:
    """Refuse what no filter of one plane can take: not 2-D, an unknown mode, a cval not finite."""
    if image.ndim != 2:
        raise OptionError(f"image must be 2-D (one channel), got {image.ndim}-D")
    check_choice("mode", mode, MODES)
    if not np.isfinite(cval):
        raise OptionError(f"cval {cval!r} must be a finite number")


def _scipy_origin(kernel: Kernel) -> tuple[int, int]:
    # scipy counts the origin from the centre element shape // 2; for
    # convolve it applies that offset to the reflected origin internally.
    return (
        kernel.origin[0] - kernel.shape[0] // 2,
        kernel.origin[1] - kernel.shape[1] // 2,
    )


def prescale(weights: np.ndarray) -> tuple[np.ndarray, float]:
    """The weights divided by a power of two near their peak, and that power.

    scipy.ndimage treats every weight with ``|w| <= 2**-52`` as zero, in
    absolute terms, so a kernel of tiny weights would silently give zeros.
    Scaling by a power of two is exact in binary floating point, so filtering
    with ``values / p`` and multiplying the result by ``p`` changes no bit of
    the result, except that only weights below ``2**-52`` of the *largest*
    one are now skipped.
    """
    peak = float(np.abs(weights).max(initial=0.0))
    if peak == 0.0:
        return weights, 1.0
    power = float(np.ldexp(1.0, int(np.frexp(peak)[1])))
    return weights / power, power


def exact_input(image: np.ndarray) -> np.ndarray:
    """``image`` as scipy.ndimage should read it: small integers and floats as they are.

    scipy converts every sample to double as it reads a line, exactly for
    these types, so converting first would only cost a pass over memory (and
    reading uint8 columns is three times faster than reading float64 ones).
    """
    image = np.asarray(image)
    if (image.dtype.kind in "ui" and image.dtype.itemsize <= 4) or image.dtype in (
        np.float32,
        np.float64,
    ):
        return image
    return image.astype(np.float64)


def scipy_filter(
    name: str, image: np.ndarray, kernel: Kernel, mode: str, cval: float
) -> np.ndarray:
    """scipy.ndimage's ``correlate`` or ``convolve`` of one plane (a longer kernel folded)."""
    import scipy.ndimage as ndi

    check_plane(image, mode, cval)
    rows, cols = kernel.reach(name)
    if max(rows) >= image.shape[0] or max(cols) >= image.shape[1]:
        # a kernel that outreaches the image folds onto one of at most twice its
        # size (borders.fold_to_image): the same sums, without a huge pad
        k = kernel.reflected() if name == "convolve" else kernel
        folded = fold_to_image(k.values, k.origin, image.shape[:2], mode, cval)
        if folded is not None:
            values, origin, extra = folded
            out = _folded(image, Kernel(values, origin, k.spec), mode, cval)
            return out + extra if extra else out
    if mode != "constant" and (max(rows) >= image.shape[0] or max(cols) >= image.shape[1]):
        # scipy.ndimage's n-D filters reflect only once: with a kernel reaching
        # more than the image's size past its border, "reflect" picks wrong
        # pixels (found comparing with tiles). Extend the image explicitly as
        # the mode defines it, at any width, and keep the middle.
        padded = pad(np.asarray(image, dtype=np.float64), (rows, cols), mode, 0.0)
        full = scipy_filter(name, padded, kernel, "constant", 0.0)
        return np.ascontiguousarray(
            full[rows[0] : rows[0] + image.shape[0], cols[0] : cols[0] + image.shape[1]]
        )
    out = np.empty(image.shape, dtype=np.float64)
    weights, power = prescale(kernel.values)
    getattr(ndi, name)(
        exact_input(image),
        weights,
        output=out,
        mode=mode,
        cval=float(cval),
        origin=_scipy_origin(kernel),
    )
    if power != 1.0:
        out *= power
    return out


#: Multiply-adds above which a folded kernel is summed by FFT rather than directly.
FOLDED_DIRECT_LIMIT = 20_000_000


def _folded(image: np.ndarray, kernel: Kernel, mode: str, cval: float) -> np.ndarray:
    """Correlate with a folded kernel (at most about twice the image on each axis).

    Its reach can still exceed the image, where scipy's borders are wrong, so
    the image is extended by the mode; past :data:`FOLDED_DIRECT_LIMIT`
    multiply-adds the sums are taken by FFT over that extension (the ``valid``
    part only), to float64 rounding of the result's scale.
    """
    (rb, ra), (cb, ca) = kernel.reach()
    taps = kernel.values.size * (image.shape[0] + rb + ra) * (image.shape[1] + cb + ca)
    if taps <= FOLDED_DIRECT_LIMIT:
        return scipy_filter("correlate", image, kernel, mode, cval)
    from scipy.signal import fftconvolve

    padded = pad(np.asarray(image, dtype=np.float64), ((rb, ra), (cb, ca)), mode, cval)
    return np.ascontiguousarray(fftconvolve(padded, kernel.values[::-1, ::-1], mode="valid"))


def apply(
    operation: Operation,
    image: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
) -> np.ndarray:
    """Run ``convolve`` or ``correlate`` by name: the weighted sum only.

    This leaves out the kernel's ``offset``:
    :func:`flipconv.core.engine.filters.filter_image` adds it with the bias, to
    colour channels only.
    """
    return scipy_filter(check_choice("operation", operation, OPERATIONS), image, kernel, mode, cval)


def scipy_own_blur(kernel: Kernel) -> tuple[float, float, int | None] | None:
    """``gaussian:S`` (any truncate or radius) as scipy's ``gaussian_filter`` arguments."""
    found = builtin_parameters(kernel.spec) if kernel.spec else None
    if found is None or found[0] != "gaussian":
        return None
    values = found[1]
    return float(values["sigma"]), float(values["truncate"]), values["radius"]


def scipy_gaussian_u8(
    pixels: np.ndarray, sigma: float, truncate: float, radius: int | None, mode: str, cval: float
) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter`` of an 8-bit image as scipy gives it: rows pass,
    then columns, each written back to 8 bits by truncation (scipy casts its float sums
    into the input's type), every channel alike (``sigma=(S, S, 0)``)."""
    import scipy.ndimage as ndi

    out = np.empty_like(pixels)
    planes = [pixels] if pixels.ndim == 2 else [pixels[..., c] for c in range(pixels.shape[2])]
    for c, plane in enumerate(planes):
        target = out if pixels.ndim == 2 else out[..., c]
        target[...] = ndi.gaussian_filter(
            np.ascontiguousarray(plane), sigma, mode=mode, cval=cval, truncate=truncate,
            radius=radius,
        )  # fmt: skip
    return out
