"""Training parity for a deep network: MultiLayerNetExtend (batch normalization, dropout, weight decay) and a twin
composed from the registry's twins of its own layers, side by side from the same weights, batches and masks.

The twin holds every parameter of the implementation's network as a torch leaf and computes, layer by layer, what
each layer's piece says (reference.run.case: BatchNormalization with the batch's statistics, Dropout with the
textbook's mask replayed from the state NumPy's global generator was in when the implementation's gradient() began,
Affine, Relu, Sigmoid), then the epsilon-free cross-entropy plus the textbook's weight decay 0.5 lambda sum W^2, and
steps torch.optim.SGD.  The implementation steps params[key] -= lr * grad in place, as the textbook's training loop.
Compared: the cross-entropy of every step (the textbook's, which the implementation's loss layer keeps) and every
parameter at the checkpoints, within the twin bound of the dtype (tolerance.TRAINING), over every step in float64
and over tolerance.deep_training_exact_steps in float32 (25 steps: float32 parts from step 53 at the seeds
measured); after that, the mean loss of every 100-step window within 1%.  The running statistics take no part in
training; test-mode accuracy is not compared.
"""

from dataclasses import dataclass

import numpy as np
import torch

from reference.base import streams
from reference.base.limits import STEP_SECONDS, time_limit
from reference.base.threads import one_thread_each
from reference.plan.target import arguments
from reference.report import tolerance
from reference.report.compare import compare, Context
from reference.run.trace import _indices, _layer_piece, _loss_piece, last_layer, NotANetwork, ordered_layers
from reference.run.training_parity import _loss_after_gradient, batch_indices, ParityRun

HIDDEN = (100, 100, 100, 100, 100)


class ComposedTwin:
    """The twin of an implementation's network, composed from the twins of its layers' pieces."""

    def __init__(self, network):
        self.leaves = {k: torch.nn.Parameter(torch.from_numpy(np.array(v, copy=True)))
                       for k, v in network.params.items()}
        self.decay = float(getattr(network, "weight_decay_lambda", 0) or 0)
        self.bound = []
        for position, layer in ordered_layers(network):
            _, spec = _layer_piece(layer)
            if spec is None:
                raise NotANetwork(f"{position}: a layer of class {type(layer).__name__} has no twin in the registry")
            keys = []
            for p in spec.params:
                array = getattr(layer, p)
                key = next((k for k, v in network.params.items() if v is array), None)
                if key is None:
                    raise NotANetwork(f"{position}.{p} is not one of the network's params arrays")
                keys.append(key)
            self.bound.append((spec, layer, keys))
        loss_piece = _loss_piece(last_layer(network)[1])
        if loss_piece is None:
            raise NotANetwork("the network's loss layer is not a loss the registry knows")
        self.loss_spec = loss_piece.spec

    def backward_loss(self, x, t, state):
        """The textbook's cross-entropy of this batch as a float, the gradient of the epsilon-free loss plus weight
        decay left in each leaf's .grad; dropout masks replayed from `state`."""
        for leaf in self.leaves.values():
            leaf.grad = None
        generator = streams.generator_in_state(state)
        activation = torch.from_numpy(np.ascontiguousarray(x))
        for spec, layer, keys in self.bound:
            activation = spec.trace_twin(layer, generator)(activation, *(self.leaves[k] for k in keys))
        labels = torch.from_numpy(_indices(t))
        loss = self.loss_spec.backward_twin(activation, labels)
        if self.decay:
            loss = loss + sum(0.5 * self.decay * (w * w).sum() for k, w in self.leaves.items() if k.startswith("W"))
        loss.backward()
        with torch.no_grad():
            return float(self.loss_spec.twin(activation, labels))

    def weights(self):
        return {k: v.detach().numpy().copy() for k, v in self.leaves.items()}


def make_network(impl, dtype, seed, hidden=HIDDEN, weight_decay_lambda=0.1, dropout_ratio=0.2):
    """The implementation's MultiLayerNetExtend (784 -> hidden -> 10, batch norm, dropout, weight decay, He weights),
    its weights drawn reproducibly: through seed= and dtype= where it takes them, else from NumPy's global generator
    put in a state of the stream "weights" (the textbook's signature, float64)."""
    network_class = impl.require("MultiLayerNetExtend")
    options = dict(weight_decay_lambda=weight_decay_lambda, use_dropout=True, dropout_ration=dropout_ratio,
                   use_batchnorm=True)
    with streams.GlobalGenerator(streams.rng(seed, "weights").integers(2**31)):
        try:
            return network_class(784, list(hidden), 10, dtype=dtype, seed=seed, **options)
        except TypeError:
            return network_class(784, list(hidden), 10, **options)


def make_convnet(impl, dtype, seed):
    """The implementation's SimpleConvNet with the textbook's sizes (30 filters of 5x5, 100 hidden units, weights
    0.01 N(0, 1)), its weights drawn reproducibly as make_network's are."""
    network_class = impl.require("SimpleConvNet")
    with streams.GlobalGenerator(streams.rng(seed, "weights").integers(2**31)):
        try:
            return network_class(dtype=dtype, seed=seed)
        except TypeError:
            return network_class()


