"""Every public method of a network against its twin, on one instance called again and again.

The trace judges each layer and gradient() end to end; this judges what a user calls:
predict, loss, accuracy and gradient, with labels as indices and then one-hot on the same
instance, in the dtype of the run.  Before each call's methods the same instance is traced
layer by layer, so a layer that keeps something from the first call is blamed itself, not the
network that inherits it.  Then numerical_gradient against autograd of the textbook's loss on
a small network (float64: it is a difference quotient), which must leave the parameters as
they were.
"""

import inspect

import numpy as np
import torch
import torch.nn.functional as F

from bp_parity.reference.base.program import program
from bp_parity.reference.base import streams
from bp_parity.reference.base.limits import calling, CheckTimeout
from bp_parity.reference.pieces import affine, registry
from bp_parity.reference.pieces.networks import (initial_weights, load_into_impl, make_impl_network, NetworkDtypeUnsupported, PARAMS)
from bp_parity.reference.pieces.protocol import MissingProtocol
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.tolerance import tensor_scale
from bp_parity.reference.report.compare import compare, compare_conventions, Context, Oracle, Phase, Verdict
from bp_parity.reference.report.deviations import EPSILON_FREE_LOSS
from bp_parity.reference.run.case import NotRun, raised_where
from bp_parity.reference.run.network import layer_piece, NetworkTwin, ordered_layers
from bp_parity.reference.run.trace import build_network, net_problem, network_dtype, NotANetwork, trace_network

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


def check_methods(impl, x, t, *, seed, dtype):
    """[Comparison or NotRun] for every public method of the implementation's TwoLayerNet; see the module."""
    dtype = np.dtype(dtype).name
    tol = tolerance.twin(dtype)
    command = f"{program()} trace {arguments(impl)} --dtype {dtype} --seed {seed}"

    def context(tensor, oracle=Oracle.TWIN, phase=None, call=""):  # phase None: the method the tensor is named for
        return Context(layer="TwoLayerNet", tensor=tensor, oracle=oracle, dtype=dtype, seed=seed,
                       phase=tensor if phase is None else phase,
                       call=call,
                       case="TwoLayerNet methods", reproduce=command)

    results = []
    call = _caller("TwoLayerNet", context, results)

    weights = initial_weights(seed, x.shape[1], 50, 10, weight_init_std=0.1, dtype=dtype)
    try:
        network = make_impl_network(impl, x.shape[1], 50, 10, dtype)
        load_into_impl(network, weights)
    except NetworkDtypeUnsupported as error:  # a dtype its constructor cannot take: beyond the protocol
        return [NotRun(context("construction"), str(error), Verdict.SKIPPED, unavailable_dtype=True)]
    except MissingProtocol as error:
        return [NotRun(context("construction"), str(error))]
    twin = NetworkTwin.of("TwoLayerNet", weights)
    half = len(x) // 2
    for call_number, (form, rows) in enumerate(zip(LABEL_FORMS, (slice(0, half), slice(half, None))), start=1):
        xb, index = np.ascontiguousarray(x[rows], dtype=dtype), t[rows]
        labels = index if form == "index" else np.eye(10, dtype=dtype)[index]
        suffix = f"{form} labels"
        # layer by layer first, on this same instance: a layer that keeps something from the first call is
        # blamed where it goes wrong, before the network's methods inherit it
        traced = trace_network(network, xb, labels, seed=seed, dtype=dtype, impl=impl, reproduce=command,
                               name=f"TwoLayerNet call {call_number}", end_to_end=False)
        results.extend(traced.results)
        if not traced.passed:
            return results
        twin_loss, twin_grads = twin.gradient(xb, index)
        with torch.no_grad():
            scores = twin.logits(torch.from_numpy(xb)).numpy()
        done, loss = call("loss", network.loss, xb, labels, labels_form=suffix)
        if done:  # the textbook's loss, or the documented epsilon-free one (one rule wherever the loss appears)
            results.append(compare_conventions(loss, [(twin_loss, ""), (twin.plain_loss(xb, index), EPSILON_FREE_LOSS)],
                                               tol, context("loss", call=suffix)))
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
    try:
        network, weights, x, t = small_problem(impl, seed)
    except MissingProtocol as error:
        return [NotRun(context("numerical_gradient"), str(error))]
    results = []
    done, numeric = call("numerical_gradient", network.numerical_gradient, x, t)
    if not done:
        return results
    twin = NetworkTwin.of("TwoLayerNet", weights)
    plain = twin.gradient(x, t)[1]  # of the epsilon-free loss: the convention a network's loss() may follow
    for leaf in twin.params.values():
        leaf.grad = None
    affine.softmax_with_loss(twin.logits(torch.from_numpy(x)), torch.from_numpy(t.astype(np.int64))).backward()
    for key in PARAMS:
        actual = numeric.get(key) if isinstance(numeric, dict) else None
        results.append(compare_conventions(actual, [(twin.params[key].grad.numpy(), ""), (plain[key], EPSILON_FREE_LOSS)],
                                           tolerance.finite_differences(), context(key, phase="numerical_gradient")))
        results.append(compare(network.params[key], weights[key], tolerance.EXACT,
                               context(key, Oracle.ARGUMENTS, phase=Phase.NONE, call="after numerical_gradient")))
    return results


