"""check, the suite's parametrization, the pytest plugin and the zoo plan the same checks for the same implementation:
each reads the one enumeration of reference.plan.checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bp_parity.reference.base import cases
from bp_parity.reference.cli import check
from bp_parity.reference.cli.main import parse_args
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.plan import checks
from bp_parity.reference.plan.target import Described, Target
from bp_parity.reference.run import tasks, zoo

ROOT = Path(__file__).resolve().parents[1]
SEEDS = cases.layer_seeds()


class _Recorder:
    """A pool that runs nothing: it records each unit `check` sends and answers it with no results."""

    started = 0

    def __init__(self):
        self.description = Target.describe(protocol.load())
        self.described = Described(self.description, Target())
        self.sent = []

    def run(self, task, *arguments):
        from bp_parity.reference.run.worker import Outcome

        self.sent.append((task.__name__, arguments))
        return Outcome(value=[])


def _plan_keys(units):
    return [(u.kind, u.piece, u.label, u.dtype, u.seed) for u in units]


def test_the_plan_holds_every_case_dtype_and_seed_then_every_optimizer_network_and_routine():
    units = checks.units(SEEDS)
    expected = sum(len(c.dtypes) for c in registry.cases()) * len(SEEDS)
    expected += (len(registry.names("optimizer")) + len(registry.names("network"))) * len(cases.DTYPES) * len(SEEDS)
    expected += sum(len(registry.piece(n).routine.dtypes) for n in registry.names("routine")) * len(SEEDS)
    assert len(units) == expected
    assert len(set(_plan_keys(units))) == len(units)
    kinds = [u.kind for u in units]
    assert kinds == sorted(kinds, key=checks.KINDS.index)  # cases, then optimizers, then networks, then routines
    assert {u.piece for u in units if u.kind == "routine"} == {"prepare_housing", "sgd", "step_size", "pmf_gd",
                                                               "pmf_sgd"}


def test_check_sends_exactly_the_plans_units(capsys):
    args = parse_args(["check"])
    pool = _Recorder()
    with pytest.raises(ValueError, match="no check matches"):  # nothing came back: no row to show
        check._run(args, sys.stdout, pool, tasks)
    capsys.readouterr()
    planned = checks.units(SEEDS)
    assert [(name, arguments) for name, arguments in pool.sent] == [(u.kind, u.arguments) for u in planned]


def test_check_filters_the_plan_and_nothing_else(capsys):
    args = parse_args(["check", "--layer", "Affine", "--layer", "Adam", "--dtype", "float32", "--seed", "3"])
    pool = _Recorder()
    with pytest.raises(ValueError):
        check._run(args, sys.stdout, pool, tasks)
    capsys.readouterr()
    planned = checks.units([3], pieces=["Affine", "Adam"], dtypes=["float32"])
    assert [arguments for _, arguments in pool.sent] == [u.arguments for u in planned]
    assert {u.piece for u in planned} == {"Affine", "Adam"} and {u.dtype for u in planned} == {"float32"}


def test_the_zoo_runs_the_plans_units_at_its_seed():
    seed = SEEDS[0]
    x, t = zoo.trace_batch(seed)
    sent = zoo.units(seed, (x, t))
    planned = checks.units([seed])
    assert [piece for piece, _, _ in sent] == [u.piece for u in planned]
    assert [arguments[-2:] for _, _, arguments in sent] == [(u.dtype, u.seed) for u in planned]


def _collected(arguments, cwd=ROOT):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *arguments], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {line.split("::")[-1] for line in done.stdout.splitlines() if "::" in line}


def test_the_suite_and_the_plugin_collect_the_same_checks_by_the_same_names(tmp_path):
    suite = _collected(["tests/test_layers.py"])
    plugin = _collected(["--bp-parity-impl", "bp_parity.impl"], cwd=tmp_path)  # a project with no tests of its own
    for test in ("test_twin_parity", "test_finite_differences"):
        ours = {name for name in suite if name.startswith(test + "[")}
        theirs = {name for name in plugin if name.startswith(test + "[")}
        planned = {f"{c.test}[{c.id}]" for c in checks.checks(checks.units(SEEDS, kinds=("case",)))
                   if c.test == test}
        assert ours == theirs == planned and planned
    units = checks.units(SEEDS)
    assert {name for name in plugin if name.startswith(("test_optimizer[", "test_network[", "test_routine[",
                                                        "test_arguments"))} == {
        f"{c.test}[{c.id}]" for c in checks.checks(units) if c.oracle == "calls" or c.unit.kind != "case"}
