"""The pytest plugin: the parity cases of any implementation inside any project's own test run.

Installing bp-parity registers it (entry point pytest11).  It does nothing until an implementation is named:

    pytest --bp-parity-impl mypkg.layers                     # or, in the project's pytest configuration:
    [tool.pytest.ini_options]
    bp_parity_impl = "mypkg.layers"
    bp_parity_path = ["src"]                                  # folders put on the import path first
    bp_parity_map_file = "bp-parity.toml"                     # protocol names bound elsewhere (docs/your-code.md)
    bp_parity_only_present = true                             # skip the pieces it does not define

Then the run holds, beside the project's own tests, one test per check this repository's suite runs at the fixed
seeds: `bp-parity::test_twin_parity[Affine-2d-backward-dW-float32-seed7]`, `test_finite_differences[...]`,
`test_arguments_unchanged[Affine-2d-float64-seed7]` (and the other checks of that case run), the optimizers'
100-step checks and the networks' traces; a failure is the harness's report with its reproduce line, and the exit
code is pytest's.  A piece the implementation does not define fails NOT RUN, or is skipped with
bp_parity_only_present.
"""

from pathlib import Path

import pytest
from bp_parity.reference.report.compare import Oracle, Verdict

def pytest_addoption(parser):
    group = parser.getgroup("bp-parity", "parity checks of a hand-written implementation (bp-parity)")
    group.addoption("--bp-parity-impl", help="the implementation to check: module, .py file or package folder")
    group.addoption("--bp-parity-path", action="append", help="a folder to put on the import path first (repeatable)")
    group.addoption("--bp-parity-map-file", help="a TOML or JSON file binding protocol names (docs/your-code.md)")
    group.addoption("--bp-parity-only-present", action="store_true", default=None,
                    help="skip the pieces the implementation does not define (else they fail NOT RUN)")
    group.addoption("--bp-parity-seed", type=int, action="append", help="a seed instead of the fixed ones")
    parser.addini("bp_parity_impl", "the implementation bp-parity checks (as --bp-parity-impl)")
    parser.addini("bp_parity_path", "folders to put on the import path first", type="paths")
    parser.addini("bp_parity_map_file", "a map file (as --bp-parity-map-file)")
    parser.addini("bp_parity_only_present", "skip the pieces the implementation does not define", type="bool",
                  default=False)


def _settings(config):
    impl = config.getoption("--bp-parity-impl") or config.getini("bp_parity_impl")
    if not impl:
        return None
    beside_root = Path(config.rootpath) / impl
    if not Path(impl).is_absolute() and not Path(impl).exists() and (impl.endswith(".py") or beside_root.is_dir()):
        impl = str(beside_root)  # a file or folder named relative to the project, wherever pytest runs from
    paths = config.getoption("--bp-parity-path") or [str(p) for p in config.getini("bp_parity_path")]
    map_file = config.getoption("--bp-parity-map-file") or config.getini("bp_parity_map_file") or None
    if map_file and not Path(map_file).is_absolute():
        map_file = str(Path(config.rootpath) / map_file)
    only_present = config.getoption("--bp-parity-only-present")
    if only_present is None:
        only_present = config.getini("bp_parity_only_present")
    return {"impl": impl, "path": paths, "map_file": map_file, "only_present": bool(only_present),
            "seeds": config.getoption("--bp-parity-seed")}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    settings = _settings(config)
    if settings is None:
        return
    collector = ParityCollector.from_parent(session, name="bp-parity", nodeid="bp-parity")
    collector.settings = settings
    items.extend(collector.collect())


_POOLS = []  # the supervised pools of this session (one per collector), closed when the session ends


def pytest_sessionfinish(session):
    while _POOLS:
        _POOLS.pop().close()


def _where(piece, case, dtype, seed, reproduce=""):
    from bp_parity.reference.report.compare import Location

    return Location(layer=piece, tensor="every check", oracle=Oracle.HARNESS, dtype=dtype, seed=seed, case=case,
                    piece=piece, reproduce=reproduce)



class ParityCollector(pytest.Collector):
    settings = None

    def collect(self):
        from types import SimpleNamespace

        from bp_parity.reference.base import cases
        from bp_parity.reference.plan import checks
        from bp_parity.reference.plan.target import Target
        from bp_parity.reference.run import worker

        s = self.settings
        try:  # the implementation is loaded, and every check run, in a supervised worker (reference.run.worker)
            pool = worker.Pool(Target.from_args(SimpleNamespace(impl=s["impl"], path=s["path"], map=None,
                                                      map_file=s["map_file"])))
        except worker.LoadFailed as failed:  # one failing item that says why, not an internal error
            return [ParityItem.from_parent(self, name="load_implementation", impl=None,
                                           check=("load", failed.reason if failed.usage
                                                  else failed.render(s["impl"])))]
        except Exception as error:  # noqa: BLE001 - arguments that name nothing loadable
            return [ParityItem.from_parent(self, name="load_implementation", impl=None, check=("load", str(error)))]
        _POOLS.append(pool)
        self.pool, self.outcomes = pool, {}
        impl = pool.described
        seeds = s["seeds"] or cases.layer_seeds()
        items = []

        def add(name, check):
            items.append(ParityItem.from_parent(self, name=name, impl=impl, check=check))

        oracles = {Oracle.TWIN: (Oracle.TWIN, Oracle.GOLDEN), Oracle.FINITE_DIFFERENCES: (Oracle.FINITE_DIFFERENCES,),
                   Oracle.CALLS: None}
        for check in checks.checks(checks.units(seeds)):  # the one plan (reference.plan.checks)
            u = check.unit
            if u.kind == "case":
                add(f"{check.test}[{check.id}]", ("case", (u.case, u.dtype, u.seed), check.tensor, oracles[check.oracle]))
            else:
                add(f"{check.test}[{check.id}]", (u.kind, u.piece, u.dtype, u.seed))
        return items


