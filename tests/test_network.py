"""The two-layer network end to end: against its twin, against finite differences, and its API."""

from pathlib import Path

import numpy as np
import pytest
import torch

from bp_parity.impl.mnist import load_mnist
from bp_parity.reference.base import cases, streams
from bp_parity.reference.run import finite_diff, network_checks
from bp_parity.reference.report import tolerance
from bp_parity.reference.pieces import affine
from bp_parity.reference.report.compare import Context, compare
from bp_parity.reference.pieces.networks import PARAMS, initial_weights, load_into_impl
from bp_parity.reference.run.network import NetworkTwin
from bp_parity.reference.run.trace import trace_network
from bp_parity.reference.pieces.networks import make_impl_network

SUBSET = Path(__file__).resolve().parent.parent / "fixtures" / "mnist-subset"
SEEDS = cases.layer_seeds()


@pytest.fixture(scope="module")
def subset():
    (x, t), _ = load_mnist(data_dir=SUBSET, dtype=np.float64)
    return x, t


def _networks(impl, dtype, seed, hidden=50):
    # 0.1 rather than the textbook's 0.01: scores far enough from uniform that every gradient carries signal
    weights = initial_weights(seed, 784, hidden, 10, weight_init_std=0.1, dtype=dtype)
    net = make_impl_network(impl, 784, hidden, 10, dtype)
    load_into_impl(net, weights)
    return net, NetworkTwin.of("TwoLayerNet", weights)


def _context(tensor, dtype, seed, batch, labels):
    return Context(layer="TwoLayerNet", tensor=tensor, oracle="twin", dtype=dtype, seed=seed,
                   case=f"TwoLayerNet-batch{batch}-{labels}",
                   reproduce=f"pytest tests/test_network.py -k 'batch{batch} and {labels} and {dtype} and seed{seed}'")


@pytest.mark.parametrize("labels", ["index", "onehot"])
@pytest.mark.parametrize("batch", [1, 7, 32, 128], ids=lambda b: f"batch{b}")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_end_to_end_parity(impl_under_test, subset, check, dtype, batch, labels, sweep_seed):
    """Loss, every gradient, the scores and the accuracy equal the twin's."""
    seed = sweep_seed
    x, t = subset
    rng = streams.rng(seed, "network test batch")
    index = rng.choice(len(x), size=batch, replace=False)
    xb, tb = x[index].astype(dtype), t[index]
    target = np.eye(10, dtype=dtype)[tb] if labels == "onehot" else tb
    net, twin = _networks(impl_under_test, dtype, seed)
    tol = tolerance.twin(dtype)

    check(compare(net.loss(xb, target), twin.loss(xb, tb), tol, _context("loss", dtype, seed, batch, labels)))
    grads = net.gradient(xb, target)
    _, twin_grads = twin.gradient(xb, tb)
    for key in PARAMS:
        check(compare(grads[key], twin_grads[key], tol, _context(f"gradient {key}", dtype, seed, batch, labels)))
    with torch.no_grad():
        scores = twin.logits(torch.from_numpy(xb)).numpy()
    check(compare(net.predict(xb), scores, tol, _context("predict", dtype, seed, batch, labels)))
    assert net.accuracy(xb, target) == twin.accuracy(xb, tb)


def _small_problem(impl, seed):
    return network_checks.small_problem(impl, seed)


def test_backprop_matches_finite_differences_of_the_network(impl_under_test, check, sweep_seed):
    """net.gradient against central differences of the epsilon-free loss built on net.predict (float64)."""
    seed = sweep_seed
    net, _, xb, tb = _small_problem(impl_under_test, seed)
    grads = net.gradient(xb, tb)
    for key in PARAMS:
        original = net.params[key].copy()

        def loss(value, key=key):
            net.params[key][...] = value
            scores = net.predict(xb)
            shifted = scores - scores.max(axis=1, keepdims=True)
            return -np.mean(shifted[np.arange(len(tb)), tb] - np.log(np.exp(shifted).sum(axis=1)))

        numeric, rounding = finite_diff.gradient(loss, original)
        net.params[key][...] = original
        context = Context("TwoLayerNet", f"gradient {key}", "finite differences", "float64", seed=seed)
        check(compare(grads[key], numeric, tolerance.finite_differences(), context, extra_atol=rounding))


