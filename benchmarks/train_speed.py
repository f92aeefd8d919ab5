"""Training speed: impl (NumPy) against its PyTorch twin, the textbook's 10,000 steps.

    python benchmarks/train_speed.py [--steps 10000] [--repeats 3] [--hidden 50]

Both sides train the same network (784-hidden-10, ReLU, SGD lr 0.1, batch 100)
from the same weights on the same batch sequence of real MNIST, with no
evaluation inside the timed loop.  Prints the machine, the versions, the BLAS
kernels, the median of --repeats runs per side, dtype and thread count (each
thread count in a fresh process), and the ratio impl / twin with each side at
its best thread count (target: at most 0.6 in float32).
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl.bp_two_layer_net import PARAMS, TwoLayerNet  # noqa: E402
from bp_parity.impl.mnist import load_mnist  # noqa: E402
from bp_parity.reference.pieces.networks import initial_weights, load_into_impl  # noqa: E402
from bp_parity.reference.run.network import NetworkTwin  # noqa: E402
from bp_parity.reference.run.training_parity import batch_indices  # noqa: E402

TARGET = 0.6


def train_impl(x, t, weights, batches, lr):
    net = TwoLayerNet(x.shape[1], weights["W1"].shape[1], 10, dtype=x.dtype)
    load_into_impl(net, weights)
    started = time.perf_counter()
    for index in batches:
        grads = net.gradient(x[index], t[index])
        for key in PARAMS:
            net.params[key] -= lr * grads[key]
    return time.perf_counter() - started


def train_twin(x, t, weights, batches, lr):
    twin = NetworkTwin.of("TwoLayerNet", weights)
    optimizer = torch.optim.SGD(list(twin.params.values()), lr=lr)
    xt, tt = torch.from_numpy(x), torch.from_numpy(t.astype(np.int64))
    started = time.perf_counter()
    for index in batches:
        i = torch.from_numpy(index)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(twin.logits(xt[i]), tt[i]).backward()
        optimizer.step()
    return time.perf_counter() - started


def blas_kernels():
    config = np.show_config(mode="dicts") if "mode" in np.show_config.__code__.co_varnames else {}
    blas = config.get("Build Dependencies", {}).get("blas", {})
    numpy_blas = f"{blas.get('name', '?')} {blas.get('version', '')} ({blas.get('openblas configuration', '')})"
    torch_blas = "MKL" if torch.backends.mkl.is_available() else "no MKL"
    return numpy_blas.strip(), torch_blas


def measure(steps, repeats, hidden, lr):
    """{dtype: (median impl seconds, median twin seconds)} in this process's thread settings."""
    results = {}
    for dtype in ("float32", "float64"):
        (x, t), _ = load_mnist(dtype=dtype, download=False)
        weights = initial_weights(0, x.shape[1], hidden, 10, dtype=dtype)
        batches = batch_indices(0, len(x), steps, 100)
        impl_times, twin_times = [], []
        for _ in range(repeats):
            impl_times.append(train_impl(x, t, weights, batches, lr))
            twin_times.append(train_twin(x, t, weights, batches, lr))
        results[dtype] = (statistics.median(impl_times), statistics.median(twin_times))
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--threads", default="1,2", help="BLAS/torch thread counts to measure (default 1,2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:  # one thread setting, fixed by the environment before numpy and torch loaded
        print(json.dumps(measure(args.steps, args.repeats, args.hidden, args.lr)))
        return 0

    numpy_blas, torch_blas = blas_kernels()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}")
    print(f"numpy BLAS: {numpy_blas}")
    print(f"torch BLAS: {torch_blas.split(',')[0]}")
    env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ}
    print(f"environment: {env or 'OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set'}")
    print(f"784-{args.hidden}-10, {args.steps} steps of batch 100, median of {args.repeats} runs; each thread "
          "count in a fresh process (OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS)\n")

    measured = {}
    for threads in [int(n) for n in args.threads.split(",")]:
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                   MKL_NUM_THREADS=str(threads))
        command = [sys.executable, __file__, "--worker", "--steps", str(args.steps), "--repeats", str(args.repeats),
                   "--hidden", str(args.hidden), "--lr", str(args.lr)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        measured[threads] = json.loads(done.stdout.strip().splitlines()[-1])

    rows = [("threads", "dtype", "impl (s)", "twin (s)", "impl / twin")]
    for threads, results in measured.items():
        for dtype, (impl_s, twin_s) in results.items():
            rows.append((str(threads), dtype, f"{impl_s:.2f}", f"{twin_s:.2f}", f"{impl_s / twin_s:.2f}"))
    best = {d: (min(m[d][0] for m in measured.values()), min(m[d][1] for m in measured.values()))
            for d in ("float32", "float64")}
    for dtype, (impl_s, twin_s) in best.items():
        rows.append(("best of each", dtype, f"{impl_s:.2f}", f"{twin_s:.2f}", f"{impl_s / twin_s:.2f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    ratio = best["float32"][0] / best["float32"][1]
    print(f"\nfloat32, each side at its best thread count: impl / twin = {ratio:.2f} "
          f"(target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'})")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