class ParityItem(pytest.Item):
    def __init__(self, *, impl, check, **kwargs):
        super().__init__(**kwargs)
        self.impl, self.check = impl, check

    def _skip_if_absent(self, names):
        settings = self.parent.settings
        absent = self.impl.missing(names)
        if absent and settings["only_present"]:
            pytest.skip(f"not defined by the implementation: {', '.join(absent)} (bp_parity_only_present)")

    def _results(self, key, task, where):
        """The results of one unit of work, run once in the collector's pool and shared by its items."""
        from bp_parity.reference.run import tasks

        collector = self.parent
        if key not in collector.outcomes:
            collector.outcomes[key] = tasks.results_of(collector.pool.run(task, *key[1:]), where)
        return collector.outcomes[key]

    def runtest(self):
        from bp_parity.reference.report.compare import Comparison, NotRun, assert_parity
        from bp_parity.reference.run import tasks

        kind = self.check[0]
        if kind == "load":
            raise ParityFailure(f"bp-parity cannot load the implementation: {self.check[1]}")
        results = []
        if kind == "case":
            (case, dtype, seed), tensor, oracles = self.check[1:]
            from bp_parity.reference.pieces import registry
            from bp_parity.reference.plan import checks

            self._skip_if_absent(registry.spec_of(case.layer).requires)
            unit = self._results(("case", case, dtype, seed), tasks.case,
                                 _where(case.layer, case.id, dtype, seed,
                                        checks.reproduce_command(self.impl, case, None, dtype, seed)))
            lost = [r for r in unit if r.context.oracle == Oracle.HARNESS and r.verdict != Verdict.STATE_CHANGED]
            if tensor is None:  # everything the per-tensor items do not cover
                results = [r for r in unit if r.context.call or r.context.step is not None
                           or r.context.oracle not in (Oracle.TWIN, Oracle.GOLDEN, Oracle.FINITE_DIFFERENCES)]
            else:
                results = lost or [r for r in unit if r.context.tensor == tensor and not r.context.call
                                   and r.context.oracle in oracles]
                if not results:
                    raise ParityFailure(f"{case.id}: no {oracles[0]} check of {tensor} was made")
        elif kind == "optimizer":
            _, name, dtype, seed = self.check
            self._skip_if_absent((name,))
            results = self._results(self.check, tasks.optimizer, _where(name, name, dtype, seed))
        else:
            _, name, dtype, seed = self.check
            self._skip_if_absent((name,))
            task = tasks.routine if kind == "routine" else tasks.network
            results = self._results(self.check, task, _where(name, name, dtype, seed))
        failed = [r for r in results if not r.passed and not r.skipped]
        self._properties(results, failed)
        if not failed:
            if results and all(r.skipped for r in results):  # a call the implementation's form does not have
                pytest.skip(results[0].reason)
            return
        first = failed[0]
        if isinstance(first, NotRun):
            raise ParityFailure(first.render())
        assert isinstance(first, Comparison)
        assert_parity(first)

    def _properties(self, results, failed):
        """The figures of the item as its user properties, which --junitxml writes as <property> elements (CI
        dashboards show them): the worst errors, the tolerance, how much of it was used, and every diagnosis."""
        import math

        compared = [r for r in results if getattr(r, "compared", False)]
        if compared:
            worst = max(compared, key=lambda r: -1.0 if math.isnan(r.used) else r.used)
            self.user_properties += [("bp_parity_max_abs_err", f"{worst.max_abs:.3e}"),
                                     ("bp_parity_max_rel_err", f"{worst.max_rel:.3e}"),
                                     ("bp_parity_tolerance", worst.tolerance.describe()),
                                     ("bp_parity_allowance_used", "-" if math.isnan(worst.used)
                                      else f"{100 * worst.used:.3g}%")]
        if failed:
            self.user_properties.append(("bp_parity_verdict", str(failed[0].verdict)))
            self.user_properties += [("bp_parity_diagnosis", text) for _, text in getattr(failed[0], "diagnosis", ())]

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (ParityFailure, AssertionError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return Path(__file__), None, f"bp-parity: {self.name}"


class ParityFailure(Exception):
    """A check that failed or could not run; its text is the harness's report."""
