"""The PyTorch twin of TwoLayerNet and the weight transfer between the two.

The twin keeps W1, b1, W2, b2 as torch leaf tensors in the textbook's layout
(W as (inputs, outputs)); reference.pieces.affine converts to F.linear's layout,
the one place that does.  Its gradient is autograd of the epsilon-free
cross-entropy, its reported loss the textbook's (reference.report.deviations).
"""

import numpy as np
import torch

from reference.pieces import affine, elementwise
from reference.pieces.networks import PARAMS


class TwinTwoLayerNet:
    """x -> affine(W1, b1) -> relu -> affine(W2, b2) -> softmax cross-entropy, in torch."""

    def __init__(self, weights):
        self.params = {k: torch.nn.Parameter(torch.from_numpy(np.array(weights[k], copy=True))) for k in PARAMS}

    def __repr__(self):
        return f"TwinTwoLayerNet(W1 {tuple(self.params['W1'].shape)}, W2 {tuple(self.params['W2'].shape)})"

    def logits(self, x):
        p = self.params
        hidden = elementwise.relu(affine.affine(x, p["W1"], p["b1"]))
        return affine.affine(hidden, p["W2"], p["b2"])

    def loss(self, x, t):
        """The textbook's loss (epsilon included), as a NumPy scalar."""
        with torch.no_grad():
            return affine.softmax_with_loss(self.logits(_t(x)), _labels(t)).numpy()

    def gradient(self, x, t):
        """(textbook loss, {key: gradient}) by autograd of the epsilon-free loss."""
        for p in self.params.values():
            p.grad = None
        logits = self.logits(_t(x))
        labels = _labels(t)
        affine.softmax_cross_entropy(logits, labels).backward()
        with torch.no_grad():
            loss = affine.softmax_with_loss(logits, labels).numpy()
        return loss, {k: p.grad.numpy().copy() for k, p in self.params.items()}

    def backward_loss(self, x, t):
        """The textbook's loss as a Python float, with the epsilon-free loss's gradients left in each
        parameter's .grad for an optimizer step: gradient() without copying the gradients out."""
        for p in self.params.values():
            p.grad = None
        logits = self.logits(_t(x))
        labels = _labels(t)
        affine.softmax_cross_entropy(logits, labels).backward()
        with torch.no_grad():
            return float(affine.softmax_with_loss(logits, labels))

    def accuracy(self, x, t):
        with torch.no_grad():
            y = self.logits(_t(x)).argmax(dim=1).numpy()
        t = np.asarray(t)
        return float(np.mean(y == (t if t.ndim == 1 else t.argmax(axis=1))))

    def weights(self):
        return {k: p.detach().numpy().copy() for k, p in self.params.items()}


def _t(x):
    return torch.from_numpy(np.ascontiguousarray(x))


def _labels(t):
    t = np.asarray(t)
    return torch.from_numpy((t if t.ndim == 1 else t.argmax(axis=1)).astype(np.int64))


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
