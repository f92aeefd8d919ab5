"""Probabilistic matrix factorisation (Salakhutdinov and Mnih, 2007): the objective, its hand-written gradients, and
two ways to minimise it: full-batch gradient descent and per-rating SGD.

Ratings are rows of X (n, 2) = (user, item) indices with values y (n,).  With user factors U (users, k), item
factors V (items, k) and, optionally, user and item biases bu (users,), bi (items,) around a fixed global mean:

    prediction  r_hat = mean + bu[user] + bi[item] + U[user] . V[item]        (mean 0 and no biases: plain PMF)
    loss        E = (1/2) sum over the rated pairs (r - r_hat)^2 + (lam_u / 2) ||U||^2 + (lam_v / 2) ||V||^2
                    + (lam_b / 2) (||bu||^2 + ||bi||^2)
    gradient    dE/dU[i] = - sum over i's ratings (r - r_hat) V[item] + lam_u U[i], likewise for V;
                dE/dbu[i] = - sum over i's ratings (r - r_hat) + lam_b bu[i], likewise for bi

A user or item with several ratings collects a term from each: `grad[users] += terms` would keep only one term per
repeated index.  Two ways to sum them, one result: where the users-by-items matrix is small against the ratings
(_dense: at most DENSE_LIMIT entries and 64 per rating; MovieLens 100K has 20 per rating in u1.base), the
residuals are scattered into that matrix R (np.bincount, so a pair rated twice adds) and dE/dU = lam_u U - R V,
dE/dV = lam_v V - R^T U are two matrix products (BLAS), as are the predictions (U V^T at the rated pairs); else the
terms are summed per index (sorted by it, np.add.reduceat: what np.add.at gives, four times faster).  params holds U and V (and bu, bi when given).

Per-rating SGD (sgd below) is the textbook rule for one rating (u, i, r) with error e = r - r_hat, every factor
moved from its value *before* the step:

    U[u] += lr (e V[i] - lam_u U[u]),   V[i] += lr (e U[u]_before - lam_v V[i]),
    bu[u] += lr (e - lam_b bu[u]),      bi[i] += lr (e - lam_b bi[i])

that is, a gradient step on the rating's own term (1/2) e^2 + (lam_u / 2) ||U[u]||^2 + (lam_v / 2) ||V[i]||^2 +
(lam_b / 2) (bu[u]^2 + bi[i]^2): the priors are applied at each visit, so a user with m ratings is pulled towards 0
m times an epoch (the form of Funk's SVD and of the Surprise library), not once.
"""

import numpy as np

DENSE_LIMIT = 1 << 24  # entries of the users-by-items matrix the dense path may build (64 MiB in float32)


