"""`--like TOOL`: each preset against a callable written from its documented rule, and
against the tool itself where it is installed; `flipconv presets` lists them.

The documented rules are written out here (pad and sum from tests/reference.py,
the origin rules, the unfiltered band), not taken from flipconv.

Pillow's own arithmetic is core/engine/pillow_sums.py.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from external import require_tool
from flipconv.cli.main import cli
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from flipconv.core.peers.presets import PRESETS
from reference import reference_convolve, reference_correlate

RNG = np.random.default_rng(11)
IMAGE = RNG.random((23, 29))
IMAGE8 = RNG.integers(0, 256, (23, 29)).astype(np.uint8)
# Sums of 0.6 and 0.5, not 1: a preset that normalises and one that does not
# give different results, so `normalize` is checked (and 8-bit tools do not clip).
K3 = np.array([[1.0, 2, 4], [8, 16, 32], [64, 128, 3]]) / 430
K2 = np.array([[1.0, 2], [4, 8]]) / 25
K23 = np.array([[1.0, 2, 5], [4, 8, 3]]) / 46

#: What each preset documents, written out: (tool's operation, even origin, border, normalise)
DOCUMENTED = {
    "scipy": ("both", "down-right", "reflect", False),
    "scipy-signal": ("both", "up-left", "constant", False),
    "opencv": ("correlate", "down-right", "mirror", False),
    "torch": ("correlate", "up-left", "constant", False),
    "tensorflow": ("correlate", "up-left", "constant", False),
    "jax": ("correlate", "up-left", "constant", False),
    "pillow": ("mirrored-top-bottom", None, "unfiltered", True),
    "imagemagick": ("correlate", "up-left", "nearest", True),
    "imagemagick-morphology": ("convolve", "up-left", "nearest", False),
    "graphicsmagick": ("correlate", None, "nearest", True),
    "vips": ("correlate", "down-right", "nearest", False),
    "gmic": ("convolve", "up-left", "nearest", False),
    "netpbm": ("correlate", None, "unfiltered", False),
}


def documented(name: str, operation: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The preset's rule under ``operation``, from the table above."""
    tool, rule, mode, normalise = DOCUMENTED[name]

    def run(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        k = kernel / kernel.sum() if normalise else kernel
        if tool == "mirrored-top-bottom":  # the preset reverses the rows, as Pillow reads them
            k = k[::-1]
        h, w = k.shape
        origin = (h // 2, w // 2) if rule in (None, "down-right") else ((h - 1) // 2, (w - 1) // 2)
        ref = reference_correlate if operation == "correlate" else reference_convolve
        out = ref(image, k, origin, "constant" if mode == "unfiltered" else mode)
        if mode == "unfiltered":
            # correlation reaches origin rows before and h-1-origin after; convolution the other way
            before = origin if operation == "correlate" else (h - 1 - origin[0], w - 1 - origin[1])
            after = (h - 1 - before[0], w - 1 - before[1])
            band = np.ones(image.shape, bool)
            band[before[0] : image.shape[0] - after[0], before[1] : image.shape[1] - after[1]] = (
                False
            )
            out[band] = image[band]
        return out

    return run


def run_like(
    name: str, operation: str, kernel: np.ndarray, image: np.ndarray, tmp: Path, *extra: str
) -> tuple[Result, Path]:
    """``flipconv OPERATION --like NAME -k KERNEL EXTRA...`` on ``image`` as .npy."""
    src, dst = tmp / "in.npy", tmp / "out.npy"
    np.save(src, image)
    rows = ";".join(",".join(repr(float(v)) for v in row) for row in kernel)
    args = [operation, "--like", name, "-k", rows, *extra, str(src), "-o", str(dst)]
    return CliRunner().invoke(cli, args), dst


def like(name: str, operation: str, kernel: np.ndarray, image: np.ndarray, tmp: Path) -> np.ndarray:
    result, dst = run_like(name, operation, kernel, image, tmp, "-q")
    assert result.exit_code == 0, result.output
    return np.load(dst)


def test_the_table_is_the_registry() -> None:
    assert set(DOCUMENTED) == set(PRESETS)
    for name, (operation, rule, mode, normalise) in DOCUMENTED.items():
        c = PRESETS[name].conventions
        assert (c.operation, c.origin, c.mode, c.normalize) == (operation, rule, mode, normalise)


@pytest.mark.parametrize("operation", ["correlate", "convolve"])
@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_each_preset_follows_its_documented_rule(name: str, operation: str, tmp_path: Path) -> None:
    odd_only = DOCUMENTED[name][1] is None
    for kernel in [K3] if odd_only else [K3, K2, K23]:
        got = like(name, operation, kernel, IMAGE, tmp_path)
        np.testing.assert_allclose(got, documented(name, operation)(IMAGE, kernel), atol=1e-12)


def test_explicit_options_win_over_the_preset(tmp_path: Path) -> None:
    got = like("torch", "correlate", K2, IMAGE, tmp_path)  # constant, up-left
    result, out = run_like("torch", "correlate", K2, IMAGE, tmp_path, "--mode", "wrap")
    assert result.exit_code == 0
    wrapped = np.load(out)
    np.testing.assert_allclose(wrapped, reference_correlate(IMAGE, K2, (0, 0), "wrap"), atol=1e-12)
    assert not np.allclose(got, wrapped)


def test_the_command_keeps_the_orientation_and_says_so(tmp_path: Path) -> None:
    result, out = run_like("tensorflow", "convolve", K2, IMAGE, tmp_path)
    assert result.exit_code == 0
    stderr = result.stderr
    assert stderr.count("\n") == 1 and "tensorflow correlates; this convolves" in stderr
    np.testing.assert_allclose(
        np.load(out), reference_convolve(IMAGE, K2, (0, 0), "constant"), atol=1e-12
    )
    quiet, _ = run_like("tensorflow", "correlate", K2, IMAGE, tmp_path)
    assert quiet.stderr == ""


def test_odd_only_presets_refuse_even_kernels_and_unknown_names_are_usage_errors(
    tmp_path: Path,
) -> None:
    write_image(IMAGE8, tmp_path / "a.png")

    def run(preset: str, kernel: str) -> object:
        args = ["correlate", "--like", preset, "-k", kernel, "-q", str(tmp_path / "a.png")]
        return CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "b.png")])

    even = run("netpbm", "1,2;4,8")
    assert even.exit_code == 2 and "netpbm takes odd-sized kernels only" in even.stderr
    unknown = run("pytorhc", "box")
    assert unknown.exit_code == 2 and "no preset 'pytorhc'" in unknown.stderr
    assert run("PyTorch", "box").exit_code == 0  # an alias


