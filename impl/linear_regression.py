"""Linear regression with a hand-written gradient, trained by mini-batch SGD.

    prediction  y_hat = X w + b
    loss        f(w, b) = (1 / 2n) sum_i (y_hat_i - y_i)^2 + (l2 / 2) ||w||^2     (the bias is not regularised)
    gradient    df/dw = X^T r / n + l2 w,   df/db = sum_i r_i / n,   r = y_hat - y

The half in front of the mean square makes the gradient the plain residual average; the mean squared error itself
is twice the data term.  params holds w and b (a 0-d array), updated in place by sgd().
"""

import numpy as np


class LinearRegression:
    def __init__(self, w, b, l2=0.0):
        self.params = {"w": np.asarray(w), "b": np.asarray(b)}
        self.l2 = float(l2)

    @classmethod
    def zeros(cls, features, l2=0.0, dtype=np.float64):
        return cls(np.zeros(features, dtype=dtype), np.zeros((), dtype=dtype), l2)

    def __repr__(self):
        return f"LinearRegression(features={self.params['w'].shape[0]}, l2={self.l2:g})"

    def _check(self, X, y=None):
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.params["w"].shape[0]:
            raise ValueError(f"LinearRegression: X of shape {X.shape} is not (n, {self.params['w'].shape[0]})")
        if y is not None and np.shape(y) != (X.shape[0],):
            raise ValueError(f"LinearRegression: y of shape {np.shape(y)} does not match X's {X.shape[0]} rows")
        return X

    def predict(self, X):
        return self._check(X) @ self.params["w"] + self.params["b"]

    def loss(self, X, y):
        X = self._check(X, y)
        r = self.predict(X) - y
        w = self.params["w"]
        kind = r.dtype.type  # constants in the data's dtype: float32 stays float32 on NumPy 1.x too
        return kind(0.5) * np.mean(r * r) + kind(0.5 * self.l2) * np.dot(w, w)

    def gradient(self, X, y):
        """{"w": df/dw, "b": df/db} at the current parameters."""
        X = self._check(X, y)
        r = self.predict(X) - y
        n = r.dtype.type(X.shape[0])
        return {"w": X.T @ r / n + r.dtype.type(self.l2) * self.params["w"], "b": np.sum(r) / n}

    def rmse(self, X, y):
        r = self.predict(X) - y
        return float(np.sqrt(np.mean(r * r)))


def step_size(X, rule="1/L"):
    """The step of full-batch gradient descent on the unregularised loss by `rule`: "1/L" or "2/(mu+L)", L and mu
    the largest and smallest eigenvalues of the loss's Hessian, the scaled Gram matrix [X, 1]^T [X, 1] / n (the
    bias's column of ones included).  Each rule has its guarantee (reference.convergence)."""
    X = np.asarray(X, dtype=np.float64)
    A = np.hstack([X, np.ones((len(X), 1))])
    eigenvalues = np.linalg.eigvalsh(A.T @ A / len(A))
    L, mu = float(eigenvalues[-1]), float(eigenvalues[0])
    if rule == "1/L":
        return 1.0 / L
    if rule == "2/(mu+L)":
        return 2.0 / (mu + L)
    raise ValueError(f"rule must be '1/L' or '2/(mu+L)', not {rule!r}")


def sgd(model, X, y, lr, epochs, batch_size, rng, on_epoch=None):
    """Mini-batch SGD: each epoch visits the rows in a fresh permutation from `rng`, in batches of batch_size (the
    last one may be smaller), w and b updated in place by lr times the batch's gradient.  on_epoch(epoch, model,
    losses) after each epoch, with that epoch's batch losses.  Returns every batch loss, each before its update."""
    n = len(X)
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        first = len(losses)
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            losses.append(float(model.loss(X[rows], y[rows])))
            grads = model.gradient(X[rows], y[rows])
            for key in model.params:
                model.params[key] -= lr * grads[key]
        if on_epoch is not None:
            on_epoch(epoch, model, losses[first:])
    return losses
