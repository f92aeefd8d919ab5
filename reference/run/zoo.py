"""The zoo: run the harness against every deliberately broken implementation in fixtures/mutants/.

For each mutant: every layer check of the case table (both dtypes, one seed),
the trace of every network the protocol allows and of every public method of the
network (both dtypes; only each trace's first divergence counts: what follows it
is inherited), 100 steps of every optimizer against its twin with drawn
hyper-parameters (again only the first divergence), and the routines around the
models: the housing features against their documented rules, PMF's gradient descent
and per-rating SGD against their twins, and gradient descent at the implementation's
step sizes against the convergence theorems.  A routine that steps a model is checked
only where that model passed its own cases: a wrong gradient makes every routine that
steps with it part too, and that is inherited, not the routine's bug.  A mutant is *caught* when
anything fails, and *blamed correctly* when every failure blames the piece its
BLAME names and one of them names its tensor.  A mutant may also take a piece out of impl and give it as functions
in the CS231n style (reference.pieces.functional): the same checks reach it through the functional protocol's adapters.
"""

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reference.base import cases, streams
from reference.pieces import registry
from reference.plan import checks
from reference.plan.target import Target
from reference.report.compare import Location, Oracle, Verdict
from reference.run import tasks, worker

MUTANTS = cases.FIXTURES / "mutants"


def mutant_paths():
    return sorted(p for p in MUTANTS.glob("*.py") if p.name != "__init__.py")


def declared_blame(path):
    """(piece, tensor) from the mutant's BLAME, read without importing it."""
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "BLAME" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise ValueError(f"{path}: no BLAME = (piece, tensor)")


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
            task = {"case": tasks.case, "optimizer": tasks.optimizer, "network": tasks.zoo_network}[unit.kind]
            planned.append((unit.piece, task, unit.arguments))
    return planned


def harness_failures(pool, seed, trace_data):
    """Every failing layer check, the first divergence of every trace, and the failing checks of the routines, for
    the implementation of `pool` (reference.run.worker: a Pool, or InProcess); a SKIPPED check is no failure."""

    failures = []
    hung = set()  # after a time-out, the piece's other units are not waited on again
    for piece, task, arguments in units(seed, trace_data):
        if piece in hung:
            continue
        outcome = pool.run(task, *arguments)
        where = Location(layer=piece, tensor="every check", oracle=Oracle.HARNESS, dtype=arguments[-2], seed=seed,
                         piece=piece)
        results = [r for r in tasks.results_of(outcome, where) if not r.passed and not r.skipped]  # a skip: no blame
        failures += results
        if any(r.verdict == Verdict.TIMEOUT for r in results):
            hung.add(piece)
    blamed = sorted({f.context.blamed for f in failures})
    outcome = pool.run(tasks.zoo_routines, seed, blamed)
    where = Location(layer="routines", tensor="every check", oracle=Oracle.HARNESS, dtype="-", seed=seed, piece="routines")
    return failures + [r for r in tasks.results_of(outcome, where) if not r.passed and not r.skipped]




def trace_batch(seed, batch=16):
    from impl.mnist import load_mnist

    (x, t), _ = load_mnist(dtype=np.float64, data_dir=cases.FIXTURES / "mnist-subset", download=False)
    index = streams.rng(seed, "trace batch").choice(len(x), size=batch, replace=False)
    return x[index], t[index]


def supervised(path):
    """The supervised Pool of one implementation of the zoo (a mutant's file, or "impl")."""

    return worker.Pool(Target(str(path)))


def run_mutant(path, seed, data):
    started = time.perf_counter()
    result = MutantResult(name=Path(path).stem, bug=bug_of(path), expected=declared_blame(path))
    with supervised(path) as pool:  # a mutant that fails to import is the zoo's own bug: LoadFailed ends the zoo
        result.failures = harness_failures(pool, seed, data)
    result.seconds = time.perf_counter() - started
    return result


def run_zoo(seed=None, paths=None, on_mutant=None):
    """(clean failures of impl itself, [MutantResult per mutant]); on_mutant(index, result) after each."""
    seed = cases.layer_seeds()[0] if seed is None else seed
    data = trace_batch(seed)
    with supervised("impl") as pool:
        clean = harness_failures(pool, seed, data)
    results = []
    for index, path in enumerate(paths or mutant_paths()):
        results.append(run_mutant(path, seed, data))
        if on_mutant is not None:
            on_mutant(index, results[-1])
    return clean, results