def test_a_preset_that_normalises_names_itself_for_a_zero_sum_kernel(tmp_path: Path) -> None:
    laplacian = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
    refused, _ = run_like("imagemagick", "correlate", laplacian, IMAGE, tmp_path)
    assert refused.exit_code == 2
    assert "imagemagick divides the kernel by its sum" in refused.stderr
    assert "--no-normalize keeps its weights" in refused.stderr
    assert "drop --normalize" not in refused.stderr  # the user never gave it
    kept, out = run_like("imagemagick", "correlate", laplacian, IMAGE, tmp_path, "--no-normalize")
    assert kept.exit_code == 0, kept.stderr
    want = reference_correlate(IMAGE, laplacian, (1, 1), "nearest")
    np.testing.assert_allclose(np.load(out), want, atol=1e-12)


def test_presets_are_listed() -> None:
    human = CliRunner().invoke(cli, ["presets"])
    assert human.exit_code == 0
    for name in PRESETS:
        assert name in human.stdout
    doc = json.loads(CliRunner().invoke(cli, ["presets", "--json"]).stdout)
    torch = next(p for p in doc["presets"] if p["name"] == "torch")
    assert torch["arguments"] == ["--origin", "up-left", "--mode", "constant"]
    assert torch["operation"] == "correlate" and "conv2d" in torch["call"]


# ---------------------------------------------------------------- the tools themselves


