"""California housing (1990 census, the Hands-On ML variant): the reader, a fixed split, and the features.

housing.csv (20,640 block groups; see the data folder's SOURCE.md) is found as `data_dir`/housing.csv, then
$BP_PARITY_DATA/california-housing, then the user cache ($XDG_CACHE_HOME/bp-parity/california-housing, else
~/.cache/bp-parity/california-housing), and is otherwise downloaded into the cache from a public mirror, its
SHA-256 checked before it is moved into place.

prepare() turns a split into a design matrix, using the training rows' statistics only:
- the 207 missing total_bedrooms are filled with the median of the training rows' total_bedrooms;
- the eight numeric columns are standardised with the training rows' mean and standard deviation;
- ocean_proximity is one-hot encoded with the first category ("<1H OCEAN") dropped, so the four indicator columns
  and a bias are not collinear (the Gram matrix stays positive definite: the least-squares objective is strongly
  convex, which the convergence theory needs);
- the target, median_house_value, is in units of 100,000 USD.
"""

import csv
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bp_parity.impl.download import cache_dir as user_cache
from bp_parity.impl.download import fetch_verified, folder_made

FILE = "housing.csv"
SHA256 = "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e"
MIRRORS = (
    "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv",
    "https://raw.githubusercontent.com/ageron/handson-ml/master/datasets/housing/housing.csv",
)
NUMERIC = ("longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms", "population",
           "households", "median_income")
TARGET = "median_house_value"
CATEGORICAL = "ocean_proximity"
COLUMNS = NUMERIC + (TARGET, CATEGORICAL)
CATEGORIES = ("<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN")
TARGET_UNIT = 100_000.0


class HousingError(ValueError):
    """housing.csv missing, damaged, or not the file it claims to be; the message says which and where."""


@dataclass(frozen=True)
class Housing:
    numeric: np.ndarray  # (N, 8) float64, NaN where a value is missing
    ocean: np.ndarray  # (N,) the ocean_proximity category of each row
    target: np.ndarray  # (N,) median_house_value in USD

    def __len__(self):
        return len(self.target)


def read_housing(path):
    """The rows of housing.csv; HousingError naming the line of anything it cannot read."""
    path = Path(path)
    numeric, ocean, target = [], [], []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.reader(f)
            header = next(rows, None)
            if tuple(header or ()) != COLUMNS:
                raise HousingError(f"{path}: header {header} is not the expected columns {list(COLUMNS)}")
            for line, row in enumerate(rows, start=2):
                if len(row) != len(COLUMNS):
                    raise HousingError(f"{path}:{line}: {len(row)} fields, expected {len(COLUMNS)}")
                try:
                    values = [float(v) if v != "" else np.nan for v in row[:len(NUMERIC) + 1]]
                except ValueError as error:
                    raise HousingError(f"{path}:{line}: {error}") from None
                if np.isnan(values[-1]):
                    raise HousingError(f"{path}:{line}: no {TARGET}")
                if row[-1] not in CATEGORIES:
                    raise HousingError(f"{path}:{line}: {CATEGORICAL} {row[-1]!r} is not one of {list(CATEGORIES)}")
                numeric.append(values[:-1])
                target.append(values[-1])
                ocean.append(row[-1])
    except (OSError, UnicodeDecodeError) as error:
        raise HousingError(f"{path}: cannot read: {error}") from None
    if not target:
        raise HousingError(f"{path}: no rows")
    return Housing(np.array(numeric, dtype=np.float64), np.array(ocean), np.array(target, dtype=np.float64))


def cache_dir():
    return user_cache() / "california-housing"


def find_housing(data_dir=None, download=True, mirrors=MIRRORS, timeout=30):
    """The path of housing.csv, by the search order in the module docstring."""
    if data_dir is not None:
        path = Path(data_dir) / FILE
        if path.is_file():
            return path
        raise HousingError(f"{data_dir} holds no {FILE} (--data-dir names the folder that holds it)")
    tried = []
    env = os.environ.get("BP_PARITY_DATA")
    if env:
        path = Path(env) / "california-housing" / FILE
        if path.is_file():
            return path
        tried.append(f"$BP_PARITY_DATA/california-housing = {path.parent}")
    cached = cache_dir() / FILE
    if cached.is_file():
        return cached
    tried.append(f"the cache {cached.parent}")
    by_hand = (f"Put {FILE} (see the data folder's SOURCE.md) into {cached.parent}, into a folder given as --data-dir, "
               "or into $BP_PARITY_DATA/california-housing.")
    if not download:
        raise HousingError(f"{FILE} not found in " + "; ".join(tried) + ". " + by_hand)
    failures = []
    with folder_made(cached.parent):  # a failed download leaves no empty folder behind
        for url in mirrors:
            try:
                fetch_verified(url, cached, SHA256, HousingError, timeout=timeout)
                return cached
            except (OSError, urllib.error.URLError, HousingError) as error:
                failures.append(f"{url}: {error}")
        raise HousingError(f"could not obtain {FILE}. Tried:\n  " + "\n  ".join(tried + failures) + "\n" + by_hand)


def load_housing(data_dir=None, download=True):
    return read_housing(find_housing(data_dir, download))


def split(count, test_fraction=0.2, seed=0):
    """(train, test) row indices: a shuffle by default_rng([seed, 2]), the last test_fraction of it for testing."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, not {test_fraction}")
    order = np.random.default_rng([seed, 2]).permutation(count)
    cut = count - int(round(count * test_fraction))
    return np.sort(order[:cut]), np.sort(order[cut:])


def features(housing, rows, statistics):
    """The design matrix of `rows` under `statistics` (from fit_statistics on the training rows)."""
    numeric = housing.numeric[rows].copy()
    column = NUMERIC.index("total_bedrooms")
    missing = np.isnan(numeric[:, column])
    numeric[missing, column] = statistics["total_bedrooms_median"]
    scaled = (numeric - statistics["mean"]) / statistics["std"]
    onehot = (housing.ocean[rows, None] == np.array(CATEGORIES[1:])[None, :]).astype(np.float64)
    return np.hstack([scaled, onehot])


def fit_statistics(housing, train):
    """The training rows' median total_bedrooms (over the rows that have one), and the mean and standard deviation
    of every numeric column after filling the missing values with it."""
    numeric = housing.numeric[train].copy()
    column = NUMERIC.index("total_bedrooms")
    median = float(np.nanmedian(numeric[:, column]))
    numeric[np.isnan(numeric[:, column]), column] = median
    std = numeric.std(axis=0)
    if np.any(std == 0):
        raise HousingError(f"a numeric column is constant over the training rows: {[NUMERIC[i] for i in np.flatnonzero(std == 0)]}")
    return {"total_bedrooms_median": median, "mean": numeric.mean(axis=0), "std": std}


def prepare(housing, train, test, dtype=np.float64):
    """((X_train, y_train), (X_test, y_test), names): features by the module docstring's rules, the target in units
    of 100,000 USD, every statistic from the training rows."""
    statistics = fit_statistics(housing, train)
    names = NUMERIC + tuple(f"{CATEGORICAL}={c}" for c in CATEGORIES[1:])
    return ((features(housing, train, statistics).astype(dtype), (housing.target[train] / TARGET_UNIT).astype(dtype)),
            (features(housing, test, statistics).astype(dtype), (housing.target[test] / TARGET_UNIT).astype(dtype)),
            names)
