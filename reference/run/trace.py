"""The side-by-side trace of any network: every layer, forward then backward, and the first divergence.

A network is anything that keeps its layers in order (the textbook's convention: an ordered
`layers` dict or list, then a loss layer named `lastLayer` or `last_layer`).  Each layer is matched
to its piece in reference.pieces.registry by its class name, run on the input the implementation itself
fed it, and its twin is run on that same input (and, in backward, on the same incoming gradient).
A layer is therefore judged on its own work, not on what it inherited: a wrong Sigmoid.backward is
blamed on Sigmoid backward, not on the W1 gradient it corrupts downstream (the idea of CRADLE's
layer-by-layer localisation).  An implementation that raises or hangs is reported at the layer
where it did, and the trace stops there.  A layer of a class the registry does not know is reported
SKIPPED (neither pass nor failure) and passed through.

Then gradient() end to end: against autograd of the network composed from the layers' twins where
every layer is known, else against finite differences of the network's own loss() (float64).
"""

import inspect
from dataclasses import dataclass

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.base import streams
from bp_parity.reference.base.lazy_torch import torch
from bp_parity.reference.base.limits import calling, CheckTimeout
from bp_parity.reference.pieces import registry
from bp_parity.reference.plan.target import arguments, Target
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, compare_conventions, Context, NotRun, Oracle, Verdict
from bp_parity.reference.report.tolerance import tensor_scale
from bp_parity.reference.run import finite_diff, wire
from bp_parity.reference.run.case import raised_where
from bp_parity.reference.run.network import (label_indices, last_layer, layer_piece, loss_piece, NetworkTwin, NotANetwork,
                                   ordered_layers)


@wire.register
@dataclass
class Trace:
    network: str
    results: list  # Comparison or NotRun, in the order the data flows

    @property
    def first_divergence(self):
        return next((r for r in self.results if not r.passed and not r.skipped), None)

    @property
    def passed(self):
        return self.first_divergence is None

    @property
    def skipped(self):
        return [r for r in self.results if r.skipped]


class _Stop(Exception):
    """The implementation failed to answer: the trace cannot go on past this row."""


def _tensor(array, grad=False):
    t = torch.from_numpy(np.array(array, copy=True))
    return t.requires_grad_(True) if grad else t


def trace_network(network, x, t, *, seed, dtype, impl=None, reproduce=None, name=None, end_to_end=True):
    """Trace the network's layers (in order), then its loss layer, forward and backward; then gradient()
    end to end.  See the module docstring.  impl: the implementation the network is of, for the reproduce line
    (where none is given; this repository's impl where it is not known either)."""
    dtype = np.dtype(dtype).name
    tol = tolerance.twin(dtype)
    label = name or type(network).__name__
    results = []
    command = reproduce or f"{program()} trace {arguments(impl or Target())} --dtype {dtype} --seed {seed}"

    def context(position, tensor, piece="", phase=""):
        return Context(layer=position, tensor=tensor, oracle=Oracle.TWIN, dtype=dtype, seed=seed, case=label,
                       reproduce=command, piece=piece, phase=phase)

    def call(ctx, function, *args, **kwargs):
        try:
            with calling(f"{ctx.layer} {ctx.shown}", at=ctx):
                return function(*args, **kwargs)
        except CheckTimeout as error:
            results.append(NotRun(ctx, str(error), Verdict.TIMEOUT))
        except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
            where = raised_where(error)
            results.append(NotRun(ctx, f"{ctx.shown} raised {type(error).__name__}: {error}"
                                  + (f"\n  at {where}" if where else ""), Verdict.RAISED))
        raise _Stop

    try:
        layers = ordered_layers(network)
        last_name, last = last_layer(network)
    except NotANetwork as error:
        return Trace(label, [NotRun(context(label, "layers", phase="construction"), str(error))])
    try:
        _trace(layers, last_name, last, x, t, tol, context, call, results, owner=type(network).__name__)
    except _Stop:
        return Trace(label, results)
    if end_to_end:
        try:
            results.extend(_end_to_end(network, layers, last, x, t, tol, context, call))
        except _Stop:
            pass
    return Trace(label, results)


