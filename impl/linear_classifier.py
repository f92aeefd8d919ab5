"""Linear classifiers' losses of their weights (CS231n assignment 1's linear_svm.py and softmax.py, under one file):
loss(W, X, y, reg) -> (loss, dW) for scores X W, X (N, D), W (D, C), y (N,) integer labels.  The data loss is
averaged over the batch; the regularization is reg * sum(W * W), whose gradient is 2 reg W.  The naive forms loop
over the samples as the assignment asks; the vectorized ones do not.  Each keeps W's dtype."""

import numpy as np


def _regularised(loss, dW, W, reg):
    """The data loss and gradient plus the penalty, in W's dtype: NumPy before 2.0 widens a float32 scalar met by a
    Python float to float64, so every scalar is cast to W's dtype first."""
    kind = W.dtype.type
    return kind(loss) + kind(reg) * np.sum(W * W), dW + kind(2 * reg) * W


def svm_loss_naive(W, X, y, reg):
    """The multiclass hinge loss, sum over j != y_i of max(0, s_j - s_y + 1), one sample at a time."""
    dW = np.zeros_like(W)
    loss = 0.0
    n = X.shape[0]
    for i in range(n):
        scores = X[i] @ W
        for j in range(W.shape[1]):
            margin = scores[j] - scores[y[i]] + 1
            if j != y[i] and margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    return _regularised(loss / n, dW / n, W, reg)


def svm_loss_vectorized(W, X, y, reg):
    """The multiclass hinge loss, every sample at once."""
    n = X.shape[0]
    rows = np.arange(n)
    scores = X @ W
    margins = scores - scores[rows, y][:, None] + 1
    margins[rows, y] = 0
    positive = (margins > 0).astype(W.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    return _regularised(np.maximum(margins, 0).sum() / n, X.T @ positive / n, W, reg)


def _probabilities(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True), shifted - np.log(exp.sum(axis=-1, keepdims=True))


def softmax_loss_naive(W, X, y, reg):
    """The softmax cross-entropy, -log softmax(s)[y], one sample at a time (scores shifted by their maximum)."""
    dW = np.zeros_like(W)
    loss = 0.0
    n = X.shape[0]
    for i in range(n):
        probabilities, log_probabilities = _probabilities(X[i] @ W)
        loss -= log_probabilities[y[i]]
        probabilities[y[i]] -= 1
        dW += np.outer(X[i], probabilities)
    return _regularised(loss / n, dW / n, W, reg)


def softmax_loss_vectorized(W, X, y, reg):
    """The softmax cross-entropy, every sample at once."""
    n = X.shape[0]
    rows = np.arange(n)
    probabilities, log_probabilities = _probabilities(X @ W)
    probabilities[rows, y] -= 1
    return _regularised(-log_probabilities[rows, y].sum() / n, X.T @ probabilities / n, W, reg)
