"""MovieLens: 100K's canonical splits (u1..u5 .base/.test) and the small "latest" set (ml-latest-small), read from
$BP_PARITY_DATA/<name>, then the user cache ($XDG_CACHE_HOME/bp-parity/<name>, else ~/.cache/bp-parity/<name>).
MovieLens is never committed here, and its licence asks that it be obtained from GroupLens: this reader does not
download it.

100K: each file has one rating a line, `user<TAB>item<TAB>rating<TAB>timestamp`, ids from 1; read_split gives X (n, 2)
of 0-based (user, item) indices and y (n,) ratings, with 943 users and 1,682 items.  ml-latest-small: ratings.csv,
`userId,movieId,rating,timestamp` under one header line, half stars; read_latest_small numbers its users and movies
from 0 in the order of their ids.
"""

import os
from pathlib import Path

import numpy as np

USERS, ITEMS = 943, 1682


class MovieLensError(ValueError):
    """The data missing or damaged; the message says where it looked."""


def _find(name, marker, page, data_dir=None):
    candidates = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("BP_PARITY_DATA"):
        candidates.append(Path(os.environ["BP_PARITY_DATA"]) / name)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates.append(Path(base) / "bp-parity" / name)
    for folder in candidates:
        if (folder / marker).is_file():
            return folder
    raise MovieLensError(f"MovieLens {name} not found in " + "; ".join(str(c) for c in candidates) + f". Download "
                         f"{name}.zip from {page} and unpack it into one of them, or set BP_PARITY_DATA to the folder "
                         f"holding {name}/")


def find_ml100k(data_dir=None):
    return _find("ml-100k", "u1.base", "https://grouplens.org/datasets/movielens/100k/", data_dir)


def read_latest_small(data_dir=None):
    """(X, y, users, items) of ml-latest-small's ratings.csv: 100,836 ratings of 610 users on 9,724 movies."""
    path = _find("ml-latest-small", "ratings.csv", "https://grouplens.org/datasets/movielens/latest/",
                 data_dir) / "ratings.csv"
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            header = handle.readline().strip()
            if header != "userId,movieId,rating,timestamp":
                raise ValueError(f"the header is {header[:60]!r}, not userId,movieId,rating,timestamp")
            table = np.loadtxt(handle, dtype=np.float64, delimiter=",", ndmin=2)
    except (OSError, ValueError) as error:
        raise MovieLensError(f"{path}: cannot read: {error}") from None
    if table.shape[1] != 4 or len(table) == 0 or table[:, :2].min() < 1 or not (
            (table[:, 2] >= 0.5) & (table[:, 2] <= 5)).all():
        raise MovieLensError(f"{path}: not userId,movieId,rating,timestamp rows with ids from 1 and ratings 0.5..5")
    user_ids, users = np.unique(table[:, 0].astype(np.int64), return_inverse=True)
    item_ids, items = np.unique(table[:, 1].astype(np.int64), return_inverse=True)
    return np.stack([users, items], axis=1).astype(np.int64), table[:, 2], len(user_ids), len(item_ids)


def read_split(name, data_dir=None):
    """(X, y) of one file: name like "u1.base" or "u3.test"."""
    path = find_ml100k(data_dir) / name
    try:
        table = np.loadtxt(path, dtype=np.int64, delimiter="\t", ndmin=2)
    except (OSError, ValueError) as error:
        raise MovieLensError(f"{path}: cannot read: {error}") from None
    if table.shape[1] != 4 or table[:, :2].min() < 1 or table[:, 0].max() > USERS or table[:, 1].max() > ITEMS:
        raise MovieLensError(f"{path}: not user<TAB>item<TAB>rating<TAB>timestamp rows within {USERS} users and "
                             f"{ITEMS} items")
    return table[:, :2] - 1, table[:, 2].astype(np.float64)
