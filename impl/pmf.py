"""Probabilistic matrix factorisation (Salakhutdinov and Mnih, 2007): the objective and its hand-written gradients.

Ratings are rows of X (n, 2) = (user, item) indices with values y (n,).  With user factors U (users, k) and item
factors V (items, k):

    prediction  r_hat = U[user] . V[item]
    loss        E = (1/2) sum over the rated pairs (r - r_hat)^2 + (lam_u / 2) ||U||^2 + (lam_v / 2) ||V||^2
    gradient    dE/dU[i] = - sum over i's ratings (r - r_hat) V[item] + lam_u U[i], and likewise for V

A user or item with several ratings collects a term from each: the gradients are accumulated with np.add.at, since
`grad[users] += terms` keeps only one term per repeated index.  params holds U and V.
"""

import numpy as np


class PMF:
    def __init__(self, U, V, lam_u=0.0, lam_v=0.0):
        self.params = {"U": np.asarray(U), "V": np.asarray(V)}
        self.lam_u, self.lam_v = float(lam_u), float(lam_v)

    def __repr__(self):
        U, V = self.params["U"], self.params["V"]
        return f"PMF(users={U.shape[0]}, items={V.shape[0]}, k={U.shape[1]}, lam_u={self.lam_u:g}, lam_v={self.lam_v:g})"

    def _check(self, X, y=None):
        X = np.asarray(X)
        U, V = self.params["U"], self.params["V"]
        if X.ndim != 2 or X.shape[1] != 2 or not np.issubdtype(X.dtype, np.integer):
            raise ValueError(f"PMF: X must be (n, 2) integer (user, item) pairs, got {X.dtype} of shape {X.shape}")
        if len(X) and (X.min() < 0 or X[:, 0].max() >= U.shape[0] or X[:, 1].max() >= V.shape[0]):
            raise ValueError(f"PMF: an index lies outside {U.shape[0]} users and {V.shape[0]} items")
        if y is not None and np.shape(y) != (len(X),):
            raise ValueError(f"PMF: y of shape {np.shape(y)} does not match X's {len(X)} ratings")
        return X

    def predict(self, X):
        X = self._check(X)
        return np.sum(self.params["U"][X[:, 0]] * self.params["V"][X[:, 1]], axis=1)

    def loss(self, X, y):
        X = self._check(X, y)
        U, V = self.params["U"], self.params["V"]
        r = y - self.predict(X)
        half = r.dtype.type(0.5)
        return (half * np.dot(r, r) + r.dtype.type(0.5 * self.lam_u) * np.sum(U * U)
                + r.dtype.type(0.5 * self.lam_v) * np.sum(V * V))

    def gradient(self, X, y):
        """{"U": dE/dU, "V": dE/dV}."""
        X = self._check(X, y)
        U, V = self.params["U"], self.params["V"]
        users, items = X[:, 0], X[:, 1]
        r = (y - self.predict(X))[:, None]
        dU = U.dtype.type(self.lam_u) * U
        dV = V.dtype.type(self.lam_v) * V
        np.add.at(dU, users, -r * V[items])
        np.add.at(dV, items, -r * U[users])
        return {"U": dU, "V": dV}

    def rmse(self, X, y):
        r = y - self.predict(X)
        return float(np.sqrt(np.mean(r * r)))
