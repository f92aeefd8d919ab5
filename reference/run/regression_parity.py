"""Training parity of linear regression: the implementation's sgd() and a twin that replays it in torch.

Both start from w = 0, b = 0 and visit the same batches: the implementation's sgd() draws each epoch's permutation
from the generator the harness hands it (stream "regression batches"), and the twin draws the same permutations from
a second generator of that stream.  The twin computes the loss (reference.pieces.linear_regression_loss), lets autograd give the gradient and
steps torch.optim.SGD.  Compared: every step's batch loss (the implementation's sgd returns them, each before its
update) and the final parameters, within the twin bound of the dtype (tolerance.TRAINING).  The objective is convex
and the step contracts, so rounding differences do not grow: the claim is step-exact in both dtypes.
"""

from dataclasses import dataclass, field

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.pieces import models
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, Oracle


@dataclass
class RegressionRun:
    dtype: str
    steps: int = 0
    results: list = field(default_factory=list)  # the first diverging loss (if any) and the final parameters

    @property
    def passed(self):
        return all(r.passed for r in self.results)


def run(impl, X, y, *, dtype="float64", lr=0.01, epochs=2, batch_size=32, seed=0, l2=0.0, reproduce=None):
    import torch

    dtype = np.dtype(dtype).name
    X, y = np.asarray(X, dtype=dtype), np.asarray(y, dtype=dtype)
    model = impl.require("LinearRegression")(np.zeros(X.shape[1], dtype=dtype), np.zeros((), dtype=dtype), l2)
    sgd = impl.require("sgd")
    impl_losses = sgd(model, X, y, lr, epochs, batch_size, streams.rng(seed, "regression batches"))
    w = torch.zeros(X.shape[1], dtype=getattr(torch, dtype), requires_grad=True)
    b = torch.zeros((), dtype=getattr(torch, dtype), requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    tensors = torch.from_numpy(X), torch.from_numpy(y)
    rng = streams.rng(seed, "regression batches")  # the same stream again: the same permutations
    twin_losses = []
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(X)))
        for start in range(0, len(X), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = models.linear_regression_loss(tensors[0][rows], tensors[1][rows], w, b, l2)
            loss.backward()
            optimizer.step()
            twin_losses.append(loss.item())
    result = RegressionRun(dtype=dtype, steps=len(twin_losses))
    tol = tolerance.training(dtype)
    reproduce = reproduce or f"pytest tests/test_regression.py {arguments(impl)} -k parity"

    def context(tensor, step):
        return Context(layer="sgd", tensor=tensor, step=step, oracle=Oracle.TWIN_TRAINING, dtype=dtype,
                       seed=seed, case=f"regression training parity, n {len(X)}, batch {batch_size}",
                       reproduce=reproduce)

    if len(impl_losses) != len(twin_losses):
        result.results.append(compare(np.asarray(impl_losses), np.asarray(twin_losses), tol,
                                      context("batch losses", len(twin_losses) - 1)))
        return result
    for step, (a, e) in enumerate(zip(impl_losses, twin_losses)):
        comparison = compare(np.asarray(a, dtype=dtype), np.asarray(e, dtype=dtype), tol, context("loss", step))
        if not comparison.passed:
            result.results.append(comparison)
            break
    last = len(twin_losses) - 1
    for key, leaf in (("w", w), ("b", b)):
        result.results.append(compare(model.params[key], leaf.detach().numpy(), tol, context(key, last)))
    return result


def check_sgd(impl, dtype, seed, reproduce):
    """The routine sgd on any implementation (registry.Routine): 50 drawn rows in batches of 16, so that every epoch
    ends on a short batch of 2, three epochs side by side with the twin; the step-exact claim in both dtypes."""
    from bp_parity.reference.run.convergence import draw_problem

    X, y = draw_problem(seed, n=50)
    return run(impl, X, y, dtype=dtype, lr=0.05, epochs=3, batch_size=16, seed=seed, reproduce=reproduce).results
