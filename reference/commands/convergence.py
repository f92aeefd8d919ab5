"""`python -m reference convergence`: gradient descent on the least-squares objective of the California housing
data, with the implementation's gradient, against the two theorems of reference.convergence, step by step."""

import time
from pathlib import Path

from .. import protocol

HELP = "gradient descent on California housing against its convergence guarantees (rates, PNG)"


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=2000, help="gradient-descent steps of each rule (default 2000)")
    parser.add_argument("--data-dir", help="the folder holding housing.csv (default: BP_PARITY_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default 0)")
    parser.add_argument("--out-dir", default="runs/convergence", help="where convergence.png goes")


def run(args, out):
    impl = protocol.load(args.impl)  # before torch could be imported (none is: this is NumPy only)
    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    from impl import housing

    from .. import convergence

    data = housing.load_housing(args.data_dir)
    train, test = housing.split(len(data), seed=args.seed)
    (X, y), _, names = housing.prepare(data, train, test)
    c = convergence.constants(X, y)
    print(f"least squares on {len(X)} training rows x {X.shape[1]} features and a bias (split seed {args.seed}): "
          f"L = {c.L:.6g}, mu = {c.mu:.6g}, kappa = {c.kappa:.6g}, f* = {c.f_star:.6g}", file=out)
    runs, failed = [], False
    for rule in ("1/L", "2/(mu+L)"):
        started = time.perf_counter()
        result = convergence.gradient_descent(impl, X, y, c, rule, args.steps)
        runs.append(result)
        violation = result.first_violation
        failed |= violation is not None
        what = "f_k - f*" if rule == "1/L" else "||theta_k - theta*||"
        print(f"step {rule}: {what} from {result.measured[0]:.6g} to {result.measured[-1]:.6g} in {args.steps} steps "
              f"({time.perf_counter() - started:.1f} s); per step over the last 100: measured {result.measured_rate():.8f}, "
              f"guaranteed at most {result.rate:.8f}; "
              + ("bound held at every step" if violation is None else
                 f"BOUND BROKEN at step {violation}: {result.measured[violation]:.6g} > {result.bound[violation]:.6g}"),
              file=out, flush=True)
    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    convergence.draw(runs, folder / "convergence.png", f"California housing, {args.impl}: measured against the bounds")
    print(f"wrote {folder / 'convergence.png'}", file=out)
    return 1 if failed else 0
