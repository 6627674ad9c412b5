"""Probe's reproduction in the user's units (core/peers/reproduce.py): float data, a
layer's bias, a cropped output, a layer of several channels.

Each reproduction is run as the user would run it (the float command on a
float32 .npy, the Python call on an array) and compared with the tool itself.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.ndimage as ndi
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core import probe
from flipconv.core.kernels.kernel import Kernel

import flipconv

WEIGHTS = np.array([[0.25, -0.5, 0.125], [1.0, 0.75, -0.25], [0.0625, 0.5, -1.5]])


def _float_command_output(command: str, x: np.ndarray, folder: Path) -> np.ndarray:
    """The reproduction's float command run on ``x`` saved as a float32 .npy."""
    np.save(folder / "x.npy", x)
    words = shlex.split(command)
    assert words[0] == "flipconv"
    result = CliRunner().invoke(
        cli, [*words[1:], str(folder / "x.npy"), "-o", str(folder / "y.npy")]
    )
    assert result.exit_code == 0, result.stderr
    return np.load(folder / "y.npy")


def _python_output(report: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The reproduction's Python call, as text and as its keyword arguments."""
    rep = report.reproduction
    K = np.array(report.kernel)  # noqa: N806 (the name the call's text uses)
    from_text = eval(rep.python, {"flipconv": flipconv, "x": x, "K": K, "abs": abs})  # noqa: S307
    call = rep.python_call
    data = getattr(flipconv, call["function"])(x, K, **call["kwargs"]) * call["scale"]
    data = data + call["bias"]
    if call["crop"]:
        (top, bottom), (left, right) = call["crop"]
        data = data[top : data.shape[0] - bottom, left : data.shape[1] - right]
    return from_text, data


def _layer(bias: float) -> Any:
    """A float32 'layer' holding its own kernel: zero padding, a bias, float out."""
    weights = WEIGHTS.astype(np.float32)

    def layer(image: np.ndarray) -> np.ndarray:
        out = ndi.correlate(image.astype(np.float32), weights, mode="constant")
        return out + np.float32(bias)

    return layer


@pytest.mark.parametrize("bias", [0.0, 0.3, -2.5])
def test_a_float_layers_reproduction_gives_its_numbers_on_float_data(
    tmp_path: Path, bias: float
) -> None:
    layer = _layer(bias)
    report = probe(layer, Kernel(WEIGHTS, (1, 1)))
    assert report.bias == pytest.approx(bias, abs=1e-7)
    rep = report.reproduction
    # before: '--scale 255 --dtype float64' only, 255 times the layer's numbers on floats
    assert "--scale" not in rep.float_command
    assert ("--bias" in rep.float_command) == bool(bias)
    x = (np.random.default_rng(5).normal(size=(23, 31)) * 4).astype(np.float32)
    want = layer(x).astype(np.float64)
    got = _float_command_output(rep.float_command, x, tmp_path)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, want, atol=1e-5, rtol=0)
    assert rep.float_max_difference < 1e-5 and rep.max_difference < 1e-3
    text = str(report)
    assert "8-bit images  flipconv correlate" in text and "float images  flipconv" in text


def test_a_cropping_tool_says_where_and_its_python_call_crops(tmp_path: Path) -> None:
    def valid(image: np.ndarray) -> np.ndarray:
        return ndi.correlate(image.astype(float), WEIGHTS, mode="constant")[1:-1, 1:-1]

    report = probe(valid, Kernel(WEIGHTS, (1, 1)))
    rep = report.reproduction
    assert "keep rows 1 to H-2 and columns 1 to W-2" in " ".join(rep.unmatched)
    assert "out[1:-1, 1:-1]" in " ".join(rep.unmatched)
    x = np.random.default_rng(6).random((12, 17))
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, valid(x), atol=1e-12)


def test_an_eight_bit_tools_python_call_is_its_sums_before_rounding() -> None:
    def tool(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        sums = ndi.convolve(image.astype(float), kernel, mode="nearest")
        return np.clip(np.rint(sums), 0, 255).astype(np.uint8)

    report = probe(tool)
    rep = report.reproduction
    assert rep.float_command is None  # the tool writes 8-bit samples only
    assert rep.python.startswith("flipconv.convolve(x, K, anchor=(1, 1), mode='nearest')")
    x = np.random.default_rng(7).integers(0, 256, (14, 15)).astype(np.uint8)
    sums = ndi.convolve(x.astype(float), np.array(report.kernel), mode="nearest")
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, sums, rtol=1e-12)


# ---------------------------------------------------------------- PyTorch, where it is installed


def _torch_float(layer: Any, x: np.ndarray, inputs: int = 1, at: int = 0) -> Any:
    torch = pytest.importorskip("torch")
    batch = torch.zeros((1, inputs, *x.shape))
    batch[0, at] = torch.from_numpy(x)
    with torch.no_grad():
        return layer(batch)[0].numpy().astype(np.float64)


@pytest.mark.parametrize("bias", [False, True])
def test_a_default_torch_conv2d_is_reproduced_in_float_to_1e5(tmp_path: Path, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(3)
    layer = torch.nn.Conv2d(1, 1, 3, padding=1, bias=bias)
    report = probe(layer)
    assert report.border.startswith("zero") and report.exact
    assert (report.bias != 0) == bias
    x = (np.random.default_rng(8).normal(size=(20, 26)) * 3).astype(np.float32)
    want = _torch_float(layer, x)[0]
    got = _float_command_output(report.reproduction.float_command, x, tmp_path)
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, want, atol=1e-5, rtol=0)


def test_torchs_default_padding_0_is_cropped_where_the_report_says() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(4)
    layer = torch.nn.Conv2d(1, 1, (3, 5))  # padding=0 and bias on: torch's defaults
    report = probe(layer)
    assert report.border.startswith("valid")
    x = np.random.default_rng(9).random((15, 19)).astype(np.float32)
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, _torch_float(layer, x)[0], atol=1e-5)


def test_a_layer_of_several_channels_is_probed_one_pair_at_a_time() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(5)
    layer = torch.nn.Conv2d(3, 4, 3, padding=1)
    report = probe(layer, pair=(2, 1))
    np.testing.assert_allclose(report.kernel, layer.weight[2, 1].detach().double().numpy())
    assert "3 input channel(s) to 4 output(s)" in " ".join(report.notes)
    x = np.random.default_rng(10).random((13, 16)).astype(np.float32)
    want = _torch_float(layer, x, inputs=3, at=1)[2]
    for reproduced in _python_output(report, x):
        np.testing.assert_allclose(reproduced, want, atol=1e-5)
