"""The fast filter engine: chooses an algorithm and a backend per kernel and image.

Backends: OpenCV's float64 filters (:mod:`flipconv.core.engine.opencv_backend`, the
default) and scipy.ndimage (:mod:`flipconv.core.engine.scipy_backend`, the reference, and
the fallback for what OpenCV cannot do: direct summation of 50 taps or more,
and an FFT of a smaller kernel).

Methods (all compute ``correlate``; ``convolve`` is correlation with the
kernel reflected about its origin, :meth:`Kernel.reflected`, which is exact):

``direct``
    ``h*w`` multiply-adds per pixel: ``cv2.filter2D`` below 50 taps
    (bit-identical to scipy.ndimage, measured), ``scipy.ndimage.correlate``
    from 50 taps on.
``separable``
    A rank-one kernel ``K = c r^T`` (known from a built-in's construction or
    found by SVD) as two 1-D passes: ``h + w`` per pixel. With
    ``mode='constant'`` the second pass uses ``cval * sum(c)`` outside the
    image, which is what the first pass makes of a border of ``cval``.
``lowrank``
    ``K = sum_k s_k u_k v_k^T`` truncated where ``s_k <= 1e-13 s_1``: ``r`` separable
    passes, ``r*(h + w)`` per pixel.
``fft``
    From 50 taps, ``cv2.filter2D``'s own DFT on float64 samples (1e-15 of
    the result's scale from scipy's direct sums, measured). Below that, the
    image is padded by the border mode (numpy's ``symmetric``, ``reflect``,
    ``edge``, ``wrap`` or ``constant`` reproduce scipy's ``reflect``,
    ``mirror``, ``nearest``, ``wrap``, ``constant`` exactly, for pads of any
    width) and linearly correlated by real FFTs (``scipy.signal.oaconvolve``
    when the kernel is much smaller than the image, else ``fftconvolve``).

Every method equals ``direct`` up to float64 rounding (relative 1e-9 of
``sum|K| * max|I|``, property-tested). Rounded to integers, the FFT's and
low-rank sums are settled: the samples whose integer that rounding could
move are summed again directly (:mod:`~flipconv.core.engine.settle`), so
every method gives ``direct``'s integers. ``direct`` costs the weights it
multiplies: both backends skip zeros.

Threads: OpenCV threads its filters itself (its thread count is set from
``threads``; each output pixel is the same sum whatever the count). On the
scipy backend each plane is cut into row strips that carry their halo (``o``
rows above, ``h-1-o`` below, taken from the mode-padded plane), filtered
concurrently (scipy.ndimage releases the GIL), and reassembled. Every output
pixel is the same sum in the same order whatever the number of strips, so the
result is bit-identical for any ``threads``.

Crossovers (``auto``) come from ``benchmarks/crossover.py`` on this project's
reference machine (2 cores): per output pixel, a direct tap costs about
``CV_DIRECT_TAP_NS``, a separable tap ``CV_SEPARABLE_TAP_NS`` (1-D passes
stream better), and OpenCV's DFT about ``CV_DFT_NS`` regardless of kernel
size (the ``SCIPY_*`` constants when OpenCV is not installed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

import numpy as np
from flipconv.core._shared.errors import OptionError
from flipconv.core._shared.limits import default_threads
from flipconv.core._shared.vocabulary import (
    METHODS,
    MODES,
    OPERATIONS,
    Method,
    Mode,
    Operation,
    check_choice,
)
from flipconv.core.engine import nonfinite, settle
from flipconv.core.engine import opencv_backend as opencv
from flipconv.core.engine.borders import fold_to_image, pad
from flipconv.core.engine.opencv_backend import DFT_TAPS
from flipconv.core.engine.scipy_backend import apply, exact_input, prescale
from flipconv.core.engine.strips import row_strips, run_strips
from flipconv.core.kernels.kernel import Kernel

#: OpenCV, measured on the reference machine (2 threads, a 2160x3840 uint8
#: plane into float64, ns per output pixel): filter2D 2.6 (3x3), 3.7 (5x5),
#: 7.0 (7x7); sepFilter2D 3.3 (5 taps), 4.3 (17), 13.5 (41); its DFT 11-12 at
#: any size. So Sobel stays direct, box:5 and Gaussians go separable, dense
#: kernels of 50 taps or more go to the DFT.
CV_DIRECT_FIXED_NS = 1.5
CV_DIRECT_TAP_NS = 0.11
CV_SEPARABLE_TERM_NS = 2.2
CV_SEPARABLE_TAP_NS = 0.11
CV_DFT_NS = 12.0
#: scipy.ndimage (one thread, float64 plane): direct about 2 + 0.6 per tap
#: (3x3: 7.4, 9x9: 48); a separable term about 11 + 0.3 per tap (box:5 12.8,
#: gaussian:2 20.1); scipy.fft 34-43 at any kernel size.
SCIPY_DIRECT_FIXED_NS = 2.0
SCIPY_DIRECT_TAP_NS = 0.6
SCIPY_SEPARABLE_TAP_NS = 0.3
SCIPY_SEPARABLE_TERM_NS = 11.0
SCIPY_FFT_NS = 36.0
#: Singular values below this fraction of the largest are dropped.
RANK_TOLERANCE = 1e-13


Backend = Literal["auto", "opencv", "scipy"]


@dataclass(frozen=True)
class Plan:
    """How a kernel will be applied: the method, the backend, and its 1-D factors."""

    method: Method
    rank: int
    terms: tuple[tuple[np.ndarray, np.ndarray], ...] = field(repr=False, default=())
    cost_ns_per_pixel: float = 0.0
    backend: Backend = "scipy"


def has_opencv() -> bool:
    """True when OpenCV can be imported (it is a dependency; a broken install falls back)."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        return False
    return True


