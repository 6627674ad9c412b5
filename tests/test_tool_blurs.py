"""The tools' own blurs (core/peers/tool_blurs.py), against the tools themselves.

OpenCV and Pillow are dependencies, so these always run; ImageMagick's and libvips'
run where they are installed. Pillow's and libvips' own arithmetic are
core/engine/pillow_sums.py and core/engine/vips_sums.py; scipy's gaussian_filter is
called from core/engine/scipy_backend.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.peers.tool_blurs import opencv_gaussian_taps
from hypothesis import given, settings
from hypothesis import strategies as st


def _like(
    tool: str, spec: str, image: np.ndarray, folder: Path, *extra: str
) -> tuple[np.ndarray, str]:
    write_image(image, folder / "a.png")
    args = ["correlate", "--like", tool, "-k", spec, *extra, str(folder / "a.png")]
    result = CliRunner().invoke(cli, [*args, "-o", str(folder / "b.png")])
    assert result.exit_code == 0, result.stderr
    return read_image(folder / "b.png").pixels, result.stderr


def _image(seed: int, channels: int | None, smooth: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (37, 45) if channels is None else (37, 45, channels)
    if not smooth:
        return rng.integers(0, 256, shape).astype(np.uint8)
    rows, cols = np.mgrid[0:37, 0:45]
    ramp = 127.5 + 120 * np.sin(rows / 7.0 + seed) * np.cos(cols / 5.0)
    ramp = ramp if channels is None else np.dstack([ramp] * channels)
    return np.clip(ramp + rng.normal(0, 3, shape), 0, 255).astype(np.uint8)


#: A drawn image: (seed, channels, smooth), for :func:`_image`.
IMAGES = st.tuples(st.integers(0, 2**16), st.sampled_from([None, 3]), st.booleans())


@settings(max_examples=30, deadline=None)
@given(sigma=st.floats(0.3, 6.0), drawn=IMAGES)
def test_opencv_gaussian_blur_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, sigma: float, drawn: tuple[int, int | None, bool]
) -> None:
    import cv2

    image = _image(*drawn)
    spec = f"gaussian:{sigma!r}"
    ours, note = _like("opencv", spec, image, tmp_path_factory.mktemp("cv"))
    # before: flipconv's own gaussian (radius 4 sigma, float64, nearest) was off by one
    # on 6-19% of samples
    np.testing.assert_array_equal(ours, cv2.GaussianBlur(image, (0, 0), sigma))
    assert "cv2.GaussianBlur(img, (0, 0)" in note


@pytest.mark.parametrize(("sigma", "radius"), [(1.0, 1), (2.0, 2), (1.5, 6), (0.8, 3)])
def test_opencv_gaussian_blur_with_a_size(tmp_path: Path, sigma: float, radius: int) -> None:
    import cv2

    image = _image(radius, 3, False)
    ours, _ = _like("opencv", f"gaussian:{sigma},radius={radius}", image, tmp_path)
    size = 2 * radius + 1
    np.testing.assert_array_equal(ours, cv2.GaussianBlur(image, (size, size), sigma))


def test_opencv_taps_are_its_fixed_point_kernel() -> None:
    """cv2.getGaussianKernel's float64 weights are what the integers round, and they sum to 256."""
    import cv2

    for sigma in (0.7, 1.0, 2.5, 4.0):
        taps = opencv_gaussian_taps(sigma)
        weights = cv2.getGaussianKernel(len(taps), sigma, ktype=cv2.CV_64F).ravel()
        assert taps.sum() == 256
        assert np.abs(taps - weights * 256).max() <= 1.0


def test_box_is_cv2_blur_as_it_is(tmp_path: Path) -> None:
    """Only a blur the tool builds its own way is replaced: OpenCV's box is flipconv's."""
    import cv2

    image = _image(3, None, False)
    ours, note = _like("opencv", "box:5", image, tmp_path)
    np.testing.assert_array_equal(ours, cv2.blur(image, (5, 5)))
    assert note == ""


@settings(max_examples=30, deadline=None)
@given(
    size=st.integers(1, 41),
    sigma=st.floats(0.2, 12.0),
    seed=st.integers(0, 2**16),
    channels=st.sampled_from([None, 3, 4]),
    smooth=st.booleans(),
)
def test_pillow_box_and_gaussian_blur_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory,
    size: int,
    sigma: float,
    seed: int,
    channels: int | None,
    smooth: bool,
) -> None:
    """box:N is BoxBlur((N - 1) / 2), gaussian:S is GaussianBlur(S); before, up to
    166 and 151 levels off (flipconv's own kernels, Pillow's Kernel border)."""
    from PIL import Image, ImageFilter

    image = _image(seed, channels, smooth)
    folder = tmp_path_factory.mktemp("pil")
    box, _ = _like("pillow", f"box:{size}", image, folder)
    theirs = Image.fromarray(image).filter(ImageFilter.BoxBlur((size - 1) / 2))
    np.testing.assert_array_equal(box, np.asarray(theirs))
    blur, _ = _like("pillow", f"gaussian:{sigma!r}", image, folder)
    theirs = Image.fromarray(image).filter(ImageFilter.GaussianBlur(sigma))
    np.testing.assert_array_equal(blur, np.asarray(theirs))


