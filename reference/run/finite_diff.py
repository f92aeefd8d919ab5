"""Finite differences: the oracle that needs nothing but the implementation's forward.

Central differences in float64, on a copy of the point (the implementation's
own arrays are never touched), with the per-element step of
reference.report.tolerance.fd_step.  `gradient` differentiates element by element;
`directional` is the cheap form (torch.autograd.gradcheck's fast mode): one
derivative along a random direction instead of every element.

Both return the estimate and its rounding allowance: f itself is only known to
about FD_ROUNDING_ULPS ulps of |f|, and the difference quotient divides that
error by the step, so a derivative that is tiny next to f / h cannot be
resolved better than tolerance.fd_rounding(|f|, h).
"""

import numpy as np

from bp_parity.reference.report.tolerance import fd_rounding, fd_step


def gradient(f, x, indices=None):
    """(df/dx, rounding allowance) for a scalar f of one float64 array, element by element.

    f is called with fresh float64 arrays of x's shape; x is not changed.  indices: flat indices of the only
    elements to differentiate (a sampled check); both arrays then hold those elements, in that order.
    """
    x = np.array(x, dtype=np.float64)
    h = fd_step(x)
    if indices is not None:
        wanted = [np.unravel_index(int(k), x.shape) for k in indices]
        grad, rounding = np.zeros(len(wanted)), np.zeros(len(wanted))
        for n, i in enumerate(wanted):
            plus, minus = x.copy(), x.copy()
            plus[i] += h[i]
            minus[i] -= h[i]
            f_plus, f_minus = float(f(plus)), float(f(minus))
            step = plus[i] - minus[i]
            grad[n] = (f_plus - f_minus) / step
            rounding[n] = fd_rounding(max(abs(f_plus), abs(f_minus)), step / 2)
        return grad, rounding
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


class OnAKink(ArithmeticError):
    """Every step tried straddled a point where the derivative jumps (a ReLU at 0 inside a network)."""


def directional_away_from_kinks(f, x, direction, allowed, shrink=10.0, attempts=5):
    """(derivative along `direction`, rounding allowance, step) by central differences that do not straddle a
    kink (a ReLU unit inside a network whose input lies within the step of 0).

    The central difference at eps^(1/3) is taken again at a step `shrink` times smaller, and so on, until two in
    a row agree to within half of allowed(derivative) (the comparison's own allowance) beyond their rounding; the
    finer one is returned.  Why that is enough: away from kinks the two differ by O(h^2); where a kink lies within
    the step, the error of a central difference shrinks with the step (about tenfold per tenfold step while the
    kink is still straddled, to nothing once it is not), so the finer one is off by about a ninth of their
    difference at most.  After `attempts` refinements with no agreement: OnAKink.
    """
    x = np.array(x, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    f_zero = float(f(x))

    def central(h):
        f_plus, f_minus = float(f(x + h * direction)), float(f(x - h * direction))
        rounding = fd_rounding(max(abs(f_plus), abs(f_minus), abs(f_zero)), h)
        one_sided_gap = abs((f_plus - f_zero) - (f_zero - f_minus)) / h
        return (f_plus - f_minus) / (2 * h), rounding, one_sided_gap

    h = float(fd_step(0.0))
    coarse, coarse_rounding, _ = central(h)
    for _ in range(attempts):
        h /= shrink
        fine, rounding, gap = central(h)
        # and the one-sided quotients agree too: a kink exactly at x (a ReLU input that is exactly 0) gives a
        # central difference that never moves, the mean of two slopes, which is no derivative at all
        if (abs(fine - coarse) <= allowed(fine) / 2 + rounding + coarse_rounding
                and gap <= allowed(fine) + 4 * rounding):
            return fine, rounding, h
        coarse, coarse_rounding = fine, rounding
    raise OnAKink(f"central differences kept moving, or the one-sided ones kept apart, down to a step of {h:.3g}: "
                  "the point sits on a kink of the function")
