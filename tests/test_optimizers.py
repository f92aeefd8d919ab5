"""The textbook's optimizers against their twins, the differences from torch.optim, resuming,
and training parity on MNIST with each."""

import numpy as np
import pytest
import torch

from bp_parity.reference.report import deviations, tolerance
from bp_parity.reference.run import optimizer_checks, training_parity
from bp_parity.reference.pieces import optimizer_rules, registry

OPTIMIZERS = optimizer_checks.OPTIMIZERS


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_100_steps_match_the_twin(impl_under_test, check, name, dtype, sweep_seed):
    """Every parameter equals the twin's after every one of 100 steps (the first parting is reported)."""
    run = optimizer_checks.run_optimizer(impl_under_test, name, dtype, sweep_seed)
    assert run.results, f"{name}: nothing was compared"
    for result in run.results:
        check(result)
    assert len(run.trajectory) == 100


def _run_torch(factory, steps, seed, grad_scale=1.0):
    """Parameters after `steps` steps of a torch optimizer on optimizer_checks.problem(seed) (float64),
    its gradients multiplied by grad_scale."""
    initial, grads = optimizer_checks.problem(seed, steps, "float64")
    grads = [{k: g * grad_scale for k, g in grad.items()} for grad in grads]
    leaves = [torch.nn.Parameter(torch.from_numpy(initial[k].copy())) for k in optimizer_checks.SHAPES]
    optimizer = factory(leaves)
    for grad in grads:
        for leaf, key in zip(leaves, optimizer_checks.SHAPES):
            leaf.grad = torch.from_numpy(grad[key].copy())
        optimizer.step()
    return [leaf.detach().numpy() for leaf in leaves]


def _assert_close(actual, expected, what):
    tol = tolerance.twin("float64")
    for key, a, b in zip(optimizer_checks.SHAPES, actual, expected):
        np.testing.assert_allclose(a, b, rtol=tol.rtol, atol=tol.atol_for(b), err_msg=f"{what}, {key}")


@pytest.mark.parametrize("name", ["Momentum", "Nesterov", "AdaGrad", "RMSprop"])
def test_the_rule_written_out_agrees_with_torch_optim_to_rounding(name, sweep_seed):
    """Two independent readings of one rule: the textbook's formula in torch operations and the torch.optim
    built-in (the twin), configured with the textbook's epsilon, agree over 100 steps (algebra in
    reference.pieces.optimizer_rules).  Nesterov's old order (velocity first) fails this by ~5e-2."""
    written = _run_torch(lambda p: optimizer_rules.written_out(name, p), 100, sweep_seed)
    builtin = _run_torch(lambda p: optimizer_rules.twin(name, p), 100, sweep_seed)
    _assert_close(written, builtin, f"{name}: the written-out rule against torch.optim")


def test_the_twin_of_nesterov_is_torch_optim_itself():
    leaf = torch.nn.Parameter(torch.zeros(3))
    twin = optimizer_rules.twin("Nesterov", [leaf])
    assert type(twin) is torch.optim.SGD and twin.defaults["nesterov"] and twin.defaults["momentum"] == 0.9


def test_adam_written_out_equals_torch_adam_with_no_epsilon(sweep_seed):
    """With both epsilons 0 the textbook's Adam (bias correction folded into the step size) and
    torch.optim.Adam are one formula: all that differs is where the epsilon sits."""
    written = _run_torch(lambda p: optimizer_rules.TextbookAdam(p, eps=0.0), 100, sweep_seed)
    builtin = _run_torch(lambda p: torch.optim.Adam(p, lr=0.001, betas=(0.9, 0.999), eps=0.0), 100, sweep_seed)
    _assert_close(written, builtin, "Adam without epsilon: the textbook against torch.optim")


def _increments(name, grads, eps, textbook_placement):
    """NumPy float64: the step each optimizer adds to a parameter, summed over the gradient sequence.

    Every state (h, m, v) depends on the gradients alone, never on the parameters, so the
    difference between two runs that differ only in the epsilon is the sum of these terms.
    """
    h = registry.hyper(name)
    state = np.zeros_like(grads[0])
    m = np.zeros_like(grads[0])
    total = np.zeros_like(grads[0])
    for t, g in enumerate(grads, start=1):
        if name == "AdaGrad":
            state = state + g * g
            total -= h["lr"] * g / (np.sqrt(state) + eps)
        elif name == "RMSprop":
            state = h["decay_rate"] * state + (1 - h["decay_rate"]) * g * g
            total -= h["lr"] * g / (np.sqrt(state) + eps)
        else:  # Adam
            m = m + (1 - h["beta1"]) * (g - m)
            state = state + (1 - h["beta2"]) * (g * g - state)
            correction2 = np.sqrt(1 - h["beta2"] ** t)
            if textbook_placement:  # lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)
                total -= h["lr"] * correction2 / (1 - h["beta1"] ** t) * m / (np.sqrt(state) + eps)
            else:  # torch: lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
                total -= h["lr"] / (1 - h["beta1"] ** t) * m / (np.sqrt(state) / correction2 + eps)
    return total


