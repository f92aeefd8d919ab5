"""MovieLens 100K's canonical splits (u1..u5 .base/.test), read from $BP_PARITY_DATA/ml-100k, then the user cache
($XDG_CACHE_HOME/bp-parity/ml-100k, else ~/.cache/bp-parity/ml-100k).  MovieLens is never committed here, and its
licence asks that it be obtained from GroupLens: this reader does not download it.

Each file has one rating a line, `user<TAB>item<TAB>rating<TAB>timestamp`, ids from 1; read_split gives X (n, 2) of
0-based (user, item) indices and y (n,) ratings, with 943 users and 1,682 items.
"""

import os
from pathlib import Path

import numpy as np

USERS, ITEMS = 943, 1682


class MovieLensError(ValueError):
    """The data missing or damaged; the message says where it looked."""


def find_ml100k(data_dir=None):
    candidates = [Path(data_dir)] if data_dir is not None else []
    if os.environ.get("BP_PARITY_DATA"):
        candidates.append(Path(os.environ["BP_PARITY_DATA"]) / "ml-100k")
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    candidates.append(Path(base) / "bp-parity" / "ml-100k")
    for folder in candidates:
        if (folder / "u1.base").is_file():
            return folder
    raise MovieLensError("MovieLens 100K not found in " + "; ".join(str(c) for c in candidates) + ". Download "
                         "ml-100k.zip from https://grouplens.org/datasets/movielens/100k/ and unpack it into one of "
                         "them, or set BP_PARITY_DATA to the folder holding ml-100k/")


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
