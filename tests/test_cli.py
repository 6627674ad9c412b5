"""The command line through click's CliRunner: exit codes, stdout bytes, stderr lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli import filtering
from flipconv.cli.main import cli
from flipconv.cli.status import ExitStatus
from flipconv.core.engine import filters
from flipconv.core.io.readers import read_image
from flipconv.core.io.writers import encode_image
from flipconv.core.kernels.specs import parse_kernel_spec


def invoke(runner: CliRunner, args: list[str], data: bytes | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, args, input=data, catch_exceptions=False)


COMMANDS = [
    [],
    ["convolve"],
    ["correlate"],
    ["verify"],
    ["explain"],
    ["probe"],
    ["kernels"],
    ["kernels", "show"],
    ["presets"],
]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(runner: CliRunner, command: list[str]) -> None:
    result = invoke(runner, [*command, "--help"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ")
    assert result.stderr == ""


def test_version_names_the_libraries(runner: CliRunner) -> None:
    result = invoke(runner, ["--version"])
    assert result.exit_code == 0
    for name in ("flipconv 0.1.0", "numpy", "scipy", "imageio"):
        assert name in result.stdout


# ---------------------------------------------------------------- filtering


@pytest.mark.parametrize("operation", ["convolve", "correlate"])
def test_file_to_file_matches_the_reference(
    runner: CliRunner, samples: Path, tmp_path: Path, operation: str, matches_reference
) -> None:
    out = tmp_path / "out.png"
    result = invoke(
        runner,
        [operation, "-k", "emboss", "-q", str(samples / "scene.png"), "-o", str(out)],
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # -q: no clipping note
    src = read_image(samples / "scene.png").pixels
    matches_reference(
        read_image(out).pixels,
        src,
        [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
        operation=operation,
    )


def test_stdin_to_stdout_keeps_format_and_sixteen_bits(
    runner: CliRunner, samples: Path, matches_reference
) -> None:
    data = (samples / "scene16.png").read_bytes()
    result = invoke(runner, ["correlate", "-k", "sobel-x", "--out-range", "abs"], data)
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"\x89PNG")
    got = read_image(result.stdout_bytes).pixels
    assert got.dtype == np.uint16 and got.shape == (120, 160, 3)
    src = read_image(data).pixels
    matches_reference(
        got, src, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], operation="correlate", out_range="abs"
    )


def test_format_and_dtype_on_stdout(runner: CliRunner, samples: Path) -> None:
    data = (samples / "glyph.png").read_bytes()
    result = invoke(runner, ["convolve", "-k", "box", "-f", "npy", "--dtype", "float32"], data)
    assert result.exit_code == 0, result.stderr
    got = read_image(result.stdout_bytes)
    assert got.format == "npy" and got.pixels.dtype == np.float32
    src = read_image(data).pixels
    np.testing.assert_allclose(
        got.pixels, filters.convolve(src, parse_kernel_spec("box")) / 255, rtol=1e-6
    )


def test_options_reach_the_core(runner: CliRunner, samples: Path, matches_reference) -> None:
    data = (samples / "glyph.png").read_bytes()
    args = [
        "convolve",
        "-k",
        "1,2;4,8",
        "--origin",
        "0,0",
        "--mode",
        "constant",
        "--cval",
        "255",
        "--normalize",
        "--scale",
        "0.5",
        "--bias",
        "3",
    ]
    result = invoke(runner, args, data)
    assert result.exit_code == 0, result.stderr
    normalized = np.array([[1, 2], [4, 8]]) / 15
    matches_reference(
        read_image(result.stdout_bytes).pixels,
        read_image(data).pixels,
        normalized,
        (0, 0),
        operation="convolve",
        mode="constant",
        cval=255,
        scale=0.5,
        bias=3,
    )


def test_alpha_filter_option(runner: CliRunner, samples: Path) -> None:
    data = (samples / "badge.png").read_bytes()
    keep = invoke(runner, ["convolve", "-k", "gaussian:2", "--alpha", "keep"], data)
    filt = invoke(runner, ["convolve", "-k", "gaussian:2", "--alpha", "filter"], data)
    auto = invoke(runner, ["convolve", "-k", "gaussian:2"], data)  # a blur: filter
    assert auto.stdout_bytes == filt.stdout_bytes
    src = read_image(data).pixels
    a_keep = read_image(keep.stdout_bytes).pixels
    a_filt = read_image(filt.stdout_bytes).pixels
    np.testing.assert_array_equal(a_keep[..., 3], src[..., 3])
    assert not np.array_equal(a_filt[..., 3], src[..., 3])


def test_kernel_file_and_in_place_output(
    runner: CliRunner, samples: Path, tmp_path: Path, matches_reference
) -> None:
    target = tmp_path / "g.png"
    target.write_bytes((samples / "glyph.png").read_bytes())
    before = read_image(target).pixels
    result = invoke(
        runner,
        [
            "correlate",
            "-k",
            f"@{samples / 'asym3x3.txt'}",
            "--normalize",
            str(target),
            "-o",
            str(target),
            "--in-place",
        ],
    )
    assert result.exit_code == 0, result.stderr
    matrix = np.loadtxt(samples / "asym3x3.txt", ndmin=2)
    matches_reference(
        read_image(target).pixels, before, matrix / matrix.sum(), operation="correlate"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["g.png"]


# ---------------------------------------------------------------- failures


def assert_clean_failure(result, status: int, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == status, (result.exit_code, result.stderr)
    assert result.stdout_bytes == b""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, lines
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


@pytest.mark.parametrize(
    ("args", "status", "fragment"),
    [
        (["convolve", "-k", "sobol-x"], ExitStatus.USAGE, "did you mean sobel-x"),
        (["convolve", "-k", "1,2;3"], ExitStatus.USAGE, "row 2 has 1 values"),
        (["convolve", "-k", "gaussian:sigma=-1"], ExitStatus.USAGE, "must be a number >= 0.01"),
        (["convolve", "-k", "box", "--mode", "bogus"], ExitStatus.USAGE, "'bogus' is not one of"),
        (["convolve", "-k", "box", "--origin", "3,0"], ExitStatus.USAGE, "outside the 3x3 kernel"),
        (["convolve", "-k", "box", "--origin", "x"], ExitStatus.USAGE, "not two integers"),
        (["convolve", "-k", "box", "--cval", "nan"], ExitStatus.USAGE, "not a finite number"),
        (["convolve", "-k", "box", "--scale", "inf"], ExitStatus.USAGE, "not a finite number"),
        (
            ["convolve", "-k", "box", "-o", "x.png", "--dtype", "float32"],
            ExitStatus.USAGE,
            "PNG cannot store float32",
        ),
        (["convolve", "-k", "box", "-o", "x.xyz"], ExitStatus.USAGE, "does not name a format"),
        (["convolve", "-k", "box", "-o", "x.png", "-f", "tiff"], ExitStatus.USAGE, "disagrees"),
        (["convolve", "-k", "laplacian", "--normalize"], ExitStatus.USAGE, "sum to 0"),
        (["convolve"], ExitStatus.USAGE, "Missing option '-k'"),
        (["frobnicate"], ExitStatus.USAGE, "No such command"),
        (
            ["convolve", "-k", "box", "-f", "jpeg", "--dtype", "uint16"],
            ExitStatus.USAGE,
            "JPEG cannot store uint16",
        ),
        (["correlate", "-k", "box", "-f", "jpeg"], ExitStatus.ERROR, "JPEG cannot store an alpha"),
        (
            ["convolve", "-k", "box", "--max-pixels", "100"],
            ExitStatus.ERROR,
            "over the limit of 100",
        ),
    ],
)
def test_bad_usage_and_runtime_failures_are_one_line(
    runner: CliRunner, samples: Path, args: list[str], status: int, fragment: str
) -> None:
    data = (samples / "badge.png").read_bytes()
    assert_clean_failure(invoke(runner, args, data), status, fragment)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "stdin: empty input"),
        (b"garbage garbage", "stdin: not a recognised image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "stdin: corrupt PNG header"),
    ],
)
def test_bad_stdin(runner: CliRunner, data: bytes, fragment: str) -> None:
    assert_clean_failure(
        invoke(runner, ["convolve", "-k", "box"], data), ExitStatus.ERROR, fragment
    )


def test_missing_input_and_output_folder(runner: CliRunner, samples: Path, tmp_path: Path) -> None:
    assert_clean_failure(
        invoke(runner, ["convolve", "-k", "box", str(tmp_path / "nope.png"), "-o", "o.png"]),
        ExitStatus.ERROR,
        "nope.png: no such file",
    )
    assert_clean_failure(
        invoke(
            runner,
            [
                "convolve",
                "-k",
                "box",
                str(samples / "glyph.png"),
                "-o",
                str(tmp_path / "missing" / "o.png"),
            ],
        ),
        ExitStatus.ERROR,
        "does not exist",
    )
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_write_image_bytes_to_a_terminal(
    runner: CliRunner, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filtering, "is_terminal", lambda stream: True)
    result = invoke(runner, ["convolve", "-k", "box", str(samples / "glyph.png")])
    assert_clean_failure(result, ExitStatus.USAGE, "refusing to write image bytes to a terminal")


def test_internal_errors_are_one_line_unless_debug(
    runner: CliRunner, samples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flipconv.core.files.pipeline as pipeline

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(pipeline, "filter_with", broken)
    args = ["convolve", "-k", "box", str(samples / "glyph.png"), "-o", "-"]
    result = runner.invoke(cli, args)
    assert_clean_failure(result, ExitStatus.ERROR, "internal error: RuntimeError: boom", "--debug")
    with pytest.raises(RuntimeError, match="boom"):
        runner.invoke(cli, ["--debug", *args], catch_exceptions=False)


# ---------------------------------------------------------------- verify


def test_verify_json_contract(runner: CliRunner) -> None:
    result = invoke(runner, ["verify", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["ok"] is True and doc["image"] == "generated test image"
    names = [r["kernel"] for r in doc["results"]]
    assert "gaussian" in names and "1,2;4,8" in names
    for r in doc["results"]:
        assert r["symmetry"] in ("symmetric", "antisymmetric", "asymmetric")
        assert (
            r["expected"]
            == {"symmetric": "agree", "antisymmetric": "negated", "asymmetric": "differ"}[
                r["symmetry"]
            ]
        )
        assert isinstance(r["max_abs_diff"], float)
        assert r["agree"] == (r["max_abs_diff"] <= 1e-9 * 1000)
        assert r["identity_holds"] is True and r["ok"] is True
        assert isinstance(r["shape"], list) and len(r["shape"]) == 2


def test_verify_chosen_kernels_and_image(runner: CliRunner, samples: Path) -> None:
    args = [
        "verify",
        "-k",
        "sobel-y",
        "-k",
        "motion:5,45",
        "--image",
        str(samples / "scene16.png"),
        "--mode",
        "wrap",
        "--json",
    ]
    doc = json.loads(invoke(runner, args).stdout)
    assert [r["kernel"] for r in doc["results"]] == ["sobel-y", "motion:5,45"]
    assert [r["measured"] for r in doc["results"]] == ["negated", "differ"]
    assert doc["image_shape"] == [120, 160, 3] and doc["mode"] == "wrap"


def test_verify_exits_3_when_a_prediction_fails(runner: CliRunner, tmp_path: Path) -> None:
    flat = tmp_path / "flat.png"
    flat.write_bytes(encode_image(np.full((8, 8), 100, np.uint8), "png"))
    result = invoke(runner, ["verify", "-k", "emboss", "--image", str(flat)])
    assert result.exit_code == ExitStatus.MISMATCH
    assert "1 of 1 predictions did not hold" in result.stdout


def test_verify_human_report(runner: CliRunner) -> None:
    result = invoke(runner, ["verify", "-k", "gaussian", "-k", "sobel-x", "-k", "emboss"])
    assert result.exit_code == 0
    out = result.stdout
    for text in (
        "gaussian",
        "sobel-x",
        "emboss",
        "agree",
        "negated",
        "differ",
        "3 of 3 predictions held",
        "is -K",
    ):
        assert text in out
    assert "\x1b[" not in out  # no colour codes when stdout is not a terminal


# ---------------------------------------------------------------- kernels


def test_kernels_list_and_json(runner: CliRunner) -> None:
    text = invoke(runner, ["kernels"]).stdout
    assert "gaussian" in text and "sigma=1, truncate=4, radius=auto" in text
    doc = json.loads(invoke(runner, ["kernels", "--json"]).stdout)
    by_name = {k["name"]: k for k in doc["kernels"]}
    assert by_name["motion"]["shape"] == [1, 17]
    assert by_name["sobel-x"]["symmetry"] == "antisymmetric"
    assert by_name["gaussian"]["params"][0] == {
        "name": "sigma",
        "type": "float",
        "default": 1.0,
        "rule": "a number >= 0.01 and <= 1000",
        "help": "standard deviation in pixels",
    }


def test_kernels_show(runner: CliRunner) -> None:
    result = invoke(runner, ["kernels", "show", "1,2;4,8"])
    assert result.stdout.splitlines()[1:] == [" 1   2", " 4  [8]"]
    doc = json.loads(
        invoke(runner, ["kernels", "show", "emboss", "--json", "--origin", "0,0"]).stdout
    )
    assert doc["values"] == [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]
    assert doc["origin"] == [0, 0] and doc["symmetry"] == "asymmetric"
    assert doc["prediction"] == "differ" and doc["sum"] == 1.0
    assert_clean_failure(
        invoke(runner, ["kernels", "show", "bogus"]), ExitStatus.USAGE, "unknown kernel 'bogus'"
    )


# ---------------------------------------------------------------- engine options


@pytest.mark.parametrize("spec", ["gaussian:2", "emboss", "1,2;4,8"])
def test_threads_give_identical_bytes(runner: CliRunner, samples: Path, spec: str) -> None:
    data = (samples / "scene16.png").read_bytes()
    outputs = {
        threads: invoke(runner, ["convolve", "-k", spec, "--threads", threads, "-f", "npy"], data)
        for threads in ("1", "2", "3")
    }
    assert all(r.exit_code == 0 for r in outputs.values())
    assert outputs["1"].stdout_bytes == outputs["2"].stdout_bytes == outputs["3"].stdout_bytes


@pytest.mark.parametrize("method", ["direct", "lowrank", "fft"])
def test_methods_agree_through_the_cli(runner: CliRunner, samples: Path, method: str) -> None:
    data = (samples / "scene16.png").read_bytes()
    auto = invoke(runner, ["correlate", "-k", "gaussian:1.5", "-f", "npy"], data)
    other = invoke(
        runner, ["correlate", "-k", "gaussian:1.5", "--method", method, "-f", "npy"], data
    )
    a, b = read_image(auto.stdout_bytes).pixels, read_image(other.stdout_bytes).pixels
    assert np.abs(a.astype(np.int64) - b).max() <= 1
    assert np.mean(a == b) > 0.999


def test_separable_method_refuses_a_full_rank_kernel(runner: CliRunner, samples: Path) -> None:
    result = invoke(
        runner,
        ["convolve", "-k", "emboss", "--method", "separable"],
        (samples / "glyph.png").read_bytes(),
    )
    assert_clean_failure(result, ExitStatus.USAGE, "not separable")


def test_compression_option(runner: CliRunner, samples: Path) -> None:
    data = (samples / "scene.png").read_bytes()
    fast = invoke(runner, ["convolve", "-k", "box", "--compression", "0"], data).stdout_bytes
    small = invoke(runner, ["convolve", "-k", "box", "--compression", "9"], data).stdout_bytes
    assert len(small) < len(fast)
    np.testing.assert_array_equal(read_image(fast).pixels, read_image(small).pixels)
    result = invoke(runner, ["convolve", "-k", "box", "--compression", "12"], data)
    assert_clean_failure(result, ExitStatus.USAGE, "--compression")


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "flipconv" for c in COMMANDS])
def test_every_help_ends_with_examples_that_parse(command: list[str]) -> None:
    text = CliRunner().invoke(cli, [*command, "--help"]).stdout
    tail = text[text.rindex("Examples:") :].splitlines()[1:]
    examples = [line.strip() for line in tail if line.strip()]
    assert 2 <= len(examples) <= 4 and all(e.startswith("flipconv ") for e in examples)
    for example in examples:  # each names a real command and options it has
        words = example.split()
        words = words[: words.index("--")] if "--" in words else words  # COMMAND follows
        assert words[1] in {
            "convolve",
            "correlate",
            "verify",
            "explain",
            "probe",
            "kernels",
            "presets",
        }
        options = {w.split("=")[0] for w in words if w.startswith("-") and w not in ("-", "--")}
        path = [*words[1:2], *(["show"] if "show" in words[:3] else [])]
        known = CliRunner().invoke(cli, [*path, "--help"]).stdout
        known = known[: known.index("Examples:")]  # the options, not the examples
        for option in options:
            assert re.search(rf"(^|[ ,/]){re.escape(option)}([ ,=/\[]|$)", known, re.M), (
                example,
                option,
            )


def test_dtype_help_says_float_outputs_are_0_to_1(runner: CliRunner) -> None:
    # the API returns image units; the command line's float files hold 0..1
    for command in ("convolve", "correlate"):
        text = " ".join(invoke(runner, [command, "--help"]).stdout.split())
        assert "Float outputs hold 0..1 for full intensity" in text
