"""Overfitting and weight decay (textbook "ch06/overfit_weight_decay.py"): a deep network on 300 training images.

    python impl/overfit_weight_decay.py [--epochs 201] [--decay 0.1] [--train-size 300] [--seed 0]
        [--dtype float64] [--every 10] [--data-dir DIR] [--png runs/overfit_weight_decay.png]

MultiLayerNet 784 -> 6 x 100 -> 10 (ReLU, He weights), SGD lr 0.01, batch 100, trained on the first
--train-size MNIST training images twice from the same weights and batches: without weight decay and with
lambda = --decay.  Prints the train and test accuracy every --every epochs as it goes, then the final
train-test gap of each run (the decay narrows it: it fits the 300 images less perfectly), and draws both
runs' curves into a PNG (with matplotlib; without it, says so).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/overfit_weight_decay.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl.mnist import MnistError, load_mnist  # noqa: E402
from bp_parity.impl.multi_layer_net import MultiLayerNet  # noqa: E402


def run(data, decay, epochs, seed, dtype, every, log=print, batch_size=100, lr=0.01):
    """Train one network; returns {"epoch", "train_acc", "test_acc"} lists."""
    (x_train, t_train), (x_test, t_test) = data
    network = MultiLayerNet(x_train.shape[1], [100] * 6, 10, weight_decay_lambda=decay, seed=seed, dtype=dtype)
    per_epoch = max(len(x_train) // batch_size, 1)
    batches = np.random.default_rng([seed, 1]).integers(0, len(x_train), size=(epochs * per_epoch, batch_size))
    history = {"epoch": [], "train_acc": [], "test_acc": []}
    for step, index in enumerate(batches):
        grads = network.gradient(x_train[index], t_train[index])
        for key, param in network.params.items():
            param -= lr * grads[key]
        epoch, done = divmod(step + 1, per_epoch)
        if done == 0 and (epoch % every == 0 or epoch == epochs):
            train_acc, test_acc = network.accuracy(x_train, t_train), network.accuracy(x_test, t_test)
            history["epoch"].append(epoch)
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            log(f"  lambda {decay:g}, epoch {epoch:3d}: train acc {train_acc:.4f}, test acc {test_acc:.4f}")
    return history


def plot(histories, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    figure, axes = plt.subplots(figsize=(7, 4))
    for (label, history), colour in zip(histories.items(), ("C0", "C1")):
        axes.plot(history["epoch"], history["train_acc"], color=colour, label=f"{label}: train")
        axes.plot(history["epoch"], history["test_acc"], color=colour, linestyle="--", label=f"{label}: test")
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.legend()
    axes.set_title("300 training images, 6 hidden layers of 100")
    figure.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=201)
    p.add_argument("--decay", type=float, default=0.1)
    p.add_argument("--train-size", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    p.add_argument("--every", type=int, default=10, help="print the accuracies every N epochs (default 10)")
    p.add_argument("--data-dir", help="folder holding the four MNIST IDX files")
    p.add_argument("--png", default="runs/overfit_weight_decay.png")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.train_size < 1 or args.every < 1 or args.decay < 0:
        print("error: --epochs, --train-size and --every must be positive, --decay at least 0", file=sys.stderr)
        return 2
    try:
        (x_train, t_train), test = load_mnist(dtype=args.dtype, data_dir=args.data_dir)
    except MnistError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    data = ((x_train[:args.train_size], t_train[:args.train_size]), test)
    started = time.perf_counter()
    histories = {}
    for decay in (0.0, args.decay):
        label = "no weight decay" if decay == 0 else f"weight decay {decay:g}"
        print(f"{label}:", flush=True)
        histories[label] = run(data, decay, args.epochs, args.seed, args.dtype, args.every,
                               log=lambda line: print(line, flush=True))
    print(f"\ntrained both in {time.perf_counter() - started:.1f} s")
    for label, history in histories.items():
        gap = history["train_acc"][-1] - history["test_acc"][-1]
        print(f"{label}: train {history['train_acc'][-1]:.4f}, test {history['test_acc'][-1]:.4f}, gap {gap:.4f}")
    png = plot(histories, args.png)
    print(f"wrote {png}" if png else "(pip install matplotlib for the figure)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
