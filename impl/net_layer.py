"""Array layers with forward and backward (textbook "common/layers.py").

Every layer keeps its input's dtype and never writes into its arguments.
Shapes: N is the batch size; x of an Affine layer may have any rank (N, ...).
"""

import numpy as np

from .functions import _label_indices, as_batch, cross_entropy_of_indices, sigmoid, softmax


class Relu:
    """y = max(0, x).

    backward: dx = dout where x > 0, else 0 (x <= 0 passes nothing back).
    """

    def __init__(self):
        self.mask = None

    def __repr__(self):
        shape = None if self.mask is None else self.mask.shape
        return f"Relu(mask shape={shape})"

    def forward(self, x):
        x = np.asarray(x)
        self.mask = x <= 0
        return np.maximum(x, 0)  # a new array: x itself is never written

    def backward(self, dout):
        return np.where(self.mask, 0, dout)  # the Python 0 takes dout's dtype


class Sigmoid:
    """y = 1 / (1 + exp(-x)).

    backward: dy/dx = y (1 - y), computed from the kept output y:
    dx = dout * y * (1 - y).
    """

    def __init__(self):
        self.out = None

    def __repr__(self):
        shape = None if self.out is None else self.out.shape
        return f"Sigmoid(out shape={shape})"

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out) * self.out


class Affine:
    """y = x W + b.

    Shapes: x (N, ...) is flattened to (N, D); W (D, M); b (M,); y (N, M).
    backward: dx = dout W^T (reshaped to x's shape), dW = x^T dout,
    db = sum of dout over the batch.  W and b are kept by reference, so
    updating them in place changes the layer.
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def __repr__(self):
        return f"Affine(W shape={np.shape(self.W)}, b shape={np.shape(self.b)})"

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ValueError("Affine expects x of shape (N, ...), got a scalar")
        features = int(np.prod(x.shape[1:]))
        if features != self.W.shape[0]:
            raise ValueError(
                f"Affine: x of shape {x.shape} has {features} features per sample, "
                f"but W has shape {self.W.shape} (expects {self.W.shape[0]})"
            )
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], features)
        return self.x @ self.W + self.b

    def backward(self, dout, need_dx=True):
        """dx (x's shape); keeps dW and db.  need_dx=False skips dx (returns None): the
        first layer of a network has nobody to pass it to, and it is a third of the work."""
        self.dW = self.x.T @ dout
        self.db = np.sum(dout, axis=0)
        if not need_dx:
            return None
        return (dout @ self.W.T).reshape(self.original_x_shape)


class SoftmaxWithLoss:
    """loss = cross_entropy_error(softmax(x), t).

    Shapes: x (N, C) or (C,); t class indices (N,) or one-hot (N, C).
    backward: dx = dout * (softmax(x) - onehot(t)) / N -- the exact derivative
    of the cross-entropy without the 1e-7 guard that the forward adds inside
    the log (see reference.deviations).
    """

    def __init__(self):
        self.loss = None
        self.y = None
        self.t = None
        self.x_shape = None

    def __repr__(self):
        return f"SoftmaxWithLoss(loss={self.loss!r})"

    def forward(self, x, t):
        x = np.asarray(x)
        self.x_shape = x.shape
        x2, t2 = as_batch(x, t)
        n, c = x2.shape
        self.t = _label_indices(t2, n, c)
        self.y = softmax(x2)
        self.loss = cross_entropy_of_indices(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        n = self.y.shape[0]
        dx = self.y.copy()
        dx[np.arange(n), self.t] -= 1
        dx *= dout / n  # in place: keeps dx's dtype whatever dout is
        return dx.reshape(self.x_shape)


class BatchNormalization:
    """Batch normalization (Ioffe and Szegedy, 2015), with the textbook's conventions.

    x of shape (N, D), or (N, C, H, W) normalised per element after flattening to (N, C*H*W).
    Training: mu and the biased var over the batch axis, xn = (x - mu) / sqrt(var + 1e-6),
    y = gamma * xn + beta, and the running statistics (zero before the first forward)
    move as running = momentum * running + (1 - momentum) * batch.  Test (train_flg=False):
    the running statistics in place of the batch's, and nothing changes.

    backward after a training forward: dbeta = sum dout, dgamma = sum dout * xn and
    dx = gamma / std * (dout - mean(dout) - xn * mean(dout * xn)), the means over the batch;
    after a test forward the statistics are constants and dx = gamma / sqrt(running_var + 1e-6) * dout.
    """

    EPSILON = 1e-6

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = None
        self.train = True
        self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def __repr__(self):
        return f"BatchNormalization(features={np.shape(self.gamma)}, momentum={self.momentum})"

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        self.input_shape = x.shape
        rows = x.reshape(x.shape[0], -1)
        if self.running_mean is None:
            self.running_mean = np.zeros(rows.shape[1], dtype=rows.dtype)
            self.running_var = np.zeros(rows.shape[1], dtype=rows.dtype)
        self.train = bool(train_flg)
        if self.train:
            mu = rows.mean(axis=0)
            centred = rows - mu
            var = (centred * centred).mean(axis=0)
            self.std = np.sqrt(var + self.EPSILON)
            # new arrays, never written in place: running statistics handed in stay the caller's
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            centred = rows - self.running_mean
            self.std = np.sqrt(self.running_var + self.EPSILON)
        self.xn = centred / self.std
        return (self.gamma * self.xn + self.beta).reshape(self.input_shape)

    def backward(self, dout):
        rows = np.asarray(dout).reshape(self.input_shape[0], -1)
        self.dbeta = rows.sum(axis=0)
        self.dgamma = (rows * self.xn).sum(axis=0)
        if self.train:
            dx = self.gamma / self.std * (rows - rows.mean(axis=0) - self.xn * (rows * self.xn).mean(axis=0))
        else:
            dx = self.gamma / self.std * rows
        return dx.reshape(self.input_shape)


class Dropout:
    """Dropout (Srivastava et al.): in training each element is kept where a uniform draw from NumPy's global
    generator exceeds dropout_ratio (the textbook's mask, no rescaling); at test time every element is
    scaled by 1 - dropout_ratio instead.  backward: dout times the mask (or the test-time scale)."""

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None
        self.train = True

    def __repr__(self):
        return f"Dropout(dropout_ratio={self.dropout_ratio})"

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        self.train = bool(train_flg)
        if self.train:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask  # a boolean mask keeps x's dtype
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        if self.train:
            return dout * self.mask
        return dout * (1.0 - self.dropout_ratio)
