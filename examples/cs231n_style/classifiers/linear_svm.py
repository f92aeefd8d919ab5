"""The structured SVM loss of a linear classifier: scores s = X W, X (N, D), W (D, C), y (N,) labels.

    L = (1/N) sum_i sum_{j != y_i} max(0, s_ij - s_iy_i + 1) + reg * sum(W * W)
    dL/dW = (1/N) X^T M + 2 reg W, where M_ij = 1[margin_ij > 0] for j != y_i and M_iy_i = -sum_j M_ij
"""

import numpy as np


def svm_loss_naive(W, X, y, reg):
    """The loss and its gradient, one sample and one class at a time."""
    dW = np.zeros_like(W)
    loss = 0.0
    num_train, num_classes = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss = loss / num_train + reg * np.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """The same loss and gradient with no loop."""
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / num_train + reg * np.sum(W * W)
    counts = (margins > 0).astype(W.dtype)
    counts[rows, y] = -counts.sum(axis=1)
    dW = X.T.dot(counts) / num_train + 2 * reg * W
    return loss, dW
