"""The torch side of the optimizers (reference.pieces.optimizers holds their records; this module imports torch,
so the records name its twins lazily): twins of the textbook's optimizers, the same rules written out, and where they differ from torch.optim.

Where torch.optim computes the textbook's rule (the algebra is in each class's
docstring), the twin *is* torch.optim, with the textbook's epsilon where torch's
default differs: SGD, Momentum, Nesterov, AdaGrad, RMSprop.  Only Adam's rule
really differs (its epsilon sits outside the bias correction), so its twin
writes the textbook's rule in torch operations.

The Textbook* classes write every rule out as the textbook states it.  They are
a second, independent reading of the same formulas: tests/test_optimizers.py
shows that each one agrees with the built-in to rounding (Momentum, Nesterov,
AdaGrad, RMSprop), or differs from it by exactly the term the algebra predicts
(Adam, and torch's default epsilons).  When the written-out rule and the
built-in disagree and no algebra explains it, that is a bug, not a "documented
difference".
"""

import torch

from bp_parity.reference.pieces.registry import hyper as defaults
from bp_parity.reference.report.deviations import OPTIMIZER_EPSILON


class _Textbook(torch.optim.Optimizer):
    """A textbook rule written out: step() applies `rule(p, grad, state, group)` to every parameter."""

    def __init__(self, params, **hyper):
        super().__init__(params, hyper)

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                self.rule(p, p.grad, self.state[p], group)


class TextbookMomentum(_Textbook):
    """v <- momentum v - lr g;  p <- p + v.

    torch.optim.SGD(momentum) keeps b <- momentum b + g and steps p <- p - lr b:
    with v = -lr b (lr constant) the two are one rule.
    """

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, lr=lr, momentum=momentum)

    @staticmethod
    def rule(p, g, state, group):
        v = state.setdefault("v", torch.zeros_like(p))
        v.mul_(group["momentum"]).sub_(group["lr"] * g)
        p.add_(v)


class TextbookNesterov(_Textbook):
    """p <- p + momentum^2 v - (1 + momentum) lr g  (v from before the step);  v <- momentum v - lr g.

    torch.optim.SGD(nesterov=True): b <- momentum b + g;  p <- p - lr (g + momentum b).
    With v = -lr b: v_new = momentum v - lr g and p_new = p - lr g + momentum v_new
    = p + momentum^2 v - (1 + momentum) lr g: the same rule.
    """

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, lr=lr, momentum=momentum)

    @staticmethod
    def rule(p, g, state, group):
        lr, mu = group["lr"], group["momentum"]
        v = state.setdefault("v", torch.zeros_like(p))
        p.add_(mu * mu * v).sub_((1 + mu) * lr * g)
        v.mul_(mu).sub_(lr * g)


class TextbookAdaGrad(_Textbook):
    """h <- h + g^2;  p <- p - lr g / (sqrt(h) + eps): torch.optim.Adagrad's rule (lr_decay 0)."""

    def __init__(self, params, lr=0.01, eps=OPTIMIZER_EPSILON):
        super().__init__(params, lr=lr, eps=eps)

    @staticmethod
    def rule(p, g, state, group):
        h = state.setdefault("h", torch.zeros_like(p))
        h.add_(g * g)
        p.sub_(group["lr"] * g / (h.sqrt() + group["eps"]))


class TextbookRMSprop(_Textbook):
    """h <- decay h + (1 - decay) g^2;  p <- p - lr g / (sqrt(h) + eps): torch.optim.RMSprop(alpha=decay)."""

    def __init__(self, params, lr=0.01, decay_rate=0.99, eps=OPTIMIZER_EPSILON):
        super().__init__(params, lr=lr, decay_rate=decay_rate, eps=eps)

    @staticmethod
    def rule(p, g, state, group):
        decay = group["decay_rate"]
        h = state.setdefault("h", torch.zeros_like(p))
        h.mul_(decay).add_((1 - decay) * g * g)
        p.sub_(group["lr"] * g / (h.sqrt() + group["eps"]))


