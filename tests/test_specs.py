"""flipconv.core.kernels.specs and kernel: the spec grammar, symmetry, reflection, normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from flipconv.cli.main import cli
from flipconv.core._shared.errors import KernelError, OptionError
from flipconv.core.kernels.kernel import Kernel, is_separable, symmetry
from flipconv.core.kernels.specs import parse_kernel_spec, parse_kernel_text
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


@pytest.mark.parametrize(
    ("spec", "values"),
    [
        ("1,0,-1;2,0,-2;1,0,-1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("1 2 ; 3 4", [[1, 2], [3, 4]]),
        ("1,2,1", [[1, 2, 1]]),
        ("1;2;1", [[1], [2], [1]]),
        ("[1, 2; 3, 4]", [[1, 2], [3, 4]]),
        ("-1.5e0,+2;.5,0", [[-1.5, 2], [0.5, 0]]),
        ("1,2;3,4;", [[1, 2], [3, 4]]),
    ],
)
def test_inline_matrices(spec: str, values: list[list[float]]) -> None:
    k = parse_kernel_spec(spec)
    assert k.values.tolist() == values
    assert k.origin == (len(values) // 2, len(values[0]) // 2)
    assert k.spec == spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1,2;3", "row 2 has 1 values, row 1 has 2"),
        ("1,x;3,4", "row 1, column 3: 'x' is not a number"),
        ("1,nan;3,4", "'nan' is not a finite number"),
        ("1,inf", "'inf' is not a finite number"),
        ("1,2;;3,4", "row 2 is empty"),
        ("", "empty kernel spec"),
        ("sobol-x", "did you mean sobel-x"),
        ("gausian:2", "did you mean gaussian"),
        ("gaussian:sigma=-1", "sigma='-1' must be a number >= 0.01"),
        ("gaussian:sigma=abc", "sigma='abc' is not a number"),
        ("gaussian:sigma=nan", "sigma='nan' is not a finite number"),
        ("box:0", "size='0' must be an integer >= 1"),
        ("box:2.5", "size='2.5' is not an integer"),
        ("box:3,4", "too many values"),
        ("box:width=3", "unknown parameter 'width'"),
        ("gaussian:sigma=2,1", "positional value '1' after a named one"),
        ("gaussian:2,sigma=3", "parameter 'sigma' given twice"),
        ("emboss:up", "must be one of n, ne, e, se, s, sw, w, nw"),
        ("laplacian:6", "must be one of 4, 8"),
        ("gaussian:sigma=1000,truncate=100", "exceeds the limit"),
        ("missing.txt", "does not exist"),
    ],
)
def test_malformed_specs_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(KernelError) as info:
        parse_kernel_spec(spec)
    assert message in str(info.value)


def test_builtin_parameters_positional_and_named() -> None:
    a = parse_kernel_spec("gaussian:2")
    b = parse_kernel_spec("gaussian:sigma=2")
    c = parse_kernel_spec("Gaussian:sigma=2,truncate=4")
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.values, c.values)
    assert a.shape == (17, 17)  # radius int(4 * 2 + 0.5) = 8
    assert parse_kernel_spec("gaussian:radius=2").shape == (5, 5)
    assert parse_kernel_spec("motion:length=5,angle=90").shape == (9, 1)
    assert (
        parse_kernel_spec("sobel_x").values.tolist() == parse_kernel_spec("sobel-x").values.tolist()
    )


def test_kernel_files(tmp_path: Path) -> None:
    (tmp_path / "k.txt").write_text("# comment\n1 2 4  # trailing\n\n8 16 32\n")
    (tmp_path / "k.csv").write_text("1,2\n3,4\n")
    np.save(tmp_path / "k.npy", np.array([[1.0, -1.0]]))
    np.save(tmp_path / "row.npy", np.array([1, 2, 3], dtype=np.int16))
    assert parse_kernel_spec("@k.txt", cwd=tmp_path).values.tolist() == [[1, 2, 4], [8, 16, 32]]
    assert parse_kernel_spec("k.csv", cwd=tmp_path).values.tolist() == [[1, 2], [3, 4]]
    assert parse_kernel_spec(str(tmp_path / "k.npy")).values.tolist() == [[1.0, -1.0]]
    assert parse_kernel_spec("row.npy", cwd=tmp_path).values.tolist() == [[1, 2, 3]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.txt", "", "has no values"),
        ("comments.txt", "# nothing\n", "has no values"),
        ("ragged.txt", "1 2\n3\n", "line 2 has 1 values, line 1 has 2"),
        ("words.txt", "one two\n", "line 1, column 1: expected a number$"),
        ("secret.txt", "root:$6$SECRETTOKEN42:1:0\n", "line 1, column 1: expected a number$"),
        ("tail.txt", "1 2\n3 pass=hunter2\n", "line 2, column 3: expected a number$"),
        ("secret.mat", "root:$6$SECRET:1 2\n1 2\n", "line 1 is not a header"),
        ("huge.txt", "1e308 1e308\n1e308 1e308\n", "overflow float64"),
        ("nan.csv", "1,NaN\n", "not a finite number"),
    ],
)
def test_bad_kernel_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(KernelError, match=message) as caught:
        parse_kernel_spec(f"@{name}", cwd=tmp_path)
    # what a file that is not a kernel holds is never repeated
    for word in ("SECRET", "hunter2", "'one'"):
        assert word not in str(caught.value)


def test_stdin_that_is_not_a_kernel_is_not_repeated() -> None:
    with pytest.raises(KernelError, match="neither rows of numbers nor a kernel name") as caught:
        parse_kernel_text("root:$6$SECRETTOKEN42:19000\n", "@-")
    assert "root" not in str(caught.value) and "SECRET" not in str(caught.value)
    assert parse_kernel_text("sobel-x\n", "@-").values.tolist() == [
        [-1, 0, 1],
        [-2, 0, 2],
        [-1, 0, 1],
    ]


def test_bad_npy_kernels(tmp_path: Path) -> None:
    np.save(tmp_path / "cube.npy", np.zeros((2, 2, 2)))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    for name, message in [
        ("cube", "must be 1-D or 2-D"),
        ("nan", "NaN or infinite"),
        ("text", "must hold real numbers"),
        ("junk", "not a plain .npy"),
    ]:
        with pytest.raises(KernelError, match=message):
            parse_kernel_spec(f"@{name}.npy", cwd=tmp_path)


def test_absurd_sizes_are_refused_quickly() -> None:
    with pytest.raises(KernelError, match="exceeds the limit of 10001 taps"):
        parse_kernel_spec(",".join(["1"] * 100_001))
    with pytest.raises(KernelError, match="limit"):
        Kernel(np.zeros((5000, 5000)), (0, 0))


def test_origin_validation() -> None:
    k = parse_kernel_spec("1,2;4,8")
    assert k.with_origin((0, 1)).origin == (0, 1)
    with pytest.raises(
        OptionError, match="outside the 2x2 kernel: the row must be between 0 and 1"
    ):
        k.with_origin((2, 0))
    with pytest.raises(OptionError, match="column"):
        k.with_origin((0, -1))


def test_reflected_moves_the_origin() -> None:
    k = Kernel([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], (0, 2))
    r = k.reflected()
    assert r.values.tolist() == [[6.0, 5.0, 4.0], [3.0, 2.0, 1.0]]
    assert r.origin == (1, 0)
    assert r.reflected().values.tolist() == k.values.tolist()


@pytest.mark.parametrize(
    ("values", "origin", "expected"),
    [
        ([[1, 2, 1], [2, 4, 2], [1, 2, 1]], (1, 1), "symmetric"),
        ([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], (1, 1), "antisymmetric"),
        ([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], (1, 1), "asymmetric"),  # emboss
        ([[1, 1], [1, 1]], (1, 1), "asymmetric"),  # even box
        ([[0, 0], [0, 1]], (1, 1), "symmetric"),  # even, trivially symmetric
        ([[0, 1, 0, -1]], (0, 2), "antisymmetric"),  # even, first column zero
        ([[1, 2, 1]], (0, 0), "asymmetric"),  # symmetric matrix, off-centre origin
        ([[0, 0, 0]], (0, 1), "symmetric"),  # all zero
    ],
)
def test_symmetry_about_the_origin(
    values: list[list[float]], origin: tuple[int, int], expected: str
) -> None:
    assert symmetry(Kernel(values, origin)) == expected


@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-10, 10, allow_nan=False),
    )
)
def test_reflection_preserves_symmetry_class(values: np.ndarray) -> None:
    k = Kernel(values, (values.shape[0] // 2, values.shape[1] // 2))
    assert symmetry(k.reflected()) == symmetry(k)
    r = k.reflected().reflected()
    assert r.origin == k.origin
    np.testing.assert_array_equal(r.values, k.values)


def test_normalize() -> None:
    k = parse_kernel_spec("1,2;4,8").normalized()
    assert k.values.tolist() == [[1 / 15, 2 / 15], [4 / 15, 8 / 15]]
    with pytest.raises(KernelError, match="sum to 0"):
        parse_kernel_spec("sobel-x").normalized()


def test_separable() -> None:
    assert is_separable(parse_kernel_spec("1,2;2,4"))
    assert not is_separable(parse_kernel_spec("1,2;3,4"))
    assert is_separable(parse_kernel_spec("gaussian:3"))


def test_kernel_values_are_read_only_copies() -> None:
    source = np.array([[1.0, 2.0]])
    k = Kernel(source, (0, 0))
    source[0, 0] = 99
    assert k.values[0, 0] == 1.0
    with pytest.raises(ValueError):
        k.values[0, 0] = 5.0


@pytest.mark.parametrize("spec", ["1e308,1e308;1e308,1e308", "1e308,-1e308"])
def test_a_kernel_whose_weights_overflow_is_refused_as_usage(spec: str) -> None:
    # 1e308 + 1e308 is inf: --normalize divided by it, and every sum overflowed
    with pytest.raises(KernelError, match="weights overflow float64"):
        parse_kernel_spec(spec)
    done = CliRunner().invoke(cli, ["correlate", "-k", spec, "--normalize", "-o", "x.png"])
    assert done.exit_code == 2 and "overflow float64" in done.stderr
