"""Where the twins use torch's built-ins, they compute the textbook's formula; where the
textbook differs on purpose, the difference is the one reference.deviations documents."""

import numpy as np
import torch
import torch.nn.functional as F

from reference import deviations, tolerance, twins

RNG_SEED = 11


def _logits():
    return torch.from_numpy(np.random.default_rng(RNG_SEED).normal(size=(16, 10)) * 2)


def _close(actual, expected):
    tol = tolerance.twin("float64")
    expected = expected.numpy()
    np.testing.assert_allclose(actual.numpy(), expected, rtol=tol.rtol, atol=tol.atol_for(expected))


def test_builtin_sigmoid_softmax_relu_are_the_textbook_formulas():
    x = _logits()
    _close(twins.sigmoid(x), 1 / (1 + torch.exp(-x)))
    e = torch.exp(x - x.max(dim=1, keepdim=True).values)
    _close(twins.softmax(x), e / e.sum(dim=1, keepdim=True))
    _close(twins.relu(x), torch.where(x > 0, x, torch.zeros_like(x)))


def test_linear_twin_is_x_w_plus_b_in_the_textbook_layout():
    rng = np.random.default_rng(RNG_SEED)
    x, W, b = (torch.from_numpy(rng.normal(size=s)) for s in [(5, 4), (4, 3), (3,)])
    _close(twins.affine(x, W, b), x @ W + b)
    # the layout conversion is what F.linear expects: weight row m holds the weights into output m
    weight = twins.to_torch_weight(W)
    assert weight.shape == (3, 4)
    _close(F.linear(x, weight), torch.stack([x @ W[:, m] for m in range(3)], dim=1))
    _close(twins.from_torch_weight(weight), W)


def test_textbook_cross_entropy_differs_from_torch_by_the_documented_epsilon_term():
    x = _logits()
    t = torch.from_numpy(np.random.default_rng(RNG_SEED + 1).integers(0, 10, size=16))
    textbook = twins.softmax_with_loss(x, t)
    builtin = F.cross_entropy(x, t)
    y_t = torch.softmax(x, dim=1)[torch.arange(16), t]
    predicted = torch.log1p(deviations.LOG_EPSILON / y_t).mean()
    # the textbook's loss is lower by exactly (1/N) sum log(1 + eps/y_t) ...
    _close(builtin - textbook, predicted)
    # ... which is far beyond the float64 twin tolerance, so the twin must carry the epsilon
    assert float(predicted) > 1e3 * tolerance.twin("float64").rtol * float(builtin)


def test_softmax_with_loss_backward_is_the_epsilon_free_derivative():
    x = _logits().requires_grad_(True)
    t = torch.from_numpy(np.random.default_rng(RNG_SEED + 2).integers(0, 10, size=16))
    twins.softmax_cross_entropy(x, t).backward()
    expected = (torch.softmax(x.detach(), dim=1) - F.one_hot(t, 10).double()) / 16
    _close(x.grad, expected)
