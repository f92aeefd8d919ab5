"""`python -m reference`: run the harness's checks by hand and print the report.

    python -m reference check [--impl impl] [--case ID ...] [--tensor T]
                              [--dtype float64|float32] [--seed N | --seeds N]
                              [--dump-dir DIR]

prints one row per case, tensor, dtype and oracle (the largest errors over the
seeds run), then the full report of every failure, and exits 1 if any check
failed or could not run.
"""

import argparse
import sys
import time

import numpy as np

from . import cases, layer_checks, protocol, streams
from .golden import GoldenError


# the pieces `check` runs: the layers and functions of the case table, then the optimizers (torch-free names)
OPTIMIZER_NAMES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
CHECKED_PIECES = tuple(dict.fromkeys([c.layer for c in cases.CASES] + list(OPTIMIZER_NAMES)))


def _parser():
    parser = argparse.ArgumentParser(prog="python -m reference", description="bp-parity: the reference harness")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every layer of an implementation against the twins")
    check.add_argument("--impl", default="impl", help="module name, .py file or package folder (default: impl)")
    check.add_argument("--case", action="append", choices=sorted(cases.CASES_BY_ID), metavar="ID",
                       help="only this case of the table (repeatable)")
    check.add_argument("--layer", action="append", choices=CHECKED_PIECES, metavar="NAME",
                       help="only the cases of this protocol name (repeatable): " + ", ".join(CHECKED_PIECES))
    check.add_argument("--tensor", help="only this tensor (forward, dx, dW, db, dy, gradient, or an argument name)")
    check.add_argument("--dtype", choices=cases.DTYPES, action="append", help="only this dtype (repeatable)")
    seeds = check.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, action="append", help="this seed instead of the fixed ones (repeatable)")
    seeds.add_argument("--seeds", type=int, help="N seeds of the sweep (fixtures/seeds.json) instead of the fixed ones")
    check.add_argument("--dump-dir", help="write an .npz of both sides and the inputs for every mismatch")
    check.add_argument("--summary", action="store_true",
                       help="one row per layer, dtype and oracle (the worst over cases, tensors and seeds)")

    trace = commands.add_parser("trace", help="trace the two-layer network layer by layer against the twins")
    trace.add_argument("--impl", default="impl")
    trace.add_argument("--dtype", choices=cases.DTYPES, default="float64")
    trace.add_argument("--seed", type=int, default=cases.layer_seeds()[0], help="seed of the weights and the batch")
    trace.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    trace.add_argument("--data-dir", help="MNIST folder (default: the subset in fixtures/mnist-subset)")
    trace.add_argument("--dump-dir", help="write an .npz of both sides for every mismatch")

    parity = commands.add_parser("train-parity", help="train impl and its twin side by side on MNIST")
    parity.add_argument("--impl", default="impl")
    parity.add_argument("--dtype", choices=cases.DTYPES, default="float32")
    parity.add_argument("--steps", type=int, default=10000)
    parity.add_argument("--batch-size", type=int, default=100)
    parity.add_argument("--lr", type=float, default=0.1)
    parity.add_argument("--hidden", type=int, default=50)
    parity.add_argument("--seed", type=int, default=0)
    parity.add_argument("--data-dir", help="MNIST folder (default: BP_PARITY_DATA, then the cache)")
    parity.add_argument("--optimizer", help="a protocol optimizer (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam) "
                        "with the textbook's hyper-parameters, instead of the plain SGD loop with --lr")
    parity.add_argument("--out-dir", default="runs/train-parity", help="where the PNG and JSON go")

    zoo = commands.add_parser("zoo", help="run the harness against every mutant in fixtures/mutants/")
    zoo.add_argument("--seed", type=int, default=cases.layer_seeds()[0])
    zoo.add_argument("--mutant", action="append", help="only this mutant (file stem; repeatable)")
    zoo.add_argument("--verbose", action="store_true", help="print the report of each mutant's first failure")

    opt = commands.add_parser("optimizers", help="the textbook's optimizer figures from both sides, or --check one")
    opt.add_argument("--impl", default="impl")
    opt.add_argument("--out-dir", default="runs/optimizers", help="where the PNGs go")
    opt.add_argument("--steps", type=int, default=500, help="MNIST steps per optimizer (default 500)")
    opt.add_argument("--dtype", choices=cases.DTYPES, default="float64")
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--data-dir", help="MNIST folder (default: BP_PARITY_DATA, then the cache)")
    opt.add_argument("--check", action="store_true", help="only the 100-step check of --optimizer against its twin")
    opt.add_argument("--optimizer", action="append", help="with --check: this optimizer (repeatable)")

    for name, text in (("golden", "check an implementation against the recorded twin outputs (no torch)"),
                       ("record", "record fixtures/golden/ from the live twins"),
                       ("drift", "compare the recorded twin outputs with the live twins")):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--golden-dir", help="the golden folder (default: fixtures/golden)")
        if name == "golden":
            sub.add_argument("--impl", default="impl")
            sub.add_argument("--case", action="append", help="only this recorded case (repeatable)")
            sub.add_argument("--tensor", help="only this tensor")
            sub.add_argument("--dtype", choices=cases.DTYPES, action="append")
            sub.add_argument("--seed", type=int, action="append")
            sub.add_argument("--summary", action="store_true")
            sub.add_argument("--dump-dir")
    return parser


