"""The harness from your own pytest suite: check one piece, or trace one network, and fail with the reports.

    from reference.registry import layer, registered
    from reference.testing import assert_network, assert_piece

    def test_my_leaky_relu():
        with registered(layer("LeakyRelu", twin=lambda x: torch.nn.functional.leaky_relu(x, 0.01), kinks=(0.0,))):
            assert_piece("my_package.layers", "LeakyRelu")

    def test_my_network():
        assert_network("my_package.layers", "MyNet")

`impl` is what --impl takes (a dotted module name, a .py file or a package folder) or a module object.
Every check of the piece runs (each case, both dtypes, the fixed seeds or `seeds`); a failure raises
ParityError with every failing report, each naming its reproduce command.
"""

import types

from . import cases, layer_checks, protocol, registry
from .compare import ParityError


def implementation(impl):
    """An Implementation from a spec string, a module, or an Implementation."""
    if isinstance(impl, protocol.Implementation):
        return impl
    if isinstance(impl, types.ModuleType):
        return protocol.Implementation(impl, impl.__name__)
    return protocol.load(str(impl))


def check_piece(impl, name, seeds=None, dtypes=None):
    """Every result of every check of piece `name` (its cases; for an optimizer, its 100-step checks)."""
    impl = implementation(impl)
    piece = registry.piece(name)
    seeds = list(seeds) if seeds is not None else cases.layer_seeds()
    results = []
    if piece.optimizer is not None:
        from . import optimizer_checks

        for dtype in dtypes or cases.DTYPES:
            for seed in seeds:
                results += optimizer_checks.run_optimizer(impl, name, dtype, seed, impl_spec=impl.spec).results
        return results
    if not piece.cases:
        raise ValueError(f"{name} has no cases to check (a network: use assert_network)")
    for case in piece.cases:
        for dtype in dtypes or case.dtypes:
            if dtype in case.dtypes:
                for seed in seeds:
                    results += layer_checks.run_case(impl, case, dtype, seed).results
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
    from .commands.trace import net_trace

    impl = implementation(impl)
    seed = cases.layer_seeds()[0] if seed is None else seed
    traced = net_trace(impl, name, seed, batch, None, impl.spec, None)
    _raise_failures(traced.results, f"trace of {name}")
    return traced
