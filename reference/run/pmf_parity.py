"""Training parity of PMF: full-batch gradient descent and per-rating SGD, each against a twin that replays it.

Gradient descent: the twin differentiates reference.pieces.pmf_loss with autograd and steps torch.optim.SGD.
Compared at every step: the loss before the step and every parameter after it.

Per-rating SGD: the twin visits the ratings one at a time, in each epoch's permutation drawn from the same stream
("pmf orders") as the implementation's, and for each rating lets autograd differentiate that rating's own term
(models.pmf_rating_loss) at the rows as they stand, then moves the rows: so every factor of the step is moved from its
value before the step, as the rule says.  The implementation may carry an epoch's sequence out in another order of
commuting steps (impl.pmf.schedule: blocks of ratings that share no user and no item); the states in between are
then not the same, so the comparison is at the end of every epoch: every parameter and the epoch's sum of squared
errors.  Both claims are step-exact within the twin bound of the dtype (tolerance.TRAINING); measured in float64 on
u1.base and on drawn ratings (tests/test_pmf.py).
"""

from dataclasses import dataclass, field

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.pieces import models
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, Oracle


@dataclass
class PMFRun:
    method: str
    dtype: str
    steps: int = 0
    results: list = field(default_factory=list)

    @property
    def passed(self):
        return all(r.passed for r in self.results)

    @property
    def failures(self):
        return [r for r in self.results if not r.passed]


@dataclass
class Problem:
    """Ratings X (n, 2), y (n,), the starting parameters and the settings (lam_u, lam_v, lam_b, mean)."""

    X: np.ndarray
    y: np.ndarray
    params: dict
    settings: dict
    users: int
    items: int

    def astype(self, dtype):
        return Problem(self.X, self.y.astype(dtype), {k: v.astype(dtype) for k, v in self.params.items()},
                       dict(self.settings), self.users, self.items)