def run_optimizers(args, out=None):
    out = out or sys.stdout
    from pathlib import Path

    impl = protocol.load(args.impl)  # before torch is imported

    from . import optimizer_checks, optimizer_figures

    if args.check:
        failed = 0
        for name in args.optimizer or optimizer_checks.OPTIMIZERS:
            run = optimizer_checks.run_optimizer(impl, name, args.dtype, args.seed, impl_spec=args.impl)
            for result in run.results:
                print(result.render(), file=out)
            failed += not run.passed
        return 1 if failed else 0

    from impl.mnist import load_mnist

    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: (optimizer_figures.impl_path(impl, name), optimizer_figures.twin_path(name))
             for name in optimizer_checks.OPTIMIZERS}
    started = time.perf_counter()

    def finished(name, run):
        print(f"{name}: {args.steps} MNIST steps side by side, {'ok' if run.passed else 'FAILED'} "
              f"({time.perf_counter() - started:.0f} s so far)", file=out, flush=True)

    runs = optimizer_figures.mnist_runs(impl, load_mnist(dtype=args.dtype, data_dir=args.data_dir), args.steps,
                                        args.dtype, args.seed, on_run=finished)
    table = [("optimizer", "path end (impl)", "path |impl - twin|", f"MNIST loss at {args.steps} (impl)",
              "(twin)", "max |loss diff|", "verdict")]
    for name in optimizer_checks.OPTIMIZERS:
        mine, theirs = paths[name]
        run = runs[name]
        table.append((name, f"({mine[-1, 0]:.4f}, {mine[-1, 1]:.4f})", f"{np.max(np.abs(mine - theirs)):.1e}",
                      f"{run.impl_loss[-1]:.6f}", f"{run.twin_loss[-1]:.6f}", f"{run.max_loss_error()[0]:.1e}",
                      "ok" if run.passed else "FAIL"))
    _print_table(table, out)
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


def run_zoo(args, out=None):
    out = out or sys.stdout
    from . import zoo

    started = time.perf_counter()
    paths = zoo.mutant_paths()
    if args.mutant:
        paths = [p for p in paths if p.stem in args.mutant]
        unknown = set(args.mutant) - {p.stem for p in paths}
        if unknown:
            raise ValueError(f"no such mutant: {', '.join(sorted(unknown))} (see fixtures/mutants/)")
    from .progress import Progress

    progress = Progress(len(paths), "zoo")
    clean, results = zoo.run_zoo(args.seed, paths, on_mutant=lambda index, result: progress.update(index))
    progress.clear()
    table = [("mutant", "must blame", "caught", "blamed", "correct", "s")]
    for r in results:
        table.append((r.name, " ".join(r.expected), "yes" if r.caught else "MISSED", ", ".join(r.blamed) or "-",
                      "yes" if r.blamed_correctly else "NO", f"{r.seconds:.2f}"))
    _print_table(table, out)
    if args.verbose:
        for r in results:
            print(f"\n--- {r.name}: {r.bug}", file=out)
            if r.failures:
                print(r.failures[0].render(), file=out)
    caught = sum(r.caught for r in results)
    correct = sum(r.blamed_correctly for r in results)
    elapsed = time.perf_counter() - started
    print(f"\nimpl itself: {'passes every check' if not clean else f'{len(clean)} FAILURES'}", file=out)
    for failure in clean[:3]:
        print(failure.render(), file=out)
    print(f"score: caught {caught}/{len(results)}, blamed correctly {correct}/{len(results)} "
          f"(seed {args.seed}, wall time {elapsed:.1f} s)", file=out)
    return 0 if not clean and caught == correct == len(results) else 1


