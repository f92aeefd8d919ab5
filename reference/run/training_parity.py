"""Training parity: a network of the implementation and its twin trained side by side, one loop for every network.

The network is its record's (reference.pieces.networks: TwoLayerNet at the textbook's initial weights drawn by the
harness, MultiLayerNetExtend with batch normalization, dropout and weight decay, SimpleConvNet on the images as
(N, 1, 28, 28)); its twin is reference.run.network.NetworkTwin at the same weights (by the protocol's architecture
where it fixes one, else composed from the network's own layers).  Both see the same batch index sequence (one seeded
generator, recorded), the same dropout masks (NumPy's global generator in a state of the stream "dropout masks", its
state before every gradient() replayed by the twin) and the same update (plain SGD: the implementation's
params[key] -= lr * grad in place, the twin's torch.optim.SGD, which computes the same formula; or a protocol
optimizer against its twin).

What is claimed is data per network (reference.report.tolerance.TRAINING_CLAIMS, "Training parity"): step-exact
parity, the loss at every step and the weights at checkpoints (and at the horizon's last step) within the twin bound
of the dtype, over the claim's horizon (every step in float64; the first 500 steps of TwoLayerNet in float32, 25 of
MultiLayerNetExtend, 10 of SimpleConvNet); beyond it the course of training: the mean loss over each window of the
claim's steps and, where the claim has them, the accuracies at each evaluation, within TRAINING_BANDS.  How long
float32 really stays step-exact is measured and reported (step_exact_steps).  The first step where a claim fails is
reported.

Both sides run with one BLAS and one torch thread (reference.base.threads): their thread pools would otherwise fight
over the cores every step.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from bp_parity.reference.base.program import program
from bp_parity.reference.base import streams
from bp_parity.reference.base.limits import STEP_SECONDS, time_limit
from bp_parity.reference.base.threads import one_thread_each
from bp_parity.reference.pieces import registry
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, compare_conventions, Context, Oracle
from bp_parity.reference.report.deviations import EPSILON_FREE_LOSS
from bp_parity.reference.run import wire
from bp_parity.reference.run.network import NetworkTwin


def batch_indices(seed, train_size, steps, batch_size):
    """(steps, batch_size) indices drawn with replacement, as the textbook's np.random.choice."""
    return streams.rng(seed, "batches").integers(0, train_size, size=(steps, batch_size))


@wire.register  # it crosses back from the worker that trained the implementation (reference.run.tasks.train)
@dataclass
class ParityRun:
    dtype: str
    steps: int
    seed: int
    batches: np.ndarray = field(repr=False)
    exact_steps: int = 0  # steps held to step-exact parity by the claim; after them, the bands
    impl_loss: list = field(default_factory=list)
    twin_loss: list = field(default_factory=list)
    bands: list = field(default_factory=list)  # Comparisons of window mean losses and accuracies past the horizon
    first_loss_divergence: object = None  # a Comparison at the first step whose losses part
    checkpoints: list = field(default_factory=list)  # (step, [Comparison per parameter])
    epochs: list = field(default_factory=list)  # dicts of step, accuracies on both sides
    convention: str = ""  # the documented convention the implementation's loss was judged by, where not the textbook's

    @property
    def passed(self):
        return (self.first_loss_divergence is None and all(c.passed for _, cs in self.checkpoints for c in cs)
                and all(c.passed for c in self.bands))

    def failures(self):
        """The first failing claim of each kind: the per-step loss, a checkpoint, a band."""
        found = [self.first_loss_divergence] if self.first_loss_divergence else []
        found += [c for _, cs in self.checkpoints for c in cs if not c.passed][:1]
        found += [c for c in self.bands if not c.passed][:1]
        return found

    def step_exact_steps(self):
        """Measured: how many steps from the start the losses stay inside the plain twin bound of the dtype."""
        tol = tolerance.training(self.dtype)
        impl, twin = np.asarray(self.impl_loss, dtype=np.float64), np.asarray(self.twin_loss, dtype=np.float64)
        outside = np.abs(impl - twin) > tol.allowance(twin)
        return int(np.argmax(outside)) if outside.any() else len(impl)

    def max_loss_error(self, steps=None):
        """(max abs, max rel) loss difference over the first `steps` steps (all by default)."""
        a = np.asarray(self.impl_loss[:steps], dtype=np.float64)
        b = np.asarray(self.twin_loss[:steps], dtype=np.float64)
        return float(np.max(np.abs(a - b))), float(np.max(np.abs(a - b) / np.abs(b)))

    def band_used(self):
        """Past the horizon: the largest fraction of its band a window mean loss or an accuracy used."""
        used = [c.used for c in self.bands if not np.isnan(c.used)]
        return max(used, default=float("nan"))


