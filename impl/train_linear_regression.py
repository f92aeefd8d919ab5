"""Train linear regression on California housing by mini-batch SGD, and compare it with the closed form.

    python impl/train_linear_regression.py [--epochs 50] [--batch-size 32] [--lr 0.01] [--l2 0] [--seed 0]
        [--data-dir DIR]

The features are impl.housing's (a fixed 80/20 split by --seed; the training rows' statistics only).  Each epoch
prints the mean batch loss and the test RMSE; the run ends with the test RMSE of SGD and of the closed-form least
squares (ridge with --l2) solution on the same split, in units of 100,000 USD: `test RMSE: 0.6831 (closed form
0.6822)`.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

if not __package__:  # run as `python impl/train_linear_regression.py`: make the package importable, once
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bp_parity.impl import housing  # noqa: E402
from bp_parity.impl.linear_regression import LinearRegression, sgd  # noqa: E402


def closed_form(X, y, l2=0.0):
    """(w, b) minimising the loss exactly: least squares by numpy.linalg.lstsq, or with l2 > 0 the ridge normal
    equations (the bias unregularised)."""
    A = np.hstack([X, np.ones((len(X), 1))]).astype(np.float64)
    if l2 == 0:
        theta, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    else:
        penalty = np.eye(A.shape[1]) * l2
        penalty[-1, -1] = 0.0
        theta = np.linalg.solve(A.T @ A / len(A) + penalty, A.T @ y / len(A))
    return theta[:-1], theta[-1]


def batch_rng(seed):
    """The generator whose permutations order every epoch's batches (the twin replays it)."""
    return np.random.default_rng([seed, 3])


def main(argv=None):
    p = argparse.ArgumentParser(description="Linear regression of California house values by mini-batch SGD")
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--l2", type=float, default=0.0, help="ridge weight (the bias is not regularised)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and of the batch order")
    p.add_argument("--data-dir", help="the folder holding housing.csv")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or not args.lr > 0 or args.l2 < 0:
        print("error: --epochs and --batch-size must be positive, --lr greater than 0, --l2 at least 0",
              file=sys.stderr)
        return 2
    try:
        data = housing.load_housing(args.data_dir)
    except housing.HousingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    train, test = housing.split(len(data), seed=args.seed)
    (X, y), (X_test, y_test), _ = housing.prepare(data, train, test)
    model = LinearRegression.zeros(X.shape[1], args.l2)

    def on_epoch(epoch, model, losses):
        print(f"epoch {epoch + 1:3d}: mean batch loss {np.mean(losses):.5f}, test RMSE "
              f"{model.rmse(X_test, y_test):.4f}", flush=True)

    sgd(model, X, y, args.lr, args.epochs, args.batch_size, batch_rng(args.seed), on_epoch)
    w, b = closed_form(X, y, args.l2)
    exact = LinearRegression(w, b, args.l2)
    print(f"test RMSE: {model.rmse(X_test, y_test):.4f} (closed form {exact.rmse(X_test, y_test):.4f}), in units of "
          f"100,000 USD; training loss {model.loss(X, y):.6f} (closed form {exact.loss(X, y):.6f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