def run_trace(args, out=None):
    out = out or sys.stdout
    from impl.mnist import load_mnist  # the loader is NumPy-only and shared by both sides

    impl = protocol.load(args.impl)  # before torch is imported

    from .trace import trace_all

    data_dir = args.data_dir or cases.FIXTURES / "mnist-subset"
    (x_train, t_train), _ = load_mnist(dtype=args.dtype, data_dir=data_dir, download=False)
    index = streams.rng(args.seed, "trace batch").choice(len(x_train), size=args.batch, replace=False)
    command = (f"python -m reference trace --impl {args.impl} --dtype {args.dtype} --seed {args.seed} "
               f"--batch {args.batch}")
    traces = trace_all(impl, x_train[index], t_train[index], seed=args.seed, dtype=args.dtype,
                       impl_spec=args.impl, reproduce=command)
    table = [("network", "layer", "tensor", "max abs err", "max rel err", "verdict")]
    for trace in traces:
        for r in trace.results:
            compared = hasattr(r, "max_abs")
            table.append((trace.network, r.context.layer, r.context.tensor, _num(r.max_abs) if compared else "-",
                          _num(r.max_rel) if compared else "-", r.verdict))
    _print_table(table, out)
    failed = [trace for trace in traces if not trace.passed]
    for trace in failed:
        first = trace.first_divergence
        if args.dump_dir and hasattr(first, "dump"):
            first.dump(args.dump_dir)
        what = "not run" if first.verdict == "NOT RUN" else "first divergence"
        print(f"\n{trace.network}: {what} at {first.context.layer} {first.context.tensor} "
              f"(blame: {first.context.blamed})\n" + first.render(), file=out)
    if not failed:
        print(f"\nno divergence: every layer of every network agrees with its twin ({args.dtype}, seed {args.seed})",
              file=out)
    return 1 if failed else 0


def run_train_parity(args, out=None):
    out = out or sys.stdout
    import json
    from pathlib import Path

    from impl.mnist import load_mnist

    impl = protocol.load(args.impl)  # before torch is imported

    from . import optimizer_twins, tolerance, training_parity
    from .progress import Progress

    if args.optimizer and args.optimizer not in optimizer_twins.DEFAULTS:
        raise ValueError(f"no such optimizer {args.optimizer!r}; known: {', '.join(optimizer_twins.DEFAULTS)}")
    data = load_mnist(dtype=args.dtype, data_dir=args.data_dir)
    per_epoch = max(len(data[0][0]) // args.batch_size, 1)
    exact = tolerance.training_exact_steps(args.dtype, args.steps)
    claim = (f"step-exact parity over all {args.steps} steps" if exact == args.steps else
             f"step-exact parity over the first {exact} steps, then the mean loss of every "
             f"{tolerance.TRAINING_BAND_WINDOW}-step window within {tolerance.TRAINING_BANDS['loss'].rtol:.0%} and the "
             f"accuracies within {100 * tolerance.TRAINING_BANDS['accuracy'].atol_unit:g} points")
    print(f"training impl and its twin side by side: {args.steps} steps, {args.dtype}, batch {args.batch_size}, "
          f"{args.optimizer or f'SGD lr {args.lr}'}, seed {args.seed}; claim: {claim}", file=out)
    table = [("step", "impl loss", "twin loss", "|diff|", "impl train", "twin train", "impl test", "twin test")]
    widths = [6, 10, 10, 9, 10, 10, 9, 9]

    def line(cells):
        return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()

    print(line(table[0]), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    progress = Progress(args.steps, "train-parity")

    def on_evaluate(e):
        progress.clear()
        print(line((e["step"], f"{e['impl_loss']:.6f}", f"{e['twin_loss']:.6f}",
                    f"{abs(e['impl_loss'] - e['twin_loss']):.2e}", f"{e['impl_train_acc']:.4f}",
                    f"{e['twin_train_acc']:.4f}", f"{e['impl_test_acc']:.4f}", f"{e['twin_test_acc']:.4f}")),
              file=out, flush=True)

    started = time.perf_counter()
    result = training_parity.run(impl, data, dtype=args.dtype, steps=args.steps, batch_size=args.batch_size,
                                 lr=args.lr, hidden=args.hidden, seed=args.seed, evaluate_every=per_epoch,
                                 checkpoint_every=per_epoch, impl_spec=args.impl, optimizer=args.optimizer,
                                 on_evaluate=on_evaluate, on_step=progress.update)
    progress.clear()
    elapsed = time.perf_counter() - started
    max_abs, max_rel = result.max_loss_error(exact)
    print(f"\n{args.steps} steps in {elapsed:.1f} s ({args.dtype}, seed {args.seed}); over the {exact} step-exact steps "
          f"the losses differ by at most {max_abs:.2e} abs, {max_rel:.2e} rel", file=out)
    if exact < args.steps:
        print(f"measured: inside the plain {args.dtype} twin bound for the first {result.step_exact_steps()} steps; "
              f"after step {exact} the window means and accuracies used at most {100 * result.band_used():.0f}% "
              "of their bands", file=out)
    final = result.epochs[-1]
    print(f"final test accuracy: impl {final['impl_test_acc']:.4f}, twin {final['twin_test_acc']:.4f}", file=out)

    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.json").write_text(json.dumps({
        "dtype": args.dtype, "steps": args.steps, "seed": args.seed, "lr": args.lr, "batch_size": args.batch_size,
        "optimizer": args.optimizer, "exact_steps": exact,
        "impl_loss": result.impl_loss, "twin_loss": result.twin_loss,
        "epochs": result.epochs, "batch_indices": result.batches.tolist(),
    }))
    png = _plot_losses(result, folder / "loss.png")
    print(f"wrote {folder / 'history.json'}" + (f" and {png}" if png else " (pip install matplotlib for the PNG)"),
          file=out)
    problems = result.failures()
    for problem in problems:
        print("\n" + problem.render(), file=out)
    if not problems:
        print(f"the two sides keep the claim at every step and every checkpoint ({claim})", file=out)
    return 1 if problems else 0


