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
    model = model_class(np.zeros(X.shape[1]), np.zeros(()), 0.0)
    eps = np.finfo(np.float64).eps
    if rule == "1/L":
        rate = 1.0 - c.mu / c.L
    elif rule == "2/(mu+L)":
        rate = (c.kappa - 1.0) / (c.kappa + 1.0)
    else:
        raise ValueError(f"rule must be '1/L' or '2/(mu+L)', not {rule!r}")
    run = Run(rule, float(impl.require("step_size")(X, rule)), rate)
    start = None
    for k in range(steps + 1):
        theta = np.append(np.asarray(model.params["w"], dtype=np.float64), float(model.params["b"]))
        if rule == "1/L":
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
        grads = model.gradient(X, y)
        for key in model.params:
            model.params[key] = model.params[key] - run.step * np.asarray(grads[key])
    return run


def draw_problem(seed, n=200, d=4):
    """A small least-squares problem whose centred columns differ in scale from 0.5 to 2 (kappa near 16 at every
    seed, so the rates are fast and a step that falls behind them shows within a few steps): the zoo's."""
    from . import streams

    rng = streams.rng(seed, "regression problem")
    Z = rng.normal(size=(n, d))
    X = (Z - Z.mean(axis=0)) * np.geomspace(0.5, 2.0, d)
    y = X @ rng.normal(size=d) + rng.normal() + 0.5 * rng.normal(size=n)
    return X, y


def check(impl, X, y, rule, steps=300, seed=None, case="drawn least squares", reproduce=""):
    """[] when the implementation's gradient descent keeps the rule's bound at every step, else one NotRun
    (verdict "BOUND BROKEN") at the first step that breaks it, blaming step_size."""
    from .compare import Context, NotRun

    run = gradient_descent(impl, X, y, constants(X, y), rule, steps)
    k = run.first_violation
    if k is None:
        return []
    what = "f(theta_k) - f*" if rule == "1/L" else "||theta_k - theta*||"
    context = Context(layer="step_size", tensor=what, step=k, oracle=f"the step {rule} theorem", dtype="float64",
                      seed=seed, case=case, reproduce=reproduce)
    return [NotRun(context, f"measured {run.measured[k]:.6e} > bound {run.bound[k]:.6e} (+ rounding "
                            f"{run.allowance[k]:.1e}) at step {k}; step size {run.step:.6e}, guaranteed rate "
                            f"{run.rate:.6f} per step", "BOUND BROKEN")]


def draw(runs, path, title):
    """Each run's measured values and its bound against the step, on a log scale (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.2))
    for axis, run in zip(np.atleast_1d(axes), runs):
        steps = np.arange(len(run.measured))
        label = "f(theta_k) - f*" if run.rule == "1/L" else "||theta_k - theta*||"
        axis.semilogy(steps, np.maximum(run.measured, 1e-300), label=f"measured {label}")
        axis.semilogy(steps, run.bound, "--", label=f"bound: {run.rate:.6f}^k x start")
        axis.set_xlabel("step k")
        axis.set_title(f"gradient descent, step {run.rule}")
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