class PMF:
    def __init__(self, U, V, lam_u=0.0, lam_v=0.0, bu=None, bi=None, lam_b=0.0, mean=0.0):
        self.params = {"U": np.asarray(U), "V": np.asarray(V)}
        if (bu is None) != (bi is None):
            raise ValueError("PMF: give both biases (bu and bi) or neither")
        if bu is not None:
            self.params["bu"], self.params["bi"] = np.asarray(bu), np.asarray(bi)
            if self.params["bu"].shape != (len(U),) or self.params["bi"].shape != (len(V),):
                raise ValueError(f"PMF: biases of shapes {self.params['bu'].shape} and {self.params['bi'].shape} do "
                                 f"not match {len(U)} users and {len(V)} items")
        self.lam_u, self.lam_v, self.lam_b, self.mean = float(lam_u), float(lam_v), float(lam_b), float(mean)

    @classmethod
    def random(cls, users, items, k, rng, std=0.1, biases=False, dtype=np.float64, **settings):
        """Factors normal with standard deviation std, biases zero."""
        U = (rng.normal(size=(users, k)) * std).astype(dtype)
        V = (rng.normal(size=(items, k)) * std).astype(dtype)
        zeros = (np.zeros(users, dtype=dtype), np.zeros(items, dtype=dtype)) if biases else (None, None)
        return cls(U, V, bu=zeros[0], bi=zeros[1], **settings)

    @property
    def biased(self):
        return "bu" in self.params

    def __repr__(self):
        U, V = self.params["U"], self.params["V"]
        extra = f", lam_b={self.lam_b:g}, mean={self.mean:g}" if self.biased else ""
        return (f"PMF(users={U.shape[0]}, items={V.shape[0]}, k={U.shape[1]}, lam_u={self.lam_u:g}, "
                f"lam_v={self.lam_v:g}{extra})")

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

    def _dense(self, ratings):
        cells = len(self.params["U"]) * len(self.params["V"])
        return cells <= DENSE_LIMIT and cells <= 64 * ratings

    def predict(self, X):
        X = self._check(X)
        p = self.params
        if self._dense(len(X)):
            r_hat = (p["U"] @ p["V"].T)[X[:, 0], X[:, 1]]
        else:
            r_hat = np.sum(p["U"][X[:, 0]] * p["V"][X[:, 1]], axis=1)
        if self.biased:
            r_hat = r_hat + (p["bu"][X[:, 0]] + p["bi"][X[:, 1]] + r_hat.dtype.type(self.mean))
        return r_hat

    def loss(self, X, y):
        X = self._check(X, y)
        p = self.params
        r = y - self.predict(X)
        kind = r.dtype.type
        total = (kind(0.5) * np.dot(r, r) + kind(0.5 * self.lam_u) * np.sum(p["U"] * p["U"])
                 + kind(0.5 * self.lam_v) * np.sum(p["V"] * p["V"]))
        if self.biased:
            total = total + kind(0.5 * self.lam_b) * (np.dot(p["bu"], p["bu"]) + np.dot(p["bi"], p["bi"]))
        return total

    def gradient(self, X, y):
        """{"U": dE/dU, "V": dE/dV} (and "bu", "bi" for a biased model)."""
        X = self._check(X, y)
        p = self.params
        users, items = X[:, 0], X[:, 1]
        r = y - self.predict(X)
        kind = r.dtype.type
        grads = {"U": kind(self.lam_u) * p["U"], "V": kind(self.lam_v) * p["V"]}
        if self.biased:
            grads.update(bu=kind(self.lam_b) * p["bu"], bi=kind(self.lam_b) * p["bi"])
        if self._dense(len(X)):
            shape = (len(p["U"]), len(p["V"]))
            R = np.bincount(users * shape[1] + items, weights=r, minlength=shape[0] * shape[1])
            R = R.astype(r.dtype).reshape(shape)
            grads["U"] -= R @ p["V"]
            grads["V"] -= R.T @ p["U"]
            if self.biased:
                grads["bu"] -= R.sum(axis=1)
                grads["bi"] -= R.sum(axis=0)
            return grads
        for index, other, factor, bias in ((users, items, "U", "bu"), (items, users, "V", "bi")):
            order, rows, starts = _groups(index)
            residual = r[order]
            partner = p["V" if factor == "U" else "U"]
            _add_groups(grads[factor], rows, starts, -residual[:, None] * partner[other[order]])
            if self.biased:
                _add_groups(grads[bias], rows, starts, -residual)
        return grads

    def rmse(self, X, y):
        r = y - self.predict(X)
        return float(np.sqrt(np.mean(r * r)))


def _groups(index):
    """(order, rows, starts): the positions sorted by index, the distinct indices, where each one's run starts."""
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]])) if len(ordered) else \
        np.zeros(0, dtype=np.int64)
    return order, ordered[starts], starts


def _add_groups(target, rows, starts, terms):
    """target[rows[j]] += the sum of terms over the j-th run (terms in the order of _groups)."""
    if len(starts):
        target[rows] += np.add.reduceat(terms, starts, axis=0)


