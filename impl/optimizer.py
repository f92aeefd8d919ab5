"""Optimizers (textbook "common/optimizer.py"): update(params, grads) in place.

Each optimizer changes the arrays in `params` in place (the network's layers
hold those very arrays), keeps their dtype (every constant is a Python float,
so float32 parameters are updated in float32), creates its state on the first
update, and exposes that state with state_dict() / load_state_dict() so that
training can stop and resume exactly.
"""

import numpy as np

EPSILON = 1e-7  # the textbook's guard against dividing by sqrt(0), added outside the square root


class _Optimizer:
    _state_arrays = ()  # names of the per-parameter state dicts
    _hyper = ()  # names of the hyper-parameters

    def __repr__(self):
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyper)
        return f"{type(self).__name__}({args})"

    def _state(self, name, params):
        table = getattr(self, name)
        if table is None:
            table = {key: np.zeros_like(value) for key, value in params.items()}
            setattr(self, name, table)
        return table

    def state_dict(self):
        """Hyper-parameters, step count and state arrays (copies), enough to resume exactly."""
        state = {name: getattr(self, name) for name in self._hyper}
        state["iter"] = getattr(self, "iter", 0)
        for name in self._state_arrays:
            table = getattr(self, name)
            state[name] = None if table is None else {k: v.copy() for k, v in table.items()}
        return state

    def load_state_dict(self, state):
        for name in self._hyper:
            setattr(self, name, state[name])
        if hasattr(self, "iter"):
            self.iter = state["iter"]
        for name in self._state_arrays:
            table = state[name]
            setattr(self, name, None if table is None else {k: np.array(v, copy=True) for k, v in table.items()})


class SGD(_Optimizer):
    """p <- p - lr * g."""

    _hyper = ("lr",)

    def __init__(self, lr=0.01):
        self.lr = float(lr)

    def update(self, params, grads):
        for key in params.keys():
            params[key] -= self.lr * grads[key]


class Momentum(_Optimizer):
    """v <- momentum * v - lr * g;  p <- p + v."""

    _hyper = ("lr", "momentum")
    _state_arrays = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = float(lr), float(momentum)
        self.v = None

    def update(self, params, grads):
        v = self._state("v", params)
        for key in params.keys():
            v[key] *= self.momentum
            v[key] -= self.lr * grads[key]
            params[key] += v[key]


class Nesterov(Momentum):
    """Nesterov's accelerated gradient in the form of Bengio et al. (2012), Momentum's state:

    p <- p + momentum^2 * v - (1 + momentum) * lr * g    (v from before this step)
    v <- momentum * v - lr * g

    The parameters move with the velocity from *before* this step, then the
    velocity is updated.  Updating v first and stepping with the new v is a
    different (wrong) rule, the textbook's own code until its authors fixed the
    order.  With v = -lr * b this is torch.optim.SGD(nesterov=True) exactly.
    """

    def update(self, params, grads):
        v = self._state("v", params)
        for key in params.keys():
            params[key] += self.momentum * self.momentum * v[key]
            params[key] -= (1 + self.momentum) * self.lr * grads[key]
            v[key] *= self.momentum
            v[key] -= self.lr * grads[key]


class AdaGrad(_Optimizer):
    """h <- h + g^2;  p <- p - lr * g / (sqrt(h) + 1e-7)."""

    _hyper = ("lr",)
    _state_arrays = ("h",)

    def __init__(self, lr=0.01):
        self.lr = float(lr)
        self.h = None

    def update(self, params, grads):
        h = self._state("h", params)
        for key in params.keys():
            h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(h[key]) + EPSILON)


class RMSprop(_Optimizer):
    """h <- decay_rate * h + (1 - decay_rate) * g^2;  p <- p - lr * g / (sqrt(h) + 1e-7)."""

    _hyper = ("lr", "decay_rate")
    _state_arrays = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr, self.decay_rate = float(lr), float(decay_rate)
        self.h = None

    def update(self, params, grads):
        h = self._state("h", params)
        for key in params.keys():
            h[key] *= self.decay_rate
            h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(h[key]) + EPSILON)


class Adam(_Optimizer):
    """The textbook's Adam, bias correction folded into the step size (Kingma & Ba, section 2):

    t <- t + 1;  lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)
    m <- m + (1 - beta1) (g - m);  v <- v + (1 - beta2) (g^2 - v)
    p <- p - lr_t * m / (sqrt(v) + 1e-7)
    """

    _hyper = ("lr", "beta1", "beta2")
    _state_arrays = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2 = float(lr), float(beta1), float(beta2)
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        m, v = self._state("m", params), self._state("v", params)
        self.iter += 1
        lr_t = self.lr * (1.0 - self.beta2**self.iter) ** 0.5 / (1.0 - self.beta1**self.iter)  # a Python float
        for key in params.keys():
            m[key] += (1 - self.beta1) * (grads[key] - m[key])
            v[key] += (1 - self.beta2) * (grads[key] * grads[key] - v[key])
            params[key] -= lr_t * m[key] / (np.sqrt(v[key]) + EPSILON)
