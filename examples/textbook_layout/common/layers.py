"""Layers with forward and backward, written for this example in the textbook's names.  It imports its siblings as
`common.*`, as the textbook's chapters do: the folder above `common/` must be on the import path (--path)."""

import numpy as np

from common.functions import cross_entropy_error, sigmoid, softmax


class Relu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0, x)

    def backward(self, dout):
        return np.where(self.mask, 0, dout)


class Sigmoid:
    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * self.out * (1.0 - self.out)


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b
        self.dW = self.db = None

    def forward(self, x):
        self.original_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.original_shape)


class SoftmaxWithLoss:
    def forward(self, x, t):
        self.shape = x.shape  # one sample may come as a vector: kept as a batch of one inside
        self.y = softmax(x).reshape(-1, x.shape[-1])
        self.t = np.reshape(t, self.y.shape) if np.size(t) == self.y.size else np.reshape(t, -1)
        return cross_entropy_error(self.y, self.t)

    def backward(self, dout=1):
        n = self.y.shape[0]
        if self.t.shape == self.y.shape:
            dx = self.y - self.t
        else:
            dx = self.y.copy()
            dx[np.arange(n), self.t] -= 1
        return (dx * dout / n).reshape(self.shape)
