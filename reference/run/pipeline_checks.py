"""The housing features, checked against the harness's own computation of the documented rules.

impl.housing.prepare(housing, train, test) is data preparation, not a gradient, but it decides what the gradient
sees, and its classic bug leaks: statistics fitted on rows that include the test rows.  The harness draws a small
table of its own (stream "housing table": eight numeric columns of different scales and offsets, a few missing
total_bedrooms in the training and the test rows, the five ocean_proximity categories, a target in USD) and
computes what the rules say (impl/housing.py's docstring): the training rows' median fills every missing
total_bedrooms, every numeric column is standardised with the training rows' mean and standard deviation (ddof 0,
after the fill), the categories other than the first become indicator columns, the target is divided by 100,000.
Compared within the float64 twin bound: X and y of the training and of the test rows.
"""

from dataclasses import dataclass

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, NotRun, Oracle, Verdict

CATEGORIES = ("<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN")
BEDROOMS = 4  # total_bedrooms' column among the eight numeric ones


@dataclass(frozen=True)
class Table:
    numeric: np.ndarray
    ocean: np.ndarray
    target: np.ndarray

    def __len__(self):
        return len(self.target)


def draw_table(seed, rows=60):
    rng = streams.rng(seed, "housing table")
    numeric = rng.normal(size=(rows, 8)) * np.geomspace(0.5, 2000.0, 8) + np.linspace(-120.0, 3000.0, 8)
    numeric[rng.choice(rows, size=6, replace=False), BEDROOMS] = np.nan
    ocean = np.array(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), size=rows)]
    target = rng.uniform(20_000, 500_000, size=rows)
    order = rng.permutation(rows)
    return Table(numeric, ocean, target), np.sort(order[:45]), np.sort(order[45:])


def expected_features(table, train, test):
    numeric = table.numeric.copy()
    median = np.median(numeric[train, BEDROOMS][~np.isnan(numeric[train, BEDROOMS])])
    numeric[np.isnan(numeric[:, BEDROOMS]), BEDROOMS] = median
    mean = numeric[train].sum(axis=0) / len(train)
    std = np.sqrt(((numeric[train] - mean) ** 2).sum(axis=0) / len(train))

    def rows(index):
        indicators = np.stack([table.ocean[index] == c for c in CATEGORIES[1:]], axis=1).astype(np.float64)
        return np.hstack([(numeric[index] - mean) / std, indicators]), table.target[index] / 100_000.0

    return {"X_train": rows(train)[0], "y_train": rows(train)[1], "X_test": rows(test)[0], "y_test": rows(test)[1]}


def check(impl, seed, reproduce=""):
    """Every comparison of prepare_housing on the drawn table (a NotRun where it raises)."""
    table, train, test = draw_table(seed)
    context = {name: Context(layer="prepare_housing", tensor=name, oracle=Oracle.DOCUMENTED_RULES, dtype="float64",
                             seed=seed, case="drawn housing table", reproduce=reproduce)
               for name in ("X_train", "y_train", "X_test", "y_test")}
    try:
        (X, y), (X_test, y_test), _ = impl.require("prepare_housing")(table, train, test)
    except Exception as error:  # noqa: BLE001 - the implementation's failure is reported, not raised
        return [NotRun(context["X_train"], f"raised {type(error).__name__}: {error}", Verdict.RAISED)]
    actual = {"X_train": X, "y_train": y, "X_test": X_test, "y_test": y_test}
    expected = expected_features(table, train, test)
    tol = tolerance.twin("float64")
    return [compare(np.asarray(actual[k]), expected[k], tol, context[k]) for k in expected]


def check_housing(impl, dtype, seed, reproduce):
    """The routine prepare_housing on any implementation (registry.Routine): float64, the documented rules."""
    return check(impl, seed, reproduce)
