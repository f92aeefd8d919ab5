"""The convergence theory of gradient descent, measured on the implementation's own least-squares gradient.

For f(theta) = (1/2n) ||A theta - y||^2 with A = [X, 1] (the linear regression's loss with l2 = 0) the Hessian is
the scaled Gram matrix G = A^T A / n: f is L-smooth and mu-strongly convex with L and mu its largest and smallest
eigenvalues (computed here, numpy.linalg.eigvalsh), and its minimiser theta* solves the least-squares problem
(numpy.linalg.lstsq).  Two theorems of full-batch gradient descent theta_{k+1} = theta_k - step grad f(theta_k):

- step 1/L:          f(theta_k) - f*        <= (1 - mu/L)^k (f(theta_0) - f*)
- step 2/(mu + L):   ||theta_k - theta*||   <= ((kappa - 1)/(kappa + 1))^k ||theta_0 - theta*||,   kappa = L/mu

Both are checked at every step, the gradient being the implementation's LinearRegression.gradient and the step its
step_size(X, rule); the bounds use the constants computed here.  The only allowance is the rounding of the measured
side (ROUNDING_ULPS float64 ulps of the values subtracted).  They are theorems: a step that breaks one is a wrong
gradient (a stray factor 2 doubles every step) or a wrong step size (one too long overshoots; one too short, as
from a Gram matrix not divided by n, falls behind the rate its rule promises).
"""

from dataclasses import dataclass, field

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.base.limits import STEP_SECONDS, time_limit
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, NotRun, Oracle, Verdict
from bp_parity.reference.run import wire

ROUNDING_ULPS = 64


@dataclass
class Constants:
    L: float
    mu: float
    theta_star: np.ndarray
    f_star: float

    @property
    def kappa(self):
        return self.L / self.mu


def design(X):
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.ones((len(X), 1))])


def constants(X, y):
    """L, mu, theta* = (w*, b*) and f* of the least-squares objective on X, y (float64)."""
    A = design(X)
    eigenvalues = np.linalg.eigvalsh(A.T @ A / len(A))
    theta, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    residual = A @ theta - y
    return Constants(L=float(eigenvalues[-1]), mu=float(eigenvalues[0]), theta_star=theta,
                     f_star=float(0.5 * np.mean(residual * residual)))


@wire.register  # it crosses back from the worker that ran the implementation (reference.run.tasks)
@dataclass
class Run:
    rule: str
    step: float
    rate: float  # the guaranteed contraction per step
    measured: list = field(default_factory=list)  # f_k - f* (step 1/L) or ||theta_k - theta*|| (step 2/(mu+L))
    bound: list = field(default_factory=list)
    allowance: list = field(default_factory=list)

    @property
    def first_violation(self):
        """The first step k where the measured value exceeds its bound by more than its rounding, or None."""
        return next((k for k, (m, b, a) in enumerate(zip(self.measured, self.bound, self.allowance)) if m > b + a),
                    None)

    def measured_rate(self, last=100):
        """The measured contraction per step over the last `last` steps (geometric mean)."""
        values = np.asarray(self.measured[-last - 1:])
        if len(values) < 2 or values[0] <= 0 or values[-1] <= 0:
            return float("nan")
        return float((values[-1] / values[0]) ** (1 / (len(values) - 1)))


def gradient_descent(impl, X, y, c, rule="1/L", steps=1000):
    """Full-batch gradient descent from theta = 0 with the implementation's LinearRegression gradient (l2 = 0),
    checked against the theorem of `rule` ("1/L" or "2/(mu+L)") at every step."""
    model_class = impl.require("LinearRegression")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with time_limit(STEP_SECONDS, "the construction of LinearRegression", guard_state=False):
        model = model_class(np.zeros(X.shape[1]), np.zeros(()), 0.0)
    eps = np.finfo(np.float64).eps
    if rule == "1/L":
        rate = 1.0 - c.mu / c.L
    elif rule == "2/(mu+L)":
        rate = (c.kappa - 1.0) / (c.kappa + 1.0)
    else:
        raise ValueError(f"rule must be '1/L' or '2/(mu+L)', not {rule!r}")
    with time_limit(STEP_SECONDS, "step_size", guard_state=False):
        run = Run(rule, float(impl.require("step_size")(X, rule)), rate)
    start = None
    for k in range(steps + 1):
        theta = np.append(np.asarray(model.params["w"], dtype=np.float64), float(model.params["b"]))
        if rule == "1/L":
            with time_limit(STEP_SECONDS, f"LinearRegression.loss at gradient descent step {k}", guard_state=False):
                f = float(model.loss(X, y))
            value, rounding = f - c.f_star, ROUNDING_ULPS * eps * (abs(f) + abs(c.f_star))
        else:
            value = float(np.linalg.norm(theta - c.theta_star))
            rounding = ROUNDING_ULPS * eps * (np.linalg.norm(theta) + np.linalg.norm(c.theta_star))
        start = value if start is None else start
        run.measured.append(value)
        run.bound.append(run.rate ** k * start)
        run.allowance.append(rounding)
        if k == steps:
            break
        with time_limit(STEP_SECONDS, f"LinearRegression.gradient at gradient descent step {k}", guard_state=False):
            grads = model.gradient(X, y)
            for key in model.params:
                model.params[key] = model.params[key] - run.step * np.asarray(grads[key])
    return run


