"""Finite differences: the oracle that needs nothing but the implementation's forward.

Central differences in float64, on a copy of the point (the implementation's
own arrays are never touched), one element at a time, with the per-element
step of reference.tolerance.fd_step.  `directional` is the cheap form
(torch.autograd.gradcheck's fast mode): one derivative along a random
direction instead of every element.
"""

import numpy as np

from .tolerance import fd_step


def gradient(f, x):
    """df/dx for a scalar function f of one float64 array, element by element.

    f is called with fresh float64 arrays of x's shape; x is not changed.
    """
    x = np.array(x, dtype=np.float64)
    h = fd_step(x)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus = x.copy()
        plus[i] += h[i]
        minus = x.copy()
        minus[i] -= h[i]
        # the step actually taken, after rounding x +- h to float64
        grad[i] = (float(f(plus)) - float(f(minus))) / (plus[i] - minus[i])
    return grad


def directional(f, x, direction):
    """The derivative of f at x along `direction`, by one central difference."""
    x = np.array(x, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    h = np.cbrt(np.finfo(np.float64).eps) * max(1.0, float(np.abs(x).max(initial=0.0)))
    h /= max(float(np.abs(direction).max(initial=0.0)), 1e-300)
    return (float(f(x + h * direction)) - float(f(x - h * direction))) / (2 * h)
