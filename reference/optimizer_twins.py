"""Twins of the textbook's optimizers, and where they differ from torch.optim.

Where torch.optim computes the textbook's rule, the twin *is* torch.optim
(with the textbook's epsilon where torch's default differs); where it does not,
the twin writes the textbook's rule in torch operations.  TEXTBOOK_VS_TORCH is
the one table of differences; tests/test_optimizers.py shows each equivalence
and measures each drift.
"""

import torch

from .deviations import OPTIMIZER_EPSILON


class TextbookMomentum(torch.optim.Optimizer):
    """v <- momentum v - lr g;  p <- p + v (the textbook's form, for comparison with torch's)."""

    def __init__(self, params, lr=0.01, momentum=0.9):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(group["momentum"]).sub_(group["lr"] * p.grad)
                p.add_(v)


class TextbookNesterov(TextbookMomentum):
    """v <- momentum v - lr g;  p <- p + momentum^2 v - (1 + momentum) lr g."""

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                v = self.state[p].setdefault("v", torch.zeros_like(p))
                v.mul_(mu).sub_(lr * p.grad)
                p.add_(mu * mu * v).sub_((1 + mu) * lr * p.grad)


class TextbookAdam(torch.optim.Optimizer):
    """t <- t + 1;  lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);  m <- m + (1 - beta1)(g - m);
    v <- v + (1 - beta2)(g^2 - v);  p <- p - lr_t m / (sqrt(v) + 1e-7)."""

    def __init__(self, params, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2})

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
                p.sub_(lr_t * state["m"] / (state["v"].sqrt() + OPTIMIZER_EPSILON))


# the textbook's signatures
DEFAULTS = {
    "SGD": {"lr": 0.01},
    "Momentum": {"lr": 0.01, "momentum": 0.9},
    "Nesterov": {"lr": 0.01, "momentum": 0.9},
    "AdaGrad": {"lr": 0.01},
    "RMSprop": {"lr": 0.01, "decay_rate": 0.99},
    "Adam": {"lr": 0.001, "beta1": 0.9, "beta2": 0.999},
}


def _hyper(name, hyper):
    if name not in DEFAULTS:
        raise ValueError(f"no twin for optimizer {name!r}; known: {', '.join(DEFAULTS)}")
    return {**DEFAULTS[name], **hyper}


def torch_builtin(name, params, **hyper):
    """torch.optim's own version of each optimizer, with torch's defaults where the textbook differs."""
    h = _hyper(name, hyper)
    if name in ("SGD", "Momentum", "Nesterov"):
        return torch.optim.SGD(params, lr=h["lr"], momentum=h.get("momentum", 0.0), nesterov=name == "Nesterov")
    if name == "AdaGrad":
        return torch.optim.Adagrad(params, lr=h["lr"])
    if name == "RMSprop":
        return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["decay_rate"])
    return torch.optim.Adam(params, lr=h["lr"], betas=(h["beta1"], h["beta2"]))


def twin(name, params, **hyper):
    """The twin of the textbook's `name` over torch leaf tensors, with the textbook's hyper-parameters:
    torch.optim itself where it computes the same rule (with the textbook's epsilon), else the rule written out."""
    h = _hyper(name, hyper)
    if name == "Nesterov":
        return TextbookNesterov(params, lr=h["lr"], momentum=h["momentum"])
    if name == "AdaGrad":
        return torch.optim.Adagrad(params, lr=h["lr"], eps=OPTIMIZER_EPSILON)
    if name == "RMSprop":
        return torch.optim.RMSprop(params, lr=h["lr"], alpha=h["decay_rate"], eps=OPTIMIZER_EPSILON)
    if name == "Adam":
        return TextbookAdam(params, lr=h["lr"], beta1=h["beta1"], beta2=h["beta2"])
    return torch_builtin(name, params, **h)  # SGD, Momentum: the same rule
