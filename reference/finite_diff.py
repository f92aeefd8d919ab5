"""Finite differences: the oracle that needs nothing but the implementation's forward.

Central differences in float64, on a copy of the point (the implementation's
own arrays are never touched), with the per-element step of
reference.tolerance.fd_step.  `gradient` differentiates element by element;
`directional` is the cheap form (torch.autograd.gradcheck's fast mode): one
derivative along a random direction instead of every element.

Both return the estimate and its rounding allowance: f itself is only known to
about FD_ROUNDING_ULPS ulps of |f|, and the difference quotient divides that
error by the step, so a derivative that is tiny next to f / h cannot be
resolved better than tolerance.fd_rounding(|f|, h).
"""

import numpy as np

from .tolerance import fd_rounding, fd_step


def gradient(f, x):
    """(df/dx, rounding allowance) for a scalar f of one float64 array, element by element.

    f is called with fresh float64 arrays of x's shape; x is not changed.
    """
    x = np.array(x, dtype=np.float64)
    h = fd_step(x)
    grad = np.zeros_like(x)
    rounding = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        plus = x.copy()
        plus[i] += h[i]
        minus = x.copy()
        minus[i] -= h[i]
        f_plus, f_minus = float(f(plus)), float(f(minus))
        step = plus[i] - minus[i]  # the step actually taken, after rounding x +- h
        grad[i] = (f_plus - f_minus) / step
        rounding[i] = fd_rounding(max(abs(f_plus), abs(f_minus)), step / 2)
    return grad, rounding


def directional(f, x, direction):
    """(derivative of f at x along `direction`, rounding allowance), by one central difference.

    The step along the direction is eps^(1/3): give directions scaled per
    element by max(1, |x_i|) (see scaled_direction) so each element moves by
    its own fd_step.
    """
    x = np.array(x, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    h = float(fd_step(0.0))
    f_plus, f_minus = float(f(x + h * direction)), float(f(x - h * direction))
    return (f_plus - f_minus) / (2 * h), fd_rounding(max(abs(f_plus), abs(f_minus)), h)


def scaled_direction(rng, x):
    """A random direction whose element i is scaled by max(1, |x_i|), like fd_step."""
    x = np.asarray(x, dtype=np.float64)
    return rng.normal(size=x.shape) * np.maximum(1.0, np.abs(x))