def float_tools() -> dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]]:
    tools: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {}
    import scipy.ndimage as ndi
    import scipy.signal as ss

    tools["scipy correlate"] = lambda im, k: ndi.correlate(im, k)
    tools["scipy convolve"] = lambda im, k: ndi.convolve(im, k)
    tools["scipy-signal correlate"] = lambda im, k: ss.correlate2d(im, k, mode="same")
    tools["scipy-signal convolve"] = lambda im, k: ss.convolve2d(im, k, mode="same")
    return tools


def _torch(im: np.ndarray, k: np.ndarray) -> np.ndarray:
    torch = pytest.importorskip("torch")
    x, w = torch.from_numpy(im)[None, None], torch.from_numpy(k)[None, None]
    with warnings.catch_warnings():  # even kernels: "may require a zero-padded copy"
        warnings.simplefilter("ignore", UserWarning)
        return torch.nn.functional.conv2d(x, w, padding="same")[0, 0].numpy()


def _tensorflow(im: np.ndarray, k: np.ndarray) -> np.ndarray:
    tf = pytest.importorskip("tensorflow")
    return tf.nn.conv2d(im[None, :, :, None], k[:, :, None, None], 1, "SAME").numpy()[0, :, :, 0]


def _jax(im: np.ndarray, k: np.ndarray) -> np.ndarray:
    """JAX in a child process: loaded here, it warns at every later fork (and tests fork)."""
    if importlib.util.find_spec("jax") is None:
        pytest.skip("jax is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/im.npy", im)
        np.save(f"{tmp}/k.npy", k)
        code = (
            "import sys, numpy as np, jax\n"
            "im, k = np.load(sys.argv[1] + '/im.npy'), np.load(sys.argv[1] + '/k.npy')\n"
            "x = jax.numpy.asarray(im.astype(np.float32))[None, None]\n"
            "w = jax.numpy.asarray(k.astype(np.float32))[None, None]\n"
            "out = jax.lax.conv_general_dilated(x, w, (1, 1), 'SAME')\n"
            "np.save(sys.argv[1] + '/out.npy', np.asarray(out, dtype=np.float64)[0, 0])\n"
        )
        subprocess.run([sys.executable, "-c", code, tmp], check=True, capture_output=True)
        return np.load(f"{tmp}/out.npy")


def _opencv(im: np.ndarray, k: np.ndarray) -> np.ndarray:
    cv2 = pytest.importorskip("cv2")
    return cv2.filter2D(im, cv2.CV_64F, k)


@pytest.mark.parametrize(
    ("name", "operation", "tool", "tolerance"),
    [
        ("scipy", "correlate", "scipy correlate", 1e-12),
        ("scipy", "convolve", "scipy convolve", 1e-12),
        ("scipy-signal", "correlate", "scipy-signal correlate", 1e-12),
        ("scipy-signal", "convolve", "scipy-signal convolve", 1e-12),
        ("opencv", "correlate", _opencv, 1e-12),
        ("torch", "correlate", _torch, 1e-12),
        ("tensorflow", "correlate", _tensorflow, 1e-12),
        ("jax", "correlate", _jax, 1e-5),  # float32 unless JAX is told otherwise
    ],
)
def test_float_libraries_are_reproduced(name, operation, tool, tolerance, tmp_path: Path) -> None:
    run = float_tools()[tool] if isinstance(tool, str) else tool
    for kernel in (K3, K2, K23):
        expected = run(IMAGE, kernel)
        np.testing.assert_allclose(
            like(name, operation, kernel, IMAGE, tmp_path), expected, atol=tolerance
        )


