"""Several kernels: chains (-k A -k B), --combine, named magnitudes, the unfiltered border,
and the notes about clipping and float scales.

Every expected number comes from tests/reference.py (pad and sum, no flipconv
or scipy) applied step by step, so a chain is checked against an independent
float64 computation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core import convolve, correlate, filter_image
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import write_image
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from reference import reference_convolve, reference_correlate

SOBEL_X = np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]])
PREWITT_X = np.array([[-1.0, 0, 1], [-1, 0, 1], [-1, 0, 1]])
SCHARR_X = np.array([[-3.0, 0, 3], [-10, 0, 10], [-3, 0, 3]])
MODES = ["reflect", "constant", "nearest", "mirror", "wrap"]


def centre(k: np.ndarray) -> tuple[int, int]:
    return (k.shape[0] // 2, k.shape[1] // 2)


kernels = arrays(
    np.float64,
    st.tuples(st.integers(1, 4), st.integers(1, 4)),
    elements=st.integers(-8, 8).map(float),
)
images = arrays(
    np.float64,
    st.tuples(st.integers(5, 12), st.integers(5, 12)),
    elements=st.floats(-100, 100, allow_nan=False),
)


@settings(max_examples=60, deadline=None)
@given(
    image=images,
    chain=st.lists(kernels, min_size=2, max_size=3),
    mode=st.sampled_from(MODES),
    op=st.sampled_from(["correlate", "convolve"]),
)
def test_a_chain_equals_its_steps_in_float64(image, chain, mode, op) -> None:
    ref = reference_correlate if op == "correlate" else reference_convolve
    expected = image
    for k in chain:
        expected = ref(expected, k, centre(k), mode)
    run = correlate if op == "correlate" else convolve
    got = run(image, chain, mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


@settings(max_examples=60, deadline=None)
@given(
    image=images,
    members=st.lists(kernels, min_size=2, max_size=3),
    combine=st.sampled_from(["magnitude", "sum", "max", "min"]),
    mode=st.sampled_from(MODES),
)
def test_combined_kernels_equal_the_per_pixel_rule(image, members, combine, mode) -> None:
    each = np.stack([reference_correlate(image, k, centre(k), mode) for k in members])
    expected = {
        "magnitude": lambda r: np.sqrt((r**2).sum(axis=0)),
        "sum": lambda r: r.sum(axis=0),
        "max": lambda r: r.max(axis=0),
        "min": lambda r: r.min(axis=0),
    }[combine](each)
    got = correlate(image, members, combine=combine, mode=mode)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9 * (1 + np.abs(expected).max()))


@pytest.mark.parametrize(
    ("name", "x"), [("sobel", SOBEL_X), ("prewitt", PREWITT_X), ("scharr", SCHARR_X)]
)
def test_named_magnitudes_are_the_gradient_magnitude(name: str, x: np.ndarray) -> None:
    image = np.random.default_rng(1).integers(0, 256, (14, 17)).astype(np.float64)
    expected = np.hypot(
        reference_correlate(image, x, (1, 1)), reference_correlate(image, x.T, (1, 1))
    )
    np.testing.assert_allclose(correlate(image, name), expected, rtol=1e-12, atol=1e-9)
    # a magnitude does not care which way the kernels turn
    np.testing.assert_allclose(convolve(image, name), expected, rtol=1e-12, atol=1e-9)


def test_a_chain_may_hold_a_named_magnitude() -> None:
    image = np.random.default_rng(2).random((12, 15)) * 255
    box = np.full((3, 3), 1 / 9)
    blurred = reference_correlate(image, box, (1, 1))
    expected = np.hypot(
        reference_correlate(blurred, SOBEL_X, (1, 1)),
        reference_correlate(blurred, SOBEL_X.T, (1, 1)),
    )
    np.testing.assert_allclose(
        correlate(image, ["box:3", "sobel"]), expected, rtol=1e-12, atol=1e-9
    )


def test_chains_round_once_at_the_end() -> None:
    # 3 * 0.5 * 3 = 4.5 rounds to 4 (ties to even); rounding after the first step
    # would give 1.5 -> 2, then 6
    image = np.full((4, 4), 3, np.uint8)
    half, triple = [[0.5]], [[3.0]]
    out = filter_image(image, [half, triple], operation="correlate")
    assert out.dtype == np.uint8 and (out == 4).all()
    step = filter_image(image, half, operation="correlate")
    assert (filter_image(step, triple, operation="correlate") == 6).all()


def test_the_cli_takes_repeated_kernels_and_combine(tmp_path: Path, samples: Path) -> None:
    runner = CliRunner()
    src = samples / "scene.png"
    pixels = read_image(src).pixels.astype(np.float64)
    mag = tmp_path / "mag.png"
    result = runner.invoke(
        cli,
        [
            "correlate",
            "-k",
            "sobel-x",
            "-k",
            "sobel-y",
            "--combine",
            "magnitude",
            "-q",
            str(src),
            "-o",
            str(mag),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = np.stack(
        [
            np.hypot(
                reference_correlate(pixels[..., c], SOBEL_X, (1, 1)),
                reference_correlate(pixels[..., c], SOBEL_X.T, (1, 1)),
            )
            for c in range(3)
        ],
        -1,
    )
    got = read_image(mag).pixels.astype(np.float64)
    assert np.abs(got - np.clip(np.rint(expected), 0, 255)).max() <= 1
    # the first -k is not dropped: a chain differs from its last kernel alone
    chain, last = tmp_path / "chain.png", tmp_path / "last.png"
    assert (
        runner.invoke(
            cli, ["correlate", "-k", "box:5", "-k", "sobel-x", "-q", str(src), "-o", str(chain)]
        ).exit_code
        == 0
    )
    assert (
        runner.invoke(
            cli, ["correlate", "-k", "sobel-x", "-q", str(src), "-o", str(last)]
        ).exit_code
        == 0
    )
    assert chain.read_bytes() != last.read_bytes()
    lonely = runner.invoke(
        cli, ["correlate", "-k", "sobel-x", "--combine", "max", str(src), "-o", str(last)]
    )
    assert lonely.exit_code == 2 and "two -k or more" in lonely.stderr


def test_chains_in_tiles_equal_chains_in_memory(tmp_path: Path) -> None:
    pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    image = rng.integers(0, 65536, (70, 90)).astype(np.uint16)
    src = tmp_path / "in.tif"
    write_image(image, src)
    runner = CliRunner()
    for mode in ("reflect", "constant", "wrap"):
        args = ["correlate", "-k", "motion:5,30", "-k", "sobel", "--mode", mode, "-q", str(src)]
        whole, tiled = tmp_path / f"w-{mode}.tif", tmp_path / f"t-{mode}.tif"
        assert runner.invoke(cli, [*args, "-o", str(whole)]).exit_code == 0
        result = runner.invoke(
            cli, [*args, "--chunk", "16", "--scheduler", "synchronous", "-o", str(tiled)]
        )
        assert result.exit_code == 0, result.output
        np.testing.assert_array_equal(read_image(tiled).pixels, read_image(whole).pixels)


def test_unfiltered_keeps_the_input_where_the_kernel_leaves_the_image() -> None:
    image = np.random.default_rng(3).random((9, 11))
    k = np.arange(1.0, 16.0).reshape(3, 5)
    out = correlate(image, k, mode="unfiltered", anchor=(0, 1))
    inner = reference_correlate(image, k, (0, 1), "constant")
    # correlation with origin (0, 1) reaches 0 rows up, 2 down, 1 column left, 3 right
    keep = np.zeros(image.shape, bool)
    keep[-2:, :], keep[:, :1], keep[:, -3:] = True, True, True
    np.testing.assert_array_equal(out[keep], image[keep])
    np.testing.assert_allclose(out[~keep], inner[~keep], rtol=1e-12)
    with pytest.raises(Exception, match="not available in tiles"):
        da = pytest.importorskip("dask.array")
        correlate(da.from_array(image, chunks=4), k, mode="unfiltered").compute()


# ---------------------------------------------------------------- notes


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flipconv.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_clipping_is_noted_past_one_percent_and_only_then(tmp_path: Path) -> None:
    image = np.full((20, 20), 100, np.uint8)
    image[:, :10] = 0
    src = tmp_path / "in.png"
    write_image(image, src)
    # a step edge: sobel-x is +400 on 2 of 20 columns (10%), 0 elsewhere
    loud = run(["correlate", "-k", "sobel-x", str(src), "-o", "a.png"], tmp_path)
    assert loud.returncode == 0
    assert "40 of 400 samples were clipped (10.0% above 255)" in loud.stderr
    assert "--scale below 1 or --out-range rescale" in loud.stderr
    quiet = run(["correlate", "-k", "sobel-x", "-q", str(src), "-o", "b.png"], tmp_path)
    assert quiet.returncode == 0 and quiet.stderr == ""
    # doubling: 4 of 400 samples over 255 (1%) is not more than 1%, 5 are
    image[:, :] = 100
    image.flat[:4] = 200
    write_image(image, src)
    calm = run(["convolve", "-k", "2", str(src), "-o", "c.png"], tmp_path)
    assert calm.returncode == 0 and calm.stderr == ""
    image.flat[4] = 200
    write_image(image, src)
    noted = run(["convolve", "-k", "2", str(src), "-o", "c.png"], tmp_path)
    assert "5 of 400 samples were clipped (1.2% above 255)" in noted.stderr
    # the int16 path (8-bit, integer kernel) counts as the float path does
    # a kernel summing to more than 1 is told about --normalize
    box = run(["correlate", "-k", "1,1;1,1", str(src), "-o", "d.png"], tmp_path)
    assert "--normalize divides by the kernel's sum (4)" in box.stderr


def test_the_readme_clipping_example_is_noted(samples: Path, tmp_path: Path) -> None:
    done = run(
        [
            "convolve",
            "-k",
            "1,2;4,8",
            "--origin",
            "0,0",
            "--mode",
            "wrap",
            str(samples / "gray16.tif"),
            "-o",
            "g.tif",
        ],
        tmp_path,
    )
    assert done.returncode == 0
    assert "100.0% above 65535" in done.stderr and "--normalize" in done.stderr


def test_genuine_float_results_above_one_get_no_input_scale_advice(tmp_path: Path) -> None:
    # the npy recipe's last step: signed Sobel gradients of a 0..1 image, up to about 1.7
    rng = np.random.default_rng(8)
    image = rng.random((40, 40)).astype(np.float32)
    gradient = reference_correlate(
        image.astype(np.float64),
        np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
        (1, 1),
        "reflect",
    )
    np.save(tmp_path / "g.npy", gradient.astype(np.float32))
    assert float(np.abs(gradient).max()) > 1.0
    done = run(
        [
            "convolve",
            "-k",
            "identity",
            "--out-range",
            "abs",
            "--dtype",
            "uint16",
            "g.npy",
            "-o",
            "g.png",
        ],
        tmp_path,
    )
    assert done.returncode == 0
    assert "--input-scale" not in done.stderr and "above 1.0" not in done.stderr
    # what does clip is counted and said, as for any other result
    share = float((np.abs(gradient) > 1.0).mean())
    if share > 0.01:
        assert "above 65535" in done.stderr
    want = np.clip(np.rint(np.abs(gradient) * 65535), 0, 65535)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png").pixels, want)


def test_float_inputs_above_one_are_noted_and_input_scale_fixes_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (16, 16)).astype(np.float32)  # a float TIFF holding 0..255
    src = tmp_path / "in.tif"
    write_image(image, src)
    white = run(["convolve", "-k", "box:3", "--dtype", "uint8", str(src), "-o", "a.png"], tmp_path)
    assert white.returncode == 0
    assert "above 1.0" in white.stderr and "--input-scale 255" in white.stderr
    assert "clipped" not in white.stderr  # the cause is said once
    fixed = run(
        [
            "convolve",
            "-k",
            "box:3",
            "--dtype",
            "uint8",
            "--input-scale",
            "255",
            str(src),
            "-o",
            "b.png",
        ],
        tmp_path,
    )
    assert fixed.returncode == 0 and fixed.stderr == ""
    expected = np.clip(
        np.rint(reference_convolve(image.astype(np.float64), np.full((3, 3), 1 / 9), (1, 1))),
        0,
        255,
    )
    got = read_image(tmp_path / "b.png").pixels
    assert np.abs(got.astype(float) - expected).max() <= 1
    # float in 0..1: nothing to say
    unit = tmp_path / "unit.tif"
    write_image((image / 255).astype(np.float32), unit)
    calm = run(["convolve", "-k", "box:3", "--dtype", "uint8", str(unit), "-o", "c.png"], tmp_path)
    assert calm.returncode == 0 and calm.stderr == ""
    bad = run(
        ["convolve", "-k", "box:3", "--input-scale", "255", str(tmp_path / "a.png"), "-o", "d.png"],
        tmp_path,
    )
    assert bad.returncode != 0 and "--input-scale is for float images" in bad.stderr


def test_bias_128_centres_a_zero_sum_kernel_and_emboss_keeps_brightness(
    samples: Path, tmp_path: Path
) -> None:
    src = samples / "scene.png"
    mean = read_image(src).pixels.astype(float).mean()
    run(
        ["correlate", "-k", "sobel-x", "--bias", "128", "-q", str(src), "-o", "edges.png"], tmp_path
    )
    run(["correlate", "-k", "emboss", "-q", str(src), "-o", "relief.png"], tmp_path)
    edges = read_image(tmp_path / "edges.png").pixels.astype(float)
    relief = read_image(tmp_path / "relief.png").pixels.astype(float)
    assert abs(np.median(edges) - 128) <= 2  # flat areas sit at 128
    assert abs(relief.mean() - mean) < 0.1 * mean  # emboss sums to 1: no bias needed


def test_json_reports_carry_the_notes(samples: Path, tmp_path: Path) -> None:
    done = run(
        ["correlate", "-k", "sobel-x", "--json", str(samples / "scene.png"), "-o", "x.png"],
        tmp_path,
    )
    doc = json.loads(done.stdout)
    assert any("clipped" in n for n in doc["notes"])


# ---------------------------------------------------------------- verify, explain, batches


def test_verify_and_explain_take_stacks() -> None:
    runner = CliRunner()
    doc = json.loads(runner.invoke(cli, ["verify", "-k", "sobel", "--json"]).stdout)
    (row,) = doc["results"]
    assert (row["symmetry"], row["expected"], row["measured"], row["ok"]) == (
        "symmetric",
        "agree",
        "agree",
        True,
    )
    chain = json.loads(
        runner.invoke(cli, ["verify", "-k", "box:3", "-k", "sobel-x", "--chain", "--json"]).stdout
    )
    assert chain["results"][0]["measured"] == "negated" and chain["ok"]
    mixed = json.loads(
        runner.invoke(
            cli, ["verify", "-k", "sobel-x", "-k", "emboss", "--combine", "max", "--json"]
        ).stdout
    )
    assert mixed["results"][0]["measured"] == "differ" and mixed["ok"]
    lone = runner.invoke(cli, ["verify", "-k", "sobel-x", "--chain"])
    assert lone.exit_code == 2 and "two -k or more" in lone.stderr
    picture = runner.invoke(cli, ["verify", "-k", "sobel", "--picture", "p.png"])
    assert picture.exit_code != 0 and "draws single kernels" in picture.stderr
    explained = json.loads(runner.invoke(cli, ["explain", "-k", "sobel", "--json"]).stdout)
    assert explained["combine"] == "magnitude" and explained["prediction"] == "agree"
    assert [m["spec"] for m in explained["members"]] == ["sobel-x", "sobel-y"]
    text = runner.invoke(cli, ["explain", "-k", "gaussian:1", "-k", "sobel-x"]).stdout
    assert "antisymmetric as a whole" in text and "applies them in turn" in text


def test_a_batch_with_a_chain_equals_single_runs(samples: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    names = [samples / "scene.png", samples / "glyph.png"]
    args = ["correlate", "-k", "gaussian:1", "-k", "sobel", "-q"]
    done = runner.invoke(
        cli, [*args, *map(str, names), "-o", f"{tmp_path}/batch/", "--mkdir", "-j", "2"]
    )
    assert done.exit_code == 0, done.output
    for name in names:
        single = tmp_path / f"one-{name.name}"
        assert runner.invoke(cli, [*args, str(name), "-o", str(single)]).exit_code == 0
        np.testing.assert_array_equal(
            read_image(tmp_path / "batch" / name.name).pixels, read_image(single).pixels
        )


def test_kernels_lists_the_named_magnitudes() -> None:
    runner = CliRunner()
    doc = json.loads(runner.invoke(cli, ["kernels", "--json"]).stdout)
    assert {"name": "sobel", "kernels": ["sobel-x", "sobel-y"], "combine": "magnitude"} in doc[
        "stacks"
    ]
    assert "magnitude of prewitt-x and prewitt-y" in runner.invoke(cli, ["kernels"]).stdout


def test_the_clipping_advice_fits_the_kernel(samples: Path, tmp_path: Path) -> None:
    # the built-in emboss sums to 1: --bias 128 is what clips it, so drop it
    biased = run(
        ["correlate", "-k", "emboss", "--bias", "128", str(samples / "scene.png"), "-o", "e.png"],
        tmp_path,
    )
    assert biased.returncode == 0
    assert "the kernel sums to 1" in biased.stderr and "drop --bias" in biased.stderr
    assert "a --bias keeps" not in biased.stderr
    plain = read_image(tmp_path / "e.png").pixels
    again = run(["correlate", "-k", "emboss", str(samples / "scene.png"), "-o", "f.png"], tmp_path)
    relief = read_image(tmp_path / "f.png").pixels.astype(float)
    scene = read_image(samples / "scene.png").pixels.astype(float)
    assert again.returncode == 0 and abs(relief.mean() - scene.mean()) < 3  # brightness kept
    assert plain.mean() > relief.mean() + 60  # the bias lifted it towards white


def test_the_clipping_count_covers_every_channel_and_negative_only_kernels(tmp_path: Path) -> None:
    # RGB, 20x20: every sample of the red and green planes goes below 0
    image = np.zeros((20, 20, 3), np.uint8)
    image[..., 0], image[..., 1] = 100, 50
    write_image(image, tmp_path / "in.png")
    done = run(["convolve", "-k", "-1", "in.png", "-o", "o.png"], tmp_path)
    assert done.returncode == 0
    assert "800 of 1200 samples were clipped (66.7% below 0)" in done.stderr
    # a kernel that only goes negative, through the float path (not integer weights)
    half = run(["convolve", "-k", "-0.5", "in.png", "-o", "p.png"], tmp_path)
    assert "800 of 1200 samples were clipped (66.7% below 0)" in half.stderr
    assert read_image(tmp_path / "p.png").pixels.max() == 0


def test_an_offset_kernel_in_a_chain_adds_its_offset_after_its_own_step(tmp_path: Path) -> None:
    # a libvips matrix: weights / scale, then + offset; here 1 / 1 + 10
    (tmp_path / "plus10.mat").write_text("1 1 1 10\n1\n")
    image = np.full((4, 5), 0.4)
    plus10 = f"@{tmp_path / 'plus10.mat'}"
    first = correlate(image, [plus10, "2"])  # (I + 10) * 2
    np.testing.assert_allclose(first, 20.8)
    last = correlate(image, ["2", plus10])  # I * 2 + 10
    np.testing.assert_allclose(last, 10.8)
    combined = correlate(image, [plus10, "-1"], combine="sum")  # (I + 10) + (-I)
    np.testing.assert_allclose(combined, 10.0)
