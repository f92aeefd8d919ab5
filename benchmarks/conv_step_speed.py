"""SimpleConvNet's training step and its Convolution layer alone: impl against its twin, one thread each.

    python benchmarks/conv_step_speed.py [--steps 200] [--repeats 5] [--dtype float32]

The step: gradient and Adam update of the textbook's SimpleConvNet (30 filters of 5x5, 2x2 pooling, 100 hidden
units) on MNIST batches of 100, as impl/train_convnet.py trains it; the twin composes the registry's twins of its
layers (reference.run.network.NetworkTwin.composed) and steps the textbook's Adam in torch (the registry's Adam
twin).  The layer: forward and backward (dx, dW, db) of Convolution on a batch of 100 images, against conv2d and
autograd.  Prints the median of --repeats runs of each side and the ratios; the targets: the step at most 1.5 times
the twin's, and 20 epochs (12,000 steps) inside 15 minutes (estimated from the step, evaluation not counted).
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
from bp_parity.reference.pieces import convolution, protocol, registry
from bp_parity.reference.base import streams
from bp_parity.reference.base.threads import one_thread_each  # noqa: E402

STEP_TARGET = 1.5
EPOCHS_TARGET_S = 15 * 60


def _median_ms(times, count):
    return 1000 * statistics.median(times) / count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    args = parser.parse_args(argv)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}, "
          f"numpy {np.__version__}, torch {torch.__version__}")
    print(f"SimpleConvNet, {args.steps} steps of batch 100 with Adam, {args.dtype}, one thread per side, median of "
          f"{args.repeats} runs\n", flush=True)
    (x, t), _ = load_mnist(dtype=args.dtype, flatten=False, download=False)
    batches = training_parity.batch_indices(0, len(x), args.steps, 100)
    impl = protocol.load("impl")
    hyper = registry.hyper("Adam")
    times = {"impl": [], "twin": [], "impl layer": [], "twin layer": []}
    layer_x = x[:100]
    with one_thread_each():
        for repeat in range(args.repeats):
            network = registry.piece("SimpleConvNet").network.trained(impl, args.dtype, 0)
            twin = NetworkTwin.composed(network)
            twin_optimizer = registry.piece("Adam").optimizer.twin(list(twin.params.values()), **hyper)
            optimizer = impl.require("Adam")(**hyper)
            state = np.random.get_state()
            started = time.perf_counter()
            for index in batches:
                optimizer.update(network.params, network.gradient(x[index], t[index]))
            times["impl"].append(time.perf_counter() - started)
            started = time.perf_counter()
            for index in batches:
                twin.backward_loss(x[index], t[index], state)
                twin_optimizer.step()
            times["twin"].append(time.perf_counter() - started)

            W, b = network.params["W1"], network.params["b1"]
            layer = impl.require("Convolution")(W, b)
            dout = streams.rng(repeat, "layer inputs").normal(size=(100, 30, 24, 24)).astype(args.dtype)
            started = time.perf_counter()
            for _ in range(args.steps):
                layer.forward(layer_x)
                layer.backward(dout)
            times["impl layer"].append(time.perf_counter() - started)
            tensors = [torch.from_numpy(a.copy()).requires_grad_(True) for a in (layer_x, W, b)]
            upstream = torch.from_numpy(dout)
            started = time.perf_counter()
            for _ in range(args.steps):
                for leaf in tensors:
                    leaf.grad = None
                convolution.convolution(*tensors).backward(upstream)
            times["twin layer"].append(time.perf_counter() - started)
            print(f"run {repeat + 1}/{args.repeats}: step impl {1000 * times['impl'][-1] / args.steps:.2f} ms, twin "
                  f"{1000 * times['twin'][-1] / args.steps:.2f} ms; Convolution impl "
                  f"{1000 * times['impl layer'][-1] / args.steps:.2f} ms, twin "
                  f"{1000 * times['twin layer'][-1] / args.steps:.2f} ms", flush=True)
    step = {side: _median_ms(times[side], args.steps) for side in times}
    ratio, layer_ratio = step["impl"] / step["twin"], step["impl layer"] / step["twin layer"]
    epochs = 12_000 * step["impl"] / 1000
    print(f"\nmedian step: impl {step['impl']:.2f} ms, twin {step['twin']:.2f} ms, ratio impl/twin {ratio:.2f} (target at "
          f"most {STEP_TARGET:g}: {'met' if ratio <= STEP_TARGET else 'NOT met'})")
    print(f"median Convolution forward and backward: impl {step['impl layer']:.2f} ms, twin {step['twin layer']:.2f} "
          f"ms, ratio {layer_ratio:.2f}")
    print(f"20 epochs (12,000 steps) at the impl's step: {epochs / 60:.1f} min (target under "
          f"{EPOCHS_TARGET_S // 60} min: {'met' if epochs <= EPOCHS_TARGET_S else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