def gd(model, X, y, lr, epochs, on_epoch=None):
    """Full-batch gradient descent on E: every parameter moved by lr times its whole gradient, `epochs` times.
    on_epoch(epoch, model, loss) after each step with the loss before it.  Returns those losses."""
    losses = []
    for epoch in range(epochs):
        losses.append(float(model.loss(X, y)))
        grads = model.gradient(X, y)
        for key in model.params:
            model.params[key] -= lr * grads[key]
        if on_epoch is not None:
            on_epoch(epoch, model, losses[-1])
    return losses


def schedule(users, items):
    """The ratings (in the order given) as conflict-free blocks: (order, starts), block j being
    order[starts[j]:starts[j + 1]].  A rating's block is one past the latest block of an earlier rating of its user
    or of its item, so (1) no block holds two ratings of one user or of one item, and (2) of two ratings that share
    a user or an item the earlier one lies in an earlier block.

    Why processing the blocks one after another, each block's updates at once, is the sequential per-rating SGD in
    the order given, to the last bit: a rating's update reads and writes only its user's and its item's rows.  Two
    ratings that share neither touch disjoint memory, so swapping them in the sequence changes no bit of the result.
    The block order is reached from the given order by such swaps alone, since by (2) no two ratings that share a
    row change places; within a block, by (1), each rating reads only rows no other rating of the block writes, so
    the vectorised update computes each rating from the same values the sequence would.

    The block numbers come from one pass over the indices (integer bookkeeping; the arithmetic is vectorised)."""
    users, items = np.asarray(users), np.asarray(items)
    last_user = [-1] * (int(users.max()) + 1 if len(users) else 0)  # indices are non-negative (PMF._check)
    last_item = [-1] * (int(items.max()) + 1 if len(items) else 0)
    level = [0] * len(users)
    for position, (u, i) in enumerate(zip(users.tolist(), items.tolist())):
        a, b = last_user[u], last_item[i]
        level[position] = last_user[u] = last_item[i] = (a if a > b else b) + 1
    level = np.asarray(level, dtype=np.int64)
    order = np.argsort(level, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(level))]) if len(level) else np.zeros(1, dtype=np.int64)
    return order, starts


def sgd(model, X, y, lr, epochs, rng, on_epoch=None):
    """Per-rating SGD: each epoch visits the ratings one by one in a fresh permutation from `rng` and applies the
    rule in the module's docstring, the item moved with the user factor from before the step.  The sequence is
    carried out block by block (schedule(): provably the same sequence).  on_epoch(epoch, model, sse) after each
    epoch, with the sum of the squared errors met in it (each before its rating's step).  Returns those sums."""
    X = model._check(X, y)
    p = model.params
    U, V = p["U"], p["V"]
    kind = U.dtype.type
    lr, lam_u, lam_v, lam_b = kind(lr), kind(model.lam_u), kind(model.lam_v), kind(model.lam_b)
    mean = kind(model.mean)
    y = np.asarray(y, dtype=U.dtype)
    sums = []
    for epoch in range(epochs):
        visit = rng.permutation(len(X))
        order, starts = schedule(X[visit, 0], X[visit, 1])
        ratings = visit[order]
        users, items, values = X[ratings, 0], X[ratings, 1], y[ratings]
        sse = 0.0
        for a, b in zip(starts[:-1], starts[1:]):
            u, i = users[a:b], items[a:b]
            Uu, Vi = U[u], V[i]
            r_hat = np.sum(Uu * Vi, axis=1)
            if model.biased:
                r_hat += mean + p["bu"][u] + p["bi"][i]
            e = values[a:b] - r_hat
            sse += float(np.dot(e, e))
            U[u] = Uu + lr * (e[:, None] * Vi - lam_u * Uu)
            V[i] = Vi + lr * (e[:, None] * Uu - lam_v * Vi)
            if model.biased:
                p["bu"][u] += lr * (e - lam_b * p["bu"][u])
                p["bi"][i] += lr * (e - lam_b * p["bi"][i])
        sums.append(sse)
        if on_epoch is not None:
            on_epoch(epoch, model, sse)
    return sums
