"""Training parity: the implementation and its twin trained side by side.

Same initial weights (reference.network.initial_weights, copied to both), the
same batch index sequence (one seeded generator, recorded), the same update
(plain SGD: the implementation's params[key] -= lr * grad in place, the twin's
torch.optim.SGD, which computes the same formula).  The loss is compared at
every step, the weights at checkpoints, and the first step where the two part
beyond tolerance.training(dtype) is reported.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from . import optimizer_twins, tolerance
from .compare import Context, compare
from .network import PARAMS, TwinTwoLayerNet, initial_weights, load_into_impl, make_impl_network


def batch_indices(seed, train_size, steps, batch_size):
    """(steps, batch_size) indices drawn with replacement, as the textbook's np.random.choice."""
    return np.random.default_rng([seed, 1]).integers(0, train_size, size=(steps, batch_size))


@dataclass
class ParityRun:
    dtype: str
    steps: int
    seed: int
    batches: np.ndarray = field(repr=False)
    impl_loss: list = field(default_factory=list)
    twin_loss: list = field(default_factory=list)
    first_loss_divergence: object = None  # a Comparison at the first step whose losses part
    checkpoints: list = field(default_factory=list)  # (step, [Comparison per parameter])
    epochs: list = field(default_factory=list)  # dicts of step, accuracies on both sides

    @property
    def passed(self):
        return self.first_loss_divergence is None and all(c.passed for _, cs in self.checkpoints for c in cs)

    def max_loss_error(self):
        a, b = np.asarray(self.impl_loss, dtype=np.float64), np.asarray(self.twin_loss, dtype=np.float64)
        return float(np.max(np.abs(a - b))), float(np.max(np.abs(a - b) / np.abs(b)))


def run(impl, data, *, dtype="float64", steps=1000, batch_size=100, lr=0.1, hidden=50, seed=0,
        checkpoint_every=None, evaluate_every=None, impl_spec="impl", optimizer=None, hyper=None):
    """Train both sides for `steps` steps; see the module docstring.

    optimizer None: the textbook's training loop, params[key] -= lr * grad on the
    implementation's side and torch.optim.SGD on the twin's.  Otherwise the name
    of a protocol optimizer: the implementation's update(params, grads) against
    its twin (reference.optimizer_twins), with `hyper` (default: the textbook's).
    """
    (x_train, t_train), (x_test, t_test) = data
    dtype = np.dtype(dtype).name
    x_train, x_test = x_train.astype(dtype, copy=False), x_test.astype(dtype, copy=False)
    weights = initial_weights(seed, x_train.shape[1], hidden, 10, dtype=dtype)
    network = make_impl_network(impl, x_train.shape[1], hidden, 10, dtype)
    load_into_impl(network, weights)
    twin = TwinTwoLayerNet(weights)
    if optimizer is None:
        twin_optimizer = torch.optim.SGD(list(twin.params.values()), lr=lr)
        impl_update = None
    else:
        hyper = dict(optimizer_twins.DEFAULTS[optimizer], **(hyper or {}))
        twin_optimizer = optimizer_twins.twin(optimizer, list(twin.params.values()), **hyper)
        impl_update = impl.require(optimizer)(**hyper).update
    batches = batch_indices(seed, len(x_train), steps, batch_size)
    result = ParityRun(dtype=dtype, steps=steps, seed=seed, batches=batches)
    loss_tol = tolerance.training(dtype)
    checkpoint_every = checkpoint_every or steps

    def context(tensor, step):
        return Context(layer="TwoLayerNet", tensor=f"{tensor} at step {step}", oracle="twin training", dtype=dtype,
                       seed=seed, case="training parity",
                       reproduce=f"python -m reference train-parity --impl {impl_spec} --dtype {dtype} "
                                 f"--steps {step + 1} --seed {seed}")

    for step, index in enumerate(batches):
        x_batch, t_batch = x_train[index], t_train[index]
        impl_loss = network.loss(x_batch, t_batch)
        grads = network.gradient(x_batch, t_batch)
        if impl_update is None:
            for key in PARAMS:
                network.params[key] -= lr * grads[key]
        else:
            impl_update(network.params, grads)
        twin_loss, twin_grads = twin.gradient(x_batch, t_batch)
        twin_optimizer.step()
        result.impl_loss.append(float(impl_loss))
        result.twin_loss.append(float(twin_loss))
        if result.first_loss_divergence is None:
            comparison = compare(np.asarray(impl_loss, dtype=dtype), twin_loss, loss_tol, context("loss", step))
            if not comparison.passed:
                result.first_loss_divergence = comparison
        if (step + 1) % checkpoint_every == 0 or step == steps - 1:
            twin_weights = twin.weights()
            result.checkpoints.append((step, [
                compare(network.params[k], twin_weights[k], loss_tol, context(k, step)) for k in PARAMS
            ]))
        if evaluate_every and (step % evaluate_every == 0 or step == steps - 1):
            result.epochs.append({
                "step": step,
                "impl_loss": float(impl_loss), "twin_loss": float(twin_loss),
                "impl_train_acc": network.accuracy(x_train, t_train), "twin_train_acc": twin.accuracy(x_train, t_train),
                "impl_test_acc": network.accuracy(x_test, t_test), "twin_test_acc": twin.accuracy(x_test, t_test),
            })
    return result