def expected_std(scheme, fan_in):
    """The standard deviation a named scheme gives a weight matrix with fan_in inputs (He et al. 2015 for ReLU,
    Glorot and Bengio 2010 in the textbook's form, 1 / n_in, for sigmoid), or the number itself."""
    name = str(scheme).lower()
    if name in ("relu", "he"):
        return float(np.sqrt(2.0 / fan_in))
    if name in ("sigmoid", "xavier"):
        return float(np.sqrt(1.0 / fan_in))
    return float(scheme)


def check_init(impl, name, dtype, seed):
    """Every parameter of a fresh network, for each of its piece's schemes (the record's init_build makes it large):
    the standard deviation of every weight array against the scheme's sigma (He: sqrt(2 / n_in), Xavier: sqrt(1 /
    n_in), or the number; n_in the rows of an Affine's (D, M), C FH FW of a filter bank (FN, C, FH, FW)) within six
    standard errors (tolerance.init_std); biases and betas exactly zero, gammas exactly one.  The network draws from
    its own generator: NumPy's global one (the textbook's), put in a state of the stream "weights" for the call, or
    seed= where it takes one."""

    record = registry.REGISTRY.get(name)
    if record is None or record.network is None or record.network.init_build is None:
        return []
    results = []
    command = f"{program()} check {arguments(impl)} --layer {name} --dtype {dtype} --seed {seed}"
    for scheme in record.network.init_schemes:
        def context(tensor):
            return Context(layer=name, tensor=tensor, oracle=Oracle.SCHEME, dtype=dtype, seed=seed, phase="init",
                           call=f"weight_init_std={scheme!r}", case=f"{name} initial weights", reproduce=command)

        try:
            with streams.GlobalGenerator(streams.rng(seed, "weights").integers(2**31)), np.errstate(all="ignore"):
                network = record.network.init_build(impl, scheme, dtype, seed)
            params = dict(network.params)
        except MissingProtocol:
            return []  # the network's trace reports it missing (SKIPPED under --only-present)
        except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
            results.append(NotRun(context("construction"), f"raised {type(error).__name__}: {error}", Verdict.RAISED))
            continue
        for key, value in params.items():
            if key.startswith("W"):
                W = np.asarray(value, dtype=np.float64)
                fan_in = W.shape[0] if W.ndim == 2 else int(np.prod(W.shape[1:]))
                results.append(compare(np.float64(W.std()), np.float64(expected_std(scheme, fan_in)),
                                       tolerance.init_std(W.size), context(key)))
            elif key.startswith(("b", "gamma")):  # b1 ..., beta1 ...: zero; gamma1 ...: one
                made = np.asarray(value).dtype if isinstance(value, np.ndarray) else np.dtype(dtype)
                constant = np.ones if key.startswith("gamma") else np.zeros
                results.append(compare(value, constant(np.shape(value), dtype=made), tolerance.EXACT, context(key)))
    return results