def _trace(layers, last_name, last, x, t, tol, context, call, results, owner=""):
    """owner: the network's class name, blamed where its layers cannot be composed at the sizes it built them."""
    dtype = np.asarray(x).dtype

    def _as_run(array, grad=False):
        """What the twin is fed: the implementation's value in the run's dtype (a value of the wrong dtype
        has already been reported; the twin still runs in the dtype under test).  A value that is no array
        of numbers at all has been reported too, and the trace cannot go on past it."""
        try:
            return _tensor(np.asarray(array, dtype=dtype), grad)
        except (TypeError, ValueError):
            raise _Stop from None

    def given(value):
        """A copy of what a layer is handed, taken before it runs: the twin's input, which a layer that writes into
        its argument (x in forward, dout in backward) cannot change under it."""
        return np.array(value, copy=True) if isinstance(value, np.ndarray) else value

    def unknown(position, kind, phase):
        return NotRun(context(position, phase, kind, phase), f"a layer of class {kind}, which the registry does not "
                      "know: passed through unchecked here (register it to check it; gradient() is still checked "
                      "end to end)", Verdict.SKIPPED)

    # one layer object at several positions (a single activation reused) keeps only its last call's state: what its
    # backward gets wrong there is the network's construction, not the layer class's (reference.run.structure)
    positions_of = {}
    for position, layer in layers:
        positions_of.setdefault(id(layer), []).append(position)
    shared = {p for held in positions_of.values() if len(held) > 1 for p in held}

    def blamed(position, piece):
        """Who a failure at `position` blames: the piece (a name, or a record), or the network for a shared layer."""
        return owner if position in shared and owner else getattr(piece, "name", piece)

    inputs, twins_of = {}, {}
    activation = x
    for position, layer in layers:
        kind = type(layer).__name__
        inputs[position] = given(activation)
        state = np.random.get_state()  # what a layer that draws from NumPy's global generator (Dropout) draws from
        piece, spec = layer_piece(layer)
        expected = None
        if piece is not None:
            twins_of[position] = lambda spec=spec, layer=layer, state=state: spec.trace_twin(layer, streams.generator_in_state(state))
            params = [_as_run(getattr(layer, p)) for p in spec.params]
            try:  # the twin first: where it cannot take this input at the layer's own parameters, the sizes are wrong
                with torch.no_grad():
                    expected = twins_of[position]()(_as_run(inputs[position]), *params).numpy()
            except RuntimeError as error:  # torch's shape errors: the network built the layer at the wrong size
                shapes = ", ".join(f"{p} {np.shape(getattr(layer, p))}" for p in spec.params)
                results.append(NotRun(context(position, "forward", owner or piece.name, "construction"),
                                      f"{position} ({kind}) cannot take what the layer before it hands it, an input "
                                      f"of shape {np.shape(inputs[position])}, at its own parameters ({shapes}): "
                                      f"the network sized the layer wrong (the twin: {str(error).splitlines()[0]})",
                                      Verdict.MISMATCH))
                raise _Stop from None
        output = call(context(position, "forward", blamed(position, kind), "forward"), layer.forward, activation)
        if piece is None:
            results.append(unknown(position, kind, "forward"))
        else:
            results.append(compare(output, expected, tol, context(position, "forward", blamed(position, piece),
                                                                  "forward")))
        activation = output

    kind = type(last).__name__
    found = loss_piece(last)
    if found is None:
        results.append(NotRun(context(last_name, "forward", kind, "forward"), f"the loss layer is of class {kind}, "
                              "which the registry does not know as a loss: the trace cannot judge it"))
        raise _Stop
    spec = found.spec
    index = label_indices(t)
    scores_given = given(activation)
    loss = call(context(last_name, "forward", kind, "forward"), last.forward, activation, t)
    activation = scores_given
    with torch.no_grad():
        expected_loss = spec.twin(_as_run(activation), _tensor(index)).numpy()
        conventions = [(spec.backward_twin(_as_run(activation), _tensor(index)).numpy(), note)
                       for _, note in spec.conventions.get("forward", ())]
    results.append(compare_conventions(loss, [(expected_loss, "")] + conventions, tol,
                                       context(last_name, "forward", kind, "forward")))

    dout = call(context(last_name, "dx", kind, "backward"), last.backward, 1)
    scores = _as_run(activation, grad=True)
    spec.backward_twin(scores, _tensor(index)).backward()
    results.append(compare(dout, scores.grad.numpy(), tol, context(last_name, "dx", kind, "backward")))

    for position, layer in reversed(layers):
        kind = type(layer).__name__
        dout_given = given(dout)
        dx = call(context(position, "dx", blamed(position, kind), "backward"), layer.backward, dout)
        piece, spec = layer_piece(layer)
        if piece is None:
            results.append(unknown(position, kind, "backward"))
            dout = dx
            continue
        x_in = _as_run(inputs[position], grad=True)
        params = [_as_run(getattr(layer, p), grad=True) for p in spec.params]
        twins_of[position]()(x_in, *params).backward(_as_run(dout_given))
        # one scale for the layer's whole backward: its tensors are summed from the same products of the incoming
        # gradient, and one may cancel to nothing by construction (a bias before batch normalization)
        expected = [x_in.grad.numpy()] + [leaf.grad.numpy() for leaf in params]
        scale = max(tensor_scale(e) for e in expected)
        what = f"{position}'s whole backward"
        results.append(compare(dx, expected[0], tol, context(position, "dx", blamed(position, piece), "backward"),
                               scale=scale, scale_of=what))
        for p, e in zip(spec.params, expected[1:]):
            results.append(compare(getattr(layer, f"d{p}", None), e, tol,
                                   context(position, f"d{p}", blamed(position, piece), "backward"), scale=scale,
                                   scale_of=what))
        dout = dx


