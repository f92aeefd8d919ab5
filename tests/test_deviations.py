"""Where the twins use torch's built-ins, they compute the textbook's formula; where the
textbook differs on purpose, the difference is the one its piece's record in reference.pieces.registry documents,
predicted here."""

import numpy as np
import torch
import torch.nn.functional as F

from bp_parity.reference.report import deviations, tolerance
from bp_parity.reference.pieces import affine, elementwise, normalization

RNG_SEED = 11


def _logits():
    return torch.from_numpy(np.random.default_rng(RNG_SEED).normal(size=(16, 10)) * 2)


def _close(actual, expected):
    tol = tolerance.twin("float64")
    expected = expected.numpy()
    np.testing.assert_allclose(actual.numpy(), expected, rtol=tol.rtol, atol=tol.atol_for(expected))


def test_builtin_sigmoid_softmax_relu_are_the_textbook_formulas():
    x = _logits()
    _close(elementwise.sigmoid(x), 1 / (1 + torch.exp(-x)))
    e = torch.exp(x - x.max(dim=1, keepdim=True).values)
    _close(affine.softmax(x), e / e.sum(dim=1, keepdim=True))
    _close(elementwise.relu(x), torch.where(x > 0, x, torch.zeros_like(x)))


def test_linear_twin_is_x_w_plus_b_in_the_textbook_layout():
    rng = np.random.default_rng(RNG_SEED)
    x, W, b = (torch.from_numpy(rng.normal(size=s)) for s in [(5, 4), (4, 3), (3,)])
    _close(affine.affine(x, W, b), x @ W + b)
    # the layout conversion is what F.linear expects: weight row m holds the weights into output m
    weight = affine.to_torch_weight(W)
    assert weight.shape == (3, 4)
    _close(F.linear(x, weight), torch.stack([x @ W[:, m] for m in range(3)], dim=1))
    _close(affine.from_torch_weight(weight), W)


def test_textbook_cross_entropy_differs_from_torch_by_the_documented_epsilon_term():
    x = _logits()
    t = torch.from_numpy(np.random.default_rng(RNG_SEED + 1).integers(0, 10, size=16))
    textbook = affine.softmax_with_loss(x, t)
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
    affine.softmax_cross_entropy(x, t).backward()
    expected = (torch.softmax(x.detach(), dim=1) - F.one_hot(t, 10).double()) / 16
    _close(x.grad, expected)


def _batch(seed, n=6, d=5):
    rng = np.random.default_rng(seed)
    return (torch.from_numpy(rng.normal(size=(n, d)) * 2 + 1), torch.from_numpy(rng.normal(size=d)),
            torch.from_numpy(rng.normal(size=d)))


def test_batch_norm_with_torchs_epsilon_differs_by_the_predicted_term():
    """torch's default eps (1e-5) against the textbook's 1e-6 inside the square root: the outputs differ by exactly
    gamma (x - mu) (1 / sqrt(var + 1e-5) - 1 / sqrt(var + 1e-6)), and the twin (eps 1e-6) is the textbook's."""
    x, gamma, beta = _batch(0)
    textbook = normalization.batch_norm(x, gamma, beta)
    default = F.batch_norm(x, None, None, gamma, beta, training=True)  # eps 1e-5
    centred = x - x.mean(dim=0)
    var = (centred ** 2).mean(dim=0)
    predicted = gamma * centred * (1 / torch.sqrt(var + 1e-5) - 1 / torch.sqrt(var + normalization.BATCH_NORM_EPSILON))
    measured = default - textbook
    assert float((measured - predicted).abs().max()) < 1e-14
    assert float(predicted.abs().max()) > 1e-7  # the term is far above rounding: the test can fail
    written = gamma * centred / torch.sqrt(var + 1e-6) + beta
    assert float((textbook - written).abs().max()) < 1e-13


def test_torch_running_statistics_differ_from_the_textbooks_by_the_predicted_terms():
    """torch updates running = (1 - m_t) running + m_t batch with the unbiased variance; with m_t = 1 - momentum
    the means agree and torch's variance is larger by exactly (1 - momentum) var / (N - 1)."""
    x, gamma, beta = _batch(1)
    n, momentum = x.shape[0], 0.9
    mean0, var0 = torch.from_numpy(np.linspace(-1, 1, 5)), torch.from_numpy(np.linspace(0.5, 2, 5))
    textbook_mean, textbook_var = normalization.batch_norm_running(x, mean0, var0, momentum)
    torch_mean, torch_var = mean0.clone(), var0.clone()
    F.batch_norm(x, torch_mean, torch_var, gamma, beta, training=True, momentum=1 - momentum, eps=1e-6)
    biased = ((x - x.mean(dim=0)) ** 2).mean(dim=0)
    assert float((torch_mean - textbook_mean).abs().max()) < 1e-15
    predicted = (1 - momentum) * biased / (n - 1)
    assert float(((torch_var - textbook_var) - predicted).abs().max()) < 1e-15
    assert float(predicted.abs().min()) > 1e-3


def test_tanh_float64_the_twin_differs_by_one_ulp_of_y_carried_into_dx_as_predicted():
    """What stops Tanh's float64 magnitudes at 10^1 (its record): NumPy's and torch's tanh round some inputs one ulp
    apart, never more, and dx = dout (1 - y^2) carries that ulp exactly as the algebra says, dout (y'^2 - y^2), so
    its relative size is |y' - y| 2|y| / (1 - y^2): past rtol 1e-10 once 1 - y^2 is below ~2e-6 (|x| beyond ~7).
    Measured on one seed's 200,000 inputs."""
    from bp_parity.impl import Tanh

    rng = np.random.default_rng(20261203)
    x = rng.normal(size=200_000) * 4.0
    dout = rng.normal(size=x.shape)
    layer = Tanh()
    y = layer.forward(x)
    dx = layer.backward(dout)
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch.tanh(xt)
    yt.backward(torch.from_numpy(dout))
    y_twin, dx_twin = yt.detach().numpy(), xt.grad.numpy()

    ulps = np.abs(y - y_twin) / np.spacing(np.abs(y_twin))
    assert ulps.max() <= 1.0, f"tanh differs by {ulps.max()} ulps somewhere: the record's reasoning assumes one"
    differ = ulps > 0
    assert differ.any(), "no input rounds differently here: the record's limit would rest on nothing"
    predicted = np.abs(dout * (y_twin - y) * (y_twin + y))
    # each side's own rounding: y*y rounded near 1 is half an ulp of 1 apiece, absolute, which 1 - y^2 keeps, then
    # the product with dout: an ulp of dx
    eps = np.finfo(np.float64).eps
    rounding = eps * np.abs(dout) + 2 * eps * np.abs(dx_twin)
    assert np.all(np.abs(dx - dx_twin) <= predicted + rounding)
    relative = predicted[differ] / np.abs(dx_twin[differ])
    one_minus = 1 - y_twin[differ] ** 2
    np.testing.assert_allclose(relative, np.abs(y_twin[differ] - y[differ]) * 2 * np.abs(y[differ]) / one_minus,
                               rtol=1e-6)
    # an element alone: inside float64's rtol while 1 - y^2 > 2.2e-6 (|x| < 7), past it beyond |x| ~ 7.6; a tensor
    # fails only when every element is that far out (its allowance is scaled by its largest), hence the record's limit
    rtol = tolerance.twin("float64").rtol
    assert relative[np.abs(x[differ]) < 7.0].max() <= rtol
    assert (relative[np.abs(x[differ]) > 7.6] > rtol).any()
