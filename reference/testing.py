"""The harness from your own pytest suite: check one piece, or trace one network, and fail with the reports.

    from bp_parity.reference.pieces.registry import layer, registered
    from bp_parity.reference.testing import assert_network, assert_piece

    def test_my_leaky_relu():
        with registered(layer("LeakyRelu", twin=lambda x: torch.nn.functional.leaky_relu(x, 0.01), kinks=(0.0,))):
            assert_piece("my_package.layers", "LeakyRelu")

    def test_my_network():
        assert_network("my_package.layers", "MyNet")

`impl` is what --impl takes (a dotted module name, a .py file or a package folder) or a module object.  Named
by what --impl takes, the implementation is loaded and run in a supervised worker (reference.run.worker): an exit,
a crash or a hang inside it is a failure with its report, never the end of your test run; a module object is
already loaded in your process, so its checks run there.
Every check of the piece runs (each case, both dtypes, the fixed seeds or `seeds`); a failure raises
ParityError with every failing report, each naming its reproduce command.
"""

import types

from bp_parity.reference.base import cases
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.plan.target import Target
from bp_parity.reference.report.compare import Location, Oracle, ParityError
from bp_parity.reference.run import tasks, worker
from bp_parity.reference.run.trace import Trace


def implementation(impl):
    """An Implementation from a spec string, a module, or an Implementation."""
    if isinstance(impl, protocol.Implementation):
        return impl
    if isinstance(impl, types.ModuleType):
        return protocol.Implementation(impl, impl.__name__)
    return protocol.load(str(impl))


def _pool(impl):
    """A supervised Pool for an implementation named as --impl names it; an InProcess one for a loaded module."""

    if isinstance(impl, (protocol.Implementation, types.ModuleType)):
        loaded = implementation(impl)
        return worker.InProcess(loaded.target or Target(loaded.spec), loaded)
    try:
        return worker.Pool(Target(str(impl)))
    except worker.LoadFailed as failed:
        raise ParityError(failed.reason if failed.usage else failed.render(str(impl))) from None


def check_piece(impl, name, seeds=None, dtypes=None):
    """Every result of every check of piece `name` (its cases; for an optimizer, its 100-step checks)."""

    piece = registry.piece(name)
    seeds = list(seeds) if seeds is not None else cases.layer_seeds()
    if piece.optimizer is None and not piece.cases:
        raise ValueError(f"{name} has no cases to check (a network: use assert_network)")
    units = []
    if piece.optimizer is not None:
        units = [(tasks.optimizer, (name, dtype, seed), name) for dtype in dtypes or cases.DTYPES for seed in seeds]
    for case in piece.cases if piece.optimizer is None else ():
        units += [(tasks.case, (case, dtype, seed), case.id) for dtype in dtypes or case.dtypes
                  if dtype in case.dtypes for seed in seeds]
    results = []
    with _pool(impl) as pool:
        for task, arguments, label in units:
            where = Location(layer=name, tensor="every check", oracle=Oracle.HARNESS, dtype=arguments[1],
                             seed=arguments[2], case=label, piece=name)
            results += tasks.results_of(pool.run(task, *arguments), where)
    return results


def _raise_failures(results, what):
    failed = [r for r in results if not r.passed and not r.skipped]
    if failed:
        raise ParityError(f"{what}: {len(failed)} of {len(results)} checks failed\n\n"
                          + "\n\n".join(r.render() for r in failed))
    if not results:
        raise ParityError(f"{what}: nothing was checked")


def assert_piece(impl, name, seeds=None, dtypes=None):
    """Fail with every failing report unless every check of piece `name` passes; returns the results."""
    results = check_piece(impl, name, seeds, dtypes)
    _raise_failures(results, name)
    return results


def assert_network(impl, name, seed=None, batch=16):
    """Trace network `name` of the implementation (as `trace --net`): every layer against its twin, then
    gradient() end to end; fail with the reports unless all agree.  Returns the Trace."""

    seed = cases.layer_seeds()[0] if seed is None else seed
    with _pool(impl) as pool:
        outcome = pool.run(tasks.traces, name, seed, batch, None, None, None)
    if outcome.done:
        traced = outcome.value[0]
        traced.results += tasks.results_of(outcome.__class__(value=[], state=outcome.state), Location(
            layer=name, tensor="every check", oracle=Oracle.HARNESS, dtype="float64", seed=seed, case=name, piece=name))
    else:
        traced = Trace(name, tasks.results_of(outcome, Location(layer=name, tensor="every check", oracle=Oracle.HARNESS,
                                                                dtype="float64", seed=seed, case=name, piece=name)))
    _raise_failures(traced.results, f"trace of {name}")
    return traced
