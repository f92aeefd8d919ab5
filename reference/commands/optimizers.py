"""`python -m reference optimizers`: the textbook's optimizer figures from both sides, or --check one."""

import time
from pathlib import Path

import numpy as np

from . import load_impl, supervised
from .. import cases
from ..compare import FAILED
from ..tables import print_table

HELP = "the textbook's optimizer figures from both sides, or --check one"


def _check(args, out, pool):
    """The 100-step check of each --optimizer (all without one), each a unit of work in a worker."""
    from .. import optimizer_checks
    from ..compare import Location
    from ..protocol import shell_argument
    from ..run import tasks
    from .check import summary_line

    names = args.optimizer or optimizer_checks.optimizers()
    ran, ended, results = 0, {}, []
    for name in names:
        where = Location(layer=name, tensor="every check", oracle="harness", dtype=args.dtype, seed=args.seed,
                         case=name, piece=name, reproduce=f"python -m reference optimizers --impl "
                         f"{shell_argument(args.impl)} --check --optimizer {name} --dtype {args.dtype} --seed {args.seed}")
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


def add_arguments(parser):
    parser.add_argument("--out-dir", default="runs/optimizers", help="where the PNGs go")
    parser.add_argument("--steps", type=int, default=500, help="MNIST steps per optimizer (default 500)")
    parser.add_argument("--dtype", choices=cases.DTYPES, default="float64")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST folder (default: BP_PARITY_DATA, then the cache)")
    parser.add_argument("--check", action="store_true", help="only the 100-step check of --optimizer against its twin")
    parser.add_argument("--optimizer", action="append", help="with --check: this optimizer (repeatable)")


def run(args, out):
    if args.check:
        return supervised(args, out, lambda pool: _check(args, out, pool))
    impl = load_impl(args)  # the figures' runs are not supervised yet: the implementation loads here

    from .. import optimizer_checks, optimizer_figures

    from impl.mnist import load_mnist

    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: (optimizer_figures.impl_path(impl, name), optimizer_figures.twin_path(name))
             for name in optimizer_checks.optimizers()}
    started = time.perf_counter()

    def finished(name, run):
        print(f"{name}: {args.steps} MNIST steps side by side, {'ok' if run.passed else FAILED} "
              f"({time.perf_counter() - started:.0f} s so far)", file=out, flush=True)

    runs = optimizer_figures.mnist_runs(impl, load_mnist(dtype=args.dtype, data_dir=args.data_dir), args.steps,
                                        args.dtype, args.seed, on_run=finished)
    table = [("optimizer", "path end (impl)", "path |impl - twin|", f"MNIST loss at {args.steps} (impl)",
              "(twin)", "max |loss diff|", "verdict")]
    for name in optimizer_checks.optimizers():
        mine, theirs = paths[name]
        run = runs[name]
        table.append((name, f"({mine[-1, 0]:.4f}, {mine[-1, 1]:.4f})", f"{np.max(np.abs(mine - theirs)):.1e}",
                      f"{run.impl_loss[-1]:.6f}", f"{run.twin_loss[-1]:.6f}", f"{run.max_loss_error()[0]:.1e}",
                      "ok" if run.passed else FAILED))
    print_table(table, out)
    try:
        optimizer_figures.plot_paths(paths, folder / "paths.png")
        optimizer_figures.plot_losses(runs, folder / "mnist_loss.png")
        print(f"\nwrote {folder / 'paths.png'} and {folder / 'mnist_loss.png'}", file=out)
    except ImportError:
        print("\n(pip install matplotlib for the figures)", file=out)
    for name, run in runs.items():
        for failure in run.failures():
            print(f"\n{name}:\n" + failure.render(), file=out)
    return 0 if all(run.passed for run in runs.values()) else 1
