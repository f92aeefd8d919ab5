"""One training step of MultiLayerNetExtend (five hidden layers of 100, batch norm, dropout 0.2, weight decay 0.1),
float32, batch 100: impl against its twin (reference.run.network.NetworkTwin.composed), one thread each.

    python benchmarks/deep_step_speed.py [--steps 300] [--repeats 5] [--dtype float32]

Each timed run is --steps steps of gradient and SGD update on MNIST batches (the twin: its composed forward,
autograd backward and torch.optim.SGD step); prints the median milliseconds per step of --repeats runs of each
side, the ratio impl / twin, and the target: impl no slower than the twin (ratio at most 1).
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

from bp_parity.impl.mnist import load_mnist  # noqa: E402
from bp_parity.reference.run import training_parity  # noqa: E402
from bp_parity.reference.run.network import NetworkTwin  # noqa: E402
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.base import streams
from bp_parity.reference.base.threads import one_thread_each  # noqa: E402

TARGET = 1.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"784-100x5-10 MultiLayerNetExtend, {args.steps} steps of batch 100, {args.dtype}, one thread per side, "
          f"median of {args.repeats} runs\n", flush=True)
    (x, t), _ = load_mnist(dtype=args.dtype, download=False)
    batches = training_parity.batch_indices(0, len(x), args.steps, 100)
    impl = protocol.load("impl")
    times = {"impl": [], "twin": []}
    with one_thread_each():
        for repeat in range(args.repeats):
            network = registry.piece("MultiLayerNetExtend").network.trained(impl, args.dtype, 0)
            twin = NetworkTwin.composed(network)
            optimizer = torch.optim.SGD(list(twin.params.values()), lr=0.01)
            with streams.GlobalGenerator(repeat):
                started = time.perf_counter()
                for index in batches:
                    grads = network.gradient(x[index], t[index])
                    for key, param in network.params.items():
                        param -= 0.01 * grads[key]
                times["impl"].append(time.perf_counter() - started)
                state = np.random.get_state()
                started = time.perf_counter()
                for index in batches:
                    twin.backward_loss(x[index], t[index], state)
                    optimizer.step()
                times["twin"].append(time.perf_counter() - started)
            print(f"run {repeat + 1}/{args.repeats}: impl {1000 * times['impl'][-1] / args.steps:.2f} ms/step, "
                  f"twin {1000 * times['twin'][-1] / args.steps:.2f} ms/step", flush=True)
    impl_ms = 1000 * statistics.median(times["impl"]) / args.steps
    twin_ms = 1000 * statistics.median(times["twin"]) / args.steps
    ratio = impl_ms / twin_ms
    print(f"\nmedian: impl {impl_ms:.2f} ms/step, twin {twin_ms:.2f} ms/step, ratio impl/twin {ratio:.2f} "
          f"(target at most {TARGET:g}: {'met' if ratio <= TARGET else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
