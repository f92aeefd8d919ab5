"""Train SimpleConvNet on MNIST (textbook "ch07/train_convnet.py").

    python impl/train_convnet.py [--epochs 20] [--batch-size 100] [--lr 0.001] [--seed 0] [--dtype float32]
        [--train-size N] [--eval-samples 1000] [--data-dir DIR] [--out-dir DIR] [--threads 1]

Conv 30 filters of 5x5 - ReLU - 2x2 max pooling - Affine 100 - ReLU - Affine 10 - softmax, weights 0.01 N(0, 1), Adam
(lr 0.001), mini-batches of 100 drawn with replacement, 20 epochs of 600 iterations, as the textbook's Trainer.  After
each epoch it prints the mean training loss and the accuracy on the first --eval-samples training and test images
(the textbook's Trainer evaluates 1,000 of each); on a terminal a progress line counts the iterations in between.  It
ends with the accuracy on the whole test set, `test accuracy: 0.9xxx`.  --out-dir writes weights.npz (no pickle) and
history.json.  --train-size trains on the first N training images (a quick run).  --threads: BLAS threads (default 1,
the fastest for steps of this size; 0 keeps NumPy's own).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/train_convnet.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl.mnist import MnistError, load_mnist  # noqa: E402
from bp_parity.impl.optimizer import Adam  # noqa: E402
from bp_parity.impl.simple_convnet import SimpleConvNet  # noqa: E402
from bp_parity.impl.train_bp_two_neuralnet import batch_sequence, blas_threads, iterations_per_epoch  # noqa: E402


def _parser():
    p = argparse.ArgumentParser(description="Train SimpleConvNet on MNIST (Adam, the textbook's chapter 7 run)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.001, help="Adam's learning rate (default 0.001)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batches (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--train-size", type=int, help="train on the first N training images (default: all 60,000)")
    p.add_argument("--eval-samples", type=int, default=1000,
                   help="images of each split evaluated after every epoch (default 1000, as the textbook)")
    p.add_argument("--data-dir", help="folder holding the four MNIST IDX files")
    p.add_argument("--out-dir", help="write weights.npz and history.json here")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads while training (default 1; 0: NumPy's own)")
    return p


class _Progress:
    """A line on stderr counting the iterations of the epoch: rewritten in place on a terminal, a plain line every
    15 seconds elsewhere (a log), so a long epoch is never silent."""

    def __init__(self, total):
        self.total, self.shown = total, sys.stderr.isatty()
        self.last = time.perf_counter()

    def update(self, epoch, done):
        if self.shown and (done % 20 == 0 or done == self.total):
            print(f"\repoch {epoch}: {done}/{self.total} iterations", end="", file=sys.stderr, flush=True)
        elif not self.shown and done < self.total and time.perf_counter() - self.last >= 15.0:
            self.last = time.perf_counter()
            print(f"epoch {epoch}: {done}/{self.total} iterations", file=sys.stderr, flush=True)

    def clear(self):
        if self.shown:
            print("\r" + " " * 48 + "\r", end="", file=sys.stderr, flush=True)


def train(network, data, batches, optimizer, eval_samples=1000, log=print):
    """Adam (or any protocol optimizer) over the batch index sequence; returns the history dict."""
    (x_train, t_train), (x_test, t_test) = data
    per_epoch = iterations_per_epoch(len(x_train), batches.shape[1])
    history = {"loss": [], "train_acc": [], "test_acc": [], "epoch_iteration": []}
    progress = _Progress(per_epoch)
    for i, index in enumerate(batches):
        grads = network.gradient(x_train[index], t_train[index])
        history["loss"].append(float(network.last_layer.loss))  # the loss of this batch, before the update
        optimizer.update(network.params, grads)
        progress.update(i // per_epoch + 1, i % per_epoch + 1)
        if (i + 1) % per_epoch == 0 or i == len(batches) - 1:
            progress.clear()
            train_acc = network.accuracy(x_train[:eval_samples], t_train[:eval_samples])
            test_acc = network.accuracy(x_test[:eval_samples], t_test[:eval_samples])
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            history["epoch_iteration"].append(i)
            recent = np.mean(history["loss"][-per_epoch:])
            log(f"epoch {i // per_epoch + 1:2d} (iteration {i + 1:5d}): loss {recent:.4f}, train acc {train_acc:.4f}, "
                f"test acc {test_acc:.4f} (first {min(eval_samples, len(x_test))} images)", flush=True)
    return history


def main(argv=None):
    args = _parser().parse_args(argv)
    if min(args.epochs, args.batch_size, args.eval_samples) < 1 or not args.lr > 0 or args.threads < 0 or (
            args.train_size is not None and args.train_size < 1):
        print("error: --epochs, --batch-size, --eval-samples and --train-size must be positive, --lr greater than 0, "
              "--threads at least 0", file=sys.stderr)
        return 2
    try:
        (x_train, t_train), test = load_mnist(normalize=True, flatten=False, dtype=args.dtype, data_dir=args.data_dir)
    except MnistError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.train_size:
        x_train, t_train = x_train[:args.train_size], t_train[:args.train_size]
    data = ((x_train, t_train), test)
    network = SimpleConvNet(input_dim=(1, 28, 28),
                            conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},
                            hidden_size=100, output_size=10, weight_init_std=0.01,
                            rng=np.random.default_rng([args.seed, 0]), dtype=args.dtype)
    iters = args.epochs * iterations_per_epoch(len(x_train), args.batch_size)
    batches = batch_sequence(args.seed, len(x_train), iters, args.batch_size)
    threads, said = blas_threads(args.threads)
    print(f"SimpleConvNet, Adam lr {args.lr:g}, {args.epochs} epochs of {iters // args.epochs} iterations (batch "
          f"{args.batch_size}), {args.dtype}; {said}", flush=True)
    started = time.perf_counter()
    with threads:
        history = train(network, data, batches, Adam(lr=args.lr), args.eval_samples)
        elapsed = time.perf_counter() - started
        test_acc = network.accuracy(*test)
    print(f"trained {iters} iterations in {elapsed:.1f} s")
    print(f"test accuracy: {test_acc:.4f}")
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "weights.npz", **network.params)
        history.update(vars(args), test_accuracy=test_acc, seconds=elapsed)
        (out / "history.json").write_text(json.dumps(history))
        print(f"wrote {out / 'weights.npz'} and {out / 'history.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