@settings(max_examples=12, deadline=None)
@given(sigma=st.floats(0.4, 5.0), drawn=IMAGES)
def test_imagemagick_gaussian_blur_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, sigma: float, drawn: tuple[int, int | None, bool]
) -> None:
    """gaussian:S is `convert -gaussian-blur 0xS`: its width rule, its Q16 rounding."""
    import subprocess

    from external import require_tool

    require_tool("convert")
    folder = tmp_path_factory.mktemp("im")
    image = _image(*drawn)
    channels = drawn[1]
    ours, note = _like("imagemagick", f"gaussian:{sigma!r}", image, folder)
    subprocess.run(
        [
            "convert",
            str(folder / "a.png"),
            "-gaussian-blur",
            f"0x{sigma!r}",
            str(folder / "im.png"),
        ],
        check=True,
        capture_output=True,
    )
    theirs = read_image(folder / "im.png").pixels
    if channels is None and theirs.ndim == 3:
        theirs = theirs[..., 0]
    np.testing.assert_array_equal(ours, theirs)
    assert "-gaussian-blur 0x" in note


@settings(max_examples=12, deadline=None)
@given(sigma=st.floats(0.1, 6.0), drawn=IMAGES)
def test_vips_gaussblur_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, sigma: float, drawn: tuple[int, int | None, bool]
) -> None:
    """gaussian:S is `vips gaussblur IN OUT S`: its integer mask and fixed-point passes
    (before: up to 11 levels off, 31 at sigma 1)."""
    import subprocess

    from external import require_tool

    require_tool("vips")
    folder = tmp_path_factory.mktemp("vips")
    image = _image(*drawn)
    ours, note = _like("vips", f"gaussian:{sigma!r}", image, folder)
    out = str(folder / "v.png")
    subprocess.run(["vips", "gaussblur", str(folder / "a.png"), out, repr(sigma)], check=True)
    np.testing.assert_array_equal(ours, read_image(out).pixels)
    assert "vips gaussblur" in note


@settings(max_examples=15, deadline=None)
@given(
    sigma=st.floats(0.3, 6.0),
    drawn=IMAGES,
    mode=st.sampled_from(["reflect", "nearest", "mirror", "constant", "wrap"]),
)
def test_scipy_gaussian_filter_of_an_8_bit_array_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory,
    sigma: float,
    drawn: tuple[int, int | None, bool],
    mode: str,
) -> None:
    """scipy truncates an 8-bit array after each axis: flipconv's own rounding was
    off on 93-96% of samples, by up to 2."""
    import scipy.ndimage as ndi

    image = _image(*drawn)
    folder = tmp_path_factory.mktemp("scipy")
    ours, note = _like("scipy", f"gaussian:{sigma!r}", image, folder, "--mode", mode)
    per_axis = (sigma, sigma, 0) if image.ndim == 3 else sigma
    np.testing.assert_array_equal(ours, ndi.gaussian_filter(image, per_axis, mode=mode))
    assert "gaussian_filter" in note


@pytest.mark.parametrize(("spec", "dx", "dy"), [("sobel-x", 1, 0), ("sobel-y", 0, 1)])
def test_opencv_sobel_byte_for_byte(tmp_path: Path, spec: str, dx: int, dy: int) -> None:
    """cv2.Sobel is flipconv's sobel under --like opencv: clipped to 8 bits, and its
    magnitude as OpenCV's tutorials take it (CV_16S, then convertScaleAbs)."""
    import cv2

    image = _image(7, 3, True)
    ours, _ = _like("opencv", spec, image, tmp_path)
    np.testing.assert_array_equal(ours, cv2.Sobel(image, cv2.CV_8U, dx, dy))
    magnitude, _ = _like("opencv", spec, image, tmp_path, "--out-range", "abs")
    np.testing.assert_array_equal(
        magnitude, cv2.convertScaleAbs(cv2.Sobel(image, cv2.CV_16S, dx, dy))
    )


@pytest.mark.parametrize("channels", [None, 3])
def test_skimage_gaussian_is_scipys_with_nearest_edges_in_0_to_1(channels: int | None) -> None:
    """skimage.filters.gaussian: scipy's kernel, edges repeated ('nearest'), an 8-bit
    image read as 0..1 floats: flipconv's float64 output of the same."""
    pytest.importorskip("skimage")
    from flipconv.core.engine.filters import filter_image
    from skimage.filters import gaussian

    image = _image(11, channels, False)
    for sigma in (0.8, 2.5):
        theirs = gaussian(image, sigma=sigma, channel_axis=None if channels is None else -1)
        ours = filter_image(image, f"gaussian:{sigma}", operation="correlate", mode="nearest",
                            dtype="float64")  # fmt: skip
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arithmetic", "pillow", "-k", "1,2,1;2,4,2;1,2,1"], "has --mode unfiltered only"),
        (["--arithmetic", "pillow", "-k", "sobel-x", "--mode", "unfiltered", "--scale", "2"],
         "has --scale 1.0 only"),
        (["--arithmetic", "vips", "-k", "gaussian:2", "--mode", "wrap"], "has --mode nearest only"),
        (["--arithmetic", "scipy", "-k", "gaussian:2", "--bias", "3"], "has --bias 0.0 only"),
    ],
)  # fmt: skip
def test_a_tools_arithmetic_refuses_what_the_tool_lacks(
    tmp_path: Path, args: list[str], message: str
) -> None:
    write_image(_image(5, None, False), tmp_path / "a.png")
    out = tmp_path / "b.png"
    result = CliRunner().invoke(cli, ["correlate", *args, str(tmp_path / "a.png"), "-o", str(out)])
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not out.exists()
