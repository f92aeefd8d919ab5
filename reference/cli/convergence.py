"""`python -m reference convergence`: gradient descent on the least-squares objective of the California housing
data, with the implementation's gradient, against the two theorems of reference.run.convergence, step by step."""

import time
from pathlib import Path

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.cli.common import only_present_argument, require, supervised, target
from bp_parity.reference.report.compare import Location, Oracle
from bp_parity.reference.run import convergence, tasks

HELP = "gradient descent on California housing against its convergence guarantees (rates, PNG)"


def add_arguments(parser):
    parser.add_argument("--steps", type=int, default=2000, help="gradient-descent steps of each rule (default 2000)")
    parser.add_argument("--sgd-steps", type=int, default=5000, help="steps of the SGD runs (default 5000)")
    parser.add_argument("--sgd-runs", type=int, default=32, help="SGD runs averaged (default 32)")
    parser.add_argument("--data-dir", help="the folder holding housing.csv (default: BP_PARITY_DATA, then the cache)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/test split (default 0)")
    parser.add_argument("--out-dir", default="runs/convergence", help="where convergence.png goes")
    parser.add_argument("--dtype", choices=cases.DTYPES, default="float64",
                        help="float64 only: the theorems' bounds are held to float64 rounding at every step, and a "
                        "float32 run is refused as asked for and not had (default float64)")
    only_present_argument(parser, "where the implementation does not define LinearRegression and step_size, say so "
                          "(SKIPPED, with what is expected) and exit 1: nothing is left to run")


def run(args, out):
    if args.dtype != "float64":
        raise ValueError(f"asked for --dtype {args.dtype}: convergence runs gradient descent in float64 only (its "
                         "bounds are held to float64 rounding at every step)")
    made = target(args)
    if args.steps < 1 or args.sgd_steps < 1 or args.sgd_runs < 2:
        raise ValueError("--steps and --sgd-steps must be at least 1, --sgd-runs at least 2")
    # NumPy only: no twin, so the workers start without torch
    return supervised(args, out, lambda pool: _run(args, out, pool), made=made, torch=False)


def _lost(outcome, args, what):
    """The report of a unit whose worker ended, hung or overstayed, or that changed the harness's state."""
    where = Location(layer="LinearRegression", tensor=what, oracle=Oracle.CONVERGENCE, dtype="float64",
                     seed=args.seed, case="California housing", piece="LinearRegression",
                     reproduce=f"{program()} convergence {args.target.arguments()} --steps {args.steps} "
                     f"--sgd-steps {args.sgd_steps} --sgd-runs {args.sgd_runs} --seed {args.seed}")
    return tasks.harness_problems(outcome, where)


def _run(args, out, pool):
    from bp_parity.impl import housing

    require(args, pool.described, ("LinearRegression", "step_size"), out, doing="run")

    data = housing.load_housing(args.data_dir)
    train, test = housing.split(len(data), seed=args.seed)
    (X, y), _, names = housing.prepare(data, train, test)
    c = convergence.constants(X, y)
    print(f"least squares on {len(X)} training rows x {X.shape[1]} features and a bias (split seed {args.seed}): "
          f"L = {c.L:.6g}, mu = {c.mu:.6g}, kappa = {c.kappa:.6g}, f* = {c.f_star:.6g}", file=out)
    runs, failed, lost = [], False, []
    for rule in ("1/L", "2/(mu+L)"):
        started = time.perf_counter()
        outcome = pool.run(tasks.convergence_gd, X, y, c, rule, args.steps)
        lost += _lost(outcome, args, f"gradient descent at step {rule}")
        if not outcome.done:
            print(f"step {rule}: the run did not end ({outcome.verdict})", file=out, flush=True)
            continue
        result = outcome.value
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
    columns = [names.index(c) for c in convergence.SGD_FEATURES]
    started = time.perf_counter()
    sgd = convergence.sgd_expected(X[:, columns], y, args.sgd_steps)
    print(f"SGD on {', '.join(convergence.SGD_FEATURES)} and a bias, one row a step, step {sgd.beta:.4g}/(k + "
          f"{sgd.k0}): E ||theta_k - theta*||^2 (exact) from {sgd.expected[0]:.6g} to {sgd.expected[-1]:.6g} in "
          f"{args.sgd_steps} steps, bound nu/(k + k0) from {sgd.bound[0]:.6g} to {sgd.bound[-1]:.6g}", file=out,
          flush=True)
    outcome = pool.run(tasks.convergence_sgd, X[:, columns], y, sgd, args.sgd_runs, args.seed)
    lost += _lost(outcome, args, "SGD runs")
    if not outcome.done:
        for problem in lost:
            print("\n" + problem.render(), file=out)
        return 1
    sgd = outcome.value
    bound_broken, runs_apart = sgd.bound_violation, sgd.runs_violation
    failed |= bound_broken is not None or runs_apart is not None
    last = len(sgd.checkpoints) - 1
    print(f"  {sgd.runs} runs with the implementation's gradient ({time.perf_counter() - started:.1f} s): mean at step "
          f"{sgd.checkpoints[last]} {sgd.measured[last]:.6g} (standard error {sgd.standard_error[last]:.2g}); "
          + ("bound held at every step" if bound_broken is None else f"BOUND BROKEN at step {bound_broken}") + "; "
          + (f"the runs within {convergence.Z_SGD:g} standard errors of the expectation at every checkpoint"
             if runs_apart is None else f"THE RUNS PART from the expectation at step {runs_apart}"),
          file=out, flush=True)
    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    convergence.draw(runs, folder / "convergence.png", f"California housing, {args.impl}: measured against the bounds",
                     sgd=sgd)
    print(f"wrote {folder / 'convergence.png'}", file=out)
    for problem in lost:
        print("\n" + problem.render(), file=out)
    return 1 if failed or lost else 0
