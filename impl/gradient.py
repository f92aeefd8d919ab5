"""Numerical gradients by central differences (textbook "common/gradient.py").

numerical_gradient(f, x) perturbs x in place, one element at a time, calls f(x)
and restores the element bit for bit, so f may read x through its argument or
through any array that shares x's memory.
"""

import numpy as np


def numerical_gradient(f, x, h=1e-4):
    """df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / (2h) for every element i.

    x: a float array of any shape, changed during the call and restored
    exactly; returns an array of x's shape and dtype.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("numerical_gradient needs x as a float ndarray that it can perturb in place")
    grad = np.zeros_like(x)
    flat = x.reshape(-1)  # a view: writes reach x
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs a contiguous x to perturb in place")
    grad_flat = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        f_plus = f(x)
        flat[i] = original - h
        f_minus = f(x)
        flat[i] = original  # restore bit for bit
        grad_flat[i] = (f_plus - f_minus) / (2 * h)
    return grad
