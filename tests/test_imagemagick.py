"""flipconv against ImageMagick's -morphology Convolve/Correlate (skipped without ImageMagick).

ImageMagick rotates the kernel for Convolve and not for Correlate, takes the
origin from "WxH+X+Y:" (X is the column), and rotates the origin with the
kernel: the same semantics as flipconv, so results agree within 1 LSB. The
1-LSB differences at 8 bits are ImageMagick 6 (Q16) truncating when it
reduces its 16-bit quantum to 8 bits, where flipconv rounds to nearest.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from flipconv.core.engine.filters import filter_image
from flipconv.core.io.readers import read_image
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.kernels.specs import parse_kernel_spec

VIRTUAL_PIXEL = {"nearest": "Edge", "wrap": "Tile", "constant": "Black"}
KERNELS = [
    ("0,0.1,0.2;0.05,0.3,0.15;0,0.1,0.1", None),  # odd, asymmetric
    ("0.1,0.2;0.3,0.4", None),  # even: origin below/right of centre
    ("0.1,0.2;0.3,0.4", (0, 0)),  # even with an explicit origin
    ("0.05,0.1,0,0.1,0.05;0.1,0.2,0,0.1,0;0,0.05,0.1,0,0.05", (1, 1)),  # 3x5, off-centre
]


def im_kernel(k: Kernel) -> str:
    (h, w), (r, c) = k.shape, k.origin
    return f"{w}x{h}+{c}+{r}:" + " ".join(f"{v:.17g}" for v in k.values.ravel())


def imagemagick_filter(
    im: str, src: Path, k: Kernel, operation: str, mode: str, depth: int
) -> np.ndarray:
    args = [
        im,
        "png:-",
        "-virtual-pixel",
        VIRTUAL_PIXEL[mode],
        "-morphology",
        operation.capitalize(),
        im_kernel(k),
        "-depth",
        str(depth),
        "png:-",
    ]
    out = subprocess.run(args, input=src.read_bytes(), capture_output=True, check=True, timeout=60)
    return read_image(out.stdout).pixels


@pytest.mark.parametrize(("sample", "depth"), [("scene.png", 8), ("scene16.png", 16)])
@pytest.mark.parametrize(("spec", "origin"), KERNELS)
@pytest.mark.parametrize("operation", ["convolve", "correlate"])
@pytest.mark.parametrize("mode", ["nearest", "wrap", "constant"])
def test_matches_imagemagick_within_one_lsb(
    imagemagick: str,
    samples: Path,
    sample: str,
    depth: int,
    spec: str,
    origin: tuple[int, int] | None,
    operation: str,
    mode: str,
) -> None:
    src = samples / sample
    k = parse_kernel_spec(spec).with_origin(origin)
    theirs = imagemagick_filter(imagemagick, src, k, operation, mode, depth).astype(np.int64)
    ours = filter_image(read_image(src).pixels, k, operation=operation, mode=mode)  # type: ignore[arg-type]
    assert ours.dtype == (np.uint8 if depth == 8 else np.uint16)
    assert theirs.shape == ours.shape
    assert np.abs(theirs - ours.astype(np.int64)).max() <= 1


def test_the_comparison_can_fail(imagemagick: str, samples: Path) -> None:
    """Control: our correlate against their Convolve differs by far more than 1 LSB."""
    src = samples / "scene16.png"
    k = parse_kernel_spec(KERNELS[0][0])
    theirs = imagemagick_filter(imagemagick, src, k, "convolve", "nearest", 16).astype(np.int64)
    ours = filter_image(read_image(src).pixels, k, operation="correlate", mode="nearest")
    assert np.abs(theirs - ours.astype(np.int64)).max() > 1000


def test_cli_pipe_matches_imagemagick(imagemagick: str, samples: Path) -> None:
    from click.testing import CliRunner
    from flipconv.cli.main import cli

    src = samples / "scene16.png"
    spec = KERNELS[3][0]
    result = CliRunner().invoke(
        cli, ["convolve", "-k", spec, "--origin", "1,1", "--mode", "wrap"], input=src.read_bytes()
    )
    assert result.exit_code == 0
    ours = read_image(result.stdout_bytes).pixels.astype(np.int64)
    k = parse_kernel_spec(spec).with_origin((1, 1))
    theirs = imagemagick_filter(imagemagick, src, k, "convolve", "wrap", 16).astype(np.int64)
    assert np.abs(theirs - ours).max() <= 1
