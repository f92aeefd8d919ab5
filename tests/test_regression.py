"""California housing's reader and features, linear regression's hand-written gradient beyond the case table, and the
convergence theory of gradient descent measured step by step on the real data (reference.convergence)."""

import hashlib

import numpy as np
import pytest

from impl import housing
from reference import cases, convergence, protocol
from reference.cli import main

MUTANTS = cases.FIXTURES / "mutants"
HEADER = ",".join(housing.COLUMNS)


def _write(tmp_path, *rows):
    path = tmp_path / "housing.csv"
    path.write_text("\n".join((HEADER,) + rows) + "\n", encoding="utf-8")
    return path


def test_the_real_file_has_its_rows_its_missing_values_and_its_categories(housing_data):
    assert len(housing_data) == 20640
    assert int(np.isnan(housing_data.numeric).sum()) == 207  # all in total_bedrooms (SOURCE.md)
    assert int(np.isnan(housing_data.numeric[:, housing.NUMERIC.index("total_bedrooms")]).sum()) == 207
    assert sorted(set(housing_data.ocean)) == sorted(housing.CATEGORIES)


def test_features_use_the_training_rows_statistics_only(housing_data):
    train, test = housing.split(len(housing_data))
    assert len(train) == 16512 and len(test) == 4128 and not set(train) & set(test)
    (X, y), (X_test, y_test), names = housing.prepare(housing_data, train, test)
    numeric = len(housing.NUMERIC)
    assert np.allclose(X[:, :numeric].mean(axis=0), 0, atol=1e-12) and np.allclose(X[:, :numeric].std(axis=0), 1)
    assert not np.allclose(X_test[:, :numeric].mean(axis=0), 0, atol=1e-3)  # the test rows were not used
    column = housing.NUMERIC.index("total_bedrooms")
    median = np.nanmedian(housing_data.numeric[train, column])
    filled = np.isnan(housing_data.numeric[test, column])
    statistics = housing.fit_statistics(housing_data, train)
    expected = (median - statistics["mean"][column]) / statistics["std"][column]
    assert filled.sum() == 36 and np.allclose(X_test[filled, column], expected)  # the training median
    assert names[numeric:] == tuple(f"ocean_proximity={c}" for c in housing.CATEGORIES[1:])
    assert set(np.unique(X[:, numeric:])) == {0.0, 1.0} and np.all(X[:, numeric:].sum(axis=1) <= 1)
    assert np.allclose(y * housing.TARGET_UNIT, housing_data.target[train])


