"""The one plan of checks: every unit of work and every check a run makes, enumerated once.

A Unit is one case of the table at one dtype and seed, or one optimizer, network or routine at one dtype and seed: what one
call into the implementation's worker runs (reference.run.tasks).  A Check is one verdict the suite and the pytest
plugin report on their own (a tensor against the twin or against finite differences, or the rest of a unit: its
arguments, its sequence of calls), with the id the suite's parametrization and the plugin's items carry.
`python -m reference check`, the suite (tests/conftest.py), the pytest plugin and the zoo read units() and checks();
tests/test_plan.py shows that they plan the same for the same implementation.
"""

import shlex
from dataclasses import dataclass

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.base.vocabulary import Vocabulary
from bp_parity.reference.pieces import registry
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report.compare import Oracle

class UnitKind(Vocabulary):
    """What one unit of the plan is: the closed vocabulary of Unit.kind."""

    CASE = "case"  # one case of the table (its piece's spec draws and calls it)
    OPTIMIZER = "optimizer"  # an optimizer's 100 steps
    NETWORK = "network"  # a network's traces
    ROUTINE = "routine"  # a routine run on the harness's problem (registry.Routine)


KINDS = tuple(UnitKind)


@dataclass(frozen=True)
class Unit:
    kind: UnitKind  # a word given is made the member
    piece: str  # the protocol name it checks
    label: str  # the case id, or the piece's name
    dtype: str
    seed: int
    case: object = None  # the LayerCase of a case unit

    def __post_init__(self):
        object.__setattr__(self, "kind", UnitKind(self.kind))

    @property
    def arguments(self):
        """What the unit's task (reference.run.tasks.case, optimizer or network) is called with after the
        implementation."""
        return (self.case if self.kind == UnitKind.CASE else self.piece, self.dtype, self.seed)

    @property
    def id(self):
        return f"{self.label}-{self.dtype}-seed{self.seed}"

    def reproduce(self, impl):
        """The command that runs this unit of `impl` (a Target, or what was loaded from one) again."""
        if self.kind == UnitKind.CASE:
            return reproduce_command(impl, self.case, None, self.dtype, self.seed)
        return (f"{program()} check {arguments(impl)} --layer {self.piece} "
                f"--dtype {self.dtype} --seed {self.seed}")


@dataclass(frozen=True)
class Check:
    unit: Unit
    oracle: Oracle  # TWIN (or GOLDEN where the recorded arrays stand in), FINITE_DIFFERENCES, or CALLS
    tensor: str = None  # None for CALLS: every check of the unit the per-tensor checks leave

    TESTS = {Oracle.TWIN: "test_twin_parity", Oracle.FINITE_DIFFERENCES: "test_finite_differences",
             Oracle.CALLS: "test_arguments_and_calls"}

    @property
    def stage(self):
        return "forward" if self.tensor == "forward" else f"backward-{self.tensor}"

    @property
    def id(self):
        """Affine-2d-backward-dW-float32-seed7: what the suite's parametrization and the plugin's items are called."""
        u = self.unit
        if u.kind != UnitKind.CASE:
            return u.id
        if self.tensor is None:
            return u.id
        return f"{u.label}-{self.stage}-{u.dtype}-seed{u.seed}"

    @property
    def test(self):
        """The name of the test (in the suite and the plugin) that reports this check."""
        if self.unit.kind != UnitKind.CASE:
            return f"test_{self.unit.kind}"
        return self.TESTS[self.oracle]


def units(seeds, *, kinds=KINDS, pieces=None, case_ids=None, dtypes=None):
    """Every unit of the plan, in the order a run makes them: each case of the table (the case ids given, of the
    pieces given) at each of its dtypes and each seed, then each optimizer, then each network, at each dtype and seed,
    then each routine at each of its dtypes and each seed (after the models it steps, so a run has judged them first).
    `dtypes` keeps only those dtypes; a case filter leaves out the optimizers, networks and routines."""
    planned = []
    if UnitKind.CASE in kinds:
        chosen = [registry.case(c) for c in case_ids] if case_ids else registry.cases()
        for case in chosen:
            if pieces and case.layer not in pieces:
                continue
            for dtype in case.dtypes:
                if dtypes and dtype not in dtypes:
                    continue
                planned += [Unit(UnitKind.CASE, case.layer, case.id, dtype, seed, case) for seed in seeds]
    if case_ids:
        return planned
    for kind in (UnitKind.OPTIMIZER, UnitKind.NETWORK, UnitKind.ROUTINE):
        if kind not in kinds:
            continue
        for name in registry.names(kind):
            if pieces and name not in pieces:
                continue
            for dtype in registry.piece(name).routine.dtypes if kind == UnitKind.ROUTINE else cases.DTYPES:
                if dtypes and dtype not in dtypes:
                    continue
                planned += [Unit(kind, name, name, dtype, seed) for seed in seeds]
    return planned


def checks(planned):
    """The checks of the units: for a case, each tensor against the twin, each against finite differences (float64,
    where the case has them), then the rest of the unit (CALLS); an optimizer, network or routine unit is one check."""
    found = []
    for unit in planned:
        if unit.kind != UnitKind.CASE:
            found.append(Check(unit, Oracle.TWIN))
            continue
        spec = registry.spec_of(unit.piece)
        found += [Check(unit, Oracle.TWIN, tensor) for tensor in spec.case_tensors(unit.case)]
        if unit.dtype == "float64" and unit.case.fd != "none":
            found += [Check(unit, Oracle.FINITE_DIFFERENCES, tensor) for tensor in spec.case_fd_tensors(unit.case)]
        found.append(Check(unit, Oracle.CALLS))
    return found


def reproduce_command(impl, case, tensor, dtype, seed, command="check"):
    """The command that runs exactly this check of `case` (a LayerCase) of `impl` (a Target, or what was loaded from
    one) again.

    Cases outside the table (drawn by Hypothesis) are replayed by their test:
    Hypothesis runs derandomized, so the same example comes back first.
    """
    if registry.find_case(case.id) is None:
        return f"pytest tests/test_properties.py {arguments(impl)} -k {case.layer}"
    source = registry.piece(case.layer).source
    pieces = f" --pieces {shlex.quote(source)}" if source and command == "check" else ""
    tensor = f" --tensor {shlex.quote(tensor)}" if tensor else ""  # None: every check of the case
    return (f"{program()} {command} {arguments(impl)}{pieces} --case {case.id}{tensor} "
            f"--dtype {dtype} --seed {seed}")
