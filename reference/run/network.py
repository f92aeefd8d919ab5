"""The one PyTorch twin of a network, and the network the harness composes from an implementation's layers.

A NetworkTwin holds every parameter as a torch leaf in the textbook's layout (W as (inputs, outputs)) and computes,
layer by layer, what each layer's piece says (its spec's twin: reference.pieces), then the loss piece's.  Its
gradient is autograd of the epsilon-free loss (plus the textbook's weight decay 0.5 lambda sum W^2 where the network
has one), its reported loss the textbook's (reference.report.deviations).  Where the protocol fixes a network's layers
(TwoLayerNet: Affine, Relu, Affine, SoftmaxWithLoss) the twin is built from that architecture, the network record's
data (NetworkTwin.of); else it is composed from the network's own layers, each by its class's piece
(NetworkTwin.composed: MultiLayerNetExtend, SimpleConvNet, any network the trace is given).
"""

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.base.lazy_torch import torch
from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces.registry import Kind


class NotANetwork(ValueError):
    """An object the trace cannot walk (no layers in order, no loss layer); the message says what is missing."""


def ordered_layers(network):
    """[(position name, layer)] of network.layers: an ordered dict's keys, or Class<i> for a list."""
    layers = getattr(network, "layers", None)
    if isinstance(layers, dict):
        return list(layers.items())
    if isinstance(layers, (list, tuple)):
        counts, named = {}, []
        for layer in layers:
            kind = type(layer).__name__
            counts[kind] = counts.get(kind, 0) + 1
            named.append((f"{kind}{counts[kind]}", layer))
        return named
    raise NotANetwork(f"{type(network).__name__} has no `layers` (an ordered dict or list of its layers)")


def last_layer(network):
    for attribute in ("lastLayer", "last_layer"):
        if getattr(network, attribute, None) is not None:
            return attribute, getattr(network, attribute)
    raise NotANetwork(f"{type(network).__name__} has no loss layer named lastLayer or last_layer")


def layer_piece(layer):
    """(piece, its LayerSpec) for a layer whose class the registry knows with a twin, else (None, None)."""
    found = registry.by_class(type(layer).__name__)
    spec = getattr(found, "spec", None)
    if found is None or found.kind != Kind.LAYER or getattr(spec, "twin", None) is None or not hasattr(spec, "params"):
        return None, None
    return found, spec


def loss_piece(layer):
    """The loss piece of a loss layer whose class the registry knows with a twin, else None."""
    found = registry.by_class(type(layer).__name__)
    if found is None or found.kind != Kind.LOSS or not hasattr(found.spec, "backward_twin"):
        return None
    return found


def label_indices(t):
    """Class indices of labels given as indices or one-hot rows."""
    labels = np.asarray(t)
    return (labels if labels.ndim == 1 else labels.argmax(axis=1)).astype(np.int64)


