"""Side-by-side training: `python -m reference train-parity`'s run against impl and twin trained alone.

    python benchmarks/train_parity_speed.py [--steps 10000] [--repeats 3] [--dtype float32]

Times, in this process, with one BLAS and one torch thread (reference.base.threads): impl's
training alone and the twin's training alone (benchmarks/train_speed.py's loops), and
reference.run.training_parity.run, which trains both side by side, compares them every step and,
past the float32 horizon, also runs the float64 twin that measures rounding drift (no
evaluation inside any timed run).  Prints the medians of --repeats runs and the ratio
side-by-side / (impl + twin); target: at most 2.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bp_parity.impl.mnist import load_mnist  # noqa: E402
from bp_parity.reference.pieces import protocol  # noqa: E402
from bp_parity.reference.report import tolerance
from bp_parity.reference.run import training_parity
from bp_parity.reference.pieces.networks import initial_weights  # noqa: E402
from bp_parity.reference.base.threads import one_thread_each  # noqa: E402
from train_speed import blas_kernels, train_impl, train_twin  # noqa: E402

TARGET = 2.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)

    numpy_blas, torch_blas = blas_kernels()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}; "
          f"numpy BLAS: {numpy_blas}; torch BLAS: {torch_blas.split(',')[0]}")
    print(f"784-50-10, {args.steps} steps of batch 100, {args.dtype}, one thread per side, median of "
          f"{args.repeats} runs; step-exact over {tolerance.training_claim('TwoLayerNet').exact_steps(args.dtype, args.steps)} steps\n",
          flush=True)
    data = load_mnist(dtype=args.dtype, download=False)
    (x, t), _ = data
    weights = initial_weights(0, x.shape[1], 50, 10, dtype=args.dtype)
    batches = training_parity.batch_indices(0, len(x), args.steps, 100)
    impl = protocol.load("impl")
    times = {"impl alone": [], "twin alone": [], "side by side": []}
    for repeat in range(args.repeats):
        with one_thread_each():
            times["impl alone"].append(train_impl(x, t, weights, batches, 0.1))
            times["twin alone"].append(train_twin(x, t, weights, batches, 0.1))
        started = time.perf_counter()
        result = training_parity.run(impl, data, dtype=args.dtype, steps=args.steps, seed=0)
        times["side by side"].append(time.perf_counter() - started)
        assert result.passed, "the side-by-side run did not keep its claim"
        print(f"run {repeat + 1}/{args.repeats}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
              file=sys.stderr, flush=True)
    median = {k: statistics.median(v) for k, v in times.items()}
    for name, seconds in median.items():
        print(f"{name:<13} {seconds:7.2f} s")
    ratio = median["side by side"] / (median["impl alone"] + median["twin alone"])
    print(f"\nside by side / (impl alone + twin alone) = {ratio:.2f} (target <= {TARGET:g}: "
          f"{'met' if ratio <= TARGET else 'MISSED'})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
