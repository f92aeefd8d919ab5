"""The side-by-side trace of a network: every layer, forward then backward, and the first divergence.

Each layer of the implementation's network is run on the input the
implementation itself fed it, and its twin is run on that same input (and, in
backward, on the same incoming gradient).  A layer is therefore judged on its
own work, not on what it inherited: a wrong Sigmoid.backward is blamed on
Sigmoid backward, not on the W1 gradient it corrupts downstream (the idea of
CRADLE's layer-by-layer localisation).  An implementation that raises or
hangs is reported at the layer where it did, and the trace stops there.
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import tolerance, twins
from .deviations import EPSILON_FREE_LOSS
from .compare import Context, compare, compare_conventions
from .layer_checks import NotRun, raised_where
from .limits import CheckTimeout, time_limit

# layer class name -> (twin forward taking (x, params), names of its parameters)
LAYER_TWINS = {
    "Affine": (lambda x, p: twins.affine(x, p["W"], p["b"]), ("W", "b")),
    "Relu": (lambda x, p: twins.relu(x), ()),
    "Sigmoid": (lambda x, p: twins.sigmoid(x), ()),
}


@dataclass
class Trace:
    network: str
    results: list  # Comparison or NotRun, in the order the data flows

    @property
    def first_divergence(self):
        return next((r for r in self.results if not r.passed), None)

    @property
    def passed(self):
        return self.first_divergence is None


class _Stop(Exception):
    """The implementation failed to answer: the trace cannot go on past this row."""


def _tensor(array, grad=False):
    t = torch.from_numpy(np.array(array, copy=True))
    return t.requires_grad_(True) if grad else t


def trace_network(network, x, t, *, seed, dtype, impl_spec="impl", reproduce=None, name=None, end_to_end=True):
    """Trace network.layers (in order), then its lastLayer, forward and backward; then gradient() end to end."""
    dtype = np.dtype(dtype).name
    tol = tolerance.twin(dtype)
    label = name or type(network).__name__
    results = []
    command = reproduce or f"python -m reference trace --impl {impl_spec} --dtype {dtype} --seed {seed}"

    def context(layer, tensor, piece=""):
        return Context(layer=layer, tensor=tensor, oracle="twin", dtype=dtype, seed=seed, case=label,
                       reproduce=command, piece=piece)

    def call(ctx, function, *args, **kwargs):
        try:
            with time_limit(what=f"{ctx.layer} {ctx.tensor}"), np.errstate(all="ignore"):
                return function(*args, **kwargs)
        except CheckTimeout as error:
            results.append(NotRun(ctx, str(error), "TIMEOUT"))
        except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
            where = raised_where(error)
            results.append(NotRun(ctx, f"{ctx.tensor} raised {type(error).__name__}: {error}"
                                  + (f"\n  at {where}" if where else ""), "RAISED"))
        raise _Stop

    try:
        _trace(network, x, t, tol, context, call, results)
    except _Stop:
        return Trace(label, results)
    if end_to_end:
        try:
            results.extend(_end_to_end(network, x, t, tol, context, call))
        except _Stop:
            pass
    return Trace(label, results)


def _trace(network, x, t, tol, context, call, results):
    dtype = np.asarray(x).dtype

    def _as_run(array, grad=False):
        """What the twin is fed: the implementation's value in the run's dtype (a value of the wrong dtype
        has already been reported; the twin still runs in the dtype under test).  A value that is no array
        of numbers at all has been reported too, and the trace cannot go on past it."""
        try:
            return _tensor(np.asarray(array, dtype=dtype), grad)
        except (TypeError, ValueError):
            raise _Stop from None

    layers = list(network.layers.items())
    inputs = {}
    activation = x
    for name, layer in layers:
        kind = type(layer).__name__
        inputs[name] = activation
        output = call(context(name, "forward", kind), layer.forward, activation)
        if kind in LAYER_TWINS:
            forward, param_names = LAYER_TWINS[kind]
            params = {p: _as_run(getattr(layer, p)) for p in param_names}
            with torch.no_grad():
                expected = forward(_as_run(activation), params).numpy()
            results.append(compare(output, expected, tol, context(name, "forward", kind)))
        else:
            results.append(NotRun(context(name, "forward", kind), f"no twin for a layer of class {kind}"))
        activation = output

    last = getattr(network, "lastLayer", None)
    if last is None:
        results.append(NotRun(context("lastLayer", "forward"), "the network has no lastLayer (SoftmaxWithLoss)"))
        raise _Stop
    kind = type(last).__name__
    index = _indices(t)
    loss = call(context("lastLayer", "forward", kind), last.forward, activation, t)
    with torch.no_grad():
        expected_loss = twins.softmax_with_loss(_as_run(activation), _tensor(index)).numpy()
        plain_loss = twins.softmax_cross_entropy(_as_run(activation), _tensor(index)).numpy()
    results.append(compare_conventions(loss, [(expected_loss, ""), (plain_loss, EPSILON_FREE_LOSS)], tol,
                                       context("lastLayer", "forward", kind)))

    dout = call(context("lastLayer", "backward dx", kind), last.backward, 1)
    scores = _as_run(activation, grad=True)
    twins.softmax_cross_entropy(scores, _tensor(index)).backward()
    results.append(compare(dout, scores.grad.numpy(), tol, context("lastLayer", "backward dx", kind)))

    for name, layer in reversed(layers):
        kind = type(layer).__name__
        dx = call(context(name, "backward dx", kind), layer.backward, dout)
        if kind not in LAYER_TWINS:
            results.append(NotRun(context(name, "backward dx", kind), f"no twin for a layer of class {kind}"))
            dout = dx
            continue
        forward, param_names = LAYER_TWINS[kind]
        x_in = _as_run(inputs[name], grad=True)
        params = {p: _as_run(getattr(layer, p), grad=True) for p in param_names}
        forward(x_in, params).backward(_as_run(dout))
        results.append(compare(dx, x_in.grad.numpy(), tol, context(name, "backward dx", kind)))
        for p in param_names:
            results.append(compare(getattr(layer, f"d{p}", None), params[p].grad.numpy(), tol,
                                   context(name, f"backward d{p}", kind)))
        dout = dx


def _indices(t):
    labels = np.asarray(t)
    return (labels if labels.ndim == 1 else labels.argmax(axis=1)).astype(np.int64)


def _end_to_end(network, x, t, tol, context, call):
    """network.gradient(x, t) against autograd of the whole network composed from the layer twins.

    Run after the layer-by-layer rows, so a wrong layer is blamed there first;
    this catches what lies between the layers: the order of the backward pass,
    gradients filed under the wrong key, parameters not shared with the layers.
    """
    network_name = type(network).__name__
    params = getattr(network, "params", None)
    if not isinstance(params, dict) or not hasattr(network, "gradient"):
        return [NotRun(context(network_name, "gradient"), "the network has no params dict or gradient()")]
    leaves = {k: _tensor(v, grad=True) for k, v in params.items()}
    activation = _tensor(x)
    for _, layer in network.layers.items():
        kind = type(layer).__name__
        if kind not in LAYER_TWINS:
            return [NotRun(context(network_name, "gradient"), f"no twin for a layer of class {kind}")]
        forward, param_names = LAYER_TWINS[kind]
        layer_params = {}
        for p in param_names:
            array = getattr(layer, p)
            key = next((k for k, v in params.items() if v is array), None)
            layer_params[p] = leaves[key] if key is not None else _tensor(array)
        activation = forward(activation, layer_params)
    if activation.requires_grad:  # not when no layer holds a params array: then every expected gradient is 0
        twins.softmax_cross_entropy(activation, _tensor(_indices(t))).backward()
    grads = call(context(network_name, "gradient"), network.gradient, x, t)
    rows = []
    for key, leaf in leaves.items():
        expected = leaf.grad.numpy() if leaf.grad is not None else np.zeros_like(params[key])
        actual = grads.get(key) if isinstance(grads, dict) else None
        rows.append(compare(actual, expected, tol, context(network_name, f"gradient {key}")))
    return rows


def trace_all(impl, x, t, *, seed, dtype, impl_spec="impl", reproduce=None):
    """Trace the networks the protocol allows: Affine-Relu-Affine and Affine-Sigmoid-Affine built
    from the implementation's layer classes, then the implementation's own TwoLayerNet, and every public
    method of that network (reference.network_checks)."""
    from .network import ComposedNetwork, initial_weights, load_into_impl, make_impl_network
    from .network_checks import check_methods
    from .protocol import MissingProtocol

    # 0.1, not the textbook's 0.01: scores far from uniform, so every gradient carries signal
    weights = initial_weights(seed, x.shape[1], 50, 10, weight_init_std=0.1, dtype=dtype)
    traces = []
    for activation in ("Relu", "Sigmoid"):
        label = f"{activation} network"
        try:
            network = ComposedNetwork(impl, activation, {k: v.copy() for k, v in weights.items()})
        except MissingProtocol as missing:
            traces.append(Trace(label, [NotRun(_bare_context(label, seed, dtype), str(missing))]))
            continue
        traces.append(trace_network(network, x, t, seed=seed, dtype=dtype, impl_spec=impl_spec, reproduce=reproduce,
                                    name=label, end_to_end=False))
    try:
        network = make_impl_network(impl, x.shape[1], 50, 10, dtype)
        load_into_impl(network, weights)
    except (MissingProtocol, ValueError, TypeError) as error:
        traces.append(Trace("TwoLayerNet", [NotRun(_bare_context("TwoLayerNet", seed, dtype), str(error))]))
        return traces
    traces.append(trace_network(network, x, t, seed=seed, dtype=dtype, impl_spec=impl_spec, reproduce=reproduce,
                                name="TwoLayerNet"))
    traces.append(Trace("TwoLayerNet methods", check_methods(impl, x, t, seed=seed, dtype=dtype, impl_spec=impl_spec)))
    return traces


def _bare_context(label, seed, dtype):
    return Context(layer=label, tensor="construction", oracle="twin", dtype=dtype, seed=seed, case=label)