# torch.optim's default epsilons, where they differ from the textbook's 1e-7 (reference.report.deviations)
TORCH_DEFAULT_EPS = {p.name: p.optimizer.torch_default_eps for p in registry.pieces("optimizer")
                     if p.optimizer.torch_default_eps is not None}


@pytest.mark.parametrize("name", sorted(TORCH_DEFAULT_EPS))
def test_the_difference_from_torch_optim_defaults_is_the_predicted_epsilon_term(name, sweep_seed):
    """torch.optim with its own defaults parts from the twin by exactly the term the epsilon (its value,
    and for Adam its placement) predicts, summed over the steps: measured minus predicted is rounding.
    Gradients of size 1e-4 keep sqrt(h) small, where the epsilon matters (and its term is far above rounding)."""
    scale = 1e-4
    initial, grads = optimizer_checks.problem(sweep_seed, 100, "float64")
    grads = [{k: g * scale for k, g in grad.items()} for grad in grads]
    twin = _run_torch(lambda p: optimizer_rules.twin(name, p), 100, sweep_seed, scale)
    builtin = _run_torch(lambda p: optimizer_rules.torch_builtin(name, p), 100, sweep_seed, scale)
    tol = tolerance.twin("float64")
    for key, a, b in zip(optimizer_checks.SHAPES, builtin, twin):
        sequence = [g[key] for g in grads]
        predicted = (_increments(name, sequence, TORCH_DEFAULT_EPS[name], textbook_placement=False)
                     - _increments(name, sequence, deviations.OPTIMIZER_EPSILON, textbook_placement=True))
        measured = a - b
        atol = tol.atol_for(b)
        np.testing.assert_allclose(measured, predicted, rtol=0, atol=atol, err_msg=f"{name} {key}")
        assert np.max(np.abs(predicted)) > 100 * atol, f"{name} {key}: the predicted difference is below rounding"


@pytest.mark.parametrize("name", ["SGD", "Momentum", "Nesterov"])
def test_where_torch_optim_has_no_epsilon_its_defaults_are_the_twin(name):
    twin = _run_torch(lambda p: optimizer_rules.twin(name, p), 100, 3)
    builtin = _run_torch(lambda p: optimizer_rules.torch_builtin(name, p), 100, 3)
    for a, b in zip(twin, builtin):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_from_state_dict_equals_an_uninterrupted_run_bit_for_bit(impl_under_test, name, dtype):
    Optimizer = impl_under_test.require(name)
    initial, grads = optimizer_checks.problem(11, 60, dtype)
    straight = {k: v.copy() for k, v in initial.items()}
    first = Optimizer(**registry.hyper(name))
    for grad in grads:
        first.update(straight, grad)

    resumed = {k: v.copy() for k, v in initial.items()}
    before = Optimizer(**registry.hyper(name))
    for grad in grads[:25]:
        before.update(resumed, grad)
    state = before.state_dict()
    after = Optimizer(lr=123.0) if name != "Adam" else Optimizer(lr=123.0, beta1=0.5)
    after.load_state_dict(state)
    for grad in grads[25:]:
        after.update(resumed, grad)
    for key in straight:
        np.testing.assert_array_equal(resumed[key], straight[key], err_msg=f"{name} {key} after resuming")
        assert resumed[key].dtype == np.dtype(dtype)


def test_state_dict_is_a_copy(impl_under_test):
    Adam = impl_under_test.require("Adam")
    params, grads = optimizer_checks.problem(1, 2, "float64")
    adam = Adam()
    adam.update(params, grads[0])
    state = adam.state_dict()
    adam.update(params, grads[1])
    assert state["iter"] == 1 and not np.array_equal(state["m"]["W1"], adam.m["W1"])


# float32: only the optimizers whose 500 MNIST steps stay well inside the float32 policy (at most 10% of
# the allowance). AdaGrad uses 47% and RMSprop parts (its 1/sqrt(h) magnifies one-ulp differences while h
# is small): README, "Optimizers".
MNIST_CASES = [("float64", name) for name in OPTIMIZERS] + [
    ("float32", name) for name in ("SGD", "Momentum", "Nesterov", "Adam")
]


@pytest.fixture
def mnist(full_mnist):
    return full_mnist


@pytest.mark.parametrize("dtype, name", MNIST_CASES)
def test_mnist_500_steps_loss_equal_at_every_step_and_weights_at_checkpoints(impl_under_test, mnist, dtype, name):
    """The textbook's hyper-parameters, same weights and batches on both sides."""
    result = training_parity.run(impl_under_test, mnist(dtype), dtype=dtype, steps=500, checkpoint_every=250,
                                 optimizer=name)
    if result.first_loss_divergence is not None:
        pytest.fail("\n" + result.first_loss_divergence.render(), pytrace=False)
    for step, comparisons in result.checkpoints:
        for comparison in comparisons:
            assert comparison.passed, f"{name}, weights at step {step}:\n" + comparison.render()
    assert result.impl_loss[-1] < result.impl_loss[0], f"{name}: the loss did not fall"
