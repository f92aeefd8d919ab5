"""PMF on MovieLens: its gradients on MovieLens 100K itself (the case table covers small random rating matrices),
training parity of gradient descent and per-rating SGD with their twins, the block schedule, and the RMSE reached."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bp_parity.impl import movielens
from bp_parity.impl import pmf as pmf_module
from bp_parity.impl.pmf import schedule
from bp_parity.impl.pmf import sgd as pmf_sgd
from bp_parity.reference.run import finite_diff, pmf_parity
from bp_parity.reference.pieces import models, protocol
from bp_parity.reference.base import streams
from bp_parity.reference.report import tolerance
from bp_parity.reference.base.cases import FIXTURES
from bp_parity.reference.report.compare import Context, compare

MUTANTS = FIXTURES / "mutants"


@pytest.fixture(scope="module")
def u1_base():
    try:
        return movielens.read_split("u1.base")
    except movielens.MovieLensError as error:
        pytest.fail(str(error), pytrace=False)


def test_the_split_is_the_canonical_one(u1_base):
    X, y = u1_base
    assert X.shape == (80000, 2) and set(np.unique(y)) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert X[:, 0].max() == movielens.USERS - 1 and len({tuple(p) for p in X}) == 80000


@pytest.mark.parametrize("path", ["dense", "grouped"])
def test_pmf_gradients_on_ml100k_against_autograd_and_a_directional_difference(u1_base, path, monkeypatch, check):
    """Both ways impl/pmf.py sums the ratings' terms (u1.base takes the dense one by itself)."""
    if path == "grouped":
        monkeypatch.setattr(pmf_module, "DENSE_LIMIT", 0)
    X, y = u1_base
    rng = streams.rng(0, "layer inputs")
    U = rng.normal(size=(movielens.USERS, 10)) * 0.3
    V = rng.normal(size=(movielens.ITEMS, 10)) * 0.3
    model = protocol.load().require("PMF")(U, V, 0.05, 0.08)
    grads = model.gradient(X, y)
    leaves = [torch.from_numpy(U.copy()).requires_grad_(), torch.from_numpy(V.copy()).requires_grad_()]
    models.pmf_loss(torch.from_numpy(X), torch.from_numpy(y), *leaves, 0.05, 0.08).backward()
    for key, leaf in zip("UV", leaves):
        context = Context(layer="PMF", tensor=f"d{key}", oracle="twin", dtype="float64", seed=0, case="PMF on u1.base")
        expected = leaf.grad.numpy()
        check(compare(grads[key], expected, tolerance.twin("float64"), context, scale=float(np.abs(expected).max())))
    # and the implementation's own loss along one random direction per factor matrix (gradcheck's fast mode)
    for key, point in (("U", U), ("V", V)):
        direction = finite_diff.scaled_direction(rng, point)

        def f(value, key=key):
            args = {"U": U, "V": V, key: value}
            return model.__class__(args["U"], args["V"], 0.05, 0.08).loss(X, y)

        derivative, rounding = finite_diff.directional(f, point, direction)
        terms = grads[key] * direction
        context = Context(layer="PMF", tensor=f"d{key}", oracle="finite differences", dtype="float64", seed=0,
                          case="PMF on u1.base")
        check(compare(np.asarray(terms.sum()), np.asarray(derivative), tolerance.finite_differences("float64"),
                      context, extra_atol=rounding + tolerance.directional_allowance(float(np.abs(terms).sum()))))


def test_the_grouped_sum_passes_the_case_table_too(monkeypatch, check):
    """The case table's rating matrices are small, so impl/pmf.py takes its dense path on them; here the other."""
    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import registry

    monkeypatch.setattr(pmf_module, "DENSE_LIMIT", 0)
    impl = protocol.load()
    for case in (c for c in registry.cases() if c.layer == "PMF"):
        for dtype in case.dtypes:
            for result in layer_checks.run_case(impl, case, dtype, 0).results:
                check(result)


def test_the_table_reaches_the_per_index_path_of_any_implementation_and_a_bug_there_is_caught_on_it_alone():
    """Without patching anything, the cases PMF-sparse-path and PMF-biased-sparse-path are sparse enough (more than
    64 users-by-items cells a rating) for impl's per-index sums, and every other case takes the dense path: a bug in
    the per-index path alone fails those two cases and no other."""
    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import registry

    spec = registry.spec_of("PMF")
    paths = {}
    for case in (c for c in registry.cases() if c.layer == "PMF"):
        inp = spec.inputs(case, np.random.default_rng(7))
        paths[case.id] = pmf_module.PMF(inp["U"], inp["V"])._dense(len(inp["X"]))
    assert {c for c, dense in paths.items() if not dense} == {"PMF-sparse-path", "PMF-biased-sparse-path"}
    mutant = protocol.load(str(MUTANTS / "pmf_sparse_gradient_terms_not_sorted.py"))
    failed = {r.context.case for case in registry.cases() if case.layer == "PMF" for dtype in case.dtypes
              for r in layer_checks.run_case(mutant, case, dtype, 7).results if not r.passed}
    assert failed == {"PMF-sparse-path", "PMF-biased-sparse-path"}