def _loss_after_gradient(network, x, t):
    """The implementation's loss of this batch: what its last layer kept during gradient() (the textbook's
    SoftmaxWithLoss keeps self.loss), or else loss() computed again."""
    last = getattr(network, "lastLayer", None) or getattr(network, "last_layer", None)
    kept = getattr(last, "loss", None)
    if kept is not None and np.ndim(kept) == 0:
        return kept
    return network.loss(x, t)


def run(impl, data, *, net="TwoLayerNet", dtype="float64", steps=1000, batch_size=100, lr=None, seed=0,
        checkpoint_every=None, evaluate_every=None, optimizer=None, hyper=None, on_evaluate=None, on_step=None,
        reproduce=None, **options):
    """Train network piece `net` and its twin side by side for `steps` steps; see the module docstring.

    The network is its record's trained(impl, dtype, seed, **options) (reference.pieces.networks: hidden= for
    TwoLayerNet; hidden=, weight_decay_lambda=, dropout_ratio= for MultiLayerNetExtend), its twin
    reference.run.network.NetworkTwin at the same weights, the claim tolerance.training_claim(net).
    optimizer None: the textbook's training loop, params[key] -= lr * grad (lr: the record's by default) on the
    implementation's side and torch.optim.SGD on the twin's.  Otherwise the name of a protocol optimizer: the
    implementation's update(params, grads) against its twin (reference.pieces.optimizer_rules), with `hyper`
    (default: the textbook's).  Evaluations (every `evaluate_every` steps, where the claim compares accuracies)
    call on_evaluate(row) as soon as they are made; on_step(step, run) after every step; reproduce: the command
    that reruns this run.
    """
    record = registry.piece(net).network
    if record is None or record.trained is None:
        raise ValueError(f"{net} is not trained side by side; the networks that are: "
                         + ", ".join(n for n in registry.names("network") if registry.piece(n).network.trained))
    lr = record.lr if lr is None else lr
    with one_thread_each():
        return _run(impl, data, net, record, dtype, steps, batch_size, lr, seed, checkpoint_every, evaluate_every,
                    optimizer, hyper, on_evaluate, on_step, reproduce, options)


def _sides(impl, twin, optimizer, hyper, lr):
    """(the implementation's update(params, grads), or None for its plain SGD loop; the twin's torch optimizer)."""
    leaves = list(twin.params.values())
    if optimizer is None:
        return None, torch.optim.SGD(leaves, lr=lr)
    return impl.require(optimizer)(**hyper).update, registry.piece(optimizer).twin(leaves, **hyper)


