"""The two-layer network learned by backpropagation (textbook "ch05/two_layer_net.py").

    x -> Affine1 (W1, b1) -> Relu1 -> Affine2 (W2, b2) -> SoftmaxWithLoss

Shapes: x (N, input_size); W1 (input_size, hidden_size); b1 (hidden_size,);
W2 (hidden_size, output_size); b2 (output_size,).  The layers hold the very
arrays in `params` (not copies), so an in-place update of params[key] is an
update of the network; numerical_gradient relies on that and says so.
"""

import numpy as np

from .gradient import numerical_gradient
from .net_layer import Affine, Relu, SoftmaxWithLoss

PARAMS = ("W1", "b1", "W2", "b2")


class TwoLayerNet:
    """Weights start as weight_init_std * N(0, 1) from `rng` (or default_rng(seed)); biases at 0."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, seed=None, rng=None,
                 dtype=np.float64):
        rng = np.random.default_rng(seed) if rng is None else rng
        dtype = np.dtype(dtype)
        self.params = {
            "W1": (weight_init_std * rng.standard_normal((input_size, hidden_size))).astype(dtype),
            "b1": np.zeros(hidden_size, dtype=dtype),
            "W2": (weight_init_std * rng.standard_normal((hidden_size, output_size))).astype(dtype),
            "b2": np.zeros(output_size, dtype=dtype),
        }
        # dicts keep insertion order: this is the forward order
        self.layers = {
            "Affine1": Affine(self.params["W1"], self.params["b1"]),
            "Relu1": Relu(),
            "Affine2": Affine(self.params["W2"], self.params["b2"]),
        }
        self.lastLayer = SoftmaxWithLoss()

    def __repr__(self):
        sizes = (self.params["W1"].shape[0], self.params["W1"].shape[1], self.params["W2"].shape[1])
        return f"TwoLayerNet(sizes={sizes}, dtype={self.params['W1'].dtype})"

    def predict(self, x):
        """Scores (N, output_size) before the softmax."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        """Mean cross-entropy of softmax(predict(x)) against t (indices or one-hot)."""
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        """The fraction of samples whose highest score is their label, as a float."""
        y = np.argmax(self.predict(x), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.mean(y == t))

    def numerical_gradient(self, x, t):
        """Central differences of loss(x, t) in every parameter (slow: two forwards per element).

        numerical_gradient perturbs params[key] in place; the Affine layers hold
        those same arrays, so loss(x, t) sees the perturbation.
        """
        grads = {}
        for key in PARAMS:
            param = self.params[key]
            layer = self.layers["Affine1" if key.endswith("1") else "Affine2"]
            assert (layer.W if key.startswith("W") else layer.b) is param, f"{key} is not shared with its layer"
            grads[key] = numerical_gradient(lambda _perturbed: self.loss(x, t), param)
        return grads

    def gradient(self, x, t):
        """Backpropagation: forward, then the layers' backward in reverse order."""
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        first, *rest = self.layers.values()
        for layer in reversed(rest):
            dout = layer.backward(dout)
        first.backward(dout, need_dx=False)  # nothing lies below the first layer: skip its dx
        return {
            "W1": self.layers["Affine1"].dW,
            "b1": self.layers["Affine1"].db,
            "W2": self.layers["Affine2"].dW,
            "b2": self.layers["Affine2"].db,
        }
