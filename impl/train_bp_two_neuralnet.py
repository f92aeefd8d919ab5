"""Train the two-layer network on MNIST with backpropagation (textbook "ch05/train_neuralnet.py").

    python impl/train_bp_two_neuralnet.py [--seed 0] [--dtype float32] [--iters 10000]
        [--batch-size 100] [--lr 0.1] [--hidden 50] [--data-dir DIR] [--out-dir DIR]

784-50-10, ReLU, weight_init_std 0.01, SGD lr 0.1, batch 100, 10,000
iterations.  Prints one line per epoch (train and test accuracy) and ends with
`test accuracy: 0.9xxx`.  With --out-dir it writes weights.npz (no pickle) and
history.json (losses, accuracies, and the batch index sequence).

--threads (default 1) is the number of BLAS threads for training.  A step of this
size (a 100 x 784 batch) runs fastest on one thread, and two threads on a busy
2-core machine spin against the other load (measured: 44 to 104 s instead of 8).
Limiting needs threadpoolctl (installed with the test extra); without it NumPy's
default is kept and the script says so.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/train_bp_two_neuralnet.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl.bp_two_layer_net import PARAMS, TwoLayerNet  # noqa: E402
from bp_parity.impl.mnist import MnistError, load_mnist  # noqa: E402


def batch_sequence(seed, train_size, iters, batch_size):
    """The batch indices of every iteration, (iters, batch_size), drawn with replacement as the textbook does."""
    return np.random.default_rng([seed, 1]).integers(0, train_size, size=(iters, batch_size))


def iterations_per_epoch(train_size, batch_size):
    """Whole iterations per epoch (at least 1), so evaluation fires whatever the batch size."""
    return max(train_size // batch_size, 1)


def train(network, data, batches, lr, log=print):
    """SGD on `network` over the batch index sequence; returns the history dict."""
    (x_train, t_train), (x_test, t_test) = data
    per_epoch = iterations_per_epoch(len(x_train), batches.shape[1])
    history = {"loss": [], "train_acc": [], "test_acc": [], "epoch_iteration": []}
    for i, index in enumerate(batches):
        x_batch, t_batch = x_train[index], t_train[index]
        grads = network.gradient(x_batch, t_batch)
        history["loss"].append(float(network.lastLayer.loss))  # the loss of this batch, before the update
        for key in PARAMS:
            network.params[key] -= lr * grads[key]  # in place: the layers hold these arrays
        if i % per_epoch == 0 or i == len(batches) - 1:
            train_acc, test_acc = network.accuracy(x_train, t_train), network.accuracy(x_test, t_test)
            history["train_acc"].append(train_acc)
            history["test_acc"].append(test_acc)
            history["epoch_iteration"].append(i)
            log(f"epoch {i // per_epoch:3d} (iteration {i:5d}): train acc {train_acc:.4f}, test acc {test_acc:.4f}")
    return history


def _parser():
    p = argparse.ArgumentParser(description="Train the two-layer BP network on MNIST")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the batches (default 0)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--iters", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=50)
    p.add_argument("--data-dir", help="folder holding the four MNIST IDX files")
    p.add_argument("--out-dir", help="write weights.npz and history.json here")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads while training (default 1; 0: NumPy's own)")
    return p


def blas_threads(count):
    """A context that runs NumPy's BLAS on `count` threads (0: as it is), and a line saying what it did."""
    import contextlib

    if count == 0:
        return contextlib.nullcontext(), "BLAS threads: NumPy's default"
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), ("BLAS threads: NumPy's default (pip install threadpoolctl to train on "
                                          f"{count}, the fastest for steps of this size)")
    return threadpool_limits(limits=count, user_api="blas"), f"BLAS threads: {count}"


def main(argv=None):
    args = _parser().parse_args(argv)
    if args.iters < 1 or args.batch_size < 1 or args.hidden < 1 or not args.lr > 0 or args.threads < 0:
        print("error: --iters, --batch-size and --hidden must be positive, --lr greater than 0, --threads at least 0",
              file=sys.stderr)
        return 2
    try:
        data = load_mnist(normalize=True, flatten=True, one_hot_label=False, dtype=args.dtype, data_dir=args.data_dir)
    except MnistError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    (x_train, _), _ = data
    network = TwoLayerNet(x_train.shape[1], args.hidden, 10, weight_init_std=0.01,
                          rng=np.random.default_rng([args.seed, 0]), dtype=args.dtype)
    batches = batch_sequence(args.seed, len(x_train), args.iters, args.batch_size)
    started = time.perf_counter()
    threads, said = blas_threads(args.threads)
    print(said)
    with threads:
        history = train(network, data, batches, args.lr)
    elapsed = time.perf_counter() - started
    print(f"trained {args.iters} iterations in {elapsed:.1f} s")
    print(f"test accuracy: {history['test_acc'][-1]:.4f}")
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        np.savez(out / "weights.npz", **network.params)
        history.update(vars(args), batch_indices=batches.tolist(), seconds=elapsed)
        (out / "history.json").write_text(json.dumps(history))
        print(f"wrote {out / 'weights.npz'} and {out / 'history.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
