"""PMF's seconds per epoch on MovieLens 100K's u1.base: the implementation against its twins, one thread each.

    python benchmarks/pmf_speed.py [--epochs 3] [--twin-ratings 4000] [--factors 100] [--dtype float32]

Per-rating SGD: impl.pmf.sgd (the ratings in blocks that share no user and no item, each block's steps at once;
provably the sequential rule), against the twin of reference.run.pmf_parity (one rating at a time, autograd of the
rating's term, as tests/test_pmf.py runs it) and against the same rule as a plain Python loop over the ratings in
NumPy.  The two sequential loops are timed on the first --twin-ratings ratings of an epoch and scaled to the 80,000
(they cost the same per rating).  Full-batch gradient descent: impl.pmf.gd against autograd of the twin's loss and
torch.optim.SGD.  Medians of --epochs epochs; the target: impl no slower than the twin, for each method.
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl import movielens  # noqa: E402
from bp_parity.impl.pmf import PMF, gd, sgd  # noqa: E402
from bp_parity.reference.run import pmf_parity  # noqa: E402
from bp_parity.reference.pieces import models
from bp_parity.reference.base.threads import one_thread_each  # noqa: E402


def numpy_loop(model, X, y, lr, order):
    """The per-rating rule one rating at a time, as a hand-written loop reads."""
    p = model.params
    for index in order:
        u, i = X[index]
        Uu, Vi = p["U"][u].copy(), p["V"][i]
        e = y[index] - (model.mean + p["bu"][u] + p["bi"][i] + Uu @ Vi)
        p["U"][u] += lr * (e * Vi - model.lam_u * Uu)
        p["V"][i] += lr * (e * Uu - model.lam_v * Vi)
        p["bu"][u] += lr * (e - model.lam_b * p["bu"][u])
        p["bi"][i] += lr * (e - model.lam_b * p["bi"][i])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--twin-ratings", type=int, default=4000)
    parser.add_argument("--factors", type=int, default=100)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__}")
    X, y = movielens.read_split("u1.base")
    y = y.astype(args.dtype)
    print(f"u1.base: {len(X):,} ratings, {args.factors} factors, biased, {args.dtype}, one thread per side, median of "
          f"{args.epochs} epochs\n", flush=True)
    settings = {"lam_u": 0.1, "lam_v": 0.1, "lam_b": 0.1, "mean": float(y.mean())}

    def fresh():
        return PMF.random(movielens.USERS, movielens.ITEMS, args.factors, np.random.default_rng(0), biases=True,
                          dtype=args.dtype, **settings)

    seconds = {}
    with one_thread_each():
        model, times = fresh(), []
        for epoch in range(args.epochs):
            started = time.perf_counter()
            sgd(model, X, y, 0.007, 1, np.random.default_rng(epoch))
            times.append(time.perf_counter() - started)
            print(f"sgd epoch {epoch + 1}: impl {times[-1]:.3f} s", flush=True)
        seconds["sgd impl"] = statistics.median(times)
        order = np.random.default_rng(0).permutation(len(X))[:args.twin_ratings]
        model = fresh()
        started = time.perf_counter()
        numpy_loop(model, X, y, y.dtype.type(0.007), order)
        seconds["sgd numpy loop"] = (time.perf_counter() - started) * len(X) / len(order)
        leaves = {k: torch.from_numpy(v.copy()) for k, v in fresh().params.items()}
        started = time.perf_counter()
        pmf_parity.twin_sgd_epoch(leaves, X, torch.from_numpy(y), order, 0.007, settings)
        seconds["sgd twin"] = (time.perf_counter() - started) * len(X) / len(order)
        print(f"sgd, one rating at a time, scaled from {len(order):,} ratings: NumPy loop "
              f"{seconds['sgd numpy loop']:.2f} s, twin {seconds['sgd twin']:.2f} s an epoch", flush=True)

        model, times = fresh(), []
        for epoch in range(args.epochs):
            started = time.perf_counter()
            gd(model, X, y, 5e-4, 1)
            times.append(time.perf_counter() - started)
        seconds["gd impl"] = statistics.median(times)
        leaves = {k: torch.from_numpy(v.copy()).requires_grad_() for k, v in fresh().params.items()}
        optimizer = torch.optim.SGD(list(leaves.values()), lr=5e-4)
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        times = []
        for epoch in range(args.epochs):
            started = time.perf_counter()
            optimizer.zero_grad()
            models.pmf_loss(Xt, yt, leaves["U"], leaves["V"], settings["lam_u"], settings["lam_v"], leaves["bu"],
                           leaves["bi"], settings["lam_b"], settings["mean"]).backward()
            optimizer.step()
            times.append(time.perf_counter() - started)
        seconds["gd twin"] = statistics.median(times)
        print(f"gd: impl {seconds['gd impl']:.3f} s, twin {seconds['gd twin']:.3f} s an epoch\n", flush=True)

    print("| method | impl (s/epoch) | twin (s/epoch) | impl / twin |")
    print("| --- | --- | --- | --- |")
    for method in ("sgd", "gd"):
        ratio = seconds[f"{method} impl"] / seconds[f"{method} twin"]
        print(f"| {method} | {seconds[f'{method} impl']:.3f} | {seconds[f'{method} twin']:.3f} | {ratio:.3f} "
              f"(target 1: {'met' if ratio <= 1 else 'NOT met'}) |")
    print(f"\nper-rating SGD as a Python loop in NumPy: {seconds['sgd numpy loop']:.2f} s an epoch "
          f"({seconds['sgd numpy loop'] / seconds['sgd impl']:.0f} times the blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