def _plot_losses(result, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    impl_loss, twin_loss = np.asarray(result.impl_loss), np.asarray(result.twin_loss)
    steps = np.arange(len(impl_loss))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
    top.plot(steps, impl_loss, label="impl (NumPy)", linewidth=1)
    top.plot(steps, twin_loss, label="twin (PyTorch)", linewidth=1, linestyle="--")
    top.set_ylabel("training loss")
    top.legend()
    top.set_title(f"training parity, {result.dtype}, seed {result.seed}")
    diff = np.abs(impl_loss - twin_loss)
    exact = diff == 0
    bottom.semilogy(steps[~exact], diff[~exact], ".", markersize=2)
    bottom.set_ylabel("|impl - twin| (log)")
    bottom.set_title(f"equal to the last bit at {int(exact.sum())} of {len(diff)} steps (not drawn)", fontsize=9)
    bottom.set_xlabel("step")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _selected_cases(args):
    chosen = [cases.CASES_BY_ID[c] for c in args.case] if args.case else list(cases.CASES)
    if args.layer:
        chosen = [c for c in chosen if c.layer in args.layer]
    return chosen


def _valid_tensors(selected, with_optimizers):
    """Every tensor name a check of these cases (and the optimizers) can report, for --tensor."""
    names = set()
    rng = streams.rng(0, "layer inputs")
    for case in selected:
        spec = layer_checks.SPECS[case.layer]
        names.update(spec.tensors)
        names.update(k for k in spec.inputs(case, rng) if not k.startswith("_"))
        if spec.stateful:
            names.update(f"{t} ({label})" for t in spec.tensors for label in ("second call", "second backward"))
    if with_optimizers:
        names.update(("W1", "b1", "W2", "b2", "update"))
    return sorted(names)


def run_check(args, out=None):
    out = out or sys.stdout
    impl = protocol.load(args.impl)  # a wrong --impl is reported before torch is imported
    selected = _selected_cases(args)
    with_optimizers = not args.case and any(name in (args.layer or OPTIMIZER_NAMES) for name in OPTIMIZER_NAMES)
    if args.tensor:
        valid = _valid_tensors(selected, with_optimizers)
        if args.tensor not in valid:
            raise ValueError(f"no check reports a tensor {args.tensor!r} for the cases chosen; valid: "
                             + ", ".join(repr(v) for v in valid))
    from . import optimizer_checks

    missing = impl.missing()
    if missing:
        print(f"note: {protocol.MissingProtocol(args.impl, missing)}; their checks are reported NOT RUN\n", file=out)
    seeds = args.seed or cases.layer_seeds(args.seeds)
    started = time.perf_counter()
    rows = {}  # (case, tensor, dtype, oracle) -> results over the seeds
    from .progress import Progress

    progress = Progress(len(selected) + len(optimizer_checks.OPTIMIZERS), "check (cases, then optimizers)")
    for number, case in enumerate(selected):
        progress.update(number)
        for dtype in args.dtype or case.dtypes:
            if dtype not in case.dtypes:
                continue
            for seed in seeds:
                for result in layer_checks.run_case(impl, case, dtype, seed).results:
                    c = result.context
                    if args.tensor and c.tensor != args.tensor:
                        continue
                    key = (case.layer, "*", dtype, c.oracle) if args.summary else (case.id, c.tensor, dtype, c.oracle)
                    rows.setdefault(key, []).append(result)
    for number, name in enumerate(optimizer_checks.OPTIMIZERS):
        progress.update(len(selected) + number)
        if args.case or (args.layer and name not in args.layer):
            continue
        for dtype in args.dtype or cases.DTYPES:
            for seed in seeds:
                for result in optimizer_checks.run_optimizer(impl, name, dtype, seed, impl_spec=args.impl).results:
                    tensor = result.context.tensor.split(" at step")[0]
                    if args.tensor and tensor != args.tensor:
                        continue
                    key = (name, "*" if args.summary else tensor, dtype, "twin, 100 steps")
                    rows.setdefault(key, []).append(result)

    progress.clear()
    elapsed = time.perf_counter() - started
    if not rows:
        raise ValueError("no check matches the filters as given (--case, --layer, --tensor and --dtype together)")
    failures = _report(rows, out, args.dump_dir)
    checks = sum(len(r) for r in rows.values())
    print(f"\n{checks} checks over {len(seeds)} seed(s): {len(failures)} failed or not run "
          f"({elapsed:.1f} s, implementation {args.impl!r})", file=out)
    return 1 if failures or not rows else 0


def _report(rows, out, dump_dir=None):
    """Print one row per key of `rows` (the worst over its results), then every failure; return the failures."""
    header = ("case", "tensor", "dtype", "oracle", "max abs err", "max rel err", "allowance used", "tolerance", "verdict")
    table = [header]
    failures = []
    for (case_id, tensor, dtype, oracle), results in rows.items():
        bad = [r for r in results if not r.passed]
        failures.extend(bad)
        compared = [r for r in results if hasattr(r, "max_abs")]
        max_abs = max((r.max_abs for r in compared), default=float("nan"))
        max_rel = max((r.max_rel for r in compared), default=float("nan"))
        used = max((r.used for r in compared if not np.isnan(r.used)), default=float("nan"))
        tol = compared[0].tolerance.describe() if compared else "-"
        verdict = "ok" if not bad else bad[0].verdict
        if len(results) > 1 and bad:
            verdict += f" ({len(bad)} of {len(results)} results)"
        table.append((case_id, tensor, dtype, oracle, _num(max_abs), _num(max_rel), _pct(used), tol, verdict))
    _print_table(table, out)
    notes = {}
    for results in rows.values():
        for r in results:
            if r.passed and getattr(r, "note", ""):
                notes.setdefault((r.context.blamed, r.context.tensor, r.note), []).append(r)
    for (piece, tensor, note), judged in notes.items():
        print(f"\nconvention: {piece} {tensor} judged as {note} ({len(judged)} results)", file=out)
    _print_failures(failures, out, dump_dir)
    return failures


def _print_failures(failures, out, dump_dir=None):
    """One full report per cause (piece, tensor, dtype, oracle, verdict), then the other cases and seeds
    where the same cause failed on one line; checks NOT RUN grouped by their reason."""
    not_run, causes = {}, {}
    for failure in failures:
        if getattr(failure, "verdict", "") == "NOT RUN":
            not_run.setdefault(failure.reason, []).append(failure)
            continue
        c = failure.context
        tensor = c.tensor.split(" at step")[0].split(" (")[0]  # dx, dx (second call), dx (second backward): one
        causes.setdefault((c.blamed, tensor, c.dtype, c.oracle, failure.verdict), []).append(failure)
    for group in causes.values():
        first = group[0]
        if dump_dir and hasattr(first, "dump"):
            for failure in group:
                failure.dump(dump_dir)
        print("\n" + first.render(), file=out)
        if len(group) > 1:
            others = ", ".join(f"{f.context.case or f.context.layer}"
                               + (f" {f.context.tensor}" if f.context.tensor != first.context.tensor else "")
                               + f" seed {f.context.seed}" for f in group[1:])
            print(f"  the same failure ({len(group) - 1} more): {others}", file=out)
    for reason, skipped in not_run.items():
        pieces = sorted({f.context.layer for f in skipped})
        print(f"\nNOT RUN ({len(skipped)} checks of {', '.join(pieces)}): {reason}", file=out)


def run_golden(args, out=None):
    """The implementation against the recorded twin outputs: NumPy only."""
    out = out or sys.stdout
    from . import golden

    started = time.perf_counter()
    impl = protocol.load(args.impl)
    recorded = golden.load(args.golden_dir or golden.GOLDEN)
    made = recorded.manifest["made_by"]
    print(f"golden fixtures recorded with torch {made['torch']}, numpy {made['numpy']}, python {made['python']} "
          f"on {made['platform']}\n", file=out)
    rows = {}

    def wanted(case_id, tensor, dtype, seed):
        return ((not args.case or case_id in args.case) and (not args.tensor or tensor == args.tensor)
                and (not args.dtype or dtype in args.dtype) and (not args.seed or seed in args.seed))

    for run in golden.check_layers(impl, recorded):
        for result in run.results:
            c = result.context
            if not wanted(run.case.id, c.tensor, run.dtype, run.seed):
                continue
            key = (run.case.layer, "*", run.dtype, c.oracle) if args.summary else (run.case.id, c.tensor, run.dtype, c.oracle)
            rows.setdefault(key, []).append(result)
    for result in golden.check_network(impl, recorded):
        c = result.context
        if wanted("TwoLayerNet", c.tensor, c.dtype, c.seed):
            rows.setdefault(("TwoLayerNet", "*" if args.summary else c.tensor, c.dtype, "golden"), []).append(result)
    failures = _report(rows, out, args.dump_dir)
    checks = sum(len(r) for r in rows.values())
    print(f"\n{checks} checks against golden fixtures: {len(failures)} failed or not run "
          f"({time.perf_counter() - started:.1f} s, implementation {args.impl!r}, numpy {np.__version__})", file=out)
    return 1 if failures or not rows else 0


def run_record(args, out=None):
    out = out or sys.stdout
    from . import golden

    folder = args.golden_dir or golden.GOLDEN
    manifest = golden.record(folder)
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"recorded {len(manifest['cases'])} cases into {folder} ({total / 2**20:.2f} MiB) with "
          f"{', '.join(f'{k} {v}' for k, v in manifest['made_by'].items())}", file=out)
    return 0