@dataclass(frozen=True)
class NetworkRun:
    """What a side-by-side run of one network needs: its builder make(impl, dtype, seed, **options), its protocol
    name, the train-parity option that picks it, its learning rate, and one sample's shape where it is not the flat
    784 (a convolutional network takes the images as (1, 28, 28))."""

    make: object
    name: str
    option: str
    lr: float
    sample_shape: tuple = None


NETWORKS = {
    "deep": NetworkRun(lambda impl, dtype, seed, **options: make_network(impl, dtype, seed, **options),
                       "MultiLayerNetExtend", "--deep", 0.01),
    "conv": NetworkRun(lambda impl, dtype, seed, **options: make_convnet(impl, dtype, seed), "SimpleConvNet", "--conv",
                       0.1, (1, 28, 28)),
}


def run(impl, data, *, net="deep", dtype="float64", steps=1000, batch_size=100, lr=None, seed=0,
        checkpoint_every=None, hidden=HIDDEN, weight_decay_lambda=0.1, dropout_ratio=0.2,
        on_step=None):
    """net: "deep" (MultiLayerNetExtend; hidden, weight_decay_lambda and dropout_ratio apply) or "conv"
    (SimpleConvNet on the images as (N, 1, 28, 28)); lr defaults to the network's (NETWORKS)."""
    chosen = NETWORKS[net]
    options = dict(hidden=hidden, weight_decay_lambda=weight_decay_lambda, dropout_ratio=dropout_ratio)
    with one_thread_each():
        return _run(impl, data, dtype, steps, batch_size, chosen.lr if lr is None else lr, seed, checkpoint_every,
                    lambda dtype: chosen.make(impl, dtype, seed, **options), chosen, net, on_step)


def _run(impl, data, dtype, steps, batch_size, lr, seed, checkpoint_every, make, chosen, net, on_step):
    (x_train, t_train), _ = data
    dtype = np.dtype(dtype).name
    x_train = x_train.astype(dtype, copy=False)
    if chosen.sample_shape is not None:
        x_train = x_train.reshape((len(x_train),) + chosen.sample_shape)
    name, option = chosen.name, chosen.option
    with time_limit(STEP_SECONDS, f"the construction of {chosen.name}", guard_state=False):
        network = make(dtype)
    twin = ComposedTwin(network)
    twin_optimizer = torch.optim.SGD(list(twin.leaves.values()), lr=lr)
    exact_steps = tolerance.deep_training_exact_steps(dtype, steps, net)
    batches = batch_indices(seed, len(x_train), steps, batch_size)
    result = ParityRun(dtype=dtype, steps=steps, seed=seed, batches=batches, exact_steps=exact_steps)
    tol = tolerance.training(dtype)
    checkpoint_every = checkpoint_every or steps
    reproduce = (f"python -m reference train-parity {option} {arguments(impl)} --dtype {dtype} --seed {seed} "
                 f"--batch-size {batch_size}")

    def context(tensor, step):
        return Context(layer=name, tensor=tensor, step=step, oracle="twin training", dtype=dtype,
                       seed=seed, case=f"{net} training parity", reproduce=f"{reproduce} --steps {step + 1}")

    with streams.GlobalGenerator(streams.rng(seed, "dropout masks").integers(2**31)):
        for step, index in enumerate(batches):
            x_batch, t_batch = x_train[index], t_train[index]
            state = np.random.get_state()
            with time_limit(STEP_SECONDS, f"training step {step}", guard_state=False):
                grads = network.gradient(x_batch, t_batch)
                impl_loss = _loss_after_gradient(network, x_batch, t_batch)
                for key, param in network.params.items():
                    param -= lr * grads[key]
            twin_loss = twin.backward_loss(x_batch, t_batch, state)
            twin_optimizer.step()
            result.impl_loss.append(float(impl_loss))
            result.twin_loss.append(twin_loss)
            window = tolerance.DEEP_TRAINING_WINDOW
            if step >= exact_steps:
                if (step + 1 - exact_steps) % window == 0 or step == steps - 1:
                    first = max(exact_steps, step + 1 - window)
                    result.bands.append(compare(np.float64(np.mean(result.impl_loss[first:])),
                                                np.float64(np.mean(result.twin_loss[first:])),
                                                tolerance.TRAINING_BANDS["loss"],
                                                context(f"mean loss of steps {first}..{step}", step)))
            elif result.first_loss_divergence is None:
                comparison = compare(np.asarray(impl_loss, dtype=dtype), np.asarray(twin_loss, dtype=dtype), tol,
                                     context("loss", step))
                if not comparison.passed:
                    result.first_loss_divergence = comparison
            if step < exact_steps and ((step + 1) % checkpoint_every == 0 or step == exact_steps - 1):
                twin_weights = twin.weights()
                # one scale for every parameter, as for a gradient: a bias before batch normalization never moves
                # from its start but by rounding noise (its gradient is zero by construction)
                scale = max(tolerance.tensor_scale(w) for w in twin_weights.values())
                result.checkpoints.append((step, [
                    compare(network.params[k], twin_weights[k], tol, context(k, step), scale=scale,
                            scale_of="every parameter of the network") for k in network.params]))
            if on_step is not None:
                on_step(step, result)
    return result