def _terms(kernel: Kernel) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Rank-one terms (column, row) whose outer products sum to the kernel."""
    if kernel.factors is not None:
        return (kernel.factors,)
    values = kernel.values
    if min(values.shape) == 1:
        col = np.ones(1) if values.shape[0] == 1 else values[:, 0].copy()
        row = values[0].copy() if values.shape[0] == 1 else np.ones(1)
        return ((col, row),)
    exact = _exact_outer(values)
    if exact is not None:
        return (exact,)
    # the SVD of the weights scaled by a power of two near their peak (exact), so
    # that weights near the float limit (1e308) do not overflow inside it
    scaled, power = prescale(values)
    u, s, vt = np.linalg.svd(scaled)
    if s[0] == 0.0:
        return ((np.zeros(values.shape[0]), np.zeros(values.shape[1])),)
    rank = int(np.count_nonzero(s > RANK_TOLERANCE * s[0]))
    return tuple((u[:, k] * (s[k] * power), vt[k].copy()) for k in range(rank))


def _exact_outer(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Column and row whose outer product is the kernel to the bit, or None.

    The row through the largest weight, and its column divided by that
    weight: an SVD's factors of ``[[0, 1, 1]]`` below a row of zeros give
    0.9999999999999998 where the kernel says 1, these give 1.

    >>> col, row = _exact_outer(np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0]]))
    >>> col.tolist(), row.tolist()
    ([0.5, 1.0], [2.0, 4.0, 2.0])
    """
    i, j = np.unravel_index(int(np.argmax(np.abs(values))), values.shape)
    pivot = values[i, j]
    if pivot == 0 or not np.isfinite(pivot):
        return None
    col, row = values[:, j] / pivot, values[i].copy()
    with np.errstate(over="ignore", invalid="ignore"):
        same = np.array_equal(np.outer(col, row), values)
    return (col, row) if same else None