# --- SGD with a decreasing step: the O(1/k) bound ------------------------------------------------------------------
#
# SGD on the same objective draws one row i uniformly (with replacement) per step and moves by gamma_k times that
# row's gradient g = a_i (a_i . theta - y_i).  With e_k = theta_k - theta*, D_k = E ||e_k||^2, R^2 = max ||a_i||^2
# and sigma^2 = (1/n) sum ||a_i||^2 r*_i^2 (r* the residuals at the optimum), E ||g||^2 <= 2 R^2 e.G e + 2 sigma^2, so
# for gamma <= 1/(2 R^2)
#     D_{k+1} <= (1 - gamma_k mu) D_k + 2 gamma_k^2 sigma^2.
# With gamma_k = beta / (k + k0), beta mu > 1 and beta / k0 <= 1/(2 R^2), induction gives the O(1/k) bound
#     D_k <= nu / (k + k0),    nu = max(k0 D_0, 2 beta^2 sigma^2 / (beta mu - 1))
# (the step: (1 - beta mu / K) nu / K + 2 beta^2 sigma^2 / K^2 <= (K - 1) nu / K^2 <= nu / (K + 1), K = k + k0).
# D_k itself is computed exactly: S_k = E[e e^T] and m_k = E[e] follow
#     S' = S - gamma (G S + S G) + gamma^2 (1/n) sum_i E[(a_i . e + r*_i)^2] a_i a_i^T,   m' = (I - gamma G) m
# (E[(a_i . e + r*_i)^2] = a_i^T S a_i + 2 (a_i . m) r*_i + r*_i^2), and D_k = trace S_k.  The bound is checked on
# that exact expectation at every step, and R runs of SGD with the implementation's gradient (one row per call) are
# checked against it: their mean ||e_k||^2 within Z_SGD standard errors of D_k at every checkpoint.
# The bound needs beta / k0 <= 1/(2 R^2) and beta > 1/mu: on all twelve housing features (mu = 2.4e-4, R^2 = 1,208)
# k0 would be in the tens of millions and the bound flat over any affordable run, so SGD_FEATURES takes the three
# best-conditioned columns (mu = 0.86, R^2 = 41: k0 = 191, the bound falls fifty-fold in 10,000 steps).

SGD_FEATURES = ("median_income", "housing_median_age", "latitude")
Z_SGD = 6.0  # standard errors of the mean over the runs: the measured side is a sample of a fixed-seed stream


@wire.register
@dataclass
class SGDRun:
    beta: float
    k0: int
    nu: float
    expected: np.ndarray  # D_k, exact
    bound: np.ndarray  # nu / (k + k0)
    checkpoints: np.ndarray = None  # steps where the runs were measured
    measured: np.ndarray = None  # mean ||e_k||^2 over the runs at the checkpoints
    standard_error: np.ndarray = None
    runs: int = 0

    @property
    def bound_violation(self):
        """The first step where the exact expectation exceeds the bound (beyond rounding), or None."""
        over = np.flatnonzero(self.expected > self.bound * (1 + 1e-9))
        return int(over[0]) if len(over) else None

    @property
    def runs_violation(self):
        """The first checkpoint where the runs' mean lies more than Z_SGD standard errors from D_k, or None."""
        if self.measured is None:
            return None
        far = np.abs(self.measured - self.expected[self.checkpoints]) > Z_SGD * self.standard_error + 1e-12
        return int(self.checkpoints[np.flatnonzero(far)[0]]) if far.any() else None


