"""Options and shared machinery of the suite.

    --impl MODULE_OR_PATH   the implementation under test (default: impl)
    --path DIR              a folder to put on the import path first (repeatable)
    --map NAME=MODULE:ATTR  bind a protocol name to what the implementation calls it (repeatable)
    --map-file FILE         a TOML or JSON file of both (README: Your own implementation)
    --seed N                run the layer checks at this seed (repeatable)
    --seeds N               run them at N seeds of the sweep (also BP_PARITY_SEEDS=N)
    --dump-dir DIR          write an .npz of both sides and the inputs for every mismatch
"""

import functools
import http.server
import os
import threading

import pytest

from bp_parity.reference.base import cases
from bp_parity.reference.plan import checks
from bp_parity.reference.run import case as layer_checks
from bp_parity.reference.report.compare import assert_parity


def pytest_addoption(parser):
    group = parser.getgroup("bp-parity")
    group.addoption("--impl", default="impl", help="implementation under test: module, .py file or package folder")
    group.addoption("--path", action="append", help="a folder to put on the import path first (repeatable)")
    group.addoption("--map", action="append", help="NAME=MODULE:ATTR: bind a protocol name (repeatable)")
    group.addoption("--map-file", help="a TOML or JSON file with path = [...] and a [map] table")
    group.addoption("--seed", type=int, action="append", help="layer-check seed (repeatable)")
    group.addoption("--seeds", type=int, help="N seeds of the sweep in fixtures/seeds.json (or BP_PARITY_SEEDS)")
    group.addoption("--dump-dir", help="write both sides and the inputs of every mismatch here")


def pytest_configure(config):
    """Under xdist, one BLAS and torch thread per worker: the workers already fill the cores, and
    small matrix products fighting over them run ten times slower (see benchmarks/)."""
    if getattr(config.option, "numprocesses", None) and not os.environ.get("PYTEST_XDIST_WORKER"):
        for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(variable, "1")


def selected_seeds(config):
    if config.getoption("--seed"):
        return config.getoption("--seed")
    count = config.getoption("--seeds") or int(os.environ.get("BP_PARITY_SEEDS", "0") or 0)
    return cases.layer_seeds(count)


def _sweep_selected(config):
    return bool(config.getoption("--seed") or config.getoption("--seeds") or os.environ.get("BP_PARITY_SEEDS"))


# the parameters that carry a seed: a test without any of them does not depend on the seeds chosen
SEEDED = ("sweep_seed", "twin_check", "fd_check", "case_run_key", "sweep_run_key")


def pytest_collection_modifyitems(config, items):
    """A sweep (--seeds N or BP_PARITY_SEEDS) runs the tests that depend on the seeds, at its seeds: one that takes
    none (a 500-step MNIST run, a trace at fixed weights) runs as the suite ran it, so the sweep leaves it to the
    suite instead of running the same test a second time (tox runs both)."""
    if config.getoption("--seed") or not (config.getoption("--seeds") or os.environ.get("BP_PARITY_SEEDS")):
        return
    kept, dropped = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        (kept if any(name in params for name in SEEDED) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_generate_tests(metafunc):
    """Parametrize over the one plan (reference.plan.checks): ids read like Affine-2d-backward-dW-float32-seed7."""
    seeds = selected_seeds(metafunc.config)
    names = set(metafunc.fixturenames)
    if "sweep_seed" in names:  # any test over the fixed seeds (or the sweep)
        metafunc.parametrize("sweep_seed", seeds, ids=[f"seed{s}" for s in seeds])
    for fixture, oracle in (("twin_check", "twin"), ("fd_check", "finite differences")):
        if fixture in names:
            chosen = [c for c in checks.checks(checks.units(seeds, kinds=("case",))) if c.oracle == oracle]
            metafunc.parametrize(fixture, [(c.unit.case, c.tensor, c.unit.dtype, c.unit.seed) for c in chosen],
                                 ids=[c.id for c in chosen])
            return
    if "case_run_key" in names or "sweep_run_key" in names:
        # tests/test_sweep.py repeats tests/test_layers.py in one test per run: at every seed of a sweep, and at the
        # first fixed seed only otherwise (enough to show it works; test_layers.py covers the fixed seeds)
        sweep = "sweep_run_key" in names
        chosen = checks.units(seeds[:1] if sweep and not _sweep_selected(metafunc.config) else seeds, kinds=("case",))
        metafunc.parametrize("sweep_run_key" if sweep else "case_run_key", [(u.case, u.dtype, u.seed) for u in chosen],
                             ids=[u.id for u in chosen])


@pytest.fixture(scope="session")
def full_mnist():
    """full_mnist(dtype): the full MNIST, loaded once per dtype; where it is missing the test fails (never
    skips) with the places searched and how to point at the data, and no traceback through the loader."""
    from bp_parity.impl.mnist import MnistError, load_mnist

    loaded = {}

    def load(dtype):
        if dtype not in loaded:
            try:
                loaded[dtype] = load_mnist(dtype=dtype, download=False)
            except MnistError as error:
                missing = str(error)
            else:
                missing = ""
            if missing:  # outside the except block: no chained traceback above the message
                pytest.fail(f"{missing}\nSet BP_PARITY_DATA to the folder holding mnist/ (CI: ../shared/data).",
                            pytrace=False)
        return loaded[dtype]

    return load


@pytest.fixture(scope="session")
def housing_data():
    """California housing (impl.housing); where it is missing the test fails (never skips) with the places
    searched and how to point at the data."""
    from bp_parity.impl.housing import HousingError, load_housing

    try:
        return load_housing(download=False)
    except HousingError as error:
        missing = str(error)
    pytest.fail(f"{missing}\n(set BP_PARITY_DATA to the folder that holds california-housing/)", pytrace=False)


@pytest.fixture(scope="session")
def impl_under_test(request):
    from types import SimpleNamespace

    from bp_parity.reference.cli.common import load_impl

    option = request.config.getoption
    return load_impl(SimpleNamespace(impl=option("--impl"), path=option("--path"), map=option("--map"),
                                     map_file=option("--map-file")))


@functools.lru_cache(maxsize=4096)
def _cached_run(impl, case, dtype, seed):
    return layer_checks.run_case(impl, case, dtype, seed)


@pytest.fixture
def run_case(impl_under_test):
    """run_case(case, dtype, seed): every check of a case, run once per worker and shared by its tests."""
    return lambda case, dtype, seed: _cached_run(impl_under_test, case, dtype, seed)


@pytest.fixture
def check(request):
    """check(result): pass, or fail with the full report (and dump it with --dump-dir)."""
    dump_dir = request.config.getoption("--dump-dir")

    def _check(result):
        if not result.passed and dump_dir:
            result.dump(dump_dir)
        if isinstance(result, layer_checks.NotRun):
            if result.skipped:  # a call the implementation's form does not have (reference.pieces.functional)
                pytest.skip(result.reason)
            pytest.fail("\n" + result.render(), pytrace=False)
        assert_parity(result)

    return _check


# --- a web server on 127.0.0.1 for the download tests (tests never reach the network) ----------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    routes = {}  # path -> (status, body, declared length or None)

    def do_GET(self):  # noqa: N802 - the http.server API
        status, body, declared = self.routes.get(self.path, (404, b"not found", None))
        self.send_response(status)
        self.send_header("Content-Length", str(declared if declared is not None else len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """(base URL, routes): routes[path] = (status, body, declared length or None) answers GET path."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.routes = {}
    yield f"http://127.0.0.1:{httpd.server_address[1]}", _Handler.routes
    httpd.shutdown()
    httpd.server_close()
