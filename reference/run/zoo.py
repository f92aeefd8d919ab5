"""The zoo: run the harness against every deliberately broken implementation in fixtures/mutants/.

For each mutant: every layer check of the case table (both dtypes, one seed),
the trace of every network the protocol allows and of every public method of the
network (both dtypes; only each trace's first divergence counts: what follows it
is inherited), 100 steps of every optimizer against its twin with drawn
hyper-parameters (again only the first divergence), and the routines around the
models, as `check` runs them on any implementation (registry.Routine): the housing features against their
documented rules, linear regression's minibatch SGD (short last batch included), PMF's gradient descent and
per-rating SGD against their twins, and the step sizes against their rules and the convergence theorems.  A routine
that steps a model is checked only where that model passed its own cases: a wrong gradient makes every routine that
steps with it part too, and that is inherited, not the routine's bug.  A mutant is *caught* when
anything fails, and *blamed correctly* when every failure blames the piece its
BLAME names and one of them names its tensor.  A mutant may also take a piece out of impl and give it as functions
in the CS231n style (reference.pieces.functional): the same checks reach it through the functional protocol's adapters.
"""

import ast
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bp_parity.reference.base import cases, streams
from bp_parity.reference.pieces import registry
from bp_parity.reference.plan import checks
from bp_parity.reference.plan.target import Target
from bp_parity.reference.report.compare import Location, Oracle, Verdict
from bp_parity.reference.run import tasks, worker

MUTANTS = cases.FIXTURES / "mutants"


def mutant_paths():
    return sorted(p for p in MUTANTS.glob("*.py") if p.name != "__init__.py")


def declared_blame(path):
    """(piece, tensor) from the mutant's BLAME, read without importing it."""
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "BLAME" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{path}: no BLAME = (piece, tensor)")


def declared_diagnosis(path):
    """The hypotheses (reference.report.diagnosis.NAMES) the mutant's docstring says describe it, a sorted list
    ([] for `Diagnosis: none`), or None where its docstring has no `Diagnosis: NAME[, NAME]` line (tests/
    test_mutants.py requires one of every mutant of the zoo)."""
    import re

    doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    found = re.findall(r"^Diagnosis: ([\w, ]+)$", doc, flags=re.M)
    if len(found) != 1:
        return None
    names = sorted(n.strip() for n in found[0].split(","))
    return [] if names == ["none"] else names


def bug_of(path):
    doc = ast.get_docstring(ast.parse(Path(path).read_text(encoding="utf-8"))) or ""
    return doc.split("\n\n")[0].replace("\n", " ")


def _matches(context, piece, tensor):
    # a unit whose worker ended, hung or overstayed counts every check of it failed: it names each of them
    return context.blamed == piece and (context.names(tensor) or context.tensor == "every check")


@dataclass
class MutantResult:
    name: str
    bug: str
    expected: tuple
    failures: list = field(default_factory=list, repr=False)
    seconds: float = 0.0
    ran: tuple = (0, 0)  # (units run, units in the plan): a mutant runs the units that read what it changes
    declared: list = None  # the diagnoses its docstring declares ([]: none describes it)

    @property
    def diagnoses(self):
        """The names of every hypothesis that fit one of its failures (reference.report.diagnosis)."""
        return sorted({name for f in self.failures for name, _ in getattr(f, "diagnosis", None) or ()})

    @property
    def diagnosed_correctly(self):
        """No hint but the declared ones, and every declared one given (none declared: none given)."""
        return self.diagnoses == self.declared

    @property
    def caught(self):
        return bool(self.failures)

    @property
    def blamed(self):
        return sorted({f.context.blamed for f in self.failures})

    @property
    def blamed_correctly(self):
        piece, tensor = self.expected
        return self.blamed == [piece] and any(_matches(f.context, piece, tensor) for f in self.failures)


def units(seed, trace_data):
    """Every unit of work the zoo runs for one implementation: (piece, task, arguments), each sent to the
    implementation's worker (reference.run.tasks), so that a mutant that exits, crashes or hangs loses its unit,
    not the zoo."""

    x, t = trace_data
    planned = []
    for unit in checks.units([seed]):  # the one plan (reference.plan.checks), at one seed
        if unit.kind == "network" and registry.piece(unit.piece).network.architecture:  # with every public method
            planned.append((unit.piece, tasks.zoo_traces, (x.astype(unit.dtype), t, unit.dtype, seed)))
        else:  # a network: only each trace's first divergence counts
            task = {"case": tasks.case, "optimizer": tasks.optimizer, "network": tasks.zoo_network,
                    "routine": tasks.routine}[unit.kind]
            planned.append((unit.piece, task, unit.arguments))
    return planned


@dataclass
class Clean:
    """impl's own run of the zoo's plan at one seed: its failures (none), the protocol names each unit read, and
    impl's fingerprint (reference.run.unchanged)."""

    failures: list
    reads: list
    fingerprint: dict


_CLEAN = {}


