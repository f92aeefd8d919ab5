"""Inputs at the edges: huge logits stay finite, bad input gets a clear error."""

import numpy as np
import pytest
import torch

from bp_parity.reference.report import tolerance
from bp_parity.reference.pieces import affine
from bp_parity.reference.report.compare import Context, assert_parity, compare

SEED = 5  # see fixtures/seeds.json "layer"; a fixed draw for these one-off checks


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_softmax_with_loss_on_logits_of_magnitude_1e4_is_finite_and_matches_the_twin(impl_under_test, dtype):
    SoftmaxWithLoss = impl_under_test.require("SoftmaxWithLoss")
    rng = np.random.default_rng(SEED)
    x = (rng.choice([-1.0, 1.0], size=(6, 10)) * rng.uniform(0.5, 1.0, size=(6, 10)) * 1e4).astype(dtype)
    t = rng.integers(0, 10, size=6)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    dx = layer.backward()
    assert np.isfinite(loss), f"loss {loss} on logits of magnitude 1e4"
    assert np.all(np.isfinite(dx))

    xt = torch.from_numpy(x.copy())
    expected_loss = affine.softmax_with_loss(xt, torch.from_numpy(t)).numpy()
    xg = xt.clone().requires_grad_(True)
    affine.softmax_cross_entropy(xg, torch.from_numpy(t)).backward()
    for name, actual, expected in [("forward", loss, expected_loss), ("dx", dx, xg.grad.numpy())]:
        context = Context("SoftmaxWithLoss", name, "twin", dtype, seed=SEED, case="SoftmaxWithLoss-logits-1e4")
        assert_parity(compare(actual, expected, tolerance.twin(dtype), context))


def test_softmax_of_huge_logits_has_no_overflow(impl_under_test):
    softmax = impl_under_test.require("softmax")
    y = softmax(np.array([[1e4, 0.0, -1e4], [3.0, 3.0, 3.0]]))
    np.testing.assert_array_equal(y[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(y[1], [1 / 3] * 3, rtol=1e-15)


def test_sigmoid_of_huge_inputs_has_no_overflow(impl_under_test):
    sigmoid = impl_under_test.require("sigmoid")
    np.testing.assert_array_equal(sigmoid(np.array([-1e4, 1e4])), [0.0, 1.0])


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.array([0, 1, 10]), r"labels must lie in \[0, 10\)"),
        (np.array([0, -1, 2]), r"labels must lie in \[0, 10\)"),
        (np.array([0, 1]), r"shape \(3,\)"),
        (np.zeros((3, 9)), r"one-hot labels must have shape \(3, 10\)"),
    ],
    ids=["label-too-large", "negative-label", "too-few-labels", "one-hot-wrong-width"],
)
def test_bad_labels_get_a_clear_error(impl_under_test, labels, message):
    SoftmaxWithLoss, cross_entropy_error = impl_under_test.require("SoftmaxWithLoss", "cross_entropy_error")
    x = np.zeros((3, 10))
    with pytest.raises(ValueError, match=message):
        SoftmaxWithLoss().forward(x, labels)
    with pytest.raises(ValueError, match=message):
        cross_entropy_error(np.full((3, 10), 0.1), labels)


def test_affine_with_the_wrong_number_of_features_names_both_shapes(impl_under_test):
    Affine = impl_under_test.require("Affine")
    with pytest.raises(ValueError, match=r"x of shape \(2, 5\) has 5 features.*W has shape \(4, 3\)"):
        Affine(np.zeros((4, 3)), np.zeros(3)).forward(np.zeros((2, 5)))


def test_numerical_gradient_needs_a_float_array(impl_under_test):
    numerical_gradient = impl_under_test.require("numerical_gradient")
    with pytest.raises(TypeError, match="float ndarray"):
        numerical_gradient(lambda x: 0.0, [1.0, 2.0])