def plan(
    kernel: Kernel, shape: tuple[int, int], method: Method = "auto", backend: Backend = "auto"
) -> Plan:
    """Choose how to apply ``kernel`` to a plane of ``shape``, and on which backend.

    Examples
    --------
    >>> from flipconv.core.kernels.specs import parse_kernel_spec
    >>> p = plan(parse_kernel_spec("gaussian:2"), (2000, 3000))
    >>> p.method, p.backend
    ('separable', 'opencv')
    >>> plan(parse_kernel_spec("laplacian"), (2000, 3000)).method
    'direct'
    >>> plan(parse_kernel_spec("1,2;4,8"), (2000, 3000), backend="scipy").backend
    'scipy'
    """
    check_choice("method", method, METHODS)
    check_choice("backend", backend, ("auto", "opencv", "scipy"))
    cv = backend != "scipy" and has_opencv()
    if backend == "opencv" and not cv:
        raise OptionError("`backend` opencv needs OpenCV: pip install opencv-python-headless")
    h, w = kernel.shape
    taps = h * w
    small = taps < DFT_TAPS  # OpenCV's filter2D takes its DFT from this size, however sparse
    # a direct sum costs the weights it multiplies: both backends skip zeros (a
    # motion kernel of 9x15 has 16), scipy also those below 2**-52 of the peak
    live = int(np.count_nonzero(np.abs(prescale(kernel.values)[0]) > np.finfo(np.float64).eps))
    if cv and small:
        live = int(np.count_nonzero(kernel.values))
        direct = Plan("direct", 0, (), CV_DIRECT_FIXED_NS + live * CV_DIRECT_TAP_NS, "opencv")
    else:
        direct = Plan("direct", 0, (), SCIPY_DIRECT_FIXED_NS + live * SCIPY_DIRECT_TAP_NS)
    if method == "direct":
        return direct
    size = _fft_size_factor(shape, kernel.shape)
    if cv and not small:
        fft = Plan("fft", 0, (), CV_DFT_NS * size, "opencv")
    else:
        fft = Plan("fft", 0, (), SCIPY_FFT_NS * size)
    if method == "fft":
        return fft
    terms = _terms(kernel)
    rank = len(terms)
    if method == "separable" and rank != 1:
        raise OptionError(
            f"kernel {kernel.spec or 'given'} is not separable (rank {rank}); "
            "use `method` auto, direct, lowrank or fft"
        )
    fixed, per_tap = (
        (CV_SEPARABLE_TERM_NS, CV_SEPARABLE_TAP_NS)
        if cv
        else (SCIPY_SEPARABLE_TERM_NS, SCIPY_SEPARABLE_TAP_NS)
    )
    low = Plan(
        "separable" if rank == 1 else "lowrank",
        rank,
        terms,
        rank * ((h + w) * per_tap + fixed),
        "opencv" if cv else "scipy",
    )
    if method in ("separable", "lowrank"):
        return low
    return min((direct, low, fft), key=lambda p: p.cost_ns_per_pixel)


def _fft_size_factor(shape: tuple[int, int], kshape: tuple[int, int]) -> float:
    """FFT work grows with the padded area and its log; normalised to 1 for 1 MP + 3x3."""
    padded = (shape[0] + kshape[0]) * (shape[1] + kshape[1])
    pixels = shape[0] * shape[1]
    return (padded / pixels) * max(1.0, math.log2(padded) / 20.0)


# ---------------------------------------------------------------- the passes


def _direct(plane: np.ndarray, kernel: Kernel, mode: Mode, cval: float) -> np.ndarray:
    # The weighted sum only: the kernel's offset is added once, with the bias.
    return apply("correlate", plane, kernel, mode=mode, cval=cval)