# Training-mode forwards before a test-mode network's methods are judged: with the textbook's momentum 0.9 its running
# variances reach 1 - 0.9^30 = 96% of the batch's, so the test-mode forward divides by about the batch's standard
# deviation; after one forward they would be a tenth of it, and each of the deep network's layers would multiply the
# rounding of the layers below by about 3 (float32 parted from its twin by 9e-5, relative, through four of them)
RUNNING_FORWARDS = 30


def check_network_methods(impl, name, dtype, seed, batch, mnist, reproduce=None):
    """predict, loss and accuracy of network piece `name` (other than one whose record fixes its architecture, which
    check_methods judges), built as its trace builds it, against its twin composed from its own layers: accuracy on
    labels the twin makes (the twin's top class for half the rows, another class for the rest, rows whose top two
    scores the dtype cannot tell apart left out), with its default batching and, where it takes batch_size, with
    batches that do not divide the samples (a last batch smaller), in both label forms.  A network with a layer whose
    test mode differs from its training mode (batch normalization, dropout) is judged in test mode, what its
    predict, loss and accuracy do by default: RUNNING_FORWARDS training-mode forwards (predict(x, train_flg=True)) first
    set the running statistics, and the twin reads them as the layers then hold them (spec.test_twin)."""
    record = registry.piece(name).network
    try:
        network = build_network(impl, name, dtype or "float64")
        if record.prepare is not None:
            record.prepare(network, seed)
        layers = [layer_piece(layer)[1] for _, layer in ordered_layers(network)]
        if any(spec is None for spec in layers):
            return []
        test_mode = any(getattr(spec, "test_mode_differs", False) for spec in layers)
        made = network_dtype(network)
        if dtype and made != dtype:
            return []  # SKIPPED in the trace already (a dtype its constructor cannot take)
        x, index = net_problem(network, seed, batch, made, mnist, record.input_shape)
        if not test_mode:
            twin = NetworkTwin.composed(network, name)
    except (NotANetwork, MissingProtocol):
        return []  # the trace reports why it cannot build or walk the network
    dtype = made
    tol = tolerance.twin(dtype)
    command = reproduce or f"{program()} check {arguments(impl)} --layer {name} --dtype {dtype} --seed {seed}"
    results = []

    def context(tensor, call="", phase=None):
        return Context(layer=name, tensor=tensor, oracle=Oracle.TWIN, dtype=dtype, seed=seed,
                       phase=tensor if phase is None else phase, call=call, case=f"{name} methods", reproduce=command)

    call = _caller(name, context, results)
    if test_mode:
        with streams.GlobalGenerator(int(streams.rng(seed, "numerical gradient masks").integers(2**31))):
            for _ in range(RUNNING_FORWARDS):
                done, _ = call("predict", network.predict, x, train_flg=True,
                               labels_form="train_flg=True, to set the running statistics")
                if not done:
                    return results
        try:
            twin = NetworkTwin.composed(network, name, test=True)
        except NotANetwork:
            return results

    with torch.no_grad():
        scores = twin.logits(x).numpy()
    done, predicted = call("predict", network.predict, x)
    if done:
        results.append(compare(predicted, scores, tol, context("predict")))
    decay = 0.5 * twin.decay * sum(float(np.sum(np.asarray(v, dtype=np.float64) ** 2))
                                   for k, v in network.params.items() if k.startswith("W"))
    expected = [(np.asarray(twin.loss(x, index) + decay, dtype=dtype), ""),
                (np.asarray(twin.plain_loss(x, index) + decay, dtype=dtype), EPSILON_FREE_LOSS)]
    done, loss = call("loss", network.loss, x, index)
    if done:
        results.append(compare_conventions(loss, expected, tol, context("loss")))

    top = np.sort(scores, axis=1)
    clear = (top[:, -1] - top[:, -2]) > 100 * tol.allowance(np.abs(scores).max())  # the top class beyond rounding
    rows = np.flatnonzero(clear)
    if len(rows) < 4:  # too few rows whose top class the dtype tells apart: no accuracy is known for sure
        return results
    labels = scores.argmax(axis=1)[rows]
    labels[1::2] = (labels[1::2] + 1) % scores.shape[1]  # every other row wrong: the right accuracy is known
    right = float(np.mean(labels == scores.argmax(axis=1)[rows]))
    xs = np.ascontiguousarray(x[rows])
    takes_batch = "batch_size" in _parameters(network.accuracy)
    sizes = [None] + ([size for size in (3, 5, 7) if len(rows) % size][:1] if takes_batch else [])
    for form, given in (("index labels", labels), ("one-hot labels", np.eye(scores.shape[1], dtype=dtype)[labels])):
        for size in sizes:
            what = form if size is None else f"{form}, batch_size={size}"
            done, accuracy = call("accuracy", network.accuracy, xs, given, labels_form=what,
                                  **({} if size is None else {"batch_size": size}))
            if done:
                results.append(compare(np.float64(accuracy) if np.ndim(accuracy) == 0 else accuracy,
                                       np.float64(right), tolerance.EXACT, context("accuracy", call=what)))
    return results


