"""The comparator finds what differs and says so in a report a person can act on."""

import numpy as np
import pytest

from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import Context, Oracle, ParityError, Phase, assert_parity, compare
from bp_parity.reference.run import wire


def _context(**overrides):
    fields = dict(layer="Affine", tensor="dW", oracle="twin", dtype="float64", seed=7, case="Affine-2d",
                  reproduce="python -m reference check --case Affine-2d --tensor dW --dtype float64 --seed 7")
    fields.update(overrides)
    return Context(**fields)


def test_an_oracle_and_a_phase_are_words_of_their_vocabularies_and_a_word_outside_is_refused():
    context = _context()
    assert context.oracle is Oracle.TWIN and context.oracle == "twin" and f"{context.oracle}" == "twin"
    with pytest.raises(ValueError, match="'twins' is not a word of Oracle: 'twin', 'golden'"):
        _context(oracle="twins")
    back = wire.decode(wire.encode(compare(np.ones(3), np.ones(3), tolerance.twin("float64"), _context(phase="backward"))))
    assert back.context.oracle is Oracle.TWIN  # across the worker's JSON and back, still the member
    assert back.context.phase is Phase.BACKWARD and back.context.shown == "backward dW"
    assert _context().phase is Phase.NONE and _context().shown == "dW"
    with pytest.raises(ValueError, match="'backwards' is not a word of Phase"):
        _context(phase="backwards")


def test_equal_arrays_pass():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    assert compare(x.copy(), x, tolerance.twin("float64"), _context()).passed


def test_report_names_layer_tensor_worst_element_errors_tolerance_seed_and_command():
    expected = np.arange(12, dtype=np.float64).reshape(3, 4) / 10
    actual = expected.copy()
    actual[2, 1] += 1e-3
    actual[0, 3] += 1e-6
    result = compare(actual, expected, tolerance.twin("float64"), _context())
    assert not result.passed
    assert result.mismatched == 2
    assert result.worst_index == (2, 1)
    assert result.worst_actual == actual[2, 1] and result.worst_expected == expected[2, 1]
    report = result.render()
    for piece in ("Affine", "dW", "twin", "float64", "seed 7", "2 of 12 elements", "worst element [2, 1]",
                  repr(float(actual[2, 1])), repr(float(expected[2, 1])), "abs error 1.000e-03", "rel error 1.111e-03",
                  "rtol 1e-10", "reproduce: python -m reference check --case Affine-2d --tensor dW"):
        assert piece in report, f"{piece!r} missing from:\n{report}"


@pytest.mark.parametrize(
    "actual, problem",
    [
        (np.zeros((4, 3)), "shape"),
        (np.zeros((3, 4), dtype=np.float32), "dtype"),
        (np.array([[0.0, np.nan, 0, 0]] * 3), "nonfinite"),
        (np.array([[0.0, np.inf, 0, 0]] * 3), "nonfinite"),
        ("not an array", "type"),
        (None, "type"),
    ],
    ids=["wrong-shape", "wrong-dtype", "nan", "inf", "string", "none"],
)
def test_shape_dtype_and_nonfinite_are_checked_before_values(actual, problem):
    result = compare(actual, np.zeros((3, 4)), tolerance.twin("float64"), _context())
    assert not result.passed
    assert result.problem == problem
    assert result.render()  # renders without raising


def test_matching_nonfinite_positions_pass():
    expected = np.array([1.0, np.inf, -np.inf, np.nan])
    assert compare(expected.copy(), expected, tolerance.twin("float64"), _context()).passed
    flipped = np.array([1.0, -np.inf, -np.inf, np.nan])
    assert compare(flipped, expected, tolerance.twin("float64"), _context()).problem == "nonfinite"


def test_a_nonfinite_value_says_which_side_has_it():
    """NaN/inf the implementation alone has is what its arithmetic made (an overflow, a log or a division of 0), and
    the report says so; the reverse, and both at once, are said as what they are."""
    tol, finite = tolerance.twin("float64"), np.array([1.0, 2.0, 3.0])
    overflowed = compare(np.array([1.0, np.inf, np.nan]), finite, tol, _context())
    assert "NaN/inf where the oracle is finite (the implementation's arithmetic overflowed" in overflowed.render()
    assert "finite where the oracle has NaN/inf: [1]" in compare(finite, np.array([1.0, np.inf, 3.0]), tol,
                                                                 _context()).render()
    both = compare(np.array([np.nan, 2.0, 3.0]), np.array([1.0, np.inf, 3.0]), tol, _context())
    assert "NaN/inf where the oracle has none, and the reverse" in both.render()


def test_atol_is_measured_against_the_tensor_scale():
    expected = np.array([1e6, 0.0])
    near_zero_error = np.array([1e6, 1e-5])  # 1e-5 is 1e-11 of the scale: rounding, not a bug
    assert compare(near_zero_error, expected, tolerance.twin("float64"), _context()).passed
    small = np.array([1e-4, 0.0])
    assert not compare(np.array([1e-4, 1e-12]), small, tolerance.twin("float64"), _context()).passed


def test_float32_atol_is_assert_close_default_at_every_scale():
    tol = tolerance.twin("float32")
    assert tol.atol_for(np.array([1e6])) == tol.atol_for(np.array([1e-3])) == pytest.approx(1e-5)


def test_assert_parity_raises_with_the_report():
    result = compare(np.ones(3), np.zeros(3), tolerance.twin("float64"), _context())
    with pytest.raises(ParityError, match="worst element"):
        assert_parity(result)


def test_dump_writes_both_sides_and_inputs_without_pickle(tmp_path):
    context = _context(inputs={"x": np.ones((2, 2))})
    result = compare(np.ones(3), np.zeros(3), tolerance.twin("float64"), context)
    path = result.dump(tmp_path)
    with np.load(path, allow_pickle=False) as data:
        assert set(data.files) == {"impl", "expected", "input_x"}
        np.testing.assert_array_equal(data["impl"], np.ones(3))
    assert str(path) in result.render()
