"""Activation and loss functions (textbook "common/functions.py").

All keep the floating dtype they are given: float32 in, float32 out.
"""

import numpy as np


def _as_float_array(x, name):
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        if np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
            return x.astype(np.float64)
        raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    return x


def sigmoid(x):
    """sigmoid(x) = 1 / (1 + exp(-x)), elementwise, any shape.

    Written as exp(-|x|) in both branches so that exp never overflows:
    for x >= 0 it is 1 / (1 + e^-x), for x < 0 it is e^x / (1 + e^x).
    """
    x = _as_float_array(x, "x")
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x):
    """softmax(x)_i = exp(x_i) / sum_j exp(x_j) along the last axis.

    x: (C,) or (N, C).  The row maximum is subtracted first: softmax is
    unchanged by a constant shift, and exp then never overflows.
    """
    x = _as_float_array(x, "x")
    if x.ndim not in (1, 2):
        raise ValueError(f"softmax expects x of shape (C,) or (N, C), got {x.shape}")
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _label_indices(t, n, c):
    """Class indices (n,) from labels given as indices (n,) or one-hot (n, c)."""
    if t.ndim == 2:
        if t.shape != (n, c):
            raise ValueError(f"one-hot labels must have shape ({n}, {c}), got {t.shape}")
        return t.argmax(axis=1)
    if t.shape != (n,):
        raise ValueError(
            f"labels must be class indices of shape ({n},) or one-hot of shape ({n}, {c}), got {t.shape}"
        )
    if not np.issubdtype(t.dtype, np.integer):
        if not np.all(np.equal(np.mod(t, 1), 0)):
            raise ValueError(f"class-index labels must be whole numbers, got dtype {t.dtype}")
        t = t.astype(np.intp)
    if n and (t.min() < 0 or t.max() >= c):
        raise ValueError(f"labels must lie in [0, {c}), got values from {t.min()} to {t.max()}")
    return t


def as_batch(y, t):
    """(y, t) with a single sample (C,) and its label made a batch of one."""
    y = _as_float_array(y, "y")
    t = np.asarray(t)
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = t.reshape(1, -1) if t.ndim == 1 and t.size == y.shape[1] and t.size > 1 else t.reshape(1)
    if y.ndim != 2:
        raise ValueError(f"expected scores of shape (C,) or (N, C), got {y.shape}")
    return y, t


def cross_entropy_error(y, t):
    """E = -(1/N) sum_n log(y[n, t_n] + 1e-7).

    y: probabilities (C,) or (N, C).  t: class indices (N,) or one-hot (N, C)
    (a single sample's label as an index or a one-hot (C,) vector).
    The 1e-7 keeps log away from log(0) = -inf when a probability underflows.
    """
    y, t = as_batch(y, t)
    n, c = y.shape
    return cross_entropy_of_indices(y, _label_indices(t, n, c))


def cross_entropy_of_indices(y, idx):
    """cross_entropy_error for y (N, C) and checked class indices idx (N,), without re-checking them."""
    n = y.shape[0]
    # divided by n in y's own dtype: a NumPy 1.x scalar op would otherwise give float64
    return -np.sum(np.log(y[np.arange(n), idx] + 1e-7)) / y.dtype.type(n)


def svm_loss(x, y):
    """The multiclass SVM (hinge) loss and its gradient, the form CS231n's assignments use: for each row i,
    sum over the classes j != y_i of max(0, x_ij - x_iy + 1), averaged over the batch; returns (loss, dx).

    dx_ij = 1/N where that margin is positive (j != y_i), and dx_iy = -1/N times the number of positive margins in
    row i.  x of shape (N, C), y of shape (N,) integer labels; the dtype of x is kept."""
    x = _as_float_array(x, "x")
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"svm_loss: x must be (N, C) and y (N,) integer labels, got {x.shape} and {y.dtype} "
                         f"{y.shape}")
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + x.dtype.type(1)
    margins[rows, y] = 0
    positive = margins > 0
    loss = np.sum(np.where(positive, margins, 0)) / x.dtype.type(n)
    dx = positive.astype(x.dtype)
    dx[rows, y] = -positive.sum(axis=1)
    return loss, dx / x.dtype.type(n)
