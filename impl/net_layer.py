"""Array layers with forward and backward (textbook "common/layers.py").

Every layer keeps its input's dtype and never writes into its arguments.
Shapes: N is the batch size; x of an Affine layer may have any rank (N, ...).
"""

import numpy as np

from .functions import _label_indices, as_batch, cross_entropy_of_indices, sigmoid, softmax
from .util import col2im, conv_output_size, im2col


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
        dx = dout * ~self.mask  # branch-free: np.where on a random mask runs ten times slower on large maps
        if not np.isfinite(dout).all():  # inf * 0 would be nan where x <= 0: there dx is 0, whatever dout is
            dx = np.where(self.mask, 0, dout)  # the Python 0 takes dout's dtype
        return dx


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


class Tanh:
    """y = tanh(x).

    backward: dy/dx = 1 - y^2, computed from the kept output y:
    dx = dout * (1 - y^2).
    """

    def __init__(self):
        self.out = None

    def __repr__(self):
        shape = None if self.out is None else self.out.shape
        return f"Tanh(out shape={shape})"

    def forward(self, x):
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout):
        return dout * (1 - self.out * self.out)


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

    backward after a training forward, through the computational graph as the textbook does (xn, then the centred
    x and the standard deviation, then the variance and the mean): dbeta = sum dout, dgamma = sum dout * xn, and dx
    by the chain rule stage by stage; BatchNormalizationAlt writes dx in closed form instead.  After a test forward
    the statistics are constants and dx = gamma / sqrt(running_var + 1e-6) * dout.
    """

    EPSILON = 1e-6

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var
        self.input_shape = None
        self.train = True
        self.xn = self.xc = self.std = None
        self.dgamma = self.dbeta = None

    def __repr__(self):
        return f"{type(self).__name__}(features={np.shape(self.gamma)}, momentum={self.momentum})"

    def _rows(self, x):
        """x as (samples, features): each column is normalised over its rows."""
        return x.reshape(x.shape[0], -1)

    def _unrows(self, rows):
        return rows.reshape(self.input_shape)

    def forward(self, x, train_flg=True):
        x = np.asarray(x)
        self.input_shape = x.shape
        rows = self._rows(x)
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
        self.xc = centred
        self.xn = centred / self.std
        return self._unrows(self.gamma * self.xn + self.beta)

    def backward(self, dout):
        rows = self._rows(np.asarray(dout))
        self.dbeta = rows.sum(axis=0)
        self.dgamma = (rows * self.xn).sum(axis=0)
        dxn = self.gamma * rows
        if not self.train:
            return self._unrows(dxn / self.std)
        n = rows.shape[0]
        dxc = dxn / self.std
        dstd = -(dxn * self.xc / (self.std * self.std)).sum(axis=0)
        dvar = 0.5 * dstd / self.std
        dxc = dxc + (2.0 / n) * self.xc * dvar
        dmu = dxc.sum(axis=0)
        return self._unrows(dxc - dmu / n)


class BatchNormalizationAlt(BatchNormalization):
    """BatchNormalization with its training backward in closed form (CS231n's batchnorm_backward_alt):
    dx = gamma / std * (dout - mean(dout) - xn * mean(dout * xn)), the means over the batch."""

    def backward(self, dout):
        if not self.train:
            return super().backward(dout)
        rows = self._rows(np.asarray(dout))
        self.dbeta = rows.sum(axis=0)
        self.dgamma = (rows * self.xn).sum(axis=0)
        dx = self.gamma / self.std * (rows - rows.mean(axis=0) - self.xn * (rows * self.xn).mean(axis=0))
        return self._unrows(dx)


class SpatialBatchNormalization(BatchNormalization):
    """Batch normalization of images per channel: x (N, C, H, W), gamma, beta and the running statistics of shape
    (C,), each channel normalised over its N * H * W values; otherwise BatchNormalization's conventions (epsilon
    1e-6, the biased variance, the running statistics' rule)."""

    def _rows(self, x):
        if x.ndim != 4:
            raise ValueError(f"SpatialBatchNormalization takes x of shape (N, C, H, W), not {x.shape}")
        return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])

    def _unrows(self, rows):
        n, c, h, w = self.input_shape
        return np.moveaxis(rows.reshape(n, h, w, c), -1, 1)


def _normalise_rows(groups, eps):
    """(xn, std) of each row of `groups` over its last axis, the biased variance, eps inside the square root."""
    centred = groups - groups.mean(axis=-1, keepdims=True)
    std = np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps)
    return centred / std, std


