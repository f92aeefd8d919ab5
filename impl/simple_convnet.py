"""A small convolutional network (textbook "ch07/simple_convnet.py").

    x (N, C, H, W) -> Conv1 -> Relu1 -> Pool1 (2x2, stride 2) -> Affine1 -> Relu2 -> Affine2 -> SoftmaxWithLoss

Weights start as weight_init_std * N(0, 1), biases at 0.  Affine1 flattens the pooled maps (N, FN, h, w) in C
order, (f, y, x), and gives dx back in their shape.  The layers hold the very arrays in `params`.  Sizes are
computed with the layers' own floor rule, so odd sizes build a network that runs (the textbook's divides by 2).
"""

import numpy as np

from .gradient import numerical_gradient
from .net_layer import Affine, Convolution, Pooling, Relu, SoftmaxWithLoss
from .util import conv_output_size

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
PARAM_LAYERS = {"Conv1": ("W1", "b1"), "Affine1": ("W2", "b2"), "Affine2": ("W3", "b3")}


class SimpleConvNet:
    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10, weight_init_std=0.01,
                 seed=None, rng=None, dtype=np.float64):
        conv_param = dict({"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}, **(conv_param or {}))
        filter_num, filter_size = conv_param["filter_num"], conv_param["filter_size"]
        pad, stride = conv_param["pad"], conv_param["stride"]
        channels, height, width = input_dim
        conv_h = conv_output_size(height, filter_size, stride, pad)
        conv_w = conv_output_size(width, filter_size, stride, pad)
        pooled = filter_num * conv_output_size(conv_h, 2, 2) * conv_output_size(conv_w, 2, 2)
        rng = np.random.default_rng(seed) if rng is None else rng
        dtype = np.dtype(dtype)
        self.input_dim, self.conv_param = tuple(input_dim), conv_param
        shapes = {"W1": (filter_num, channels, filter_size, filter_size), "W2": (pooled, hidden_size),
                  "W3": (hidden_size, output_size)}
        self.params = {}
        for n, key in enumerate(("W1", "W2", "W3"), start=1):
            self.params[key] = (weight_init_std * rng.standard_normal(shapes[key])).astype(dtype)
            self.params[f"b{n}"] = np.zeros(shapes[key][0] if n == 1 else shapes[key][1], dtype=dtype)
        self.layers = {  # dicts keep insertion order: this is the forward order
            "Conv1": Convolution(self.params["W1"], self.params["b1"], stride, pad),
            "Relu1": Relu(),
            "Pool1": Pooling(pool_h=2, pool_w=2, stride=2),
            "Affine1": Affine(self.params["W2"], self.params["b2"]),
            "Relu2": Relu(),
            "Affine2": Affine(self.params["W3"], self.params["b3"]),
        }
        self.last_layer = SoftmaxWithLoss()

    def __repr__(self):
        return f"SimpleConvNet(input_dim={self.input_dim}, conv_param={self.conv_param}, dtype={self.params['W1'].dtype})"

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.last_layer.forward(self.predict(x), t)

    def accuracy(self, x, t, batch_size=100):
        """The fraction of samples whose highest score is their label (t as indices or one-hot), predicted in
        batches of batch_size (the last one may be smaller)."""
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        if len(x) == 0:
            raise ValueError("accuracy of no samples")
        correct = 0
        for start in range(0, len(x), batch_size):
            scores = self.predict(x[start:start + batch_size])
            correct += int(np.sum(np.argmax(scores, axis=1) == t[start:start + batch_size]))
        return correct / len(x)

    def numerical_gradient(self, x, t):
        """Every parameter's gradient by central differences of loss() (slow: for checking only)."""
        def loss_w(_):
            return self.loss(x, t)

        return {key: numerical_gradient(loss_w, self.params[key]) for key in PARAMS}

    def gradient(self, x, t):
        """Backpropagation: one forward, then every layer's backward in reverse order (the first without dx)."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        layers[0].backward(dout, need_dx=False)  # nobody takes the input's gradient: col2im is skipped
        grads = {}
        for name, (weight, bias) in PARAM_LAYERS.items():
            grads[weight], grads[bias] = self.layers[name].dW, self.layers[name].db
        return grads