def test_a_damaged_file_is_named_with_its_line(tmp_path):
    path = _write(tmp_path, "-122.2,37.9,41.0,880.0,129.0,322.0,126.0,8.3,452600.0,NEAR BAY",
                  "-122.2,37.9,41.0,880.0,abc,322.0,126.0,8.3,452600.0,NEAR BAY")
    with pytest.raises(housing.HousingError, match=r"housing.csv:3: could not convert"):
        housing.read_housing(path)
    path = _write(tmp_path, "-122.2,37.9,41.0,880.0,129.0,322.0,126.0,8.3,452600.0,ON THE MOON")
    with pytest.raises(housing.HousingError, match=r":2: ocean_proximity 'ON THE MOON'"):
        housing.read_housing(path)
    (tmp_path / "housing.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(housing.HousingError, match="is not the expected columns"):
        housing.read_housing(tmp_path / "housing.csv")


def test_missing_data_says_where_it_looked_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("BP_PARITY_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(housing.HousingError, match="--data-dir"):
        housing.find_housing(download=False)
    with pytest.raises(housing.HousingError, match="could not obtain housing.csv"):
        housing.find_housing(mirrors=("http://127.0.0.1:9/housing.csv",), timeout=2)
    assert not (tmp_path / "cache").exists()


def test_the_download_is_checked_against_its_sha256(server, tmp_path, monkeypatch):
    url, routes = server
    body = _write(tmp_path, "-122.2,37.9,41.0,880.0,,322.0,126.0,8.3,452600.0,NEAR BAY").read_bytes()
    routes["/bad.csv"] = (200, body + b"x", None)
    routes["/good.csv"] = (200, body, None)
    monkeypatch.setattr(housing, "SHA256", hashlib.sha256(body).hexdigest())
    monkeypatch.delenv("BP_PARITY_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found = housing.find_housing(mirrors=(f"{url}/missing.csv", f"{url}/bad.csv", f"{url}/good.csv"))
    assert found.read_bytes() == body and [p.name for p in found.parent.iterdir()] == ["housing.csv"]
    data = housing.read_housing(found)
    assert len(data) == 1 and np.isnan(data.numeric[0, 4])


def test_the_data_term_is_twice_the_mean_squared_error_and_sgd_lowers_it(housing_data):
    from impl import linear_regression

    train, test = housing.split(len(housing_data))
    (X, y), _, _ = housing.prepare(housing_data, train, test)
    model = linear_regression.LinearRegression.zeros(X.shape[1])
    assert np.isclose(2 * model.loss(X, y), np.mean(y * y))
    losses = linear_regression.sgd(model, X, y, lr=0.05, epochs=2, batch_size=64, rng=np.random.default_rng(0))
    assert len(losses) == 2 * int(np.ceil(len(X) / 64)) and model.loss(X, y) < 0.3 < losses[0]


def test_one_category_is_dropped_so_the_objective_is_strongly_convex(housing_data):
    train, test = housing.split(len(housing_data))
    (X, y), _, _ = housing.prepare(housing_data, train, test)
    c = convergence.constants(X, y)
    assert c.mu > 1e-5 and np.isclose(c.L, np.linalg.eigvalsh(convergence.design(X).T @ convergence.design(X)
                                                             / len(X))[-1])
    # with all five indicator columns beside a bias the Gram matrix is singular: mu would be 0, no linear rate
    every = np.hstack([X, (housing_data.ocean[train] == housing.CATEGORIES[0])[:, None].astype(float)])
    assert convergence.constants(every, y).mu < 1e-12


@pytest.mark.parametrize("rule", ["1/L", "2/(mu+L)"])
def test_gradient_descent_keeps_its_guarantee_at_every_step_on_the_real_data(housing_data, rule):
    train, test = housing.split(len(housing_data))
    (X, y), _, _ = housing.prepare(housing_data, train, test)
    c = convergence.constants(X, y)
    run = convergence.gradient_descent(protocol.load("impl"), X, y, c, rule, steps=2000)
    assert run.first_violation is None
    assert run.measured[-1] < run.measured[0] * 0.5  # it converges, not only stays under the bound
    if rule == "2/(mu+L)":  # for a quadratic the slowest direction contracts at exactly (kappa - 1)/(kappa + 1)
        assert abs(run.measured_rate() - run.rate) < 1e-6


def test_a_gradient_twice_too_long_breaks_the_guarantee(housing_data):
    """The stray factor 2 doubles every step: at 2/(mu + L) that is beyond 2/L for the stiffest direction, which
    then grows; the theorem is broken within a few steps (and the case table blames the gradient)."""
    train, test = housing.split(len(housing_data))
    (X, y), _, _ = housing.prepare(housing_data, train, test)
    c = convergence.constants(X, y)
    mutant = protocol.load(str(MUTANTS / "linear_regression_gradient_doubled.py"))
    run = convergence.gradient_descent(mutant, X, y, c, "2/(mu+L)", steps=50)
    assert run.first_violation is not None and run.first_violation < 10


def test_the_command_prints_both_rates_and_draws_them(tmp_path, capsys, housing_data):
    assert main(["convergence", "--steps", "300", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("bound held at every step") == 2 and "kappa = " in out
    assert (tmp_path / "convergence.png").stat().st_size > 10_000