def _separable(
    plane: np.ndarray,
    kernel: Kernel,
    terms: tuple[tuple[np.ndarray, np.ndarray], ...],
    mode: str,
    cval: float,
) -> np.ndarray:
    import scipy.ndimage as ndi

    (h, w), (r, c) = kernel.shape, kernel.origin
    # With a constant border the columns outside are padded with cval before
    # the first pass, so that they pass through the column filter tap by tap,
    # exactly as a tile's gathered region does (flipconv.core.engine.tiled): the two
    # paths then agree to the bit.
    cols = kernel.reach()[1] if mode == "constant" else (0, 0)
    source = pad(plane, ((0, 0), cols), mode, cval) if cols != (0, 0) else plane
    total = np.zeros(plane.shape)
    tmp = np.empty(source.shape)
    out = np.empty(source.shape)
    keep = (slice(None), slice(cols[0], cols[0] + plane.shape[1]))
    for col, row in terms:
        wc, pc = prescale(col)
        wr, pr = prescale(row)
        ndi.correlate1d(source, wc, axis=0, output=tmp, mode=mode, cval=cval, origin=r - h // 2)
        # outside the padded columns (never kept) the border value is immaterial
        ndi.correlate1d(
            tmp, wr, axis=1, output=out, mode=mode, cval=cval * float(wc.sum()), origin=c - w // 2
        )
        if len(terms) == 1:
            result = out[keep]
            result *= pc * pr
            return np.ascontiguousarray(result) if cols != (0, 0) else result
        total += out[keep] * (pc * pr)
    return total


def _fft(plane: np.ndarray, kernel: Kernel, mode: str, cval: float, workers: int) -> np.ndarray:
    import scipy.fft as sf  # already loaded with scipy.ndimage; scipy.signal would add 0.46 s

    h, w = kernel.shape
    # float64 first: the transforms keep their input's precision (float32 in, complex64 out)
    padded = pad(plane.astype(np.float64, copy=False), kernel.reach(), mode, cval)
    H, W = padded.shape
    # Circular convolution of size >= the padded plane: wrap-around only
    # reaches the first h-1 rows and w-1 columns, which "valid" drops.
    size = (sf.next_fast_len(H, real=True), sf.next_fast_len(W, real=True))
    spectrum = sf.rfft2(padded, size, workers=workers)
    del padded
    spectrum *= sf.rfft2(kernel.values[::-1, ::-1], size, workers=workers)
    full = sf.irfft2(spectrum, size, workers=workers)
    return np.ascontiguousarray(full[h - 1 : H, w - 1 : W])


# ---------------------------------------------------------------- strips and threads


def correlate_plane(
    plane: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
    method: Method = "auto",
    threads: int | None = None,
    pool: ThreadPoolExecutor | None = None,
    backend: Backend = "auto",
    out: np.ndarray | None = None,
    rounding: settle.Rounding | None = None,
) -> np.ndarray:
    """Correlate one 2-D plane (float64 result) with the planned method and threads.

    Equals scipy.ndimage's direct correlation up to float64 rounding; see the
    module docstring. ``out`` is a float64 buffer of the plane's shape that
    the result may be written into (OpenCV's backend), saving fresh memory.
    ``rounding``, given, says how the sums will be rounded to integers: an
    FFT's or a low-rank sum's samples whose integer is in doubt are then
    summed again directly (:mod:`~flipconv.core.engine.settle`), so the
    integers are the direct route's.
    """
    check_choice("mode", mode, MODES)
    plane = exact_input(plane)  # uint8 stays uint8: both backends read it exactly, and faster
    threads = default_threads() if threads is None else max(1, int(threads))
    chosen = plan(kernel, (plane.shape[0], plane.shape[1]), method, backend)
    if rounding is not None and method == "auto" and chosen.method in ("fft", "lowrank"):
        chosen = _with_resums(chosen, kernel, (plane.shape[0], plane.shape[1]), backend)
    result = _run_plan(chosen, plane, kernel, mode, cval, threads, pool, out)
    if rounding is not None and chosen.method in ("fft", "lowrank"):
        if chosen.method == "fft":
            bound = settle.fft_bound(plane, kernel, mode, cval)
        else:
            bound = settle.lowrank_bound(plane, kernel, chosen.terms, mode, cval)
        flat = settle.doubtful(result, rounding, bound)
        if flat.size:
            direct_on = plan(kernel, (plane.shape[0], plane.shape[1]), "direct", backend).backend
            result.flat[flat] = settle.direct_sums(
                plane, kernel, flat, mode, cval, scipy_rule=direct_on == "scipy"
            )
    return result


def _with_resums(chosen: Plan, kernel: Kernel, shape: tuple[int, int], backend: Backend) -> Plan:
    """``chosen`` (an FFT or low-rank plan), or the direct one where summing its
    doubtful samples again would make it dearer: weights with a small even
    denominator (one-decimal weights: a tenth of the sums) make many ties."""
    live = int(np.count_nonzero(kernel.values))
    resums = settle.tie_share(kernel.values) * live * settle.RESUM_TAP_NS
    direct = plan(kernel, shape, "direct", backend)
    return direct if direct.cost_ns_per_pixel <= chosen.cost_ns_per_pixel + resums else chosen


def _run_plan(
    chosen: Plan,
    plane: np.ndarray,
    kernel: Kernel,
    mode: Mode,
    cval: float,
    threads: int,
    pool: ThreadPoolExecutor | None,
    out: np.ndarray | None,
) -> np.ndarray:
    """The sums by the chosen plan (see :func:`correlate_plane`)."""
    if chosen.backend == "opencv":
        opencv.set_threads(threads)
        if chosen.method in ("direct", "fft"):
            return opencv.correlate(plane, kernel, mode, cval, out)
        return opencv.correlate_separable(plane, kernel, chosen.terms, mode, cval, out)
    if chosen.method == "fft":
        return _fft(plane, kernel, mode, cval, threads)
    run: Callable[[np.ndarray], np.ndarray]
    if chosen.method == "direct":
        run = lambda src: _direct(src, kernel, mode, cval)  # noqa: E731
    else:
        run = lambda src: _separable(src, kernel, chosen.terms, mode, cval)  # noqa: E731
    row_ns = chosen.cost_ns_per_pixel * plane.shape[1]
    strips = row_strips(plane.shape[0], threads, row_ns, sum(kernel.reach()[0]))
    if len(strips) == 1:
        return run(plane)
    before, after = kernel.reach()[0]
    shortest = min(b - a for a, b in strips)
    # A strip is the plane's rows a-before .. b+after. Where that range leaves
    # the plane, scipy's own border handling is exact if the rows it mirrors
    # or repeats lie inside the strip, true for every mode but wrap while the
    # halo is shorter than the strip; otherwise pad the plane once.
    sliced = mode != "wrap" and max(before, after) < shortest
    if sliced:
        source, shift = plane, 0
    else:
        source, shift = pad(plane, ((before, after), (0, 0)), mode, cval), before
    out = np.empty(plane.shape)

    def strip(bounds: tuple[int, int]) -> None:
        a, b = bounds
        lo = max(a - before + shift, 0)
        hi = min(b + after + shift, source.shape[0])
        result = run(source[lo:hi])
        first = a + shift - lo
        out[a:b] = result[first : first + (b - a)]

    if pool is not None:
        run_strips(pool, strip, strips)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(strips))) as own:
            run_strips(own, strip, strips)
    return out