def _normalised_backward(g, xn, std):
    """d loss / d x of xn = (x - mean) / std along the last axis, from g = d loss / d xn."""
    return (g - g.mean(axis=-1, keepdims=True) - xn * (g * xn).mean(axis=-1, keepdims=True)) / std


class LayerNormalization:
    """Layer normalization (Ba, Kiros and Hinton, 2016): each sample of x (N, D), or (N, ...) flattened to (N, D),
    normalised over its own D features, xn = (x - mean) / sqrt(var + eps) with the biased variance, and
    y = gamma * xn + beta, gamma and beta of shape (D,).  The same in training and at test time.
    backward(dout) -> dx; keeps dgamma, dbeta."""

    def __init__(self, gamma, beta, eps=1e-5):
        self.gamma, self.beta, self.eps = gamma, beta, eps
        self.input_shape = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def __repr__(self):
        return f"LayerNormalization(features={np.shape(self.gamma)}, eps={self.eps})"

    def forward(self, x):
        x = np.asarray(x)
        self.input_shape = x.shape
        self.xn, self.std = _normalise_rows(x.reshape(x.shape[0], -1), self.eps)
        return (self.gamma * self.xn + self.beta).reshape(x.shape)

    def backward(self, dout):
        rows = np.asarray(dout).reshape(self.xn.shape)
        self.dbeta = rows.sum(axis=0)
        self.dgamma = (rows * self.xn).sum(axis=0)
        return _normalised_backward(rows * self.gamma, self.xn, self.std).reshape(self.input_shape)


class GroupNormalization:
    """Group normalization (Wu and He, 2018) of images: x (N, C, H, W) with its C channels split into G contiguous
    groups, each sample's group normalised over its C/G * H * W values (the biased variance, eps inside the square
    root), then y = gamma * xn + beta per channel; gamma and beta of C values, shaped (C,) or (1, C, 1, 1), and the
    gradients keep their shape.  The same in training and at test time.  backward(dout) -> dx; keeps dgamma, dbeta."""

    def __init__(self, gamma, beta, G, eps=1e-5):
        self.gamma, self.beta, self.G, self.eps = gamma, beta, int(G), eps
        self.input_shape = self.xn = self.std = None
        self.dgamma = self.dbeta = None

    def __repr__(self):
        return f"GroupNormalization(channels={np.size(self.gamma)}, G={self.G}, eps={self.eps})"

    def _per_channel(self, value):
        return np.reshape(value, (1, -1, 1, 1))

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 4 or x.shape[1] % self.G:
            raise ValueError(f"GroupNormalization with G={self.G} takes x of shape (N, C, H, W) with C a multiple of "
                             f"G, not {x.shape}")
        self.input_shape = x.shape
        self.xn, self.std = _normalise_rows(x.reshape(x.shape[0], self.G, -1), self.eps)
        xn = self.xn.reshape(x.shape)
        return self._per_channel(self.gamma) * xn + self._per_channel(self.beta)

    def backward(self, dout):
        dout = np.asarray(dout)
        xn = self.xn.reshape(self.input_shape)
        self.dbeta = dout.sum(axis=(0, 2, 3)).reshape(np.shape(self.beta))
        self.dgamma = (dout * xn).sum(axis=(0, 2, 3)).reshape(np.shape(self.gamma))
        g = (dout * self._per_channel(self.gamma)).reshape(self.xn.shape)
        return _normalised_backward(g, self.xn, self.std).reshape(self.input_shape)


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