def _caller(network, context, results):
    """call(tensor, method, *args, labels_form="", **kwargs) -> (done, value): a method of the implementation's
    network under its time limit; where it raises or overstays, a NotRun for it goes into `results` instead."""

    def call(tensor, function, *args, labels_form="", **kwargs):
        try:
            with calling(f"{network}.{tensor}"):
                return True, function(*args, **kwargs)
        except CheckTimeout as error:
            results.append(NotRun(context(tensor, call=labels_form), str(error), Verdict.TIMEOUT))
        except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
            where = raised_where(error)
            results.append(NotRun(context(tensor, call=labels_form), f"raised {type(error).__name__}: {error}"
                                  + (f"\n  at {where}" if where else ""), Verdict.RAISED))
        return False, None

    return call


def _parameters(function):
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


NUMERICAL_INPUT = 6  # the features of the network numerical_gradient is called on: central differences in every
NUMERICAL_BATCH = 8  # parameter of a network this small (hidden layers of 6, 5, 4) are some 400 evaluations of its loss


# How far every ReLU input, and every pooling window's largest value from its second, stays from a kink on the
# inputs a ReLU network's numerical_gradient is called on: a step h = 1e-4 in one parameter moves a unit by about h
# times the inputs it multiplies (|x| < 5 here), and through the layers above by a few times that, far below 1e-2.
KINK_FREE_MARGIN = 1e-2


def kink_free_inputs(network, twin, rng, batch, shape, margin=KINK_FREE_MARGIN):
    """`batch` samples of `shape`, each drawn standard normal until, through the twin at the network's parameters,
    every ReLU input is at least `margin` from 0 and every max-pooling window's largest value at least `margin`
    above its second (a window of ReLU zeros ties at 0 and stays there: its gradient is 0 either way)."""
    kinds = [(getattr(layer_piece(layer)[0], "name", ""), layer) for _, layer in ordered_layers(network)]
    found = []
    for _ in range(200 * batch):
        sample = rng.normal(size=(1, *shape))
        activation, clear = torch.from_numpy(sample), True
        with torch.no_grad():
            for (kind, layer), (make, keys) in zip(kinds, twin.layers):
                if kind == "Relu" and bool((activation.abs() < margin).any()):
                    clear = False
                elif kind == "Pooling":
                    windows = F.unfold(F.pad(activation, [int(layer.pad)] * 4, value=-float("inf")),
                                       (int(layer.pool_h), int(layer.pool_w)), stride=int(layer.stride))
                    channels = activation.shape[1]
                    top = windows.reshape(1, channels, -1, windows.shape[-1]).topk(2, dim=2).values
                    lead = top[:, :, 0] - top[:, :, 1]
                    clear = not bool(((lead < margin) & (top[:, :, 0] > 0)).any())
                if not clear:
                    break
                activation = make(None)(activation, *(twin.params[k] if isinstance(k, str) else k for k in keys))
        if clear:
            found.append(sample[0])
            if len(found) == batch:
                return np.stack(found)
    raise ValueError(f"no input of shape {shape} keeps {margin} from every kink of this network in {200 * batch} "
                     "draws")