def apply_plane(
    operation: Operation,
    plane: np.ndarray,
    kernel: Kernel,
    *,
    mode: Mode = "reflect",
    cval: float = 0.0,
    method: Method = "auto",
    threads: int | None = None,
    pool: ThreadPoolExecutor | None = None,
    backend: Backend = "auto",
    out: np.ndarray | None = None,
    rounding: settle.Rounding | None = None,
) -> np.ndarray:
    """``convolve`` or ``correlate`` of one plane through the engine.

    A kernel that reaches further past the plane than the border rule can
    tell apart is folded first (:func:`flipconv.core.engine.borders.fold_to_image`):
    the same sums, at a cost bounded by the plane's size, so ``box:2001`` on
    a 16x16 image costs what a 32x32 kernel does.
    """
    if check_choice("operation", operation, OPERATIONS) == "convolve":
        kernel = kernel.reflected()
    marks = nonfinite.find(plane)
    if marks is not None:  # NaN and inf go where a direct sum puts them, whatever the route
        run = partial(
            apply_plane, "correlate", mode=mode, threads=threads, pool=pool, backend=backend
        )
        result = run(
            nonfinite.finite(plane, marks), kernel, cval=cval, method=method, out=out,
            rounding=rounding,
        )  # fmt: skip

        def counts(samples: np.ndarray, taps: np.ndarray) -> np.ndarray:
            # 0/1 masks: any route counts them (a mask may not be separable)
            return run(samples, Kernel(taps, kernel.origin), cval=0.0, method="auto")

        nonfinite.restore(result, marks, kernel.values, counts)
        return result
    folded = fold_to_image(
        kernel.values, kernel.origin, (plane.shape[0], plane.shape[1]), mode, cval
    )
    extra = 0.0
    if folded is not None:
        values, origin, extra = folded
        kernel = Kernel(values, origin, kernel.spec)
        if rounding is not None and extra:  # the constant is added after the sums
            rounding = replace(rounding, bias=rounding.bias + extra * rounding.scale)
    result = correlate_plane(
        plane,
        kernel,
        mode=mode,
        cval=cval,
        method=method,
        threads=threads,
        pool=pool,
        backend=backend,
        out=out,
        rounding=rounding,
    )
    if extra:
        result += extra
    return result
