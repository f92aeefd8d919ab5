"""The textbook's optimizers against their twins, the differences from torch.optim, resuming,
and training parity on MNIST with each."""

import numpy as np
import pytest
import torch

from impl.mnist import load_mnist
from reference import optimizer_checks, optimizer_twins, tolerance, training_parity

OPTIMIZERS = optimizer_checks.OPTIMIZERS


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_100_steps_match_the_twin(impl_under_test, check, name, dtype, sweep_seed):
    """Every parameter equals the twin's after every one of 100 steps (the first parting is reported)."""
    run = optimizer_checks.run_optimizer(impl_under_test, name, dtype, sweep_seed, impl_spec=impl_under_test.spec)
    assert run.results, f"{name}: nothing was compared"
    for result in run.results:
        check(result)
    assert len(run.trajectory) == 100


def _run_torch(factory, steps, seed):
    initial, grads = optimizer_checks.problem(seed, steps, "float64")
    leaves = [torch.nn.Parameter(torch.from_numpy(initial[k].copy())) for k in optimizer_checks.SHAPES]
    optimizer = factory(leaves)
    for grad in grads:
        for leaf, key in zip(leaves, optimizer_checks.SHAPES):
            leaf.grad = torch.from_numpy(grad[key].copy())
        optimizer.step()
    return [leaf.detach().numpy() for leaf in leaves]


def _max_difference(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))


def test_momentum_in_torchs_form_equals_the_textbooks_form():
    """v = -lr b: torch's SGD(momentum) and the textbook's rule written out agree to rounding over 100 steps."""
    builtin = _run_torch(lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9), 100, 3)
    textbook = _run_torch(lambda p: optimizer_twins.TextbookMomentum(p, lr=0.01, momentum=0.9), 100, 3)
    tol = tolerance.twin("float64")
    for a, b in zip(builtin, textbook):
        np.testing.assert_allclose(a, b, rtol=tol.rtol, atol=tol.atol_for(b))


# name -> smallest drift from torch.optim's own version after 100 steps that the documented
# difference must produce (reference.deviations): well above the float64 twin tolerance.
DIFFERENT_FROM_TORCH = {"Nesterov": 1e-4, "AdaGrad": 1e-9, "RMSprop": 1e-8, "Adam": 1e-7}


@pytest.mark.parametrize("name", sorted(DIFFERENT_FROM_TORCH))
def test_documented_difference_from_torch_optim_is_real_and_measured(name):
    twin = _run_torch(lambda p: optimizer_twins.twin(name, p), 100, 3)
    builtin = _run_torch(lambda p: optimizer_twins.torch_builtin(name, p), 100, 3)
    drift = _max_difference(twin, builtin)
    assert drift > DIFFERENT_FROM_TORCH[name], f"{name}: torch.optim drifts only {drift:.2e} from the textbook"
    assert drift < 1.0, f"{name}: {drift:.2e} is not a small formula difference but a different optimizer"


@pytest.mark.parametrize("name", ["SGD", "Momentum"])
def test_where_the_twin_is_torch_optim_there_is_no_drift(name):
    twin = _run_torch(lambda p: optimizer_twins.twin(name, p), 100, 3)
    builtin = _run_torch(lambda p: optimizer_twins.torch_builtin(name, p), 100, 3)
    assert _max_difference(twin, builtin) == 0.0


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_resume_from_state_dict_equals_an_uninterrupted_run_bit_for_bit(impl_under_test, name, dtype):
    Optimizer = impl_under_test.require(name)
    initial, grads = optimizer_checks.problem(11, 60, dtype)
    straight = {k: v.copy() for k, v in initial.items()}
    first = Optimizer(**optimizer_twins.DEFAULTS[name])
    for grad in grads:
        first.update(straight, grad)

    resumed = {k: v.copy() for k, v in initial.items()}
    before = Optimizer(**optimizer_twins.DEFAULTS[name])
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


@pytest.fixture(scope="module")
def mnist():
    cache = {}
    return lambda dtype: cache.setdefault(dtype, load_mnist(dtype=dtype, download=False))


@pytest.mark.parametrize("dtype, name", MNIST_CASES)
def test_mnist_500_steps_loss_equal_at_every_step_and_weights_at_checkpoints(impl_under_test, mnist, dtype, name):
    """The textbook's hyper-parameters, same weights and batches on both sides."""
    result = training_parity.run(impl_under_test, mnist(dtype), dtype=dtype, steps=500, checkpoint_every=250,
                                 optimizer=name, impl_spec=impl_under_test.spec)
    if result.first_loss_divergence is not None:
        pytest.fail("\n" + result.first_loss_divergence.render(), pytrace=False)
    for step, comparisons in result.checkpoints:
        for comparison in comparisons:
            assert comparison.passed, f"{name}, weights at step {step}:\n" + comparison.render()
    assert result.impl_loss[-1] < result.impl_loss[0], f"{name}: the loss did not fall"
