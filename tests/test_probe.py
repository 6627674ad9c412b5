"""`flipconv probe` and `flipconv.core.peers`: every verdict, fake tools, real tools.

Covers core/peers/impulses.py, core/peers/borders.py, core/peers/measuring.py,
core/peers/report.py and core/peers/tool.py.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
from click.testing import CliRunner
from external import require_tool
from flipconv.cli.main import cli
from flipconv.core import probe
from flipconv.core.kernels.kernel import Kernel
from flipconv.core.peers.probing import ProbeError
from flipconv.core.peers.runner import command_filter


def as_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def correlating(
    transform=lambda k: k,
    mode: str = "constant",
    normalise: bool = False,
    scale: float = 1.0,
    origin: tuple[int, int] = (0, 0),
):
    def run(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        k = transform(kernel) * scale
        if normalise:
            k = k / k.sum()
        return as_uint8(ndi.correlate(image.astype(float), k, mode=mode, origin=origin))

    return run


@pytest.mark.parametrize(
    ("transform", "verdict"),
    [
        (lambda k: k[::-1, ::-1], "convolution"),
        (lambda k: k, "correlation"),
        (lambda k: k[:, ::-1], "mirrored-left-right"),
        (lambda k: k[::-1, :], "mirrored-top-bottom"),
        (lambda k: k.T, "transposed"),
        (lambda k: k.T[::-1, ::-1], "transposed-convolution"),
    ],
)
def test_every_orientation_is_told_apart(transform, verdict: str) -> None:
    report = probe(correlating(transform))
    assert report.orientation == verdict
    assert report.exact and report.ties == []
    assert report.origin == [1, 1]


def test_an_unrecognisable_tool_is_unknown() -> None:
    rng = np.random.default_rng(3)
    report = probe(lambda image, kernel: rng.integers(0, 255, image.shape, dtype=np.uint8))
    assert report.orientation == "unknown" and not report.exact


@pytest.mark.parametrize(
    ("options", "verdict"),
    [
        ({}, "none: the weights are used as given"),
        ({"normalise": True}, "divided by the kernel sum"),
        ({"scale": 0.5}, "none: the weights are used as given"),
    ],
)
def test_normalisation(options: dict, verdict: str) -> None:
    assert probe(correlating(**options)).normalization == verdict


def test_a_factor_beyond_normalisation_is_reported_as_units() -> None:
    assert probe(correlating(scale=0.5)).units == "scaled by 0.5"
    assert probe(correlating()).units == "the input's"


def test_even_origin_conventions() -> None:
    scipy_like = probe(correlating(), even=True)
    assert scipy_like.even_origin == [1, 1]
    assert scipy_like.even_convention.startswith("down-right, shape//2")
    assert scipy_like.even_rule == "down-right"

    def im_like(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        # origin (shape-1)//2: scipy's origin offset -1 on even axes
        shift = tuple(-1 if s % 2 == 0 else 0 for s in kernel.shape)
        return as_uint8(ndi.convolve(image.astype(float), kernel, mode="constant", origin=shift))

    report = probe(im_like, even=True)
    assert report.orientation == "convolution"
    assert report.even_origin == [0, 0]
    assert report.even_convention.startswith("up-left, (shape-1)//2")
    assert "PyTorch" in report.even_convention and "scipy.signal" in report.even_convention


def test_a_tool_refusing_even_kernels_is_reported_not_fatal() -> None:
    def odd_only(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        if kernel.shape[0] % 2 == 0:
            raise ProbeError("kernel width must be odd")
        return as_uint8(ndi.correlate(image.astype(float), kernel, mode="constant"))

    report = probe(odd_only, even=True)
    assert report.even_origin is None and "refused" in report.even_convention


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [
        ("constant", "zero"),
        ("nearest", "nearest"),
        ("reflect", "reflect"),
        ("mirror", "mirror"),
        ("wrap", "wrap"),
    ],
)
def test_border_rules(mode: str, verdict: str) -> None:
    report = probe(correlating(mode=mode, normalise=True))
    assert report.border.startswith(verdict)
    assert report.border_candidates == [{"zero": "constant"}.get(verdict, verdict)]


def test_unfiltered_and_valid_borders() -> None:
    def unfiltered(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        out = ndi.correlate(image.astype(float), kernel, mode="constant")
        r, c = kernel.shape[0] // 2, kernel.shape[1] // 2
        keep = np.ones(image.shape, bool)
        keep[r : image.shape[0] - r, c : image.shape[1] - c] = False
        out[keep] = image[keep]
        return as_uint8(out)

    assert probe(unfiltered).border.startswith("left unfiltered")

    def valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        out = correlating()(image, kernel)
        if kernel.shape == (5, 5):  # only the border probe shows the crop
            return out[2:-2, 2:-2]
        return out

    assert probe(valid).border.startswith("valid")


@pytest.mark.parametrize(
    ("finish", "verdict"),
    [
        (as_uint8, "clipped at 0"),
        (lambda v: as_uint8(np.abs(v)), "absolute value taken"),
        (lambda v: v, "kept (negative results survive)"),
        (lambda v: np.rint(v).astype(np.int64).astype(np.uint8), "wrapped around (modulo)"),
    ],
)
def test_negative_results(finish, verdict: str) -> None:
    def tool(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return finish(ndi.correlate(image.astype(float), kernel, mode="constant"))

    report = probe(tool, "1,-2,4;-8,16,-32;64,-128,0")
    assert report.orientation == "correlation"
    assert report.negatives == verdict


def test_symmetric_kernels_report_their_ties() -> None:
    report = probe(correlating(), "box:3")
    assert report.orientation == "convolution"  # the first of several that fit
    assert "correlation" in report.ties
    assert probe(correlating()).negatives.startswith("not tested")


def test_sixteen_bit_probe() -> None:
    def tool(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        assert image.dtype == np.uint16
        k = kernel / kernel.sum()
        return np.rint(ndi.convolve(image.astype(float), k, mode="nearest")).astype(np.uint16)

    report = probe(tool, depth=16)
    assert (report.orientation, report.normalization) == (
        "convolution",
        "divided by the kernel sum",
    )
    assert report.border.startswith("nearest")


# ---------------------------------------------------------------- fake commands

FAKE = """
import sys
import numpy as np
import scipy.ndimage as ndi
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
behaviour, src, dst, kernel = sys.argv[1:5]
rows = [[float(v) for v in row.split(",")] for row in kernel.split(";")]
k = np.array(rows)
image = read_image(src).pixels.astype(float)
if behaviour == "fail":
    sys.exit("fake: cannot do that")
