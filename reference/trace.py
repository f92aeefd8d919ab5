"""The side-by-side trace of a network: every layer, forward then backward, and the first divergence.

Each layer of the implementation's network is run on the input the
implementation itself fed it, and its twin is run on that same input (and, in
backward, on the same incoming gradient).  A layer is therefore judged on its
own work, not on what it inherited: a wrong Sigmoid.backward is blamed on
Sigmoid backward, not on the W1 gradient it corrupts downstream (the idea of
CRADLE's layer-by-layer localisation).
"""

from dataclasses import dataclass

import numpy as np
import torch

from . import tolerance, twins
from .compare import Context, compare
from .layer_checks import NotRun

# layer class name -> (twin forward taking (x, layer), names of its parameters)
LAYER_TWINS = {
    "Affine": (lambda x, p: twins.affine(x, p["W"], p["b"]), ("W", "b")),
    "Relu": (lambda x, p: twins.relu(x), ()),
    "Sigmoid": (lambda x, p: twins.sigmoid(x), ()),
}


@dataclass
class Trace:
    results: list  # Comparison or NotRun, in the order the data flows

    @property
    def first_divergence(self):
        return next((r for r in self.results if not r.passed), None)

    @property
    def passed(self):
        return self.first_divergence is None


def _tensor(array, grad=False):
    t = torch.from_numpy(np.array(array, copy=True))
    return t.requires_grad_(True) if grad else t


def trace_network(network, x, t, *, seed, dtype, impl_spec="impl", reproduce=None):
    """Trace network.layers (in order), then its loss layer, forward and backward."""
    dtype = np.dtype(dtype).name
    tol = tolerance.twin(dtype)
    results = []
    command = reproduce or f"python -m reference trace --impl {impl_spec} --dtype {dtype} --seed {seed}"

    def context(layer, tensor):
        return Context(layer=layer, tensor=tensor, oracle="twin", dtype=dtype, seed=seed, case="network trace",
                       reproduce=command)

    layers = list(network.layers.items())
    inputs = {}
    activation = x
    for name, layer in layers:
        inputs[name] = activation
        kind = type(layer).__name__
        output = layer.forward(activation)
        if kind in LAYER_TWINS:
            forward, param_names = LAYER_TWINS[kind]
            params = {p: _tensor(getattr(layer, p)) for p in param_names}
            with torch.no_grad():
                expected = forward(_tensor(activation), params).numpy()
            results.append(compare(output, expected, tol, context(name, "forward")))
        else:
            results.append(NotRun(context(name, "forward"), f"no twin for a layer of class {kind}"))
        activation = output

    last = getattr(network, "lastLayer", None)
    labels = np.asarray(t)
    index = labels if labels.ndim == 1 else labels.argmax(axis=1)
    if last is None:
        results.append(NotRun(context("lastLayer", "forward"), "the network has no lastLayer (SoftmaxWithLoss)"))
        return Trace(results)
    loss = last.forward(activation, t)
    with torch.no_grad():
        expected_loss = twins.softmax_with_loss(_tensor(activation), _tensor(index.astype(np.int64))).numpy()
    results.append(compare(loss, expected_loss, tol, context("lastLayer", "forward")))

    dout = last.backward(1)
    scores = _tensor(activation, grad=True)
    twins.softmax_cross_entropy(scores, _tensor(index.astype(np.int64))).backward()
    results.append(compare(dout, scores.grad.numpy(), tol, context("lastLayer", "backward dx")))

    for name, layer in reversed(layers):
        kind = type(layer).__name__
        dx = layer.backward(dout)
        if kind not in LAYER_TWINS:
            results.append(NotRun(context(name, "backward dx"), f"no twin for a layer of class {kind}"))
            dout = dx
            continue
        forward, param_names = LAYER_TWINS[kind]
        x_in = _tensor(inputs[name], grad=True)
        params = {p: _tensor(getattr(layer, p), grad=True) for p in param_names}
        forward(x_in, params).backward(_tensor(dout))
        results.append(compare(dx, x_in.grad.numpy(), tol, context(name, "backward dx")))
        for p in param_names:
            results.append(compare(getattr(layer, f"d{p}"), params[p].grad.numpy(), tol, context(name, f"backward d{p}")))
        dout = dx
    results.extend(_end_to_end(network, x, index, tol, context))
    return Trace(results)


def _end_to_end(network, x, index, tol, context):
    """network.gradient(x, t) against autograd of the whole network composed from the layer twins.

    Run after the layer-by-layer rows, so a wrong layer is blamed there first;
    this catches what lies between the layers: the order of the backward pass,
    gradients filed under the wrong key, parameters not shared with the layers.
    """
    params = getattr(network, "params", None)
    if not isinstance(params, dict) or not hasattr(network, "gradient"):
        return [NotRun(context(type(network).__name__, "gradient"), "the network has no params dict or gradient()")]
    leaves = {k: _tensor(v, grad=True) for k, v in params.items()}
    activation = _tensor(x)
    for _, layer in network.layers.items():
        kind = type(layer).__name__
        if kind not in LAYER_TWINS:
            return [NotRun(context(type(network).__name__, "gradient"), f"no twin for a layer of class {kind}")]
        forward, param_names = LAYER_TWINS[kind]
        layer_params = {}
        for p in param_names:
            array = getattr(layer, p)
            key = next((k for k, v in params.items() if v is array), None)
            layer_params[p] = leaves[key] if key is not None else _tensor(array)
        activation = forward(activation, layer_params)
    twins.softmax_cross_entropy(activation, _tensor(index.astype(np.int64))).backward()
    grads = network.gradient(x, index)
    rows = []
    for key, leaf in leaves.items():
        expected = leaf.grad.numpy() if leaf.grad is not None else np.zeros_like(params[key])
        actual = grads.get(key) if isinstance(grads, dict) else None
        rows.append(compare(actual, expected, tol, context(type(network).__name__, f"gradient {key}")))
    return rows
