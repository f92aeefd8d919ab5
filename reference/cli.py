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

from . import cases, layer_checks, protocol


def _parser():
    parser = argparse.ArgumentParser(prog="python -m reference", description="bp-parity: the reference harness")
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="check every layer of an implementation against the twins")
    check.add_argument("--impl", default="impl", help="module name, .py file or package folder (default: impl)")
    check.add_argument("--case", action="append", choices=sorted(cases.CASES_BY_ID), metavar="ID",
                       help="only this case of the table (repeatable)")
    check.add_argument("--layer", action="append", help="only the cases of this protocol name (repeatable)")
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
    parity.add_argument("--out-dir", default="runs/train-parity", help="where the PNG and JSON go")
    return parser


def run_trace(args, out=sys.stdout):
    from impl.mnist import load_mnist  # the loader is NumPy-only and shared by both sides

    from . import network as twin_network
    from .trace import trace_network

    impl = protocol.load(args.impl)
    data_dir = args.data_dir or cases.FIXTURES / "mnist-subset"
    (x_train, t_train), _ = load_mnist(dtype=args.dtype, data_dir=data_dir, download=False)
    rng = np.random.default_rng([args.seed, 2])
    index = rng.choice(len(x_train), size=args.batch, replace=False)
    from .training_parity import make_impl_network

    net = make_impl_network(impl, x_train.shape[1], 50, 10, args.dtype)
    twin_network.load_into_impl(net, twin_network.initial_weights(args.seed, x_train.shape[1], 50, 10,
                                                                  weight_init_std=0.1, dtype=args.dtype))
    command = (f"python -m reference trace --impl {args.impl} --dtype {args.dtype} --seed {args.seed} "
               f"--batch {args.batch}")
    result = trace_network(net, x_train[index], t_train[index], seed=args.seed, dtype=args.dtype,
                           impl_spec=args.impl, reproduce=command)
    table = [("layer", "tensor", "max abs err", "max rel err", "verdict")]
    for r in result.results:
        compared = hasattr(r, "max_abs")
        table.append((r.context.layer, r.context.tensor, _num(r.max_abs) if compared else "-",
                      _num(r.max_rel) if compared else "-", r.verdict))
    _print_table(table, out)
    first = result.first_divergence
    if first is None:
        print(f"\nno divergence: every layer agrees with its twin ({args.dtype}, seed {args.seed})", file=out)
        return 0
    if args.dump_dir and hasattr(first, "dump"):
        first.dump(args.dump_dir)
    print(f"\nfirst divergence: {first.context.layer} {first.context.tensor}\n" + first.render(), file=out)
    return 1


def run_train_parity(args, out=sys.stdout):
    import json
    from pathlib import Path

    from impl.mnist import load_mnist

    from . import training_parity

    impl = protocol.load(args.impl)
    data = load_mnist(dtype=args.dtype, data_dir=args.data_dir)
    per_epoch = max(len(data[0][0]) // args.batch_size, 1)
    started = time.perf_counter()
    result = training_parity.run(impl, data, dtype=args.dtype, steps=args.steps, batch_size=args.batch_size,
                                 lr=args.lr, hidden=args.hidden, seed=args.seed, evaluate_every=per_epoch,
                                 checkpoint_every=per_epoch, impl_spec=args.impl)
    elapsed = time.perf_counter() - started
    table = [("step", "impl loss", "twin loss", "|diff|", "impl train", "twin train", "impl test", "twin test")]
    for e in result.epochs:
        table.append((e["step"], f"{e['impl_loss']:.6f}", f"{e['twin_loss']:.6f}",
                      f"{abs(e['impl_loss'] - e['twin_loss']):.2e}", f"{e['impl_train_acc']:.4f}",
                      f"{e['twin_train_acc']:.4f}", f"{e['impl_test_acc']:.4f}", f"{e['twin_test_acc']:.4f}"))
    _print_table(table, out)
    max_abs, max_rel = result.max_loss_error()
    print(f"\n{args.steps} steps in {elapsed:.1f} s ({args.dtype}, seed {args.seed}); loss difference "
          f"at most {max_abs:.2e} abs, {max_rel:.2e} rel", file=out)
    final = result.epochs[-1]
    print(f"final test accuracy: impl {final['impl_test_acc']:.4f}, twin {final['twin_test_acc']:.4f}", file=out)

    folder = Path(args.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "history.json").write_text(json.dumps({
        "dtype": args.dtype, "steps": args.steps, "seed": args.seed, "lr": args.lr, "batch_size": args.batch_size,
        "impl_loss": result.impl_loss, "twin_loss": result.twin_loss, "epochs": result.epochs,
        "batch_indices": result.batches.tolist(),
    }))
    png = _plot_losses(result, folder / "loss.png")
    print(f"wrote {folder / 'history.json'}" + (f" and {png}" if png else " (pip install matplotlib for the PNG)"),
          file=out)
    problems = [result.first_loss_divergence] if result.first_loss_divergence else []
    problems += [c for _, cs in result.checkpoints for c in cs if not c.passed][:1]
    for problem in problems:
        print("\n" + problem.render(), file=out)
    if not problems:
        print("the two sides agree at every step and every checkpoint", file=out)
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


def run_check(args, out=sys.stdout):
    impl = protocol.load(args.impl)
    seeds = args.seed or cases.layer_seeds(args.seeds)
    started = time.perf_counter()
    rows = {}  # (case, tensor, dtype, oracle) -> results over the seeds
    for case in _selected_cases(args):
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
            verdict += f" ({len(bad)}/{len(results)} seeds)"
        table.append((case_id, tensor, dtype, oracle, _num(max_abs), _num(max_rel), _pct(used), tol, verdict))
    _print_table(table, out)

    for failure in failures:
        if args.dump_dir and hasattr(failure, "dump"):
            failure.dump(args.dump_dir)
        print("\n" + failure.render(), file=out)
    elapsed = time.perf_counter() - started
    checks = sum(len(r) for r in rows.values())
    print(f"\n{checks} checks over {len(seeds)} seed(s): {len(failures)} failed or not run "
          f"({elapsed:.1f} s, implementation {args.impl!r})", file=out)
    return 1 if failures or not rows else 0


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
    except (ValueError, protocol.MissingProtocol) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 2