if behaviour == "nothing":
    sys.exit(0)
if behaviour == "garbage":
    open(dst, "wb").write(b"not an image")
    sys.exit(0)
if behaviour == "convolve-normalised":
    out = ndi.convolve(image, k / k.sum(), mode="reflect")
elif behaviour == "correlate-wrap":
    out = ndi.correlate(image, k, mode="wrap")
elif behaviour == "mirror-columns":
    out = ndi.correlate(image, k[:, ::-1], mode="nearest")
pixels = read_image(src).pixels
top = np.iinfo(pixels.dtype).max
out = np.clip(np.rint(out), 0, top).astype(pixels.dtype)
write_image(np.dstack([out] * 3), dst)  # as RGB, like many tools
"""


@pytest.fixture(scope="module")
def fake_tool(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = tmp_path_factory.mktemp("tool") / "fake_tool.py"
    path.write_text(textwrap.dedent(FAKE))
    return [sys.executable, str(path)]


def run_probe(args: list[str]) -> object:
    return CliRunner().invoke(cli, ["probe", *args])


@pytest.mark.parametrize(
    ("behaviour", "orientation", "normalisation", "border"),
    [
        ("convolve-normalised", "convolution", "divided by the kernel sum", "reflect"),
        ("correlate-wrap", "correlation", "none", "wrap"),
        ("mirror-columns", "mirrored-left-right", "none", "nearest"),
    ],
)
def test_fake_commands(
    fake_tool: list[str], behaviour: str, orientation: str, normalisation: str, border: str
) -> None:
    result = run_probe(["--json", "--", *fake_tool, behaviour, "{in}", "{out}", "{kernel_rows}"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["orientation"] == orientation and doc["exact"]
    assert doc["normalization"].startswith(normalisation)
    assert doc["border"].startswith(border)
    assert doc["command"][-3:] == ["{in}", "{out}", "{kernel_rows}"]
    human = run_probe(["--", *fake_tool, behaviour, "{in}", "{out}", "{kernel_rows}"])
    assert human.exit_code == 0
    assert orientation in human.stdout and "response to one pixel" in human.stdout


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("fail", "exited with status 1: fake: cannot do that"),
        ("nothing", "wrote nothing to {out}"),
        ("garbage", "cannot read what the command wrote"),
    ],
)
def test_failing_commands_exit_1_with_one_line(
    fake_tool: list[str], behaviour: str, message: str
) -> None:
    result = run_probe(["--", *fake_tool, behaviour, "{in}", "{out}", "{kernel_rows}"])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""


def test_command_errors() -> None:
    assert "command not found" in run_probe(["--", "no-such-tool-here", "{in}", "{out}"]).stderr
    no_out = run_probe(["--", "cp", "{in}", "x.png"])
    assert no_out.exit_code == 2 and "must write {out}" in no_out.stderr
    slow = run_probe(
        ["--timeout", "0.2", "--", sys.executable, "-c", "import time; time.sleep(5)", "{out}"]
    )
    assert slow.exit_code == 1 and "longer than 0.2 s" in slow.stderr


def test_sixteen_bit_probe_through_a_command(fake_tool: list[str]) -> None:
    result = run_probe(
        [
            "--depth",
            "16",
            "-f",
            "tiff",
            "--json",
            "--",
            *fake_tool,
            "convolve-normalised",
            "{in}",
            "{out}",
            "{kernel_rows}",
        ]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["orientation"], doc["exact"]) == ("convolution", True)
    assert doc["normalization"] == "divided by the kernel sum"
    # an impulse whose response peaks well clear of the rounding (16 of 255 levels)
    assert doc["impulse_value"] * 128 / 255 >= 16 * 257


def test_shell_mode_and_formats(fake_tool: list[str]) -> None:
    line = " ".join(fake_tool) + ' correlate-wrap {in} {out} "{kernel_rows}"'
    for fmt in ("png", "pgm", "tiff", "npy"):
        result = run_probe(["--shell", "-f", fmt, "--json", "--", line])
        assert result.exit_code == 0, (fmt, result.output)
        assert json.loads(result.stdout)["orientation"] == "correlation"


def test_placeholders_are_filled(tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    script = (
        "import sys, shutil; open(sys.argv[1], 'w').write(' '.join(sys.argv[2:]) + '\\n' "
        "+ open(sys.argv[4]).read() + open(sys.argv[5]).read()); shutil.copy(sys.argv[6], "
        "sys.argv[7])"
    )
    func = command_filter(
        [
            sys.executable,
            "-c",
            script,
            str(seen),
            "{kernel}",
            "{kernel_rows}",
            "{kernel_txt}",
            "{kernel_mat}",
            "{in}",
            "{out}",
            "{w}",
            "{h}",
        ]
    )
    func(np.zeros((7, 7), np.uint8), np.array([[1.0, 2.5, 4.0], [8.0, 16.0, 32.0]]))
    text = seen.read_text().splitlines()
    assert text[0].split()[:2] == ["1,2.5,4,8,16,32", "1,2.5,4;8,16,32"]
    assert text[0].split()[-2:] == ["3", "2"]
    assert text[1:] == ["1 2.5 4", "8 16 32", "3 2 1 0", "1 2.5 4", "8 16 32"]


# ---------------------------------------------------------------- real tools

REAL = [
    (
        "convert",
        ["convert", "{in}", "-convolve", "{kernel}", "{out}"],
        "correlation",
        "divided by the kernel sum",
        None,
    ),
    (
        "convert",
        ["convert", "{in}", "-morphology", "Convolve", "{w}x{h}: {kernel}", "{out}"],
        "convolution",
        "none",
        [0, 0],
    ),
    (
        "convert",
        ["convert", "{in}", "-morphology", "Correlate", "{w}x{h}: {kernel}", "{out}"],
        "correlation",
        "none",
        [0, 0],
    ),
    (
        "gm",
        ["gm", "convert", "{in}", "-convolve", "{kernel}", "{out}"],
        "correlation",
        "divided by the kernel sum",
        None,
    ),
    ("vips", ["vips", "conv", "{in}", "{out}", "{kernel_mat}"], "correlation", "none", [1, 1]),
]


@pytest.mark.parametrize(
    ("tool", "argv", "orientation", "normalisation", "even"),
    REAL,
    ids=[" ".join(r[1][:3]) for r in REAL],
)
def test_real_tools(
    tool: str, argv: list[str], orientation: str, normalisation: str, even: list[int] | None
) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    if (
        tool == "convert"
        and "ImageMagick"
        not in __import__("subprocess")
        .run(["convert", "-version"], capture_output=True, text=True)
        .stdout
    ):
        pytest.skip("convert is not ImageMagick's")
    result = run_probe(["--json", *(["--even"] if even else []), "--", *argv])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["orientation"], doc["exact"]) == (orientation, True)
    assert doc["normalization"].startswith(normalisation)
    if even:
        assert doc["even_origin"] == even


def test_real_netpbm() -> None:
    if shutil.which("pnmconvol") is None:
        pytest.skip("netpbm is not installed")
    result = run_probe(
        ["--json", "--shell", "-f", "pgm", "--", 'pnmconvol -matrix="{kernel_rows}" {in} > {out}']
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["orientation"], doc["exact"]) == ("correlation", True)
    assert doc["border"].startswith("left unfiltered")


def test_the_command_runs_where_the_user_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a wrapper script given by a relative path, as a user types it
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "wrap.py").write_text(
        "import sys\n"
        "from flipconv.core import correlate, read_image, write_image\n"
        "import numpy as np\n"
        "src, dst, k = sys.argv[1:4]\n"
        "img = read_image(src).pixels.astype(float)\n"
        "out = correlate(img, np.loadtxt(k, ndmin=2), mode='nearest')\n"
        "write_image(np.clip(np.rint(out), 0, 255).astype(np.uint8), dst, fmt='png')\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli,
        ["probe", "--json", "--", sys.executable, "tools/wrap.py", "{in}", "{out}", "{kernel_txt}"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["orientation"] == "correlation"


# ---------------------------------------------------------------- units, anchors, odd tools


def test_float_outputs_in_unit_range_are_units_not_normalisation() -> None:
    def unit(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return ndi.correlate(image / 255.0, kernel, mode="constant")

    report = probe(unit)
    assert report.normalization == "none: the weights are used as given"
    assert report.units.startswith("0..1: the input's divided by 255")
    assert report.border.startswith("zero")
    assert report.reproduction.arguments == [
        "correlate",
        "-k",
        "1,2,4;8,16,32;64,128,0",
        "--mode",
        "constant",
        "--dtype",
        "float64",
    ]
    assert report.reproduction.max_difference < 1e-12

    def unit16(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return ndi.correlate(image / 65535.0, kernel / kernel.sum(), mode="nearest")

    sixteen = probe(unit16, depth=16)
    assert sixteen.normalization == "divided by the kernel sum"
    assert sixteen.units.startswith("0..1: the input's divided by 65535")


def test_a_non_centred_anchor_keeps_the_border_verdict() -> None:
    cv2 = pytest.importorskip("cv2")

    def anchored(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return cv2.filter2D(image.astype(np.float64), cv2.CV_64F, kernel, anchor=(0, 0))

    report = probe(anchored)
    assert report.origin == [0, 0]
    assert report.border.startswith("mirror")  # OpenCV's default, BORDER_REFLECT_101
    assert report.reproduction.arguments[3:5] == ["--origin", "0,0"]
    assert report.reproduction.max_difference < 1e-9


def test_a_tool_raising_on_even_kernels_is_reported_through_the_api() -> None:
    image_filter = pytest.importorskip("PIL.ImageFilter")
    from PIL import Image

    def pillow(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        k = image_filter.Kernel(kernel.shape[::-1], kernel.ravel().tolist())
        return np.asarray(Image.fromarray(image).filter(k))

    report = probe(pillow, even=True)
    assert report.even_origin is None
    assert report.even_convention.startswith("refused: the tool raised ValueError")
    # Pillow reverses the kernel's rows, divides by the sum and leaves the border alone
    assert report.orientation == "mirrored-top-bottom" and report.exact
    assert report.normalization == "divided by the kernel sum"
    assert report.border.startswith("left unfiltered")
    assert any("mirrored or transposed" in u for u in report.reproduction.unmatched)


def test_row_only_tools_get_a_border_verdict() -> None:
    def rows(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        assert kernel.shape[0] == 1
        return np.stack([np.convolve(r.astype(float), kernel[0], mode="same") for r in image])

    report = probe(rows, "1,2,4", even=True)
    assert report.orientation == "convolution"
    assert report.border.startswith("zero")
    assert report.even_rule == "up-left"  # np.convolve's 'same' centres like scipy.signal
    assert report.reproduction.max_difference < 1e-9


def test_a_tool_that_ignores_the_kernel_is_told_and_its_own_kernel_measured() -> None:
    report = probe(lambda image, kernel: ndi.gaussian_filter(image.astype(float), 1.0))
    assert not report.uses_kernel and report.kernel_source == "measured"
    assert any("does not use the kernel it is given" in n for n in report.notes)
    # the measured kernel is the Gaussian's impulse response (9x9 before 8-bit rounding)
    impulse = np.zeros((9, 9))
    impulse[4, 4] = 1.0
    want = ndi.gaussian_filter(impulse, 1.0)
    got = np.array(report.kernel)
    assert got.shape == (9, 9) and report.origin == [4, 4]
    np.testing.assert_allclose(got, want, atol=1e-12)  # a float output: exact
    assert report.reproduction is not None and report.reproduction.max_difference < 1e-9


def test_functions_of_the_image_alone_are_measured_or_checked() -> None:
    k = np.array([[1.0, 2, 4], [8, 16, 32], [64, 128, 0]])

    def fixed(image: np.ndarray) -> np.ndarray:
        return ndi.convolve(image.astype(float), k, mode="nearest")

    measured = probe(fixed)  # its kernel, as correlate uses it: rotated
    assert measured.kernel_source == "measured" and measured.orientation == "correlation"
    assert measured.kernel == k[::-1, ::-1].tolist() and measured.origin == [1, 1]
    assert "-k '0,128,64;32,16,8;4,2,1'" in measured.reproduction.command
    assert measured.reproduction.max_difference < 1e-9
    given = probe(fixed, "1,2,4;8,16,32;64,128,0")
    assert given.orientation == "convolution" and given.border.startswith("nearest")
    assert given.kernel_source == "the tool's own, as given"
    assert given.reproduction.max_difference < 1e-9
    wrong = probe(fixed, "1,0,0;0,1,0;0,0,1")  # not its kernel in any orientation
    assert wrong.kernel_source == "measured" and wrong.kernel == k[::-1, ::-1].tolist()
    assert any("is not 1,0,0;0,1,0;0,0,1 as written" in n for n in wrong.notes)


def test_a_fixed_weight_layer_stand_in_is_reported_with_its_weights() -> None:
    # "what does my trained layer compute?": float32 weights, a float output in
    # the input's units (as a torch Conv2d fed 0..255 gives), zero padding
    weights = np.array([[0.5, -1.25, 2.0], [0.0, 3.0, -0.75], [1.5, 0.25, -2.0]], np.float32)

    def layer(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return ndi.correlate(image.astype(np.float32), weights, mode="constant")

    report = probe(layer)
    assert report.kernel == weights.astype(float).tolist() and report.origin == [1, 1]
    assert report.orientation == "correlation" and report.border.startswith("zero")
    command = report.reproduction.command
    assert "-k '0.5,-1.25,2;0,3,-0.75;1.5,0.25,-2'" in command
    assert "--scale 255 --dtype float64" in command  # flipconv's floats are 0..1
    assert report.reproduction.max_difference < 1e-3  # float32 sums
    text = str(report)
    assert text.splitlines()[0].startswith("orientation    correlation: the tool ignores")
    assert (
        "   0.5 -1.25     2" in text and "flipconv       8-bit images  flipconv correlate" in text
    )
    # a layer whose output is 0..1: its measured weights carry the 1/255
    unit = probe(lambda image, kernel: layer(image, kernel) / 255)
    np.testing.assert_allclose(unit.kernel, weights / 255, rtol=1e-6)
    assert unit.reproduction.max_difference < 1e-5


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_tool_writing_non_finite_values_is_stopped(bad: float) -> None:
    def broken(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        out = ndi.correlate(image.astype(float), kernel)
        out[3, 4] = bad
        return out

    with pytest.raises(ProbeError, match="the tool's output is not finite"):
        probe(broken)


def test_a_torch_module_is_probed_with_its_own_weights() -> None:
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(1, 1, 3, padding="same", bias=False, dtype=torch.float64)
    with torch.no_grad():
        conv.weight[0, 0] = torch.tensor([[1.0, 2, 4], [8, 16, 32], [64, 128, 0.5]])
    report = probe(conv)
    assert report.orientation == "correlation" and report.border.startswith("zero")
    assert report.reproduction.max_difference < 1e-9


def test_a_keras_layer_is_probed_with_its_own_weights() -> None:
    tf = pytest.importorskip("tensorflow")
    layer = tf.keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    layer.build((None, 11, 11, 1))
    layer.set_weights([np.array([[1.0, 2, 4], [8, 16, 32], [64, 128, 0.5]])[:, :, None, None]])
    report = probe(layer)
    assert report.orientation == "correlation" and report.border.startswith("zero")
    assert report.reproduction.max_difference < 1e-3  # Keras computes in float32


def test_clipped_negatives_still_mark_the_impulse(fake_tool: list[str]) -> None:
    def clipping(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return as_uint8(ndi.correlate(image.astype(float), kernel, mode="nearest"))

    report = probe(clipping, "sobel-x")
    assert report.impulse_at == [5, 5] and report.response[5][5] == 0
    human = run_probe(
        ["-k", "sobel-x", "--", *fake_tool, "correlate-wrap", "{in}", "{out}", "{kernel_rows}"]
    )
    assert "[0]" in human.stdout and "boxed: where it was" in human.stdout


def test_commands_without_a_kernel_placeholder_measure_or_check_their_kernel(
    fake_tool: list[str],
) -> None:
    tool = [*fake_tool, "correlate-wrap", "{in}", "{out}", "1,2;3,4"]
    doc = json.loads(run_probe(["--json", "--", *tool]).stdout)
    assert "no kernel placeholder" in doc["notes"][0] and "measured" in doc["notes"][0]
    assert doc["kernel_source"] == "measured" and doc["kernel"] == [[1, 2], [3, 4]]
    assert doc["origin"] == [1, 1] and doc["border"].startswith("wrap")
    assert doc["reproduction"]["max_difference"] == 0
    assert "-k 1,2;3,4" in doc["reproduction"]["command"].replace("'", "")
    # -k states the kernel it holds: as written it correlates, rotated it convolves
    written = json.loads(run_probe(["--json", "-k", "1,2;3,4", "--", *tool]).stdout)
    assert written["orientation"] == "correlation" and written["exact"]
    rotated = run_probe(["-k", "4,3;2,1", "--", *tool])  # the human report, this time
    assert "convolution" in rotated.stdout and "kernel: the tool's own, as given" in rotated.stdout


def test_the_reproduction_is_printed_and_checked(fake_tool: list[str]) -> None:
    result = run_probe(
        [
            "--json",
            "--even",
            "--",
            *fake_tool,
            "convolve-normalised",
            "{in}",
            "{out}",
            "{kernel_rows}",
        ]
    )
    doc = json.loads(result.stdout)
    rep = doc["reproduction"]
    assert rep["arguments"] == ["convolve", "-k", "1,2,4;8,16,32;64,128,0", "--normalize"]
    assert rep["max_difference"] <= 1 and rep["unmatched"] == []
    human = run_probe(["--", *fake_tool, "convolve-normalised", "{in}", "{out}", "{kernel_rows}"])
    assert "flipconv convolve -k '1,2,4;8,16,32;64,128,0' --normalize" in human.stdout
    assert "largest difference" in human.stdout
    mirrored = run_probe(["--", *fake_tool, "mirror-columns", "{in}", "{out}", "{kernel_rows}"])
    assert "no equivalent" in mirrored.stdout


@pytest.mark.parametrize(
    ("function", "verdict", "even"),
    [("correlate2d", "correlation", "down-right"), ("convolve2d", "convolution", "up-left")],
)
def test_tools_that_return_only_the_valid_part_are_probed(
    function: str, verdict: str, even: str
) -> None:
    import scipy.signal as ss

    def valid(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        return getattr(ss, function)(image.astype(float), kernel, mode="valid")

    report = probe(valid, even=True)
    assert report.orientation == verdict and report.exact
    # a valid output, put back where a centred kernel's results belong (shifted by
    # shape // 2): correlate2d's window then ends on the output pixel (down-right),
    # convolve2d's reversed window starts there (up-left)
    assert report.even_rule == even
    assert report.border.startswith("valid")
    rep = report.reproduction
    assert rep.compared.startswith("the valid part") and rep.max_difference < 1e-9
    assert any("crops its output" in u for u in rep.unmatched)


#: Tools holding the kernel 1..9 in their own command line, and the kernel as
#: correlate uses it: vips and pnmconvol correlate, G'MIC and ImageMagick's
#: morphology convolve (the numbers come back rotated).
HOLDING = [
    ("vips", ["vips", "conv", "{in}", "{out}", "k.mat"], "png", "1,2,3;4,5,6;7,8,9"),
    ("pnmconvol", ["sh", "-c", "pnmconvol -matrix='1,2,3;4,5,6;7,8,9' {in} > {out}"], "pgm",
     "1,2,3;4,5,6;7,8,9"),
    ("gmic", ["gmic", "{in}", "(1,2,3;4,5,6;7,8,9)", "convolve[0]", "[1]", "keep[0]", "o",
              "{out}"], "png", "9,8,7;6,5,4;3,2,1"),
    ("convert", ["convert", "{in}", "-morphology", "Convolve", "3x3: 1,2,3 4,5,6 7,8,9",
                 "{out}"], "png", "9,8,7;6,5,4;3,2,1"),
]  # fmt: skip


@pytest.mark.parametrize(("program", "argv", "fmt", "kernel"), HOLDING, ids=[h[0] for h in HOLDING])
def test_real_tools_holding_their_own_kernel(
    program: str, argv: list[str], fmt: str, kernel: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    require_tool(program)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k.mat").write_text("3 3 1 0\n1 2 3\n4 5 6\n7 8 9\n")
    measured = json.loads(run_probe(["--json", "-f", fmt, "--", *argv]).stdout)
    assert measured["kernel_source"] == "measured"
    assert measured["kernel"] == [[float(v) for v in r.split(",")] for r in kernel.split(";")]
    assert measured["reproduction"]["max_difference"] <= 1
    # told the numbers as written, the verdict names the orientation
    given = json.loads(
        run_probe(["--json", "-f", fmt, "-k", "1,2,3;4,5,6;7,8,9", "--", *argv]).stdout
    )
    want = "correlation" if kernel.startswith("1,") else "convolution"
    assert given["orientation"] == want and given["exact"]


@pytest.mark.parametrize(("mode", "verdict"), [("constant", "zero"), ("mirror", "mirror")])
def test_a_fixed_signed_kernel_on_an_8_bit_tool_gets_its_border(mode: str, verdict: str) -> None:
    # the tool clips its negative results to 0: the border test must model that
    # (it was "unknown (closest: zero, off by 128)")
    weights = np.array([[0.5, -1.25, 2.0], [0.0, 3.0, -0.75], [1.5, 0.25, -2.0]]) / 4

    def tool(image: np.ndarray) -> np.ndarray:
        out = ndi.correlate(image.astype(float), weights, mode=mode)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    report = probe(tool, Kernel(weights, (1, 1)))
    assert report.border.startswith(verdict) and report.negatives == "clipped at 0"
    assert report.reproduction is not None and report.reproduction.max_difference == 0