class NetworkTwin:
    """x -> each layer's twin over its parameters -> the loss piece's twin, in torch."""

    def __init__(self, name, weights, layers, loss_spec, decay=0.0):
        self.name = name
        self.params = {k: torch.nn.Parameter(torch.from_numpy(np.array(v, copy=True))) for k, v in weights.items()}
        self.layers = layers  # [(make(generator) -> twin(x, *params), parameter keys (or constant tensors))]
        self.loss_spec = loss_spec
        self.decay = decay
        self.last_plain_loss = None  # the epsilon-free loss of the last backward_loss / gradient

    @classmethod
    def of(cls, name, weights):
        """The twin of network piece `name` by its record's architecture, from `weights` (key -> array)."""
        network = registry.piece(name).network
        if not network.architecture:
            raise ValueError(f"{name}'s record fixes no architecture: compose its twin from a network "
                             "(NetworkTwin.composed)")
        layers = []
        for piece, *keys in network.architecture:
            spec = registry.spec_of(piece)
            layers.append(((lambda generator, spec=spec: spec.trace_twin(None, generator)), tuple(keys)))
        return cls(name, weights, layers, registry.spec_of(network.loss))

    @classmethod
    def composed(cls, network, name=None, constants=False, test=False):
        """The twin of an implementation's network composed from its layers, each by the piece its class is, over
        the network's params (each layer's parameter found among them by identity); its weight decay
        (weight_decay_lambda) included.  NotANetwork where a layer or the loss has no twin, or where a layer holds
        an array that is not one of params (constants: that array taken as a constant of the twin instead: the
        trace's end-to-end check, whose gradient of it is then none).  test: each layer in its test-mode form
        (spec.test_twin: batch norm on the running statistics the layer holds now, dropout scaled, no mask)."""
        layers = []
        for position, layer in ordered_layers(network):
            _, spec = layer_piece(layer)
            if spec is None:
                raise NotANetwork(f"{position}: a layer of class {type(layer).__name__} has no twin in the registry")
            keys = []
            for p in spec.params:
                array = getattr(layer, p)
                key = next((k for k, v in network.params.items() if v is array), None)
                if key is None and not constants:
                    raise NotANetwork(f"{position}.{p} is not one of the network's params arrays")
                keys.append(key if key is not None else torch.from_numpy(np.array(array, copy=True)))
            if test:
                make = (lambda generator, twin=spec.test_twin(layer): twin)
            else:
                make = (lambda generator, spec=spec, layer=layer: spec.trace_twin(layer, generator))
            layers.append((make, tuple(keys)))
        loss = loss_piece(last_layer(network)[1])
        if loss is None:
            raise NotANetwork("the network's loss layer is not a loss the registry knows")
        return cls(name or type(network).__name__, network.params, layers, loss.spec,
                   float(getattr(network, "weight_decay_lambda", 0) or 0))

    @classmethod
    def of_network(cls, name, network):
        """The twin of the implementation's `network`, of network piece `name`, at its present weights: by the
        record's architecture where it has one, else composed from the network's layers."""
        record = registry.REGISTRY.get(name)
        if record is not None and record.network is not None and record.network.architecture:
            return cls.of(name, network.params)
        return cls.composed(network, name)

    def __repr__(self):
        shapes = ", ".join(f"{k} {tuple(p.shape)}" for k, p in self.params.items())
        return f"NetworkTwin({self.name!r}: {shapes})"

    def logits(self, x, state=None):
        """The scores, in torch, of x (a tensor or an array); dropout masks replayed from `state` (the state NumPy's
        global generator was in when the implementation's forward began)."""
        generator = streams.generator_in_state(state) if state is not None else None
        activation = x if isinstance(x, torch.Tensor) else _t(x)
        for make, keys in self.layers:
            activation = make(generator)(activation, *(self.params[k] if isinstance(k, str) else k for k in keys))
        return activation

    def _backward(self, x, t, state):
        for p in self.params.values():
            p.grad = None
        logits = self.logits(x, state)
        labels = torch.from_numpy(label_indices(t))
        loss = self.loss_spec.backward_twin(logits, labels)
        if self.decay:
            loss = loss + sum(0.5 * self.decay * (w * w).sum() for k, w in self.params.items() if k.startswith("W"))
        if loss.requires_grad:  # not when no layer holds a parameter: then every gradient is 0
            loss.backward()
        with torch.no_grad():
            self.last_plain_loss = float(self.loss_spec.backward_twin(logits, labels))  # the convention's value
            return self.loss_spec.twin(logits, labels)

    def loss(self, x, t):
        """The textbook's loss (epsilon included, no weight decay), as a NumPy scalar."""
        with torch.no_grad():
            return self.loss_spec.twin(self.logits(x), torch.from_numpy(label_indices(t))).numpy()

    def plain_loss(self, x, t):
        """The loss without the textbook's epsilon (no weight decay), as a NumPy scalar: the documented convention
        (deviations.EPSILON_FREE_LOSS) a network's loss() may follow, accepted wherever the loss appears."""
        with torch.no_grad():
            return self.loss_spec.backward_twin(self.logits(x), torch.from_numpy(label_indices(t))).numpy()

    def gradient(self, x, t, state=None):
        """(textbook loss, {key: gradient}) by autograd of the epsilon-free loss (plus the weight decay)."""
        loss = self._backward(x, t, state).numpy()
        return loss, {k: p.grad.numpy().copy() if p.grad is not None else np.zeros(tuple(p.shape), p.detach().numpy().dtype)
                      for k, p in self.params.items()}

    def backward_loss(self, x, t, state=None):
        """The textbook's loss as a Python float, with the epsilon-free loss's gradients left in each parameter's
        .grad for an optimizer step: gradient() without copying the gradients out."""
        return float(self._backward(x, t, state))

    def accuracy(self, x, t):
        with torch.no_grad():
            y = self.logits(x).argmax(dim=1).numpy()
        return float(np.mean(y == label_indices(t)))

    def weights(self):
        return {k: p.detach().numpy().copy() for k, p in self.params.items()}


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


class ComposedNetwork:
    """A network the harness builds from an implementation's protocol layers.

    Affine -> activation -> Affine -> SoftmaxWithLoss, with the implementation's
    own classes, so the trace exercises every layer class the protocol names
    (TwoLayerNet has no Sigmoid) whatever network class the implementation has.
    """

    def __init__(self, impl, activation, weights):
        Affine, Activation, SoftmaxWithLoss = impl.require("Affine", activation, "SoftmaxWithLoss")
        self.name = f"{activation} network"
        self.layers = {
            "Affine1": Affine(weights["W1"], weights["b1"]),
            f"{activation}1": Activation(),
            "Affine2": Affine(weights["W2"], weights["b2"]),
        }
        self.lastLayer = SoftmaxWithLoss()

    def __repr__(self):
        return f"ComposedNetwork({self.name!r})"
