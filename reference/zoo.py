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
in the CS231n style (reference.functional): the same checks reach it through the functional protocol's adapters.
"""

import ast
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cases, convergence, layer_checks, optimizer_checks, pipeline_checks, pmf_parity, protocol, registry, streams
from .trace import trace_all

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
    return context.blamed == piece and context.names(tensor)


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


def harness_failures(impl, seed, trace_data):
    """Every failing layer check and the first divergence of every trace, for one implementation."""
    failures = []
    hung = set()  # after a time-out, the piece's other cases are not waited on again
    for case in registry.cases():
        for dtype in case.dtypes:
            if case.layer in hung:
                continue
            results = [r for r in layer_checks.run_case(impl, case, dtype, seed).results if not r.passed]
            failures += results
            if any(r.verdict == "TIMEOUT" for r in results):
                hung.add(case.layer)
    x, t = trace_data
    for dtype in cases.DTYPES:
        for trace in trace_all(impl, x.astype(dtype), t, seed=seed, dtype=dtype, impl_spec=impl.spec):
            if trace.first_divergence is not None:
                failures.append(trace.first_divergence)
    from .commands.trace import network_traces

    for name in registry.names("network"):
        if name == "TwoLayerNet":  # traced above, with every method
            continue
        for dtype in cases.DTYPES:
            for trace in network_traces(impl, name, dtype, seed, impl_spec=impl.spec, batch=16):
                if trace.first_divergence is not None:
                    failures.append(trace.first_divergence)
    for name in optimizer_checks.optimizers():
        for dtype in cases.DTYPES:
            run = optimizer_checks.run_optimizer(impl, name, dtype, seed, impl_spec=impl.spec)
            failures += [r for r in run.results if not r.passed]
    return failures + routine_failures(impl, seed, failures)


def routine_failures(impl, seed, upstream):
    """The failing checks of the routines around the models (see the module docstring); `upstream`: the failures
    found so far, whose blamed models are not stepped again."""
    blamed = {f.context.blamed for f in upstream}
    failures = [r for r in pipeline_checks.check(impl, seed) if not r.passed]
    if "PMF" not in blamed:
        problem = pmf_parity.draw_problem(seed)
        failures += pmf_parity.run_gd(impl, problem, seed=seed).failures
        failures += pmf_parity.run_sgd(impl, problem, seed=seed).failures
    if "LinearRegression" not in blamed:
        X, y = convergence.draw_problem(seed)
        for rule in ("1/L", "2/(mu+L)"):
            failures += convergence.check(impl, X, y, rule, seed=seed)
    return failures


def trace_batch(seed, batch=16):
    from impl.mnist import load_mnist

    (x, t), _ = load_mnist(dtype=np.float64, data_dir=cases.FIXTURES / "mnist-subset", download=False)
    index = streams.rng(seed, "trace batch").choice(len(x), size=batch, replace=False)
    return x[index], t[index]


def run_mutant(path, seed, data):
    started = time.perf_counter()
    impl = protocol.load(str(path))  # a mutant that fails to import is the zoo's own bug: let it raise
    result = MutantResult(name=Path(path).stem, bug=bug_of(path), expected=declared_blame(path))
    try:
        result.failures = harness_failures(impl, seed, data)
    except Exception as error:  # noqa: BLE001 - a harness bug must not end the zoo; it shows as a wrong blame
        context = layer_checks.Context(layer="harness", tensor="-", oracle="-", dtype="-", seed=seed)
        result.failures = [layer_checks.NotRun(context, f"the harness itself raised {type(error).__name__}: {error}",
                                               "HARNESS ERROR")]
    result.seconds = time.perf_counter() - started
    return result


def run_zoo(seed=None, paths=None, on_mutant=None):
    """(clean failures of impl itself, [MutantResult per mutant]); on_mutant(index, result) after each."""
    seed = cases.layer_seeds()[0] if seed is None else seed
    data = trace_batch(seed)
    clean = harness_failures(protocol.load("impl"), seed, data)
    results = []
    for index, path in enumerate(paths or mutant_paths()):
        results.append(run_mutant(path, seed, data))
        if on_mutant is not None:
            on_mutant(index, results[-1])
    return clean, results
