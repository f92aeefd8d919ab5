"""The chapter's two-layer network (written for this example); it imports `common.*` like the chapter's scripts."""

from collections import OrderedDict

import numpy as np

from common.gradient import numerical_gradient
from common.layers import Affine, Relu, SoftmaxWithLoss


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, dtype=np.float64):
        self.params = {"W1": (weight_init_std * np.random.randn(input_size, hidden_size)).astype(dtype),
                       "b1": np.zeros(hidden_size, dtype=dtype),
                       "W2": (weight_init_std * np.random.randn(hidden_size, output_size)).astype(dtype),
                       "b2": np.zeros(output_size, dtype=dtype)}
        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Relu1"] = Relu()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss()

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        return self.lastLayer.forward(self.predict(x), t)

    def accuracy(self, x, t):
        y = self.predict(x).argmax(axis=1)
        if t.ndim != 1:
            t = t.argmax(axis=1)
        return float(np.sum(y == t)) / x.shape[0]

    def numerical_gradient(self, x, t):
        def loss(_):
            return self.loss(x, t)

        return {key: numerical_gradient(loss, self.params[key]) for key in ("W1", "b1", "W2", "b2")}

    def gradient(self, x, t):
        self.loss(x, t)
        dout = self.lastLayer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        return {"W1": self.layers["Affine1"].dW, "b1": self.layers["Affine1"].db,
                "W2": self.layers["Affine2"].dW, "b2": self.layers["Affine2"].db}
