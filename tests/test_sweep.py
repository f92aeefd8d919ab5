"""The sweep's form of tests/test_layers.py: one test per case, dtype and seed that holds every check of that run
(twin parity of every tensor, finite differences, arguments unchanged, the dtype kept, the sequence of calls).

`tox -e sweep` runs this file at 200 seeds instead of test_layers.py, whose one test per tensor and oracle reads
better at the fixed seeds but costs pytest's per-test overhead 5 times over at 200: the checks are the same, and a
failure's report still names the case, the tensor, the oracle, the worst element and the command that reproduces it.
"""

import numpy as np

from bp_parity.reference.pieces import registry


def test_every_check_of_a_case_at_a_seed(sweep_run_key, run_case, check):
    run = run_case(*sweep_run_key)
    spec = registry.spec_of(run.case.layer)
    oracles = {r.context.oracle for r in run.results}
    assert run.impl_outputs and "arguments" in oracles, f"{run.case.id}: nothing was checked"
    if spec.tensors:
        assert oracles & {"twin", "golden"}, f"{run.case.id}: no twin check"
    if run.dtype == "float64" and spec.fd_tensors and run.case.fd != "none":
        assert "finite differences" in oracles, f"{run.case.id}: no finite-difference check"
    for result in run.results:
        check(result)
    wrong = {name: np.asarray(value).dtype.name for name, value in run.impl_outputs.items()
             if np.asarray(value).dtype.name != run.dtype and name != "mask"}
    assert not wrong, f"{run.case.id} at {run.dtype}, seed {run.seed}: outputs of another dtype: {wrong}"