def sgd_schedule(X, y):
    """(beta, k0, nu, theta*, G, r*) of the bound for SGD from theta = 0 on X, y (module comment above)."""
    A = design(X)
    n = len(A)
    G = A.T @ A / n
    mu = float(np.linalg.eigvalsh(G)[0])
    theta, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    r_star = A @ theta - y
    norms = np.einsum("ij,ij->i", A, A)
    R2, sigma2 = float(norms.max()), float(np.mean(norms * r_star * r_star))
    beta = 2.0 / mu
    k0 = int(np.ceil(2 * beta * R2))
    nu = max(k0 * float(theta @ theta), 2 * beta * beta * sigma2 / (beta * mu - 1))
    return beta, k0, nu, theta, G, r_star


def sgd_expected(X, y, steps):
    """The SGDRun with the exact D_k for k = 0..steps and the bound."""
    A = design(X)
    n = len(A)
    beta, k0, nu, theta, G, r_star = sgd_schedule(X, y)
    m = -theta.copy()
    S = np.outer(m, m)
    expected = np.empty(steps + 1)
    for k in range(steps + 1):
        expected[k] = np.trace(S)
        if k == steps:
            break
        gamma = beta / (k + k0)
        Am = A @ m
        weight = np.einsum("ij,jk,ik->i", A, S, A) + 2 * Am * r_star + r_star * r_star
        S = S - gamma * (G @ S + S @ G) + gamma * gamma * (A.T @ (weight[:, None] * A)) / n
        m = m - gamma * (G @ m)
    return SGDRun(beta, k0, nu, expected, nu / (np.arange(steps + 1) + k0))


def sgd_runs(impl, X, y, run, runs=32, seed=0, checkpoints=20):
    """`runs` SGD runs from theta = 0 at run's steps, each row's gradient from the implementation's
    LinearRegression.gradient (one row a call), rows drawn from stream "sgd rows"; fills run.measured."""

    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    steps = len(run.expected) - 1
    theta_star = sgd_schedule(X, y)[3]
    run.checkpoints = np.unique(np.geomspace(1, steps, checkpoints).astype(int))
    rows = streams.rng(seed, "sgd rows").integers(0, len(X), size=(runs, steps))
    model_class = impl.require("LinearRegression")
    distances = np.empty((runs, len(run.checkpoints)))
    for r in range(runs):
        # one limit a run (its thousands of calls would cost more marked one by one): 5,000 steps take about 0.1 s
        with time_limit(STEP_SECONDS, f"LinearRegression in SGD run {r}", guard_state=False):
            _sgd_run(model_class, X, y, run, rows[r], theta_star, distances[r], steps)
    run.measured = distances.mean(axis=0)
    run.standard_error = distances.std(axis=0, ddof=1) / np.sqrt(runs)
    run.runs = runs
    return run


def _sgd_run(model_class, X, y, run, rows, theta_star, distances, steps):
    """One run of sgd_runs from theta = 0: its squared distances to theta* at run.checkpoints, into `distances`."""
    model = model_class(np.zeros(X.shape[1]), np.zeros(()), 0.0)
    at = 0
    for k in range(steps):
        i = rows[k]
        grads = model.gradient(X[i:i + 1], y[i:i + 1])
        gamma = run.beta / (k + run.k0)
        for key in model.params:
            model.params[key] = model.params[key] - gamma * np.asarray(grads[key])
        if at < len(run.checkpoints) and k + 1 == run.checkpoints[at]:
            theta = np.append(np.asarray(model.params["w"], dtype=np.float64), float(model.params["b"]))
            distances[at] = float(np.sum((theta - theta_star) ** 2))
            at += 1
    return at


def draw_problem(seed, n=200, d=4):
    """A small least-squares problem whose centred columns differ in scale from 0.5 to 2 (kappa near 16 at every
    seed, so the rates are fast and a step that falls behind them shows within a few steps): the zoo's."""

    rng = streams.rng(seed, "regression problem")
    Z = rng.normal(size=(n, d))
    X = (Z - Z.mean(axis=0)) * np.geomspace(0.5, 2.0, d)
    y = X @ rng.normal(size=d) + rng.normal() + 0.5 * rng.normal(size=n)
    return X, y