def run_drift(args, out=None):
    out = out or sys.stdout
    from . import golden

    recorded = golden.load(args.golden_dir or golden.GOLDEN)
    results = golden.drift(recorded)
    moved = [r for r in results if not r.passed]
    for r in moved:
        print(r.render() + "\n", file=out)
    worst = max(results, key=lambda r: r.used if not np.isnan(r.used) else -1.0)
    made = recorded.manifest["made_by"]
    print(f"{len(results)} recorded twin outputs (torch {made['torch']}) against the live twins "
          f"(torch {golden.versions()['torch']}): {len(moved)} moved; the closest to moving is "
          f"{worst.context.layer} {worst.context.tensor} ({worst.context.dtype}), abs {worst.max_abs:.2e}", file=out)
    return 1 if moved else 0


def _num(value):
    return "-" if np.isnan(value) else f"{value:.2e}"


def _pct(fraction):
    return "-" if np.isnan(fraction) else f"{100 * fraction:.2g}%"


def _print_table(table, out):
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args)
        if args.command == "trace":
            return run_trace(args)
        if args.command == "train-parity":
            return run_train_parity(args)
        if args.command == "zoo":
            return run_zoo(args)
        if args.command == "optimizers":
            return run_optimizers(args)
        if args.command in ("golden", "record", "drift"):
            return {"golden": run_golden, "record": run_record, "drift": run_drift}[args.command](args)
    except (ValueError, protocol.MissingProtocol, GoldenError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name not in MISSING_EXTRA:
            raise
        print(f"error: {error.name} is not installed; {MISSING_EXTRA[error.name]}", file=sys.stderr)
        return 2
    return 2


# what a missing module means for a user, and the command that installs it
MISSING_EXTRA = {
    "torch": "the twins need it: pip install -e '.[test]' (torch==2.13.0, CPU), or run `python -m reference golden`, "
             "which needs NumPy only",
    "threadpoolctl": "side-by-side training needs it: pip install -e '.[test]'",
    "matplotlib": "the figures need it: pip install -e '.[plot]'",
}