BASELINE = '"""The zoo\'s baseline: the package impl, as a mutant imports it, with nothing changed."""\n\n' \
           'from bp_parity.impl import *  # noqa: F403\n'


def clean_run(seed, trace_data):
    """impl's run of the plan, recording what each unit reads; once per seed and process.  It runs on a module that
    star-imports the package impl as every mutant does (BASELINE), so that its worker and a mutant's hold the same
    package (the one this process imported: under pytest, with its asserts rewritten) and bind the same objects."""
    if seed not in _CLEAN:
        folder = Path(tempfile.mkdtemp(prefix="bp-parity-zoo-"))
        baseline = folder / "zoo_baseline.py"
        baseline.write_text(BASELINE)
        try:
            with supervised(baseline) as pool:
                fingerprint = pool.run(tasks.zoo_fingerprint).value
                reads = []
                failures = harness_failures(pool, seed, trace_data, reads=reads)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        _CLEAN[seed] = Clean(failures, reads, fingerprint)
    return _CLEAN[seed]


def needed(clean, pool):
    """The indices of the plan's units the implementation of `pool` must run: those that read a protocol name it
    binds otherwise than impl; all of them where its worker differs from impl's beyond the bindings (unchanged.
    differing) or the clean run failed anywhere."""
    from bp_parity.reference.run import unchanged

    outcome = pool.run(tasks.zoo_fingerprint)
    differs = unchanged.differing(clean.fingerprint, outcome.value) if outcome.done and not clean.failures else None
    if differs is None:
        return None
    return {index for index, names in enumerate(clean.reads) if names is None or differs & set(names)}


def harness_failures(pool, seed, trace_data, reads=None, only=None):
    """Every failing layer check, the first divergence of every trace, and the failing checks of the routines, for
    the implementation of `pool` (reference.run.worker: a Pool, or InProcess); a SKIPPED check is no failure.  A
    routine that steps with a model blamed already is not run: its run would follow that model's gradient.

    reads: a list to append, unit by unit, the protocol names each read (None where the unit did not come back);
    only: the indices of the units to run (needed()), None for all."""

    failures = []
    hung = set()  # after a time-out, the piece's other units are not waited on again
    steps = {p.name: p.routine.steps for p in registry.pieces("routine")}
    for index, (piece, task, arguments) in enumerate(units(seed, trace_data)):
        if only is not None and index not in only:
            continue
        if steps.get(piece) and steps[piece] in {f.context.blamed for f in failures}:
            if reads is not None:
                reads.append(None)
            continue
        if piece in hung:
            if reads is not None:
                reads.append(None)
            continue
        if reads is not None:
            outcome = pool.run(tasks.reading, task, *arguments)
            reads.append(outcome.value["reads"] if outcome.done else None)
            if outcome.done:
                outcome.value = outcome.value["value"]
        else:
            outcome = pool.run(task, *arguments)
        where = Location(layer=piece, tensor="every check", oracle=Oracle.HARNESS, dtype=arguments[-2], seed=seed,
                         piece=piece)
        results = [r for r in tasks.results_of(outcome, where) if not r.passed and not r.skipped]  # a skip: no blame
        failures += results
        if any(r.verdict == Verdict.TIMEOUT for r in results):
            hung.add(piece)
    return failures




def trace_batch(seed, batch=16):
    from bp_parity.impl.mnist import load_mnist

    (x, t), _ = load_mnist(dtype=np.float64, data_dir=cases.FIXTURES / "mnist-subset", download=False)
    index = streams.rng(seed, "trace batch").choice(len(x), size=batch, replace=False)
    return x[index], t[index]


def supervised(path):
    """The supervised Pool of one implementation of the zoo (a mutant's file, or "impl")."""

    return worker.Pool(Target(str(path)))


def run_mutant(path, seed, data, whole=False):
    """The mutant's MutantResult: the units of the plan that read what it changes (needed()), or with `whole` every
    unit; ran: how many units it ran of how many."""
    started = time.perf_counter()
    result = MutantResult(name=Path(path).stem, bug=bug_of(path), expected=declared_blame(path),
                          declared=declared_diagnosis(path))
    clean = None if whole else clean_run(seed, data)
    with supervised(path) as pool:  # a mutant that fails to import is the zoo's own bug: LoadFailed ends the zoo
        only = None if whole else needed(clean, pool)
        result.failures = harness_failures(pool, seed, data, only=only)
        total = len(units(seed, data))
        result.ran = (total if only is None else len(only), total)
    result.seconds = time.perf_counter() - started
    return result


def run_zoo(seed=None, paths=None, on_mutant=None, whole=False):
    """(clean failures of impl itself, [MutantResult per mutant]); on_mutant(index, result) after each."""
    seed = cases.layer_seeds()[0] if seed is None else seed
    data = trace_batch(seed)
    clean = clean_run(seed, data).failures
    results = []
    for index, path in enumerate(paths or mutant_paths()):
        results.append(run_mutant(path, seed, data, whole=whole))
        if on_mutant is not None:
            on_mutant(index, results[-1])
    return clean, results