def _end_to_end(network, layers, last, x, t, tol, context, call):
    """network.gradient(x, t) against autograd of the whole network composed from the layer twins, or, where a
    layer has no twin, against finite differences of network.loss (float64; float32 is SKIPPED).

    Run after the layer-by-layer rows, so a wrong layer is blamed there first; this catches what lies
    between the layers: the order of the backward pass, gradients filed under the wrong key, parameters
    not shared with the layers.
    """
    network_name = type(network).__name__
    params = getattr(network, "params", None)
    if not isinstance(params, dict) or not hasattr(network, "gradient"):
        return [NotRun(context(network_name, "gradient"), "the network has no params dict or gradient()")]
    known = all(layer_piece(layer)[0] is not None for _, layer in layers) and loss_piece(last) is not None
    if not known:
        return _end_to_end_by_differences(network, params, x, t, context, call)
    # the layer-by-layer rows ran every backward on this very batch and left their d<p> on the layers: cleared, so a
    # gradient() that skips a layer's backward cannot hand back the trace's own answers
    for _, layer in layers:
        for p in layer_piece(layer)[1].params:
            if hasattr(layer, f"d{p}"):
                setattr(layer, f"d{p}", None)
    state = np.random.get_state()  # gradient() draws its dropout masks from here: the twin replays them
    grads = call(context(network_name, "gradient", phase="gradient"), network.gradient, x, t)
    expected = NetworkTwin.composed(network, constants=True).gradient(x, t, state)[1]
    rows = []
    # one scale for the whole gradient, as a check of the flattened parameter vector: a gradient that is zero by
    # construction (a bias before batch normalization) is rounding noise of the same terms as its neighbours
    scale = max((tensor_scale(e) for e in expected.values()), default=1.0)
    for key, value in expected.items():
        actual = grads.get(key) if isinstance(grads, dict) else None
        rows.append(compare(actual, value, tol, context(network_name, key, phase="gradient"), scale=scale,
                            scale_of="the whole gradient (every parameter)"))
    # and the second oracle, which needs nothing but the network's own loss: finite differences (float64)
    if np.asarray(x).dtype == np.float64:
        rows += _end_to_end_by_differences(network, params, x, t, context, call, grads, state)
    return rows


def _training_loss(network, params):
    """The loss gradient() differentiates, from the network's own predict() in training mode (where predict takes
    the textbook's train_flg: batch statistics, dropout masks applied): the mean cross-entropy of the softmax of its
    scores, computed by the harness in float64 WITHOUT the textbook's 1e-7 (the loss SoftmaxWithLoss.backward is the
    derivative of: a documented difference of its registry record; with a poorly fit network, y_t ~ 1e-5, the
    epsilon alone would part the two by 1e-2 of a row), plus the textbook's weight decay 0.5 lambda sum W^2 where
    the network has weight_decay_lambda."""
    try:
        takes_flag = "train_flg" in inspect.signature(network.predict).parameters
    except (TypeError, ValueError):
        takes_flag = False
    decay = float(getattr(network, "weight_decay_lambda", 0) or 0)
    weights = [array for key, array in params.items() if key.startswith("W")]

    def loss(x, t):
        scores = np.asarray(network.predict(x, train_flg=True) if takes_flag else network.predict(x), dtype=np.float64)
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        index = label_indices(t)
        value = -log_softmax[np.arange(len(index)), index].mean()
        return value + sum(0.5 * decay * float(np.sum(np.asarray(W, dtype=np.float64) ** 2)) for W in weights)

    return loss


