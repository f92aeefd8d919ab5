"""How a model with its own loss and gradient is checked (linear regression; PMF will be another).

A model piece is a class `name(*params, *settings)` with loss(X, y) -> a scalar and gradient(X, y) -> {param: its
gradient}.  One case draws X, y, the parameters and the settings; the loss is compared with the twin's, each
gradient with autograd's of the twin's loss and with central differences of the implementation's own loss()
(float64), and the arguments must come back unchanged.
"""

import numpy as np

from .layer_checks import Spec, _numpy, _tensor, phase


def draw_regression(case, rng):
    """X standard normal (n, d) times the case's scale, y standard normal, w normal / sqrt(d), b normal; l2 from the
    case (default 0)."""
    n, d = case.shape
    return {"X": rng.normal(size=(n, d)) * case.scale, "y": rng.normal(size=n), "w": rng.normal(size=d) / np.sqrt(d),
            "b": np.asarray(rng.normal()), "l2": np.asarray(float(case.option("l2", 0.0)))}


class ModelSpec(Spec):
    """name(*params, *settings) with loss(X, y) and gradient(X, y) -> {param: d param}."""

    def __init__(self, name, draw, twin, params=("w", "b"), settings=("l2",)):
        self.name = name
        self.requires = (name,)
        self.draw = draw
        self.twin = twin  # twin(X, y, *params, *settings) -> the loss, in torch
        self.params, self.settings = tuple(params), tuple(settings)
        self.tensors = ("loss",) + tuple(f"d{p}" for p in self.params)
        self.fd_tensors = tuple(f"d{p}" for p in self.params)

    def inputs(self, case, rng):
        return self.draw(case, rng)

    def _construct(self, impl, args):
        return impl.require(self.name)(*(args[p] for p in self.params), *(float(args[s]) for s in self.settings))

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("construction", outputs):
            model = self._construct(impl, inp)
        with phase("forward", outputs):
            outputs["loss"] = model.loss(inp["X"], inp["y"])
        with phase("backward", outputs):
            grads = model.gradient(inp["X"], inp["y"])
            outputs.update({f"d{p}": grads[p] for p in self.params})
        return outputs

    def run_twin(self, inp):
        leaves = [_tensor(inp[p], True) for p in self.params]
        loss = self.twin(_tensor(inp["X"]), _tensor(inp["y"]), *leaves, *(float(inp[s]) for s in self.settings))
        loss.backward()
        outputs = {"loss": _numpy(loss)}
        outputs.update({f"d{p}": _numpy(leaf.grad) for p, leaf in zip(self.params, leaves)})
        return outputs

    def fd_losses(self, impl, inp):
        def loss_of(name):
            def f(value):
                return self._construct(impl, dict(inp, **{name: value})).loss(inp["X"], inp["y"])
            return f

        return {f"d{p}": (loss_of(p), inp[p]) for p in self.params}


def draw_ratings(case, rng):
    """case.shape = (users, items, k), option ratings (how many pairs are rated; default every third pair), option
    lam (the priors' weight, both; default 0.1): distinct (user, item) pairs drawn without replacement, ratings
    uniform on {1..5}, U and V normal * 0.5.  Users and items with several ratings are the point: their gradients
    collect a term from each."""
    users, items, k = case.shape
    pairs = users * items
    count = int(case.option("ratings", max(pairs // 3, 1)))
    chosen = rng.choice(pairs, size=count, replace=False)
    X = np.stack([chosen // items, chosen % items], axis=1).astype(np.int64)
    lam = float(case.option("lam", 0.1))
    return {"X": X, "y": rng.integers(1, 6, size=count).astype(np.float64), "U": rng.normal(size=(users, k)) * 0.5,
            "V": rng.normal(size=(items, k)) * 0.5, "lam_u": np.asarray(lam), "lam_v": np.asarray(lam * 1.5)}