class TextbookAdam(torch.optim.Optimizer):
    """t <- t + 1;  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);  m <- m + (1 - beta1)(g - m);
    v <- v + (1 - beta2)(g^2 - v);  p <- p - lr_t m / (sqrt(v) + eps).

    torch.optim.Adam steps p <- p - lr/(1 - beta1^t) m / (sqrt(v)/sqrt(1 - beta2^t) + eps_torch).
    Multiplying numerator and denominator by sqrt(1 - beta2^t) shows the textbook's step is
    torch's with eps_torch = eps sqrt(1 - beta2^t): the epsilon's placement is the one
    difference, and tests/test_optimizers.py predicts its size step by step.
    """

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999, eps=OPTIMIZER_EPSILON):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, b1, b2 = group["lr"], group["beta1"], group["beta2"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                state["t"] += 1
                t = state["t"]
                lr_t = lr * (1.0 - b2**t) ** 0.5 / (1.0 - b1**t)
                state["m"].add_((1 - b1) * (p.grad - state["m"]))
                state["v"].add_((1 - b2) * (p.grad * p.grad - state["v"]))
                p.sub_(lr_t * state["m"] / (state["v"].sqrt() + group["eps"]))


def _hyper(name, hyper):
    """The textbook's hyper-parameters of `name` (its record in reference.pieces.optimizers), updated by `hyper`."""
    return {**defaults(name), **hyper}


# torch.optim's own version of each optimizer, with torch's defaults where the textbook differs
TORCH_BUILTIN = {
    "SGD": lambda params, h: torch.optim.SGD(params, lr=h["lr"]),
    "Momentum": lambda params, h: torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"]),
    "Nesterov": lambda params, h: torch.optim.SGD(params, lr=h["lr"], momentum=h["momentum"], nesterov=True),
    "AdaGrad": lambda params, h: torch.optim.Adagrad(params, lr=h["lr"]),
    "RMSprop": lambda params, h: torch.optim.RMSprop(params, lr=h["lr"], alpha=h["decay_rate"]),
    "Adam": lambda params, h: torch.optim.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"])),
}

# the twin of each: torch.optim itself wherever it computes the textbook's rule (with the textbook's epsilon), else
# the rule written out (Adam only: torch's epsilon sits outside the bias correction)
TWINS = {
    "SGD": TORCH_BUILTIN["SGD"],
    "Momentum": TORCH_BUILTIN["Momentum"],  # the same rule: v = -lr b while lr is constant
    "Nesterov": TORCH_BUILTIN["Nesterov"],
    "AdaGrad": lambda params, h: torch.optim.Adagrad(params, lr=h["lr"], eps=OPTIMIZER_EPSILON),
    "RMSprop": lambda params, h: torch.optim.RMSprop(params, lr=h["lr"], alpha=h["decay_rate"], eps=OPTIMIZER_EPSILON),
    "Adam": lambda params, h: TextbookAdam(params, lr=h["lr"], beta1=h["beta1"], beta2=h["beta2"]),
}


# the CS231n family's rmsprop and adam keep epsilon 1e-8 where the textbook has 1e-7, and its adam adds epsilon to the
# square root of the bias-corrected v (the textbook: to the uncorrected one, the step scaled by lr_t): torch.optim's own
# RMSprop and Adam with eps=1e-8, term for term (tests/test_functional.py predicts no difference beyond rounding); its
# sgd and sgd_momentum are the textbook's rules, whose twins serve
CS231N_EPSILON = 1e-8
FAMILY_TWINS = {
    "RMSprop": lambda params, h: torch.optim.RMSprop(params, lr=h["lr"], alpha=h["decay_rate"], eps=CS231N_EPSILON),
    "Adam": lambda params, h: torch.optim.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]), eps=CS231N_EPSILON),
}


def family_twin(name, params, **hyper):
    """The twin of the CS231n family's update rule `name` in torch (None where the textbook's twin is the family's
    form)."""
    made = FAMILY_TWINS.get(name)
    return made(params, hyper) if made is not None else None


def torch_builtin(name, params, **hyper):
    """torch.optim's own version of the textbook's `name`, with torch's defaults where the textbook differs."""
    return TORCH_BUILTIN[name](params, _hyper(name, hyper))


def twin(name, params, **hyper):
    """The twin of the textbook's `name` over torch leaf tensors, with the textbook's hyper-parameters (TWINS)."""
    return TWINS[name](params, _hyper(name, hyper))


# the textbook's rules written out in torch operations, one per optimizer (SGD has nothing to write out)
WRITTEN_OUT = {
    "Momentum": TextbookMomentum,
    "Nesterov": TextbookNesterov,
    "AdaGrad": TextbookAdaGrad,
    "RMSprop": TextbookRMSprop,
    "Adam": TextbookAdam,
}


def written_out(name, params, **hyper):
    """The textbook's rule for `name` written out in torch operations (an oracle independent of torch.optim)."""
    h = _hyper(name, hyper)
    return WRITTEN_OUT[name](params, **h)