class Convolution:
    """A bank of FN filters W (FN, C, FH, FW) with biases b (FN,), slid over x (N, C, H, W) with `stride` after
    zero padding by `pad`: y (N, FN, out_h, out_w), y[n, f] = sum over c, i, j of W[f, c, i, j] times the window's
    element, plus b[f] (a cross-correlation, as torch's conv2d).

    forward is one product of im2col(x) (N out_h out_w, C FH FW) with W.reshape(FN, -1).T; backward keeps
    dW = (col^T dout) in W's layout and db = dout summed over the batch and every position, and returns
    dx = col2im(dout W): the windows' gradients added back where they overlap.  W and b are kept by reference.
    """

    def __init__(self, W, b, stride=1, pad=0):
        self.W = W
        self.b = b
        self.stride = int(stride)
        self.pad = int(pad)
        self.x_shape = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def __repr__(self):
        return f"Convolution(W shape={np.shape(self.W)}, stride={self.stride}, pad={self.pad})"

    def forward(self, x):
        x = np.asarray(x)
        FN, C, FH, FW = self.W.shape
        if x.ndim != 4 or x.shape[1] != C:
            raise ValueError(f"Convolution: x of shape {x.shape} is not (N, {C}, H, W) for W of shape {self.W.shape}")
        N, _, H, W = x.shape
        out_h = conv_output_size(H, FH, self.stride, self.pad)
        out_w = conv_output_size(W, FW, self.stride, self.pad)
        self.x_shape = x.shape
        self.col = im2col(x, FH, FW, self.stride, self.pad)
        self.col_W = self.W.reshape(FN, -1).T
        out = self.col @ self.col_W + self.b
        # laid out as (N, FN, out_h, out_w) in memory too: the layers after it slice it by position
        return np.ascontiguousarray(out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2))

    def backward(self, dout, need_dx=True):
        """dx (x's shape); keeps dW and db.  need_dx=False skips dx (returns None): a network's first layer has
        nobody to pass it to."""
        FN, C, FH, FW = self.W.shape
        rows = np.asarray(dout).transpose(0, 2, 3, 1).reshape(-1, FN)  # (N out_h out_w, FN), im2col's row order
        self.db = rows.sum(axis=0)
        self.dW = (self.col.T @ rows).T.reshape(FN, C, FH, FW)
        if not need_dx:
            return None
        return col2im(rows @ self.col_W.T, self.x_shape, FH, FW, self.stride, self.pad)


class Pooling:
    """Max pooling over pool_h x pool_w windows taken every `stride` elements of x (N, C, H, W) padded by `pad`:
    y (N, C, out_h, out_w), each the largest element of its window.

    Padding is with minus infinity (torch's max_pool2d does the same), so a padded position never wins a window
    and never receives gradient; pad is at most half the window, so no window is padding alone.  backward routes
    each window's gradient to the element that won it, added up where windows overlap.  Ties: the first maximum
    in the window's row-major order (y, then x) wins, which is np.argmax's rule and torch's on the CPU.
    arg_max (N, C, out_h, out_w) keeps the winner's offset in that order.  The textbook's default stride, 2, is kept.
    Both directions loop over the window's offsets (4 for 2x2), never over samples or pixels.
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.pool_h = int(pool_h)
        self.pool_w = int(pool_w)
        self.stride = int(stride)
        self.pad = int(pad)
        if 2 * self.pad > min(self.pool_h, self.pool_w):
            raise ValueError(f"Pooling: pad {pad} is more than half the {pool_h}x{pool_w} window")
        self.x_shape = None
        self.arg_max = None

    def __repr__(self):
        return f"Pooling({self.pool_h}x{self.pool_w}, stride={self.stride}, pad={self.pad})"

    def _offsets(self, out_h, out_w):
        """(k, rows, columns): the k-th element of every window, row-major, as slices of the padded input."""
        k = 0
        for i in range(self.pool_h):
            for j in range(self.pool_w):
                yield k, slice(i, i + self.stride * (out_h - 1) + 1, self.stride), \
                    slice(j, j + self.stride * (out_w - 1) + 1, self.stride)
                k += 1

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"Pooling expects x of shape (N, C, H, W), got shape {x.shape}")
        N, C, H, W = x.shape
        out_h = conv_output_size(H, self.pool_h, self.stride, self.pad)
        out_w = conv_output_size(W, self.pool_w, self.stride, self.pad)
        if self.pad:
            p = self.pad
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
        candidates = [x[:, :, rows, columns] for _, rows, columns in self._offsets(out_h, out_w)]
        out = candidates[0].copy()
        for candidate in candidates[1:]:
            np.maximum(out, candidate, out=out)
        # the winner: the first offset, in row-major order, whose element equals the maximum
        arg_max = np.zeros(out.shape, dtype=np.uint8 if len(candidates) <= 256 else np.intp)
        taken = candidates[0] == out
        for k, candidate in enumerate(candidates[1:], start=1):
            first = (candidate == out) & ~taken
            arg_max += first * arg_max.dtype.type(k)
            taken |= first
        self.x_shape, self.arg_max = (N, C, H, W), arg_max
        return out

    def backward(self, dout):
        dout = np.asarray(dout)
        N, C, H, W = self.x_shape
        p = self.pad
        dx = np.zeros((N, C, H + 2 * p, W + 2 * p), dtype=dout.dtype)
        out_h, out_w = self.arg_max.shape[2:]
        for k, rows, columns in self._offsets(out_h, out_w):
            window = dx[:, :, rows, columns]  # a view: added in place, overlapping windows share an element
            np.add(window, dout * (self.arg_max == k), out=window)
        return dx[:, :, p:p + H, p:p + W]
