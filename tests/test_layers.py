"""Every layer of the case table, forward and backward, against its twin and finite differences.

Parametrized by conftest.py over reference.pieces.registry.cases(), both dtypes and the
fixed seeds (or a sweep: --seeds N, BP_PARITY_SEEDS=N, `tox -e sweep`).
"""

import numpy as np

from bp_parity.reference.pieces import registry


def test_twin_parity(twin_check, run_case, check):
    """The implementation's output equals its PyTorch autograd twin's within the policy."""
    case, tensor, dtype, seed = twin_check
    check(run_case(case, dtype, seed).find(tensor, "twin"))


def test_finite_differences(fd_check, run_case, check):
    """The backward equals central differences of the implementation's own forward (float64)."""
    case, tensor, dtype, seed = fd_check
    check(run_case(case, dtype, seed).find(tensor, "finite differences"))


def test_arguments_unchanged(case_run_key, run_case, check):
    """No layer writes into what it was given: every argument comes back bit for bit."""
    run = run_case(*case_run_key)
    arguments = [r for r in run.results if r.context.oracle == "arguments"]
    assert arguments, f"{run.case.id}: no argument was checked"
    for result in arguments:
        check(result)


def test_dtype_kept(case_run_key, run_case):
    """float32 in, float32 out: every output keeps the dtype of the inputs (a dropout mask, read as booleans
    from the output, is no output of the implementation's own)."""
    run = run_case(*case_run_key)
    assert run.impl_outputs, f"{run.case.id}: the implementation produced nothing"
    wrong = {
        name: np.asarray(value).dtype.name
        for name, value in run.impl_outputs.items()
        if np.asarray(value).dtype.name != run.dtype and name != "mask"
    }
    assert not wrong, f"{run.case.id} at {run.dtype}, seed {run.seed}: outputs of another dtype: {wrong}"


def test_one_instance_over_a_sequence_of_calls(case_run_key, run_case, check):
    """forward and backward, then again with other inputs, then backward once more with another upstream
    gradient, all on one instance: each call equals a fresh twin (no state carried from an earlier call)."""
    run = run_case(*case_run_key)
    sequence = [r for r in run.results if r.context.call in ("second call", "second backward")
                or r.context.tensor == "sequence of calls"]
    if not registry.spec_of(run.case.layer).stateful:
        assert not sequence, f"{run.case.layer} is a function: no instance to call twice"
        return
    assert len(sequence) >= 3, f"{run.case.id}: the sequence of calls was not checked"
    for result in sequence:
        check(result)