def check(impl, X, y, rule, steps=300, seed=None, case="drawn least squares", reproduce=""):
    """[] when the implementation's gradient descent keeps the rule's bound at every step, else one NotRun
    (verdict BOUND BROKEN) at the first step that breaks it, blaming step_size."""

    run = gradient_descent(impl, X, y, constants(X, y), rule, steps)
    k = run.first_violation
    if k is None:
        return []
    what = "f(theta_k) - f*" if rule == "1/L" else "||theta_k - theta*||"
    context = Context(layer="step_size", tensor=what, step=k, oracle=f"the step {rule} theorem", dtype="float64",
                      seed=seed, case=case, reproduce=reproduce)
    return [NotRun(context, f"measured {run.measured[k]:.6e} > bound {run.bound[k]:.6e} (+ rounding "
                            f"{run.allowance[k]:.1e}) at step {k}; step size {run.step:.6e}, guaranteed rate "
                            f"{run.rate:.6f} per step", Verdict.BOUND_BROKEN)]


RULE_ORACLES = {"1/L": Oracle.STEP_1_L, "2/(mu+L)": Oracle.STEP_2_MU_L}


def check_step_size(impl, dtype, seed, reproduce):
    """The routine step_size on any implementation (registry.Routine), float64: for each rule, the step it returns
    against the rule computed here from the Gram matrix's eigenvalues (within the float64 twin bound), on the drawn
    least squares and on the same columns moved off zero (centred columns leave the bias's direction apart from
    theirs, so a Gram matrix without the column of ones can give the same extreme eigenvalues there: not off it);
    then 300 steps of gradient descent at the step on the drawn problem against the rule's theorem (check())."""
    X, y = draw_problem(seed)
    offset = X + np.linspace(1.0, 3.0, X.shape[1])
    results = []
    for rule in ("1/L", "2/(mu+L)"):
        for data, case in ((X, "drawn least squares"), (offset, "drawn least squares, columns off zero")):
            c = constants(data, y)
            expected = 1.0 / c.L if rule == "1/L" else 2.0 / (c.mu + c.L)
            context = Context(layer="step_size", tensor=f"step_size(X, {rule!r})", oracle=RULE_ORACLES[rule],
                              dtype="float64", seed=seed, case=case, reproduce=reproduce)
            with time_limit(STEP_SECONDS, "step_size", guard_state=False):
                step = impl.require("step_size")(data, rule)
            results.append(compare(np.asarray(step), np.asarray(expected), tolerance.twin("float64"), context))
        results += check(impl, X, y, rule, seed=seed, reproduce=reproduce)
    return results


def draw(runs, path, title, sgd=None):
    """Each run's measured values and its bound against the step, on a log scale (PNG); with `sgd` (an SGDRun) a
    third panel: the runs' mean ||e_k||^2, the exact expectation and the O(1/k) bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = len(runs) + (sgd is not None)
    figure, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.2))
    axes = np.atleast_1d(axes)
    for axis, run in zip(axes, runs):
        steps = np.arange(len(run.measured))
        label = "f(theta_k) - f*" if run.rule == "1/L" else "||theta_k - theta*||"
        axis.semilogy(steps, np.maximum(run.measured, 1e-300), label=f"measured {label}")
        axis.semilogy(steps, run.bound, "--", label=f"bound: {run.rate:.6f}^k x start")
        axis.set_xlabel("step k")
        axis.set_title(f"gradient descent, step {run.rule}")
        axis.legend()
    if sgd is not None:
        axis = axes[-1]
        steps = np.arange(1, len(sgd.expected))
        axis.loglog(steps, sgd.expected[1:], label="E ||theta_k - theta*||^2 (exact)")
        axis.loglog(steps, sgd.bound[1:], "--", label=f"bound nu/(k + k0), k0 = {sgd.k0}")
        if sgd.measured is not None:
            axis.errorbar(sgd.checkpoints, sgd.measured, yerr=Z_SGD * sgd.standard_error, fmt="o", markersize=3,
                          label=f"mean of {sgd.runs} runs (+- {Z_SGD:g} s.e.)")
        axis.set_xlabel("step k")
        axis.set_title(f"SGD, step {sgd.beta:.3g}/(k + {sgd.k0}), {len(SGD_FEATURES)} features")
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