# --- the block schedule of per-rating SGD ---------------------------------------------------------------------------

def _blocks(order, starts):
    return [order[a:b] for a, b in zip(starts[:-1], starts[1:])]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6)), max_size=60))
def test_the_schedule_puts_no_shared_row_in_one_block_and_keeps_the_order_of_those_that_share(pairs):
    users = np.array([u for u, _ in pairs], dtype=np.int64)
    items = np.array([i for _, i in pairs], dtype=np.int64)
    order, starts = schedule(users, items)
    assert sorted(order.tolist()) == list(range(len(pairs)))  # every rating once
    block_of = np.empty(len(pairs), dtype=np.int64)
    for number, block in enumerate(_blocks(order, starts)):
        assert len(block) and len(set(users[block])) == len(block) and len(set(items[block])) == len(block)
        block_of[block] = number
    for a in range(len(pairs)):
        for b in range(a + 1, len(pairs)):
            if users[a] == users[b] or items[a] == items[b]:
                assert block_of[a] < block_of[b]


def _sequential_sgd(model, X, y, lr, epochs, rng):
    """The per-rating rule one rating at a time in the permutation's order: the sequence schedule() must reproduce.
    The same expressions as a block of one, so the claim is bit for bit."""
    p = model.params
    kind = p["U"].dtype.type
    lr, lam_u, lam_v, lam_b, mean = (kind(v) for v in (lr, model.lam_u, model.lam_v, model.lam_b, model.mean))
    for _ in range(epochs):
        for index in rng.permutation(len(X)):
            u, i = X[index:index + 1, 0], X[index:index + 1, 1]
            Uu, Vi = p["U"][u], p["V"][i]
            r_hat = np.sum(Uu * Vi, axis=1)
            if model.biased:
                r_hat += mean + p["bu"][u] + p["bi"][i]
            e = y[index:index + 1] - r_hat
            p["U"][u] = Uu + lr * (e[:, None] * Vi - lam_u * Uu)
            p["V"][i] = Vi + lr * (e[:, None] * Uu - lam_v * Vi)
            if model.biased:
                p["bu"][u] += lr * (e - lam_b * p["bu"][u])
                p["bi"][i] += lr * (e - lam_b * p["bi"][i])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_blocked_sgd_is_the_sequential_rule_to_the_last_bit(dtype):
    problem = pmf_parity.draw_problem(3, users=9, items=11, k=4, ratings=70).astype(dtype)
    blocked, sequential = (pmf_parity.construct(protocol.load(), problem.params, problem.settings)
                           for _ in range(2))
    pmf_sgd(blocked, problem.X, problem.y, 0.05, 4, np.random.default_rng(5))
    _sequential_sgd(sequential, problem.X, problem.y, 0.05, 4, np.random.default_rng(5))
    for key in blocked.params:
        assert np.array_equal(blocked.params[key], sequential.params[key]), key


def test_u1_base_needs_about_a_thousand_blocks_an_epoch(u1_base):
    X, _ = u1_base
    order, starts = schedule(X[:, 0], X[:, 1])
    longest = max(np.bincount(X[:, 0]).max(), np.bincount(X[:, 1]).max())
    assert longest <= len(starts) - 1 < 2 * longest  # no shorter schedule exists; this one is within twice that


# --- training parity -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("biased", [True, False], ids=["biased", "plain"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("method", ["gd", "sgd"])
def test_training_holds_parity_with_its_twin(method, dtype, biased, check):
    problem = pmf_parity.draw_problem(0, biased=biased)
    run = (pmf_parity.run_gd if method == "gd" else pmf_parity.run_sgd)(protocol.load(), problem, dtype=dtype)
    assert run.steps == (20 if method == "gd" else 5) and run.results
    for result in run.results:
        check(result)


def test_per_rating_sgd_holds_parity_on_u1_base(u1_base, check):
    """2,000 ratings of u1.base (a fixed draw) with all 943 users and 1,682 items, 10 factors, two epochs."""
    X, y = u1_base
    rng = streams.rng(0, "pmf problem")
    rows = rng.choice(len(X), size=2000, replace=False)
    params = {"U": rng.normal(size=(movielens.USERS, 10)) * 0.1, "V": rng.normal(size=(movielens.ITEMS, 10)) * 0.1,
              "bu": np.zeros(movielens.USERS), "bi": np.zeros(movielens.ITEMS)}
    settings_ = {"lam_u": 0.1, "lam_v": 0.1, "lam_b": 0.1, "mean": float(y.mean())}
    problem = pmf_parity.Problem(X[rows], y[rows], params, settings_, movielens.USERS, movielens.ITEMS)
    run = pmf_parity.run_sgd(protocol.load(), problem, lr=0.01, epochs=2, case="2,000 ratings of u1.base")
    assert run.steps == 2
    for result in run.results:
        check(result)