def _run(impl, data, net, record, dtype, steps, batch_size, lr, seed, checkpoint_every, evaluate_every, optimizer,
         hyper, on_evaluate, on_step, reproduce, options):
    (x_train, t_train), (x_test, t_test) = data
    dtype = np.dtype(dtype).name
    x_train, x_test = x_train.astype(dtype, copy=False), x_test.astype(dtype, copy=False)
    if record.trained_shape is not None:
        x_train = x_train.reshape((len(x_train),) + record.trained_shape)
        x_test = x_test.reshape((len(x_test),) + record.trained_shape)
    claim = tolerance.training_claim(net)
    hyper = dict(registry.hyper(optimizer), **(hyper or {})) if optimizer else {}
    with time_limit(STEP_SECONDS, f"the construction of {net}", guard_state=False):
        network = record.trained(impl, dtype, seed, **options)
        twin = NetworkTwin.of_network(net, network)
        impl_update, twin_optimizer = _sides(impl, twin, optimizer, hyper, lr)
    exact_steps = claim.exact_steps(dtype, steps)
    batches = batch_indices(seed, len(x_train), steps, batch_size)
    result = ParityRun(dtype=dtype, steps=steps, seed=seed, batches=batches, exact_steps=exact_steps)
    tol = tolerance.training(dtype)
    checkpoint_every = checkpoint_every or steps
    if reproduce is None:
        reproduce = (f"{program()} train-parity --net {net} {arguments(impl)} --dtype {dtype} --seed {seed} "
                     f"--batch-size {batch_size}" + (f" --hidden {options['hidden']}" if "hidden" in options else "")
                     + (f" --lr {lr}" if optimizer is None else f" --optimizer {optimizer}"))

    def context(tensor, step):
        return Context(layer=net, tensor=tensor, step=step, oracle=Oracle.TWIN_TRAINING, dtype=dtype,
                       seed=seed, case=f"{net} training parity", reproduce=f"{reproduce} --steps {step + 1}")

    def within(actual, expected):
        """The per-step loss check's fast path: a scalar inside its bound needs no report."""
        try:
            value = float(np.asarray(actual, dtype=dtype))
        except (TypeError, ValueError):
            return False
        return abs(value - expected) <= tol.allowance(expected)

    def band(actual, expected, what, step, kind):
        return compare(np.float64(actual), np.float64(expected), tolerance.TRAINING_BANDS[kind], context(what, step))

    with streams.GlobalGenerator(streams.rng(seed, "dropout masks").integers(2**31)):
        for step, index in enumerate(batches):
            x_batch, t_batch = x_train[index], t_train[index]
            state = np.random.get_state()  # where the network's gradient() draws its dropout masks: the twin replays
            with time_limit(STEP_SECONDS, f"training step {step}", guard_state=False):
                grads = network.gradient(x_batch, t_batch)
                impl_loss = _loss_after_gradient(network, x_batch, t_batch)
                if impl_update is None:
                    for key, param in network.params.items():
                        param -= lr * grads[key]
                else:
                    impl_update(network.params, grads)
            twin_loss = twin.backward_loss(x_batch, t_batch, state)
            twin_optimizer.step()
            result.impl_loss.append(float(impl_loss))
            result.twin_loss.append(twin_loss)
            if step < exact_steps:
                if result.first_loss_divergence is None and not within(impl_loss, twin_loss):
                    # the textbook's loss, or the documented epsilon-free one (one rule wherever the loss appears)
                    comparison = compare_conventions(
                        np.asarray(impl_loss, dtype=dtype),
                        [(np.asarray(twin_loss, dtype=dtype), ""),
                         (np.asarray(twin.last_plain_loss, dtype=dtype), EPSILON_FREE_LOSS)], tol, context("loss", step))
                    if not comparison.passed:
                        result.first_loss_divergence = comparison
                    elif comparison.note:
                        result.convention = comparison.note
                if (step + 1) % checkpoint_every == 0 or step == exact_steps - 1:
                    result.checkpoints.append((step, _checkpoint(network, twin, claim, tol, context, step)))
            elif (step + 1 - exact_steps) % claim.window == 0 or step == steps - 1:
                first = max(exact_steps, step + 1 - claim.window)
                result.bands.append(band(np.mean(result.impl_loss[first:]), np.mean(result.twin_loss[first:]),
                                         f"mean loss of steps {first}..{step}", step, "loss"))
            if claim.accuracy and evaluate_every and (step % evaluate_every == 0 or step == steps - 1):
                row = _evaluate(network, twin, step, impl_loss, twin_loss, (x_train, t_train), (x_test, t_test))
                result.epochs.append(row)
                if step >= exact_steps:
                    for split in ("train", "test"):
                        result.bands.append(band(row[f"impl_{split}_acc"], row[f"twin_{split}_acc"],
                                                 f"{split} accuracy", step, "accuracy"))
                if on_evaluate is not None:
                    on_evaluate(row)
            if on_step is not None:
                on_step(step, result)
    return result


def _checkpoint(network, twin, claim, tol, context, step):
    """Every parameter of the implementation's network against the twin's, at the claim's scale."""
    twin_weights = twin.weights()
    if claim.checkpoint_scale == "network":
        scale = max(tolerance.tensor_scale(w) for w in twin_weights.values())
        return [compare(network.params[k], twin_weights[k], tol, context(k, step), scale=scale,
                        scale_of="every parameter of the network") for k in network.params]
    return [compare(network.params[k], twin_weights[k], tol, context(k, step)) for k in network.params]


def _evaluate(network, twin, step, impl_loss, twin_loss, train, test):
    with time_limit(STEP_SECONDS, f"accuracy at step {step}", guard_state=False):
        impl_train, impl_test = network.accuracy(*train), network.accuracy(*test)
    return {
        "step": step,
        "impl_loss": float(impl_loss), "twin_loss": float(twin_loss),
        "impl_train_acc": impl_train, "twin_train_acc": twin.accuracy(*train),
        "impl_test_acc": impl_test, "twin_test_acc": twin.accuracy(*test),
    }
