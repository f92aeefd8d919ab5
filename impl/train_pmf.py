"""Train PMF on MovieLens by per-rating SGD (or full-batch gradient descent) and print the test RMSE.

    python impl/train_pmf.py [--dataset ml-100k|ml-latest-small] [--splits u1,u2,u3,u4,u5] [--method sgd|gd]
        [--factors 100] [--lr 0.007] [--lam 0.1] [--lam-b 0.1] [--epochs 60] [--plain] [--seed 0]
        [--dtype float32] [--data-dir DIR]

ml-100k: one model per canonical split (u1..u5: train on uN.base, test on uN.test), then the mean and the spread of
the test RMSEs next to the anchors (the Surprise library's published 5-fold RMSE of its SVD, 0.934).  ml-latest-small:
one fixed 80/20 split of its ratings by --seed.  The model has user and item biases around the training ratings'
mean unless --plain; its factors start normal with standard deviation 0.1, from --seed.  Every epoch prints the
training RMSE met along the way (each rating's error before its own step), the test RMSE and the seconds so far.
The defaults are the tuned ones docs/models.md reports.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/train_pmf.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl import movielens  # noqa: E402
from bp_parity.impl.pmf import PMF, gd, sgd  # noqa: E402

SURPRISE_SVD_RMSE = 0.934  # the Surprise library's published 5-fold cross-validated RMSE of SVD on ml-100k
TARGET_RMSE = 0.925


def init_rng(seed):
    """The generator of the initial factors."""
    return np.random.default_rng([seed, 6])


def order_rng(seed):
    """The generator whose permutations order each epoch's ratings (the twin replays it)."""
    return np.random.default_rng([seed, 7])


def latest_small_split(count, seed, test_fraction=0.2):
    order = np.random.default_rng([seed, 5]).permutation(count)
    cut = count - int(round(count * test_fraction))
    return order[:cut], order[cut:]


class Diverged(ArithmeticError):
    """The objective left the finite numbers: the step is too long for these data."""


def train_one(name, train, test, shape, args, log=print):
    (X, y), (X_test, y_test) = train, test
    dtype = np.dtype(args.dtype)
    y, y_test = y.astype(dtype), y_test.astype(dtype)
    model = PMF.random(*shape, args.factors, init_rng(args.seed), std=0.1, biases=not args.plain, dtype=dtype,
                       lam_u=args.lam, lam_v=args.lam, lam_b=args.lam_b, mean=0.0 if args.plain else y.mean())
    started = time.perf_counter()

    def on_epoch(epoch, model, measured):
        if not np.isfinite(measured):
            raise Diverged(f"{name}: the {'squared errors' if args.method == 'sgd' else 'loss'} became {measured} "
                           f"in epoch {epoch + 1}: --lr {args.lr:g} is too long a step; try a smaller one")
        train_rmse = np.sqrt(measured / len(X)) if args.method == "sgd" else model.rmse(X, y)
        log(f"{name} epoch {epoch + 1:3d}/{args.epochs}: train RMSE {train_rmse:.4f}, test RMSE "
            f"{model.rmse(X_test, y_test):.4f}, {time.perf_counter() - started:.1f} s", flush=True)

    with np.errstate(over="ignore", invalid="ignore"):  # a divergence is reported once, by on_epoch
        if args.method == "sgd":
            sgd(model, X, y, args.lr, args.epochs, order_rng(args.seed), on_epoch)
        else:
            gd(model, X, y, args.lr, args.epochs, on_epoch)
    return model.rmse(X_test, y_test)


def main(argv=None):
    p = argparse.ArgumentParser(description="PMF on MovieLens by per-rating SGD or full-batch gradient descent")
    p.add_argument("--dataset", choices=("ml-100k", "ml-latest-small"), default="ml-100k")
    p.add_argument("--splits", default="u1,u2,u3,u4,u5", help="ml-100k's splits to train on, comma-separated")
    p.add_argument("--method", choices=("sgd", "gd"), default="sgd")
    p.add_argument("--factors", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.007)
    p.add_argument("--lam", type=float, default=0.1, help="the weight of the factors' priors (users and items)")
    p.add_argument("--lam-b", type=float, default=0.1, help="the weight of the biases' prior")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--plain", action="store_true", help="no biases and no global mean: PMF as first published")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--data-dir", help="the folder holding the dataset's files")
    args = p.parse_args(argv)
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    bad = [s for s in splits if s not in ("u1", "u2", "u3", "u4", "u5", "ua", "ub")]
    if args.epochs < 1 or args.factors < 1 or not args.lr > 0 or args.lam < 0 or args.lam_b < 0 or bad or not splits:
        print("error: --epochs and --factors must be positive, --lr greater than 0, --lam and --lam-b at least 0, "
              f"--splits among u1..u5, ua, ub{f' (not {bad})' if bad else ''}", file=sys.stderr)
        return 2
    print(f"PMF by {args.method}: {args.factors} factors, lr {args.lr:g}, lam {args.lam:g}, lam_b {args.lam_b:g}, "
          f"{args.epochs} epochs, {'plain' if args.plain else 'biased'}, {args.dtype}, seed {args.seed}", flush=True)
    try:
        if args.dataset == "ml-latest-small":
            X, y, users, items = movielens.read_latest_small(args.data_dir)
            train, test = latest_small_split(len(X), args.seed)
            rmse = train_one("ml-latest-small", (X[train], y[train]), (X[test], y[test]), (users, items), args)
            print(f"test RMSE: {rmse:.4f} on ml-latest-small ({len(train):,} training and {len(test):,} test ratings)")
            return 0
        rmses = []
        for name in splits:
            train = movielens.read_split(f"{name}.base", args.data_dir)
            test = movielens.read_split(f"{name}.test", args.data_dir)
            rmses.append(train_one(name, train, test, (movielens.USERS, movielens.ITEMS), args))
            print(f"{name}: test RMSE {rmses[-1]:.4f}", flush=True)
    except movielens.MovieLensError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Diverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    spread = float(np.std(rmses, ddof=1)) if len(rmses) > 1 else 0.0
    print(f"test RMSE: {np.mean(rmses):.4f} mean over {', '.join(splits)} (standard deviation {spread:.4f}, "
          f"{min(rmses):.4f} to {max(rmses):.4f}); anchors: Surprise SVD {SURPRISE_SVD_RMSE} (its published 5-fold "
          f"figure), target {TARGET_RMSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