def test_gradient_descent_holds_parity_on_all_of_u1_base(u1_base, check):
    X, y = u1_base
    rng = streams.rng(1, "pmf problem")
    params = {"U": rng.normal(size=(movielens.USERS, 10)) * 0.1, "V": rng.normal(size=(movielens.ITEMS, 10)) * 0.1,
              "bu": np.zeros(movielens.USERS), "bi": np.zeros(movielens.ITEMS)}
    problem = pmf_parity.Problem(X, y, params, {"lam_u": 0.1, "lam_v": 0.1, "lam_b": 0.1, "mean": float(y.mean())},
                                 movielens.USERS, movielens.ITEMS)
    run = pmf_parity.run_gd(protocol.load(), problem, lr=5e-4, steps=5, case="u1.base")
    assert run.steps == 5
    for result in run.results:
        check(result)


def test_an_item_moved_with_the_updated_user_parts_from_the_twin_in_the_first_epoch():
    mutant = protocol.load(str(MUTANTS / "pmf_sgd_item_moved_with_the_updated_user.py"))
    run = pmf_parity.run_sgd(mutant, pmf_parity.draw_problem(0))
    failed = {r.context.tensor for r in run.failures}
    assert "V" in failed and {r.context.step for r in run.failures} == {0} and run.steps == 1
    assert all(r.context.blamed == "pmf_sgd" for r in run.failures)
    assert "V at epoch 0" in {r.context.shown for r in run.failures}  # compared at the end of every epoch


# --- the training script and the RMSE it reaches ---------------------------------------------------------------------

def test_the_latest_small_set_is_read_with_its_ids_renumbered():
    try:
        X, y, users, items = movielens.read_latest_small()
    except movielens.MovieLensError as error:
        pytest.fail(str(error), pytrace=False)
    assert X.shape == (100836, 2) and (users, items) == (610, 9724)
    assert X[:, 0].max() == users - 1 and X[:, 1].max() == items - 1 and set(np.unique(y)) == set(np.arange(1, 11) / 2)


def test_missing_movielens_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("BP_PARITY_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(movielens.MovieLensError, match="ml-latest-small not found in .*BP_PARITY_DATA"):
        movielens.read_latest_small()
    (tmp_path / "ml-latest-small").mkdir()
    (tmp_path / "ml-latest-small" / "ratings.csv").write_text("userId,movieId,rating\n1,2,3\n")
    with pytest.raises(movielens.MovieLensError, match="ratings.csv: cannot read: the header"):
        movielens.read_latest_small()


def test_the_training_script_prints_every_epoch_and_the_anchors(capsys):
    from bp_parity.impl import train_pmf

    assert train_pmf.main(["--splits", "u1,u2", "--epochs", "2", "--factors", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    epochs = [line for line in out if " epoch " in line]
    assert [line.split(":")[0] for line in epochs] == ["u1 epoch   1/2", "u1 epoch   2/2", "u2 epoch   1/2",
                                                      "u2 epoch   2/2"]
    assert out[-1].startswith("test RMSE: 0.9") and "mean over u1, u2" in out[-1] and "Surprise SVD 0.934" in out[-1]
    assert train_pmf.main(["--splits", "u9"]) == 2 and train_pmf.main(["--lr", "0"]) == 2
    assert train_pmf.main(["--method", "gd", "--splits", "u1", "--epochs", "1", "--lr", "1e-4"]) == 0


def test_a_step_too_long_is_reported_once_as_a_divergence(capsys):
    from bp_parity.impl import train_pmf

    assert train_pmf.main(["--method", "gd", "--splits", "u1", "--epochs", "40", "--lr", "0.01"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: u1: the loss became") and "--lr 0.01 is too long a step" in err
    assert "RuntimeWarning" not in err


def test_sgd_reaches_the_target_rmse_on_all_five_splits(capsys):
    """The README's run: the script's defaults (100 factors, lr 0.007, lam 0.1, 60 epochs, float32) on u1..u5.
    Measured mean 0.9122 (0.9059 to 0.9242); the issue's target is 0.925, the Surprise SVD anchor 0.934."""
    from bp_parity.impl import train_pmf

    assert train_pmf.main([]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    mean = float(last.split()[2])
    assert mean <= train_pmf.TARGET_RMSE < train_pmf.SURPRISE_SVD_RMSE, last


def test_a_run_that_stops_early_is_reported_as_such():
    import types

    from bp_parity.impl import pmf as module

    def short_sgd(model, X, y, lr, epochs, rng, on_epoch=None):
        return module.sgd(model, X, y, lr, epochs - 1, rng, on_epoch)

    impl = protocol.Implementation(types.SimpleNamespace(PMF=module.PMF, pmf_sgd=short_sgd), "short")
    run = pmf_parity.run_sgd(impl, pmf_parity.draw_problem(0), epochs=3)
    [failure] = run.failures
    assert failure.context.tensor == "epochs taken" and failure.worst_actual == 2 and failure.worst_expected == 3
