"""Every public method of a network against its twin, on one instance called again and again.

The trace judges each layer and gradient() end to end; this judges what a user calls:
predict, loss, accuracy and gradient, with labels as indices and then one-hot on the same
instance, in the dtype of the run.  Before each call's methods the same instance is traced
layer by layer, so a layer that keeps something from the first call is blamed itself, not the
network that inherits it.  Then numerical_gradient against autograd of the textbook's loss on
a small network (float64: it is a difference quotient), which must leave the parameters as
they were.
"""

import numpy as np
import torch

from . import streams, tolerance, twins
from .compare import Context, compare
from .layer_checks import NotRun, raised_where
from .limits import CheckTimeout, time_limit
from .protocol import MissingProtocol
from .weights import PARAMS, NetworkDtypeUnsupported, initial_weights, load_into_impl, make_impl_network

LABEL_FORMS = ("index", "one-hot")


def small_problem(impl, seed, inputs=12, hidden=6, classes=10, batch=5):
    """(network, weights, x, t): a small float64 network with random weights and biases on random inputs,
    every ReLU input at least 1e-3 from its kink (so differences never straddle it)."""
    rng = streams.rng(seed, "small network")
    weights = {
        "W1": rng.normal(size=(inputs, hidden)) * 0.5, "b1": rng.normal(size=hidden) * 0.5,
        "W2": rng.normal(size=(hidden, classes)) * 0.5, "b2": rng.normal(size=classes) * 0.5,
    }
    x, t = rng.normal(size=(batch, inputs)), rng.integers(0, classes, size=batch)
    while True:  # redraw the samples that come closer to a kink
        near = np.abs(x @ weights["W1"] + weights["b1"]).min(axis=1) < 1e-3
        if not near.any():
            break
        x[near] = rng.normal(size=(int(near.sum()), inputs))
    network = impl.require("TwoLayerNet")(inputs, hidden, classes, weight_init_std=0.5)
    load_into_impl(network, weights)
    return network, weights, x, t


def check_methods(impl, x, t, *, seed, dtype, impl_spec="impl"):
    """[Comparison or NotRun] for every public method of the implementation's TwoLayerNet; see the module."""
    from .network import TwinTwoLayerNet
    from .trace import trace_network

    dtype = np.dtype(dtype).name
    tol = tolerance.twin(dtype)
    command = f"python -m reference trace --impl {impl_spec} --dtype {dtype} --seed {seed}"

    def context(tensor, oracle="twin", phase="", call=""):
        return Context(layer="TwoLayerNet", tensor=tensor, oracle=oracle, dtype=dtype, seed=seed, phase=phase or tensor,
                       call=call,
                       case="TwoLayerNet methods", reproduce=command)

    results = []

    def call(tensor, function, *args, labels_form=""):
        try:
            with time_limit(what=f"TwoLayerNet.{tensor}"), np.errstate(all="ignore"):
                return True, function(*args)
        except CheckTimeout as error:
            results.append(NotRun(context(tensor, call=labels_form), str(error), "TIMEOUT"))
        except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
            where = raised_where(error)
            results.append(NotRun(context(tensor, call=labels_form), f"raised {type(error).__name__}: {error}"
                                  + (f"\n  at {where}" if where else ""), "RAISED"))
        return False, None

    weights = initial_weights(seed, x.shape[1], 50, 10, weight_init_std=0.1, dtype=dtype)
    try:
        network = make_impl_network(impl, x.shape[1], 50, 10, dtype)
        load_into_impl(network, weights)
    except (MissingProtocol, NetworkDtypeUnsupported) as error:
        return [NotRun(context("construction"), str(error))]
    twin = TwinTwoLayerNet(weights)
    half = len(x) // 2
    for call_number, (form, rows) in enumerate(zip(LABEL_FORMS, (slice(0, half), slice(half, None))), start=1):
        xb, index = np.ascontiguousarray(x[rows], dtype=dtype), t[rows]
        labels = index if form == "index" else np.eye(10, dtype=dtype)[index]
        suffix = f"{form} labels"
        # layer by layer first, on this same instance: a layer that keeps something from the first call is
        # blamed where it goes wrong, before the network's methods inherit it
        traced = trace_network(network, xb, labels, seed=seed, dtype=dtype, impl_spec=impl_spec, reproduce=command,
                               name=f"TwoLayerNet call {call_number}", end_to_end=False)
        results.extend(traced.results)
        if not traced.passed:
            return results
        twin_loss, twin_grads = twin.gradient(xb, index)
        with torch.no_grad():
            scores = twin.logits(torch.from_numpy(xb)).numpy()
        done, loss = call("loss", network.loss, xb, labels, labels_form=suffix)
        if done:
            results.append(compare(loss, twin_loss, tol, context("loss", call=suffix)))
        done, grads = call("gradient", network.gradient, xb, labels, labels_form=suffix)
        if done:
            for key in PARAMS:
                actual = grads.get(key) if isinstance(grads, dict) else None
                results.append(compare(actual, twin_grads[key], tol, context(key, phase="gradient", call=suffix)))
        done, predicted = call("predict", network.predict, xb, labels_form=suffix)
        if done:
            results.append(compare(predicted, scores, tol, context("predict", call=suffix)))
        done, accuracy = call("accuracy", network.accuracy, xb, labels, labels_form=suffix)
        if done:
            results.append(compare(np.float64(accuracy) if np.ndim(accuracy) == 0 else accuracy,
                                   np.float64(twin.accuracy(xb, index)), tolerance.EXACT,
                                   context("accuracy", call=suffix)))
    if dtype == "float64":
        results.extend(_numerical_gradient(impl, seed, context, call))
    return results


def _numerical_gradient(impl, seed, context, call):
    """network.numerical_gradient against autograd of the textbook's loss (epsilon included), and the
    parameters back as they were."""
    from .network import TwinTwoLayerNet

    try:
        network, weights, x, t = small_problem(impl, seed)
    except MissingProtocol as error:
        return [NotRun(context("numerical_gradient"), str(error))]
    results = []
    done, numeric = call("numerical_gradient", network.numerical_gradient, x, t)
    if not done:
        return results
    twin = TwinTwoLayerNet(weights)
    twins.softmax_with_loss(twin.logits(torch.from_numpy(x)), torch.from_numpy(t.astype(np.int64))).backward()
    for key in PARAMS:
        actual = numeric.get(key) if isinstance(numeric, dict) else None
        results.append(compare(actual, twin.params[key].grad.numpy(), tolerance.finite_differences(),
                               context(key, phase="numerical_gradient")))
        results.append(compare(network.params[key], weights[key], tolerance.EXACT,
                               context(key, "arguments", phase=key, call="after numerical_gradient")))
    return results