def test_textbook_numerical_gradient_matches_the_twin_of_its_own_loss(impl_under_test, check):
    """net.numerical_gradient differentiates the textbook loss (epsilon included): against autograd of that loss."""
    net, weights, xb, tb = _small_problem(impl_under_test, SEEDS[0])
    numeric = net.numerical_gradient(xb, tb)
    twin = NetworkTwin.of("TwoLayerNet", weights)
    affine.softmax_with_loss(twin.logits(torch.from_numpy(xb)), torch.from_numpy(tb.astype(np.int64))).backward()
    for key in PARAMS:
        context = Context("TwoLayerNet", f"numerical_gradient {key}", "twin", "float64", seed=SEEDS[0])
        expected = twin.params[key].grad.numpy()
        check(compare(numeric[key], expected, tolerance.finite_differences(), context))
        np.testing.assert_array_equal(net.params[key], weights[key], err_msg=f"{key} not restored")


def test_params_are_the_layers_arrays_so_in_place_updates_change_the_network(impl_under_test, subset):
    x, _ = subset
    net = impl_under_test.require("TwoLayerNet")(784, 50, 10)
    assert net.layers["Affine1"].W is net.params["W1"] and net.layers["Affine1"].b is net.params["b1"]
    assert net.layers["Affine2"].W is net.params["W2"] and net.layers["Affine2"].b is net.params["b2"]
    before = net.predict(x[:3]).copy()
    net.params["b2"] += 1.0
    np.testing.assert_allclose(net.predict(x[:3]), before + 1.0, rtol=1e-12)
    net.params["W1"] *= 0.0
    np.testing.assert_allclose(net.predict(x[:3]), np.broadcast_to(net.params["b2"], (3, 10)), rtol=1e-12)


def test_layers_are_in_forward_order_and_dtype_is_kept(impl_under_test, subset):
    x, t = subset
    net = make_impl_network(impl_under_test, 784, 20, 10, "float32")
    assert list(net.layers) == ["Affine1", "Relu1", "Affine2"]
    assert all(net.params[k].dtype == np.float32 for k in PARAMS)
    grads = net.gradient(x[:8].astype(np.float32), t[:8])
    assert {k: g.dtype.name for k, g in grads.items()} == {k: "float32" for k in PARAMS}
    assert net.loss(x[:8].astype(np.float32), t[:8]).dtype == np.float32


def test_same_seed_same_weights_and_generator_argument(impl_under_test):
    TwoLayerNet = impl_under_test.require("TwoLayerNet")
    a, b = TwoLayerNet(10, 4, 3, seed=5), TwoLayerNet(10, 4, 3, rng=np.random.default_rng(5))
    for key in PARAMS:
        np.testing.assert_array_equal(a.params[key], b.params[key])
    assert not np.array_equal(a.params["W1"], TwoLayerNet(10, 4, 3, seed=6).params["W1"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_trace_of_the_network_finds_no_divergence(impl_under_test, subset, check, dtype):
    x, t = subset
    net, _ = _networks(impl_under_test, dtype, SEEDS[0])
    result = trace_network(net, x[:16].astype(dtype), t[:16], seed=SEEDS[0], dtype=dtype)
    # every layer forward, the loss both ways, every layer backward, gradient() against the twin and (float64) against
    # finite differences of the network's own predict()
    assert len(result.results) == 16 + (4 if dtype == "float64" else 0)
    for row in result.results:
        check(row)


def test_first_layer_backward_without_dx_keeps_the_same_dw_and_db(impl_under_test):
    """TwoLayerNet skips its first layer's dx; dW and db must not change for it."""
    Affine = impl_under_test.require("Affine")
    rng = np.random.default_rng(SEEDS[0])
    x, W, b, dout = rng.normal(size=(4, 6)), rng.normal(size=(6, 3)), rng.normal(size=3), rng.normal(size=(4, 3))
    full, lean = Affine(W, b), Affine(W, b)
    full.forward(x)
    lean.forward(x)
    assert full.backward(dout).shape == x.shape
    assert lean.backward(dout, need_dx=False) is None
    np.testing.assert_array_equal(full.dW, lean.dW)
    np.testing.assert_array_equal(full.db, lean.db)
