"""PMF's gradients on MovieLens 100K itself (the case table covers small random rating matrices)."""

import numpy as np
import pytest
import torch

from impl import movielens
from reference import finite_diff, protocol, streams, tolerance, twins
from reference.compare import Context, compare


@pytest.fixture(scope="module")
def u1_base():
    try:
        return movielens.read_split("u1.base")
    except movielens.MovieLensError as error:
        pytest.fail(str(error), pytrace=False)


def test_the_split_is_the_canonical_one(u1_base):
    X, y = u1_base
    assert X.shape == (80000, 2) and set(np.unique(y)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert X[:, 0].max() == movielens.USERS - 1 and len({tuple(p) for p in X}) == 80000


def test_pmf_gradients_on_ml100k_against_autograd_and_a_directional_difference(u1_base, check):
    X, y = u1_base
    rng = streams.rng(0, "layer inputs")
    U = rng.normal(size=(movielens.USERS, 10)) * 0.3
    V = rng.normal(size=(movielens.ITEMS, 10)) * 0.3
    model = protocol.load("impl").require("PMF")(U, V, 0.05, 0.08)
    grads = model.gradient(X, y)
    leaves = [torch.from_numpy(U.copy()).requires_grad_(), torch.from_numpy(V.copy()).requires_grad_()]
    twins.pmf_loss(torch.from_numpy(X), torch.from_numpy(y), *leaves, 0.05, 0.08).backward()
    for key, leaf in zip("UV", leaves):
        context = Context(layer="PMF", tensor=f"d{key}", oracle="twin", dtype="float64", seed=0, case="PMF on u1.base")
        expected = leaf.grad.numpy()
        check(compare(grads[key], expected, tolerance.twin("float64"), context, scale=float(np.abs(expected).max())))
    # and the implementation's own loss along one random direction per factor matrix (gradcheck's fast mode)
    for key, point in (("U", U), ("V", V)):
        direction = finite_diff.scaled_direction(rng, point)

        def f(value, key=key):
            args = {"U": U, "V": V, key: value}
            return model.__class__(args["U"], args["V"], 0.05, 0.08).loss(X, y)

        derivative, rounding = finite_diff.directional(f, point, direction)
        terms = grads[key] * direction
        context = Context(layer="PMF", tensor=f"d{key}", oracle="finite differences", dtype="float64", seed=0,
                          case="PMF on u1.base")
        check(compare(np.asarray(terms.sum()), np.asarray(derivative), tolerance.finite_differences("float64"),
                      context, extra_atol=rounding + tolerance.directional_allowance(float(np.abs(terms).sum()))))