def draw_problem(seed, users=12, items=15, k=3, ratings=60, biased=True):
    """Distinct (user, item) pairs without replacement, ratings on {1..5}, factors normal * 0.3, biases normal * 0.1:
    users and items with many ratings each, so the order of the steps matters."""
    rng = streams.rng(seed, "pmf problem")
    chosen = rng.choice(users * items, size=ratings, replace=False)
    X = np.stack([chosen // items, chosen % items], axis=1).astype(np.int64)
    y = rng.integers(1, 6, size=ratings).astype(np.float64)
    params = {"U": rng.normal(size=(users, k)) * 0.3, "V": rng.normal(size=(items, k)) * 0.3}
    settings = {"lam_u": 0.05, "lam_v": 0.08, "lam_b": 0.0, "mean": 0.0}
    if biased:
        params.update(bu=rng.normal(size=users) * 0.1, bi=rng.normal(size=items) * 0.1)
        settings.update(lam_b=0.03, mean=float(y.mean()))
    return Problem(X, y, params, settings, users, items)


def construct(impl, params, settings):
    """The implementation's PMF from copies of `params` (biases by keyword, as the protocol names them)."""
    model_class = impl.require("PMF")
    copies = {k: v.copy() for k, v in params.items()}
    if "bu" in copies:
        return model_class(copies["U"], copies["V"], settings["lam_u"], settings["lam_v"], bu=copies["bu"],
                           bi=copies["bi"], lam_b=settings["lam_b"], mean=settings["mean"])
    return model_class(copies["U"], copies["V"], settings["lam_u"], settings["lam_v"])


def _leaves(params, dtype):
    import torch

    return {k: torch.tensor(v, dtype=getattr(torch, dtype), requires_grad=True) for k, v in params.items()}


def _twin_keywords(leaves, settings):
    if "bu" not in leaves:
        return {}
    return {"bu": leaves["bu"], "bi": leaves["bi"], "lam_b": settings["lam_b"], "mean": settings["mean"]}


class _SideBySide:
    """What both runs share: the calls counted, and the comparisons of the first step that parts (or of the last)."""

    def __init__(self, method, dtype, seed, case, reproduce, total, unit="step"):
        self.result = PMFRun(method, dtype)
        self.where = dict(oracle=Oracle.TWIN_TRAINING, dtype=dtype, seed=seed, case=case, reproduce=reproduce,
                          step_unit=unit)
        self.tolerance = tolerance.training(dtype)
        self.total, self.calls, self.parted = total, 0, False

    def context(self, tensor, step):
        return Context(layer=self.result.method, tensor=tensor, step=step, **self.where)

    def called(self):
        """Count a call of the implementation's callback; False once the two have parted (nothing more to see)."""
        self.calls += 1
        return not self.parted

    def compare(self, tensor, step, actual, expected):
        return compare(np.asarray(actual), np.asarray(expected), self.tolerance, self.context(tensor, step))

    def record(self, step, compared):
        self.result.steps = step + 1
        self.parted = not all(c.passed for c in compared)
        if self.parted or step == self.total - 1:
            self.result.results.extend(compared)

    def finish(self, what):
        if self.calls != self.total:
            self.result.results.append(self.compare(what, self.result.steps, self.calls, self.total))
        return self.result


def run_gd(impl, problem, *, lr=0.01, steps=20, dtype="float64", seed=0, case="drawn ratings",
           reproduce="pytest tests/test_pmf.py -k parity"):
    """Full-batch gradient descent side by side with the twin; the first step that parts is reported."""
    import torch

    dtype = np.dtype(dtype).name
    problem = problem.astype(dtype)
    model = construct(impl, problem.params, problem.settings)
    gd = impl.require("pmf_gd")
    run = _SideBySide("pmf_gd", dtype, seed, case, reproduce, steps)
    leaves = _leaves(problem.params, dtype)
    optimizer = torch.optim.SGD(list(leaves.values()), lr=lr)
    X, y = torch.from_numpy(problem.X), torch.from_numpy(problem.y)
    s = problem.settings

    def on_epoch(step, model, loss):
        if not run.called():
            return
        optimizer.zero_grad()
        twin_loss = models.pmf_loss(X, y, leaves["U"], leaves["V"], s["lam_u"], s["lam_v"], **_twin_keywords(leaves, s))
        twin_loss.backward()
        optimizer.step()
        compared = [run.compare("loss", step, np.asarray(loss, dtype=dtype), np.asarray(twin_loss.item(), dtype=dtype))]
        compared += [run.compare(k, step, model.params[k], leaf.detach().numpy()) for k, leaf in leaves.items()]
        run.record(step, compared)

    gd(model, problem.X, problem.y, lr, steps, on_epoch)
    return run.finish("steps taken")


def twin_sgd_epoch(leaves, X, y, order, lr, settings):
    """One epoch of per-rating SGD in torch, sequentially in `order`; returns the sum of squared errors met."""
    import torch

    s = settings
    sse = 0.0
    for index in order.tolist():
        u, i = int(X[index, 0]), int(X[index, 1])
        rows = {"U": leaves["U"][u], "V": leaves["V"][i]}
        if "bu" in leaves:
            rows.update(bu=leaves["bu"][u], bi=leaves["bi"][i])
        rows = {k: v.detach().clone().requires_grad_() for k, v in rows.items()}
        extra = {"bu": rows["bu"], "bi": rows["bi"], "lam_b": s["lam_b"], "mean": s["mean"]} if "bu" in rows else {}
        loss = models.pmf_rating_loss(y[index], rows["U"], rows["V"], s["lam_u"], s["lam_v"], **extra)
        grads = torch.autograd.grad(loss, list(rows.values()))
        with torch.no_grad():
            error = y[index] - (torch.dot(rows["U"], rows["V"]) + (s["mean"] + rows["bu"] + rows["bi"]
                                                                  if "bu" in rows else 0.0))
            sse += float(error * error)
            for (key, row), grad in zip(rows.items(), grads):
                index_of = u if key in ("U", "bu") else i
                leaves[key][index_of] = row - lr * grad
    return sse


def run_sgd(impl, problem, *, lr=0.05, epochs=5, dtype="float64", seed=0, case="drawn ratings",
            reproduce="pytest tests/test_pmf.py -k parity"):
    """Per-rating SGD side by side with the sequential twin, compared at the end of every epoch."""
    import torch

    dtype = np.dtype(dtype).name
    problem = problem.astype(dtype)
    model = construct(impl, problem.params, problem.settings)
    sgd = impl.require("pmf_sgd")
    run = _SideBySide("pmf_sgd", dtype, seed, case, reproduce, epochs, unit="epoch")
    leaves = {k: torch.tensor(v) for k, v in problem.params.items()}
    X, y = problem.X, torch.from_numpy(problem.y)
    twin_orders = streams.rng(seed, "pmf orders")  # the same stream as the implementation's: the same permutations

    def on_epoch(epoch, model, sse):
        if not run.called():
            return
        twin_sse = twin_sgd_epoch(leaves, X, y, twin_orders.permutation(len(X)), lr, problem.settings)
        compared = [run.compare(k, epoch, model.params[k], leaf.numpy()) for k, leaf in leaves.items()]
        compared.append(run.compare("sse", epoch, np.asarray(sse, dtype=dtype), np.asarray(twin_sse, dtype=dtype)))
        run.record(epoch, compared)

    sgd(model, problem.X, problem.y, lr, epochs, streams.rng(seed, "pmf orders"), on_epoch)
    return run.finish("epochs taken")


def check_gd(impl, dtype, seed, reproduce):
    """The routine pmf_gd on any implementation (registry.Routine): 20 steps on the drawn ratings beside the twin."""
    return run_gd(impl, draw_problem(seed), dtype=dtype, seed=seed, reproduce=reproduce).results


def check_sgd(impl, dtype, seed, reproduce):
    """The routine pmf_sgd on any implementation (registry.Routine): 5 epochs on the drawn ratings beside the
    sequential twin, in the same permutations."""
    return run_sgd(impl, draw_problem(seed), dtype=dtype, seed=seed, reproduce=reproduce).results
