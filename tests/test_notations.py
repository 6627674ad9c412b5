"""Kernels in ImageMagick's and libvips' notations, and exports that round-trip."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from flipconv.core._shared.errors import KernelError
from flipconv.core.engine.filters import correlate, filter_image
from flipconv.core.io.readers import read_image
from flipconv.core.kernels.imagemagick import parse_imagemagick
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.notation import padded_to_default_origin
from flipconv.core.kernels.specs import (
    EXPORT_FORMATS,
    export_kernel,
    parse_kernel_bytes,
    parse_kernel_spec,
)
from flipconv.core.kernels.vips import parse_vips_matrix
from hypothesis import given, settings
from hypothesis import strategies as st

# ---------------------------------------------------------------- ImageMagick

IM_SPECS = [
    "Unity",
    "Unity:3",
    "Gaussian:0x0",
    "Gaussian:0x0.5",
    "Gaussian:0x1",
    "Gaussian:0x2",
    "Gaussian:3x0.5",
    "Gaussian:0x3.3",
    "Blur:0x1",
    "Blur:0x2",
    "Blur:3x1",
    "Blur:0x1,90",
    "Blur:1.5x1",
    "Binomial",
    "Binomial:2",
    "Laplacian:0",
    "Laplacian:1",
    "Laplacian:2",
    "Laplacian:3",
    "Laplacian:5",
    "Laplacian:7",
    "Laplacian:15",
    "Laplacian:19",
    "Sobel",
    "Sobel:45",
    "Sobel:90",
    "Sobel:-45",
    "Sobel:180",
    "Prewitt:135",
    "Roberts",
    "Roberts:90",
    "Compass:270",
    "Kirsch",
    "Kirsch:45",
    "Square",
    "Square:2",
    "Square:1.5",
    "Rectangle:2x3",
    "Rectangle:3x2+0+1",
    "Diamond:2",
    "2x2: 1,2,3,4",
    "3: 1,2,3,4,5,6,7,8,9",
    "2x3+1+2: 1 2 3 4 5 6",
    "3x2+2+1: 1,nan,3,-,5,6",
]


def _convert() -> str | None:
    path = shutil.which("convert")
    if path is None:
        return None
    try:
        out = subprocess.run([path, "-version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if "ImageMagick" in out.stdout else None


def shown_kernel(convert: str, spec: str) -> tuple[np.ndarray, tuple[int, int]]:
    """The matrix and origin ImageMagick prints for ``spec`` (``showKernel``)."""
    run = subprocess.run(
        [
            convert,
            "xc:",
            "-precision",
            "17",
            "-define",
            "morphology:showKernel=1",
            "-morphology",
            "Convolve",
            spec,
            "null:",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = run.stderr.splitlines()
    size = re.search(r"of size (\d+)x(\d+)\+(\d+)\+(\d+)", lines[0])
    assert size, lines[0]
    w, h, x, y = (int(g) for g in size.groups())
    rows = [[float(t) for t in line.split(":", 1)[1].split()] for line in lines[2 : 2 + h]]
    return np.nan_to_num(np.array(rows), nan=0.0), (y, x)


@pytest.mark.parametrize("spec", IM_SPECS)
def test_imagemagick_specs_give_the_matrices_imagemagick_shows(spec: str) -> None:
    convert = _convert()
    if convert is None:
        pytest.skip("ImageMagick's convert is not installed")
    expected, origin = shown_kernel(convert, spec)
    k = parse_kernel_spec(f"im:{spec}")
    assert k.shape == expected.shape
    assert k.origin == origin
    # showKernel prints 17 significant digits; IM sums in another order.
    np.testing.assert_allclose(k.values, expected, rtol=1e-13, atol=1e-300)


def test_imagemagick_user_kernels_by_hand() -> None:
    k = parse_imagemagick("2x2: 1,2,3,4")
    assert k.values.tolist() == [[1, 2], [3, 4]]
    assert k.origin == (0, 0)  # IM: (W-1)/2 rounded down; flipconv's default is (1, 1)
    k = parse_imagemagick("3x2+2+1: 1,nan,3,-,5,6")
    assert k.values.tolist() == [[1, 0, 3], [0, 5, 6]]
    assert k.origin == (1, 2)  # +X+Y is column, row
    assert parse_imagemagick("3: 1 2 3 4 5 6 7 8 9").shape == (3, 3)


def test_imagemagick_built_ins_by_hand() -> None:
    # The 8 outer cells turn clockwise by one per 45 degrees.
    assert parse_imagemagick("Sobel:45").values.tolist() == [[2, 1, 0], [1, 0, -1], [0, -1, -2]]
    assert parse_imagemagick("Kirsch:90").values.tolist() == [[5, 5, 5], [-3, 0, -3], [-3, -3, -3]]
    b = parse_imagemagick("Binomial:2").values
    assert b[2].tolist() == [6, 24, 36, 24, 6] and b.sum() == 256
    g = parse_imagemagick("Gaussian:0x1").values
    assert g.shape == (9, 9) and g.sum() == pytest.approx(1.0, abs=1e-15)
    assert g[4, 4] / g[4, 5] == pytest.approx(np.exp(0.5), rel=1e-14)
    blur = parse_imagemagick("Blur:0x1,90")
    assert blur.shape == (9, 1) and blur.origin == (4, 0)
    assert parse_imagemagick("Diamond:1").values.tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("im:Disk:3", "not built by flipconv.*showKernel"),
        ("im:Sobel:30", "multiples of 45"),
        ("Sobel", "the magnitude of sobel-x and sobel-y, two kernels; .* sobel-x or sobel-y"),
        ("Sobel:90", "not a flipconv kernel but ImageMagick's: write 'im:Sobel:90' .* sobel-x"),
        ("blur", "write 'im:blur' for ImageMagick's meaning, or flipconv's gaussian"),
        ("square", "write 'im:square' .* flipconv's box"),
        ("gaussian:0", "sigma='0' must be a number >= 0.01 .* write 'im:gaussian:0'"),
        ("gaussian:-1", "sigma='-1' must be"),
        ("gaussian:2,3,4,5", "too many values"),
        ("Gaussian:0x1e308", "sigma 1e\\+308 is over the limit"),
        ("im:Laplacian:4", "Laplacian types are 0, 1, 2, 3, 5, 7, 15, 19"),
        ("Gaussian:1.5x1", "whole radius"),
        ("2x2: 1,2,3", "needs 4 values, found 3"),
        ("2x2+2+0: 1,2,3,4", "outside the 2x2"),
        ("Sobel;Prewitt", "several ImageMagick kernels"),
        ("2x1: 1,inf", "not a finite number"),
        ("Blur:0x1,45", "multiples of 90"),
    ],
)
def test_imagemagick_errors_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(KernelError, match=message):
        parse_kernel_spec(spec)


@pytest.mark.parametrize(
    ("spec", "shape", "origin"),
    [
        ("gaussian:2", (17, 17), (8, 8)),  # flipconv's: sigma 2, radius 4 sigma
        ("Gaussian:0x2", (15, 15), (7, 7)),  # IM's arguments: IM's kernel
        ("im:Gaussian:2", (5, 5), (2, 2)),  # IM's meaning: radius 2, sigma 0
        ("laplacian:8", (3, 3), (1, 1)),
        ("im:Sobel", (3, 3), (1, 1)),
        ("im:unity", (1, 1), (0, 0)),
        ("Blur:0x1", (1, 9), (0, 4)),  # IM's geometry syntax is IM's without im:
    ],
)
def test_names_are_flipconvs_unless_im_or_imagemagick_syntax_says_so(
    spec: str, shape: tuple[int, int], origin: tuple[int, int]
) -> None:
    k = parse_kernel_spec(spec)
    assert (k.shape, k.origin) == (shape, origin)


def test_flipconv_and_imagemagick_laplacians_differ_where_they_should() -> None:
    ours = parse_kernel_spec("laplacian:8").values
    theirs = parse_kernel_spec("im:Laplacian:0").values
    np.testing.assert_array_equal(ours, -theirs)  # flipconv's centre is -8, IM's +8
    with pytest.raises(KernelError, match="must be one of 4, 8"):
        parse_kernel_spec("laplacian:6")  # neither ours nor IM's: flipconv's message


# ---------------------------------------------------------------- libvips


def test_vips_matrix_scale_and_offset() -> None:
    k = parse_vips_matrix("3 1 4 10\n1 2 1\n", "k.mat")
    assert k.values.tolist() == [[0.25, 0.5, 0.25]]
    assert (k.origin, k.offset) == ((0, 1), 10.0)
    img = np.array([[0, 4, 8, 12]], dtype=np.float64)
    # out = (1*I[n-1] + 2*I[n] + 1*I[n+1]) / 4 + 10, reflect mode at the ends
    assert correlate(img, k).tolist() == [[11.0, 14.0, 18.0, 21.0]]
    out = filter_image(img.astype(np.uint8), k, operation="correlate")
    assert out.tolist() == [[11, 14, 18, 21]]


def test_vips_matrix_file_is_read_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "edge.mat"
    path.write_text("2 2 2\n1 -1\n1 -1\n")
    k = parse_kernel_spec(str(path))
    assert k.values.tolist() == [[0.5, -0.5], [0.5, -0.5]]
    assert k.origin == (1, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3 3\n1 2 3\n", "header says 3 rows, found 1"),
        ("2 1\n1 2 3\n", "row 1 has 3 values"),
        ("2 1 0\n1 2\n", "scale must be finite and non-zero"),
        ("a b\n1 2\n", "is not a header 'width height"),
        ("2.5 1\n1 2\n", "whole, positive"),
        ("2 1\n1 nan\n", "NaN or infinity"),
    ],
)
def test_vips_matrix_errors(text: str, message: str) -> None:
    with pytest.raises(KernelError, match=message):
        parse_vips_matrix(text, "k.mat")


def test_vips_conv_agrees_with_flipconv_correlate(tmp_path: Path, samples: Path) -> None:
    vips = shutil.which("vips")
    if vips is None:
        pytest.skip("libvips' vips command is not installed")
    mat = tmp_path / "k.mat"
    mat.write_text("3 3 8 3\n1 2 4\n0 -1 0\n-2 1 2\n")
    out = tmp_path / "out.v"
    subprocess.run(
        [vips, "conv", str(samples / "glyph.png"), str(out), str(mat), "--precision", "float"],
        check=True,
        timeout=60,
    )
    csv = tmp_path / "out.csv"
    subprocess.run([vips, "csvsave", str(out), str(csv)], check=True, timeout=60)
    theirs = np.loadtxt(csv, delimiter="\t", ndmin=2)
    image = read_image(samples / "glyph.png").pixels.astype(np.float64)
    ours = correlate(image, parse_kernel_spec(str(mat)))
    inner = (slice(1, -1), slice(1, -1))  # borders: vips' own edge rule
    np.testing.assert_allclose(ours[inner], theirs[inner], rtol=1e-6, atol=1e-4)


# ---------------------------------------------------------------- export


def test_padding_moves_the_default_origin_onto_the_origin() -> None:
    for shape in [(1, 1), (2, 3), (4, 4), (1, 5)]:
        for r in range(shape[0]):
            for c in range(shape[1]):
                k = Kernel(np.arange(1.0, 1 + shape[0] * shape[1]).reshape(shape), (r, c))
                padded = padded_to_default_origin(k)
                centre = tuple(s // 2 for s in padded.shape)
                assert padded[centre] == k.values[r, c]
                assert padded.sum() == k.values.sum()


kernels = st.tuples(st.integers(1, 5), st.integers(1, 5)).flatmap(
    lambda shape: st.tuples(
        st.lists(
            st.floats(-1e6, 1e6, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-300),
            min_size=shape[0] * shape[1],
            max_size=shape[0] * shape[1],
        ),
        st.just(shape),
        st.integers(0, shape[0] - 1),
        st.integers(0, shape[1] - 1),
    )
)


@settings(max_examples=60, deadline=None)
@given(kernels, st.sampled_from(EXPORT_FORMATS), st.integers(0, 2**32 - 1))
def test_export_and_reimport_filter_identically(
    case: tuple[list[float], tuple[int, int], int, int], fmt: str, seed: int
) -> None:
    values, shape, r, c = case
    offset = 3.5 if fmt in ("vips", "json") else 0.0
    k = Kernel(np.array(values).reshape(shape), (r, c), "k", offset=offset)
    back = parse_kernel_bytes(export_kernel(k, fmt), f"@{fmt}")
    assert back.offset == k.offset
    if fmt in ("json", "imagemagick"):  # formats with an origin: the same kernel
        np.testing.assert_array_equal(back.values, k.values)
        assert back.origin == k.origin
    image = np.random.default_rng(seed).random((7, 6)) * 255
    # zero padding changes no weight, but OpenCV groups its vectorised sums by the
    # kernel's width, so the padded kernel's sums may round apart: within 1e-12 of the scale
    scale = 1e-12 * np.abs(k.values).sum() * 255 + abs(offset)
    for method in ("auto", "direct"):
        np.testing.assert_allclose(
            correlate(image, back, method=method),
            correlate(image, k, method=method),
            rtol=0,
            atol=scale,
        )


def test_exports_by_hand() -> None:
    k = Kernel([[1.0, 2.5], [-4.0, 1e-20]], (0, 1), offset=0.0)
    assert export_kernel(k, "imagemagick") == b"2x2+1+0: 1,2.5,-4,1e-20\n"
    assert export_kernel(k, "csv") == b"0,0\n1,2.5\n-4,1e-20\n"  # row 0 becomes 3//2
    assert export_kernel(k, "vips").splitlines()[0] == b"2 3 1 0"


def test_exported_imagemagick_string_filters_like_flipconv(tmp_path: Path, samples: Path) -> None:
    convert = _convert()
    if convert is None:
        pytest.skip("ImageMagick's convert is not installed")
    spec = export_kernel(parse_kernel_spec("motion:5,30"), "imagemagick").decode().strip()
    out = tmp_path / "im.png"
    subprocess.run(
        [
            convert,
            str(samples / "scene16.png"),
            "-virtual-pixel",
            "Edge",
            "-morphology",
            "Convolve",
            spec,
            str(out),
        ],
        check=True,
        timeout=60,
    )
    theirs = read_image(out).pixels.astype(np.int64)
    ours = filter_image(
        read_image(samples / "scene16.png").pixels,
        parse_kernel_spec(spec),
        operation="convolve",
        mode="nearest",
    ).astype(np.int64)
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours).max() <= 1