def _end_to_end_by_differences(network, params, x, t, context, call, grads=None, state=None):
    """gradient() against the derivative of the training loss along one random direction per parameter (gradcheck's
    fast mode), in float64: the oracle that needs no twin, only the network's own predict() (_training_loss).
    NumPy's global generator is put back in the state gradient() started from before every evaluation, so each
    draws the dropout masks gradient() drew.

    grads, state: gradient()'s answer and the generator state it started from, where already called."""
    network_name = type(network).__name__
    dtype = np.asarray(x).dtype
    if dtype != np.float64:
        return [NotRun(context(network_name, key, phase="gradient"), "a layer has no twin, and finite differences "
                       "judge gradient() in float64 only", Verdict.SKIPPED) for key in params]
    if grads is None:
        state = np.random.get_state()
        grads = call(context(network_name, "gradient", phase="gradient"), network.gradient, x, t)
    loss = _training_loss(network, params)
    rng = streams.rng(0, "fd direction")
    rows = []
    tol = tolerance.finite_differences("float64")
    for key, array in params.items():
        ctx = context(network_name, key, phase="gradient")
        ctx.oracle = Oracle.FINITE_DIFFERENCES
        direction = finite_diff.scaled_direction(rng, array)
        original = array.copy()
        actual = grads.get(key) if isinstance(grads, dict) else None
        try:
            terms = np.asarray(actual, dtype=np.float64) * direction
            claimed, scale = np.asarray(np.sum(terms)), float(np.sum(np.abs(terms)))
        except (TypeError, ValueError) as error:
            claimed, scale = f"gradient unusable: {error}", 0.0

        def f(value, array=array):
            array[...] = value
            np.random.set_state(state)
            return float(loss(x, t))

        def allowed(derivative, scale=scale):
            return tolerance.directional_allowance(scale) + tol.rtol * abs(derivative)

        try:
            with calling(f"{network_name}.predict under finite differences"):
                derivative, rounding, _ = finite_diff.directional_away_from_kinks(f, original, direction, allowed)
        except CheckTimeout as error:
            rows.append(NotRun(ctx, str(error), Verdict.TIMEOUT))
            continue
        except finite_diff.OnAKink as error:
            rows.append(NotRun(ctx, f"finite differences cannot judge here: {error}"))
            continue
        except Exception as error:  # noqa: BLE001
            rows.append(NotRun(ctx, f"predict() raised {type(error).__name__}: {error}", Verdict.RAISED))
            continue
        finally:
            array[...] = original
            np.random.set_state(state)
        rows.append(compare(claimed, np.asarray(derivative), tol, ctx,
                            extra_atol=rounding + tolerance.directional_allowance(scale)))
    return rows


# --- building networks ----------------------------------------------------------------------------

def build_network(impl, name, dtype="float64", input_size=784):
    """The implementation's network `name`: a registered network piece is built by its record (the textbook's
    constructors need sizes: built small); any other class or factory is called with no arguments."""
    target = impl.require(name)
    piece = registry.REGISTRY.get(name)
    if piece is not None and piece.network is not None:
        return piece.network.build(impl, input_size, dtype)
    if not callable(target):
        raise NotANetwork(f"{name} in {impl.spec} is not a class or a function")
    try:
        return target()
    except TypeError as error:
        raise NotANetwork(f"{name}() needs arguments ({error}): --net takes a network class whose constructor needs "
                          "none, or a factory function of no arguments") from None


def net_problem(network, seed, batch, dtype, mnist=None, input_shape=None):
    """(x, t) to trace `network` with: an MNIST batch where its first layer takes 784 inputs, else inputs drawn
    from the stream "net inputs", of one sample's input_shape where given (a convolutional network's (C, H, W));
    labels for as many classes as its last parameter layer has outputs."""
    layers = ordered_layers(network)
    sizes = [np.shape(getattr(layer, spec.params[0])) for _, layer in layers
             for _, spec in [layer_piece(layer)] if spec is not None and spec.params]
    features = sizes[0][0] if sizes else None
    classes = sizes[-1][-1] if sizes else 10
    if input_shape is not None:
        rng = streams.rng(seed, "net inputs")
        return rng.normal(size=(batch,) + tuple(input_shape)).astype(dtype), rng.integers(0, classes, size=batch)
    if features is None:
        raise NotANetwork("the network's first layer with parameters is not one the registry knows, so its input "
                          "size is unknown")
    rng = streams.rng(seed, "net inputs")
    if features == 784 and mnist is not None and classes == 10:
        x, t = mnist
        index = streams.rng(seed, "trace batch").choice(len(x), size=batch, replace=False)
        return x[index].astype(dtype), t[index]
    return rng.normal(size=(batch, features)).astype(dtype), rng.integers(0, classes, size=batch)


def network_dtype(network):
    """The dtype of the network's first parameter array (float64 if it has none)."""
    for _, layer in ordered_layers(network):
        _, spec = layer_piece(layer)
        if spec is not None and spec.params:
            return np.asarray(getattr(layer, spec.params[0])).dtype.name
    return "float64"




