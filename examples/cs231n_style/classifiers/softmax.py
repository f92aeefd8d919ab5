"""The softmax (cross-entropy) loss of a linear classifier: scores s = X W, X (N, D), W (D, C), y (N,) labels.

    L = -(1/N) sum_i log softmax(s_i)[y_i] + reg * sum(W * W)
    dL/dW = (1/N) X^T (P - Y) + 2 reg W, P the softmax of the scores, Y the one-hot labels

Each row's maximum is subtracted before exp, which leaves softmax unchanged and keeps exp from overflowing.
"""

import numpy as np


def softmax_loss_naive(W, X, y, reg):
    """The loss and its gradient, one sample at a time."""
    dW = np.zeros_like(W)
    loss = 0.0
    num_train = X.shape[0]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores = scores - scores.max()
        log_sum = np.log(np.sum(np.exp(scores)))
        loss += log_sum - scores[y[i]]
        probabilities = np.exp(scores - log_sum)
        probabilities[y[i]] -= 1
        dW += np.outer(X[i], probabilities)
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """The same loss and gradient with no loop."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    scores = scores - scores.max(axis=1, keepdims=True)
    log_probabilities = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
    loss = -log_probabilities[rows, y].sum() / num_train + reg * np.sum(W * W)
    probabilities = np.exp(log_probabilities)
    probabilities[rows, y] -= 1
    dW = X.T.dot(probabilities) / num_train + 2 * reg * W
    return loss, dW
