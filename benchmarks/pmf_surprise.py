"""PMF by per-rating SGD (impl) beside the Surprise library's SVD on MovieLens 100K's five canonical splits.

    pip install scikit-surprise==1.1.5     # not a dependency of the project: this benchmark's alone
    python benchmarks/pmf_surprise.py [--splits u1,u2,u3,u4,u5] [--epochs 60]

Surprise's SVD is the same algorithm as impl.pmf.sgd with biases (Funk's per-rating rule, priors applied at every
visit, factors from N(0, 0.1^2), biases from 0), so the two are run twice each: with Surprise's defaults (100 factors,
20 epochs, lr 0.005, reg 0.02) and with the tuned hyper-parameters of impl/train_pmf.py (100 factors, 60 epochs, lr
0.007, reg 0.1).  Both train on uN.base and are scored on uN.test; printed: each split's test RMSE, the means and
standard deviations side by side, the seconds per epoch of each.  The anchor: Surprise's published 5-fold figure for
SVD on ml-100k, 0.934 (its folds are random, not u1..u5).
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl import movielens  # noqa: E402
from bp_parity.impl.pmf import PMF, sgd  # noqa: E402
from bp_parity.impl.train_pmf import SURPRISE_SVD_RMSE, TARGET_RMSE, init_rng, order_rng  # noqa: E402
from bp_parity.reference.base.threads import one_thread_each  # noqa: E402

SETTINGS = {"defaults": {"factors": 100, "epochs": 20, "lr": 0.005, "reg": 0.02},
            "tuned": {"factors": 100, "epochs": 60, "lr": 0.007, "reg": 0.1}}


def run_impl(train, test, h, seed=0):
    (X, y), (X_test, y_test) = train, test
    y = y.astype(np.float32)
    model = PMF.random(movielens.USERS, movielens.ITEMS, h["factors"], init_rng(seed), std=0.1, biases=True,
                       dtype=np.float32, lam_u=h["reg"], lam_v=h["reg"], lam_b=h["reg"], mean=float(y.mean()))
    started = time.perf_counter()
    sgd(model, X, y, h["lr"], h["epochs"], order_rng(seed))
    return model.rmse(X_test, y_test.astype(np.float32)), (time.perf_counter() - started) / h["epochs"]


def run_surprise(name, h, folder, seed=0):
    from surprise import SVD, Dataset, Reader, accuracy

    reader = Reader(line_format="user item rating timestamp", sep="\t", rating_scale=(1, 5))
    data = Dataset.load_from_folds([(str(folder / f"{name}.base"), str(folder / f"{name}.test"))], reader)
    from surprise.model_selection import PredefinedKFold

    trainset, testset = next(PredefinedKFold().split(data))
    algorithm = SVD(n_factors=h["factors"], n_epochs=h["epochs"], lr_all=h["lr"], reg_all=h["reg"],
                    random_state=seed)
    started = time.perf_counter()
    algorithm.fit(trainset)
    seconds = (time.perf_counter() - started) / h["epochs"]
    return accuracy.rmse(algorithm.test(testset), verbose=False), seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", default="u1,u2,u3,u4,u5")
    parser.add_argument("--epochs", type=int, help="override both settings' epochs (a quick look)")
    args = parser.parse_args(argv)
    try:
        import surprise
    except ImportError:
        print("error: this benchmark needs the Surprise library: pip install scikit-surprise==1.1.5", file=sys.stderr)
        return 2
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, surprise {surprise.__version__}; impl in float32 on one thread", flush=True)
    folder = movielens.find_ml100k()
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    rows = []
    with one_thread_each():
        for label, h in SETTINGS.items():
            h = dict(h, epochs=args.epochs or h["epochs"])
            for name in splits:
                train = movielens.read_split(f"{name}.base")
                test = movielens.read_split(f"{name}.test")
                ours, ours_s = run_impl(train, test, h)
                theirs, theirs_s = run_surprise(name, h, folder)
                rows.append((label, name, ours, theirs, ours_s, theirs_s))
                print(f"{label} {name}: impl {ours:.4f} ({ours_s:.3f} s/epoch), Surprise SVD {theirs:.4f} "
                      f"({theirs_s:.3f} s/epoch)", flush=True)
    print("\n| hyper-parameters | impl mean (sd) | Surprise SVD mean (sd) | impl s/epoch | Surprise s/epoch |")
    print("| --- | --- | --- | --- | --- |")
    for label, h in SETTINGS.items():
        mine = [r for r in rows if r[0] == label]
        ours, theirs = np.array([r[2] for r in mine]), np.array([r[3] for r in mine])
        sd = (lambda a: float(np.std(a, ddof=1)) if len(a) > 1 else 0.0)
        print(f"| {label}: {h['factors']} factors, {args.epochs or h['epochs']} epochs, lr {h['lr']}, reg {h['reg']} | "
              f"{ours.mean():.4f} ({sd(ours):.4f}) | {theirs.mean():.4f} ({sd(theirs):.4f}) | "
              f"{np.median([r[4] for r in mine]):.3f} | {np.median([r[5] for r in mine]):.3f} |")
    print(f"\nanchors: Surprise's published 5-fold SVD {SURPRISE_SVD_RMSE}; target {TARGET_RMSE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