@pytest.mark.parametrize("size", [3, 5])
@pytest.mark.parametrize("channels", [None, 3, 4])
def test_pillow_is_reproduced_byte_for_byte(
    size: int, channels: int | None, tmp_path: Path
) -> None:
    """The kernel as Pillow is given it; before, the rows had to be reversed by hand,
    and float64 sums rounded to nearest left 70 of 168,000 samples a level off."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(size * 10 + (channels or 1))
    image = rng.integers(0, 256, (31, 37) if channels is None else (31, 37, channels), np.uint8)
    for kernel in (
        rng.integers(-3, 10, (size, size)) * 0.37,
        np.abs(rng.integers(-3, 10, (size, size))).astype(float),
    ):
        flat = kernel.ravel().tolist()
        theirs = np.asarray(Image.fromarray(image).filter(ImageFilter.Kernel((size, size), flat)))
        write_image(image, tmp_path / "a.png")
        rows = ";".join(",".join(repr(float(v)) for v in row) for row in kernel)
        args = ["correlate", "--like", "pillow", "-k", rows, "-q", str(tmp_path / "a.png")]
        result = CliRunner().invoke(cli, [*args, "-o", str(tmp_path / "b.png")])
        assert result.exit_code == 0, result.stderr
        np.testing.assert_array_equal(read_image(tmp_path / "b.png").pixels, theirs)


COMMANDS = [
    (
        "imagemagick",
        "correlate",
        "convert",
        ["convert", "{in}", "-convolve", "{kernel}", "{out}"],
        "png",
    ),
    (
        "imagemagick-morphology",
        "convolve",
        "convert",
        ["convert", "{in}", "-morphology", "Convolve", "{w}x{h}: {kernel}", "{out}"],
        "png",
    ),
    (
        "graphicsmagick",
        "correlate",
        "gm",
        ["gm", "convert", "{in}", "-convolve", "{kernel}", "{out}"],
        "png",
    ),
    ("vips", "correlate", "vips", ["vips", "conv", "{in}", "{out}", "{kernel_mat}"], "png"),
    (
        "gmic",
        "convolve",
        "gmic",
        [
            "gmic",
            "-v",
            "-1",
            "{in}",
            "({kernel_rows})",
            "convolve[0]",
            "[1]",
            "keep[0]",
            "o",
            "{out}",
        ],
        "png",
    ),
    ("netpbm", "correlate", "pnmconvol", None, "pgm"),
]


@pytest.mark.parametrize(
    ("name", "operation", "program", "argv", "fmt"), COMMANDS, ids=[c[0] for c in COMMANDS]
)
def test_command_line_tools_are_reproduced_byte_for_byte(
    name, operation, program, argv, fmt, tmp_path: Path
) -> None:
    require_tool(program)
    kernels = [K3] if DOCUMENTED[name][1] is None else [K3, K2]
    for kernel in kernels:
        src, dst = tmp_path / f"in.{fmt}", tmp_path / f"out.{fmt}"
        write_image(IMAGE8, src, fmt="pnm" if fmt == "pgm" else fmt)
        h, w = kernel.shape
        flat = ",".join(repr(float(v)) for v in kernel.ravel())
        rows = ";".join(",".join(repr(float(v)) for v in row) for row in kernel)
        (tmp_path / "k.mat").write_text(
            f"{w} {h} 1 0\n" + "\n".join(" ".join(repr(float(v)) for v in r) for r in kernel) + "\n"
        )
        if argv is None:  # pnmconvol writes to stdout
            with dst.open("wb") as out:
                subprocess.run(
                    ["pnmconvol", f"-matrix={rows}", str(src)],
                    stdout=out,
                    check=True,
                    capture_output=False,
                    stderr=subprocess.DEVNULL,
                )
        else:
            filled = [
                a.replace("{in}", str(src))
                .replace("{out}", str(dst))
                .replace("{kernel}", flat)
                .replace("{kernel_rows}", rows)
                .replace("{kernel_mat}", str(tmp_path / "k.mat"))
                .replace("{w}", str(w))
                .replace("{h}", str(h))
                for a in argv
            ]
            subprocess.run(filled, check=True, capture_output=True)
        theirs = read_image(dst).pixels.astype(int)
        theirs = theirs[..., 0] if theirs.ndim == 3 else theirs
        ours = CliRunner().invoke(
            cli,
            [
                operation,
                "--like",
                name,
                "-k",
                rows,
                "-q",
                str(src),
                "-o",
                str(tmp_path / f"ours.{fmt}"),
            ],
        )
        assert ours.exit_code == 0, ours.output
        got = read_image(tmp_path / f"ours.{fmt}").pixels.astype(int)
        if name == "gmic":  # float32 sums, truncated: an exact 113 can come out 112
            assert np.abs(got - theirs).max() <= 1, (name, kernel.shape)
        else:  # the preset truncates as the tool does (rounding to nearest was 1 off)
            np.testing.assert_array_equal(got, theirs, err_msg=f"{name} {kernel.shape}")
