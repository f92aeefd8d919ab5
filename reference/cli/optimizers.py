"""`python -m reference optimizers`: the textbook's optimizer figures from both sides, or --check one."""

import time
from pathlib import Path

import numpy as np


from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.cli.common import only_present_argument, print_skipped, supervised, target
from bp_parity.reference.report.compare import Location, Oracle, Verdict
from bp_parity.reference.report.tables import print_table, summary_line
from bp_parity.reference.run import tasks, worker

HELP = "the textbook's optimizer figures from both sides, or --check one"


def _check(args, out, pool):
    """The 100-step check of each --optimizer (all without one), each a unit of work in a worker."""
    from bp_parity.reference.run import optimizer_checks
    names = args.optimizer or optimizer_checks.optimizers()
    if args.only_present:
        absent = [n for n in names if pool.described.missing((n,))]
        print_skipped(absent, out)
        names = [n for n in names if n not in absent]
        if not names:
            raise ValueError(f"implementation {args.impl!r} defines none of the optimizers chosen: nothing to check")
    ran, ended, results = 0, {}, []
    for name in names:
        where = Location(layer=name, tensor="every check", oracle=Oracle.HARNESS, dtype=args.dtype, seed=args.seed,
                         case=name, piece=name, reproduce=f"{program()} optimizers "
                         f"{args.target.arguments()} --check --optimizer {name} --dtype {args.dtype} --seed {args.seed}")
        outcome = pool.run(tasks.optimizer, name, args.dtype, args.seed)
        ran += outcome.done
        if not outcome.done:
            ended[outcome.verdict] = ended.get(outcome.verdict, 0) + 1
        for result in tasks.results_of(outcome, where):
            print(result.render(), file=out)
            results.append(result)
    failed = [r for r in results if not r.passed and not r.skipped]
    print(summary_line(len(names), ran, ended, sum(r.passed for r in results), len(failed),
                       sum(r.skipped for r in results), pool.started), file=out)
    return 1 if failed or ran < len(names) or not results else 0


def lost_names(problems):
    """The optimizers a problem of the harness's (a unit lost, the state changed) was reported on."""
    return {p.context.layer for p in problems}


def add_arguments(parser):
    parser.add_argument("--out-dir", default="runs/optimizers", help="where the PNGs go")
    parser.add_argument("--steps", type=int, default=500, help="MNIST steps per optimizer (default 500)")
    parser.add_argument("--dtype", choices=cases.DTYPES, default="float64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST folder (default: BP_PARITY_DATA, then the cache)")
    parser.add_argument("--check", action="store_true", help="only the 100-step check of --optimizer against its twin")
    parser.add_argument("--optimizer", action="append", help="with --check: this optimizer (repeatable)")
    only_present_argument(parser, "with --check: check the optimizers the implementation defines and report the "
                          "others SKIPPED (not NOT RUN, which fails the run)")


def run(args, out):
    if args.check:
        return supervised(args, out, lambda pool: _check(args, out, pool))
    from bp_parity.impl.mnist import load_mnist

    made = target(args)
    worker.shared["mnist"] = load_mnist(dtype=args.dtype, data_dir=args.data_dir)  # in every worker from the fork
    try:
        return supervised(args, out, lambda pool: _figures(args, out, pool), made=made)
    finally:
        worker.shared.pop("mnist", None)


def _figures(args, out, pool):
    """Each optimizer's path on f(x, y) and its MNIST run beside the twin's, each a unit of work in a worker."""
    from bp_parity.reference.run import optimizer_checks, optimizer_figures

    names = optimizer_checks.optimizers()
    pool.described.require(*names, "TwoLayerNet")
    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    paths, runs, lost, ended = {}, {}, [], {}  # ended: name -> the verdict of a unit that did not come back

    def where(name, tensor):
        return Location(layer=name, tensor=tensor, oracle=Oracle.TWIN, dtype=args.dtype, seed=args.seed, case=name,
                        piece=name, reproduce=f"{program()} optimizers {args.target.arguments()} "
                        f"--steps {args.steps} --dtype {args.dtype} --seed {args.seed}")

    for name in names:
        for kind, outcome in (("path", pool.run(tasks.optimizer_path, name)),
                              ("mnist", pool.run(tasks.optimizer_mnist, name, args.steps, args.dtype, args.seed))):
            problems = tasks.harness_problems(outcome, where(name, "path on f(x, y)" if kind == "path" else "MNIST run"))
            lost += problems
            if not outcome.done:
                ended.setdefault(name, outcome.verdict)
            if outcome.done:
                (paths if kind == "path" else runs)[name] = outcome.value
        if name in runs:
            run = runs[name]
            print(f"{name}: {args.steps} MNIST steps side by side, {Verdict.OK if run.passed else Verdict.MISMATCH} "
                  f"({time.perf_counter() - started:.0f} s so far)", file=out, flush=True)
        else:
            print(f"{name}: {ended[name]} (its MNIST run did not end)", file=out, flush=True)
    table = [("optimizer", "path end (impl)", "path |impl - twin|", f"MNIST loss at {args.steps} (impl)",
              "(twin)", "max |loss diff|", "verdict")]
    for name in names:
        twin = optimizer_figures.twin_path(name)
        paths[name] = (paths[name], twin) if name in paths else None
        mine = paths[name][0] if paths[name] is not None else None
        run = runs.get(name)
        table.append((name, f"({mine[-1, 0]:.4f}, {mine[-1, 1]:.4f})" if mine is not None else "-",
                      f"{np.max(np.abs(mine - twin)):.1e}" if mine is not None else "-",
                      f"{run.impl_loss[-1]:.6f}" if run else "-", f"{run.twin_loss[-1]:.6f}" if run else "-",
                      f"{run.max_loss_error()[0]:.1e}" if run else "-",
                      ended.get(name) or (Verdict.OK if run.passed and name not in lost_names(lost) else Verdict.MISMATCH)))
    print_table(table, out)
    drawn = {name: pair for name, pair in paths.items() if pair is not None}
    try:
        optimizer_figures.plot_paths(drawn, folder / "paths.png")
        optimizer_figures.plot_losses(runs, folder / "mnist_loss.png")
        print(f"\nwrote {folder / 'paths.png'} and {folder / 'mnist_loss.png'}", file=out)
    except ImportError:
        print("\n(pip install matplotlib for the figures)", file=out)
    for name, run in runs.items():
        for failure in run.failures():
            print(f"\n{name}:\n" + failure.render(), file=out)
    for problem in lost:
        print("\n" + problem.render(), file=out)
    return 0 if not lost and len(runs) == len(drawn) == len(names) and all(r.passed for r in runs.values()) else 1
