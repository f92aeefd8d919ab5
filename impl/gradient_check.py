"""The textbook's gradient check (ch05/gradient_check.py): numerical against backprop gradients.

    python impl/gradient_check.py [--seed 0] [--samples 3] [--data-dir DIR]   (or python -m impl.gradient_check)

prints, per parameter of TwoLayerNet, the mean absolute difference (the
textbook's `W1:...` lines) and the largest relative one, and exits 1 above
THRESHOLD.  numerical_gradient itself lives in impl/gradient.py and is
re-exported here.
"""

import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/gradient_check.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl.gradient import numerical_gradient  # noqa: E402

__all__ = ["numerical_gradient", "THRESHOLD"]

# Largest |backprop - numerical| allowed, relative to the largest |backprop| of the
# same parameter.  The difference quotient with h = 1e-4 is off by ~h^2 = 1e-8
# relative, and the textbook's loss carries a 1e-7 inside its log that backprop
# ignores (about 1e-7 / 0.1 = 1e-6 relative at the start): 1e-5 is above both
# and far below the O(1) error of a wrong derivative.
THRESHOLD = 1e-5


def _gradient_check(argv=None):
    import argparse

    from bp_parity.impl.bp_two_layer_net import PARAMS, TwoLayerNet
    from bp_parity.impl.mnist import MnistError, load_mnist

    parser = argparse.ArgumentParser(description="numerical against backprop gradients of TwoLayerNet")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    try:
        (x_train, t_train), _ = load_mnist(dtype=np.float64, data_dir=args.data_dir, download=False)
        x_batch, t_batch = x_train[: args.samples], t_train[: args.samples]
        print(f"on the first {args.samples} MNIST training images")
    except MnistError as error:
        print(f"{error}\nSo seeded random inputs stand in for the MNIST images.")
        x_batch, t_batch = rng.random((args.samples, 784)), rng.integers(0, 10, size=args.samples)

    network = TwoLayerNet(input_size=784, hidden_size=50, output_size=10, rng=rng)
    grad_numerical = network.numerical_gradient(x_batch, t_batch)
    grad_backprop = network.gradient(x_batch, t_batch)
    worst = 0.0
    for key in PARAMS:
        diff = np.abs(grad_backprop[key] - grad_numerical[key])
        relative = diff.max() / max(np.abs(grad_backprop[key]).max(), np.finfo(np.float64).tiny)
        worst = max(worst, relative)
        print(f"{key}:{np.average(diff)}  (max relative error {relative:.2e})")
    verdict = "ok" if worst <= THRESHOLD else "FAIL"
    print(f"{verdict}: max relative error {worst:.2e}, threshold {THRESHOLD:g}")
    return 0 if worst <= THRESHOLD else 1


if __name__ == "__main__":
    raise SystemExit(_gradient_check())
