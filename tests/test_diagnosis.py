"""reference/report/diagnosis.py: each hypothesis fits where its signature is exact, and nothing is said otherwise."""

import numpy as np
import pytest

from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import Location, compare

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 5))
W = RNG.normal(size=(5, 3))


def _where(tensor="dW", oracle="twin", **inputs):
    return Location(layer="Affine", tensor=tensor, oracle=oracle, dtype="float64", seed=0, case="Affine-2d",
                    inputs=inputs or {"x": X})


def _names(actual, expected, where=None, tol=tolerance.TWIN["float64"]):
    result = compare(actual, expected, tol, where or _where())
    assert not result.passed
    return [name for name, _ in result.diagnosis], result


@pytest.mark.parametrize("make, name", [
    (lambda e: e / 8, "scaled"),  # 8: the batch of X
    (lambda e: 2 * e, "scaled"),
    (lambda e: -e, "sign"),
    (lambda e: np.zeros_like(e), "zero"),
    (lambda e: e + 0.25, "offset"),
    (lambda e: e.reshape(-1)[::-1].reshape(e.shape).copy(), "permuted"),
])
def test_each_hypothesis_fits_its_own_signature_and_says_so(make, name):
    expected = X.T @ RNG.normal(size=(8, 3))
    names, result = _names(make(expected), expected)
    assert names == [name], result.render()
    assert "likely cause: " in result.render().splitlines()[-1]


def test_a_batch_mean_is_named_and_said_as_the_last_line_of_the_report():
    expected = RNG.normal(size=(3,)) * 3
    names, result = _names(expected / 8, expected, _where("db"))
    assert names == ["scaled"]
    assert result.render().splitlines()[-1] == ("  likely cause: db is 1/8 of the expected (8: the batch size), on every "
                                                "element: averaged over the batch where the expected sums (or divided "
                                                "by N once too often)")


def test_a_transpose_is_said_for_a_square_array_and_for_the_wrong_shape():
    square = RNG.normal(size=(4, 4))
    assert _names(square.T.copy(), square)[0] == ["transposed"]  # not also "permuted": the narrower finding
    assert _names(W.T.copy(), W)[0] == ["transposed"]  # shape (3, 5) where (5, 3) belongs


def test_right_values_in_another_shape_or_dtype():
    assert _names(W.reshape(-1), W)[0] == ["reshaped"]
    f32 = W.astype(np.float32)
    result = compare(f32.astype(np.float64), f32, tolerance.TWIN["float32"], _where())
    assert [n for n, _ in result.diagnosis] == ["upcast"]


def test_a_difference_only_at_the_kink():
    x = RNG.normal(size=(6, 7))
    x[::2, ::3] = 0.0
    expected = np.where(x > 0, 1.5, 0.0)
    actual = np.where(x >= 0, 1.5, 0.0)
    assert _names(actual, expected, _where("dx", x=x))[0] == ["kink"]


@pytest.mark.parametrize("actual", [
    lambda e: e + RNG.normal(size=e.shape) * 0.1,  # noise: no signature
    lambda e: e * np.linspace(0.5, 2, e.size).reshape(e.shape),  # a ratio that is not constant
    lambda e: e * 1.7319,  # a constant ratio that is no simple number: a symptom, not a cause
])
def test_no_hypothesis_is_guessed_where_none_fits(actual):
    expected = X.T @ RNG.normal(size=(8, 3))
    names, result = _names(actual(expected), expected)
    assert names == [] and "likely cause" not in result.render()


def test_one_number_gets_only_a_whole_offset_and_nothing_beside_an_argument():
    assert _names(np.float64(3.5), np.float64(2.5), _where("forward"))[0] == ["offset"]
    assert _names(np.float64(3.1), np.float64(2.5), _where("forward"))[0] == []
    assert _names(np.float64(0.0), np.float64(0.5), _where("accuracy"))[0] == []  # no "zero" for one number
    # beside the inputs as given, zero or scaled would mean something else: nothing is said
    expected = X.copy()
    assert _names(np.zeros_like(expected), expected, _where("x", oracle="arguments"), tolerance.EXACT)[0] == []


def test_an_upstream_gradient_left_out_or_passed_straight_through():
    x = RNG.normal(size=(6, 7))
    dout = RNG.normal(size=(6, 7))
    local = np.where(x > 0, 1.0, 0.0) + 0.5
    where = _where("dx", x=x, dout=dout)
    assert _names(local, local * dout, where)[0] == ["without_dout"]
    assert _names(dout.copy(), local * dout, where)[0] == ["passed_through"]
    ones = _where("dx", x=x, dout=np.ones((6, 7)))  # a dout of ones changes nothing: neither is said
    assert _names(dout.copy(), local * dout, ones)[0] == []


def test_another_tensors_expected_value_and_an_earlier_calls():
    from bp_parity.reference.report import diagnosis

    dy = RNG.normal(size=(4, 3))
    dx = RNG.normal(size=(4, 3))
    result = compare(dy.copy(), dx, tolerance.TWIN["float64"], _where("dx"))
    diagnosis.add(result, diagnosis.other_tensor(result, "dy", dy))
    assert [n for n, _ in result.diagnosis] == ["swapped"] and "dx equals the expected dy" in result.render()
    first, second = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))
    summed = compare(first + second, second, tolerance.TWIN["float64"], _where("dW"))
    diagnosis.add(summed, diagnosis.earlier_call(summed, first))
    assert [n for n, _ in summed.diagnosis] == ["accumulated"]
    kept = compare(first.copy(), second, tolerance.TWIN["float64"], _where("dW"))
    diagnosis.add(kept, diagnosis.earlier_call(kept, first))
    assert [n for n, _ in kept.diagnosis] == ["stale"]
    noise = compare(second + 0.1, second, tolerance.TWIN["float64"], _where("dW"))
    diagnosis.add(noise, diagnosis.earlier_call(noise, first))
    diagnosis.add(noise, diagnosis.other_tensor(noise, "db", first))
    assert noise.diagnosis == [] or [n for n, _ in noise.diagnosis] == ["offset"]
