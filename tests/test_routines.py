"""The routines around the models (prepare_housing, linear regression's sgd and step_size, PMF's gd and per-rating
sgd) as `check` runs them on any implementation: one unit of the plan per routine, dtype and seed
(reference.pieces.models, registry.Routine), at the fixed seeds and at every seed of the sweep."""

import pytest

from bp_parity.reference.cli.main import main
from bp_parity.reference.base.cases import FIXTURES
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.run import tasks

ROUTINES = [(name, dtype) for name in registry.names("routine") for dtype in registry.piece(name).routine.dtypes]


@pytest.mark.parametrize("name, dtype", ROUTINES, ids=[f"{n}-{d}" for n, d in ROUTINES])
def test_each_routine_holds_to_its_twin_or_its_rule(impl_under_test, check, name, dtype, sweep_seed):
    results = tasks.routine(impl_under_test, name, dtype, sweep_seed)
    assert results, f"{name}: nothing was compared"
    assert {r.context.blamed for r in results} == {name}
    for result in results:
        check(result)


def test_linear_regressions_sgd_is_run_where_each_epoch_ends_on_a_short_batch(capsys):
    """50 rows in batches of 16: a sgd that drops the short last batch (n // batch_size batches) takes 9 steps where
    the twin takes 12, and check says so, blaming sgd alone."""
    mutant = str(FIXTURES / "mutants" / "sgd_drops_the_short_batch.py")
    assert main(["check", "--impl", mutant, "--layer", "sgd", "--layer", "LinearRegression", "--seed", "7"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: sgd batch losses at step 11 -- twin training, float64, seed 7" in out
    assert "shape: impl (9,), expected (12,)" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("sgd ", "LinearRegression "))}
    assert rows["LinearRegression"].endswith(" ok") and "MISMATCH" in rows["sgd"]


def test_a_routine_that_steps_with_a_failing_model_is_said_to_inherit_its_failures(capsys):
    """A PMF whose residual has the wrong sign fails its own cases; gradient descent on it parts from the twin too,
    and its row says where that comes from instead of blaming pmf_gd."""
    mutant = str(FIXTURES / "mutants" / "pmf_residual_sign_flipped.py")
    assert main(["check", "--impl", mutant, "--layer", "PMF", "--layer", "pmf_gd", "--seed", "7"]) == 1
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()
            if line.startswith(("PMF ", "pmf_gd "))}
    assert "MISMATCH" in rows["PMF"]
    assert "inherited from PMF" in rows["pmf_gd"]


def test_an_update_rule_named_sgd_is_the_family_s_SGD_not_the_routine():
    """CS231n's optim.py has sgd(w, dw, config): checked as SGD through its form, so the routine sgd(model, X, y, ...)
    is not present (--only-present leaves it out; without it, it is NOT RUN, never called as an update rule)."""
    impl = protocol.load(str(FIXTURES.parent / "examples" / "cs231n_style" / "layers.py"))
    assert impl.functional["SGD"] == ("sgd",)
    assert impl.missing(["SGD", "sgd"]) == ["sgd"]