def check_numerical_gradient(impl, name, dtype, seed, reproduce=None):
    """network.numerical_gradient(x, t) of network piece `name` (other than TwoLayerNet, which check_methods judges)
    against autograd of its twin composed from its own layers, in float64: the loss in training mode, as the
    textbook's numerical_gradient differentiates it, with the dropout masks replayed from the state NumPy's global
    generator was in when the call began (the harness puts it in one of its own), the weight decay included, under
    either convention of the loss; and its parameters back as they were.  A numerical_gradient that draws a new mask
    at each evaluation differentiates no function and fails here.  The network is built as its record builds it,
    with sigmoid activations (central differences at h = 1e-4 across a ReLU's kink would be wrong by O(1), in the
    implementation's own quotient), hidden layers of 6, 5 and 4 units and 6 inputs drawn from the stream "small
    network" (reference.pieces.networks.NUMERICAL_OPTIONS); a network no option makes smooth (SimpleConvNet) is
    built small by its record's numerical_build, on inputs that keep every kink KINK_FREE_MARGIN away
    (kink_free_inputs)."""
    record = registry.piece(name).network
    if dtype != "float64" or record is None or record.architecture or not (record.numerical_options
                                                                          or record.numerical_build):
        return []
    command = reproduce or f"{program()} check {arguments(impl)} --layer {name} --dtype float64 --seed {seed}"
    results = []

    def context(tensor, call="", phase="numerical_gradient", oracle=Oracle.TWIN):
        return Context(layer=name, tensor=tensor, oracle=oracle, dtype="float64", seed=seed, phase=phase, call=call,
                       case=f"{name} numerical_gradient", reproduce=command)

    try:
        if record.numerical_build is not None:
            network = record.numerical_build(impl, "float64")
        else:
            network = record.build(impl, NUMERICAL_INPUT, "float64", **dict(record.numerical_options))
        if record.prepare is not None:
            record.prepare(network, seed)
        if network_dtype(network) != "float64":
            return []  # its float64 checks cannot run: the trace says why
        twin = NetworkTwin.composed(network, name)
    except (NotANetwork, MissingProtocol):
        return []  # the trace reports why it cannot build or walk the network
    rng = streams.rng(seed, "net inputs")
    if record.numerical_build is not None:
        x = kink_free_inputs(network, twin, rng, NUMERICAL_BATCH, record.numerical_input)
    else:
        x = rng.normal(size=(NUMERICAL_BATCH, NUMERICAL_INPUT))
    t = rng.integers(0, record.classes, size=NUMERICAL_BATCH)
    before = {k: np.array(v, copy=True) for k, v in network.params.items()}
    call = _caller(name, context, results)
    with streams.GlobalGenerator(int(streams.rng(seed, "numerical gradient masks").integers(2**31))):
        state = np.random.get_state()
        done, numeric = call("numerical_gradient", network.numerical_gradient, x, t)
    if not done:
        return results
    labels = torch.from_numpy(t.astype(np.int64))
    expected = {}
    for which, loss_of in (("", twin.loss_spec.twin), (EPSILON_FREE_LOSS, twin.loss_spec.backward_twin)):
        for p in twin.params.values():
            p.grad = None
        loss = loss_of(twin.logits(torch.from_numpy(x), state), labels)
        if twin.decay:
            loss = loss + sum(0.5 * twin.decay * (w * w).sum() for k, w in twin.params.items() if k.startswith("W"))
        loss.backward()
        expected[which] = {k: p.grad.numpy().copy() for k, p in twin.params.items() if p.grad is not None}
    # one scale for the whole gradient, as the trace's end-to-end check takes it: a bias before batch normalization
    # has a gradient of zero by construction, rounding noise of the same terms as its neighbours on both sides
    scale = max((tensor_scale(e) for e in expected[""].values()), default=1.0)
    for key in before:
        actual = numeric.get(key) if isinstance(numeric, dict) else None
        candidates = [(expected[which][key], which) for which in ("", EPSILON_FREE_LOSS) if key in expected[which]]
        if candidates:
            results.append(compare_conventions(actual, candidates, tolerance.finite_differences(), context(key),
                                               scale=scale, scale_of="the whole gradient (every parameter)"))
        results.append(compare(network.params[key], before[key], tolerance.EXACT,
                               context(key, call="after numerical_gradient", phase=Phase.NONE,
                                       oracle=Oracle.ARGUMENTS)))
    return results
