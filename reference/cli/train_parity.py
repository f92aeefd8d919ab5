"""`python -m reference train-parity`: train the implementation and its twin side by side on MNIST, step by step."""

import json
import shlex
import time
from pathlib import Path

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.cli.common import only_present_argument, require, supervised, target
from bp_parity.reference.pieces import registry
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import captured, Location, Oracle
from bp_parity.reference.report.progress import Progress
from bp_parity.reference.run import tasks, worker
from bp_parity.reference.run.worker import shared

HELP = "train impl and its twin side by side on MNIST"


def add_arguments(parser):
    parser.add_argument("--dtype", choices=cases.DTYPES, default="float32")
    only_present_argument(parser, "where the implementation does not define the network or the optimizer, say so "
                          "(SKIPPED, with what is expected) and exit 1: nothing is left to train")
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=None, help="plain SGD's learning rate (default: the network's: 0.1, "
                        "MultiLayerNetExtend 0.01)")
    parser.add_argument("--hidden", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST folder (default: BP_PARITY_DATA, then the cache)")
    parser.add_argument("--optimizer", help="a protocol optimizer (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam) "
                        "with the textbook's hyper-parameters, instead of the plain SGD loop with --lr")
    parser.add_argument("--out-dir", default="runs/train-parity", help="where the PNG and JSON go")
    parser.add_argument("--net", choices=[n for n in registry.names("network") if registry.piece(n).network.trained],
                        help="the network trained side by side (default TwoLayerNet); --deep and --conv are short for "
                        "MultiLayerNetExtend and SimpleConvNet")
    parser.add_argument("--deep", action="store_true",
                        help="MultiLayerNetExtend (five hidden layers of 100, batch norm, dropout 0.2, weight decay "
                        "0.1) against a twin composed from its layers, SGD lr 0.01: --net MultiLayerNetExtend")
    parser.add_argument("--conv", action="store_true",
                        help="SimpleConvNet (30 filters of 5x5, pooling, 100 hidden units) against a twin composed "
                        "from its layers, SGD lr 0.1: --net SimpleConvNet")


def run(args, out):
    from bp_parity.impl.mnist import load_mnist

    made = target(args)  # a path that does not exist is said before torch is imported
    picked = [n for n, given in ((args.net, args.net), ("MultiLayerNetExtend", args.deep), ("SimpleConvNet", args.conv))
              if given]
    if len(picked) > 1:
        raise ValueError("--net, --deep and --conv pick one network each: give one of them")
    args.net = picked[0] if picked else "TwoLayerNet"
    args.lr = registry.piece(args.net).network.lr if args.lr is None else args.lr
    if args.optimizer:
        registry.hyper(args.optimizer)  # an unknown name is a ValueError naming the known ones
    worker.shared["mnist"] = load_mnist(dtype=args.dtype, data_dir=args.data_dir)  # in every worker from the fork
    try:
        return supervised(args, out, lambda pool: _run(args, out, pool), made=made)
    finally:
        worker.shared.pop("mnist", None)


def _ended(outcome, args, out, name):
    """The report of a training run whose worker ended, hung or overstayed, or the global state it changed ([] when
    neither: the run's own results stand)."""
    command = (f"{program()} train-parity --net {args.net} {args.target.arguments()} --dtype {args.dtype} "
               f"--seed {args.seed} --steps {args.steps} --batch-size {args.batch_size}"
               + (f" --optimizer {args.optimizer}" if args.optimizer else f" --lr {args.lr}")
               + (f" --hidden {args.hidden}" if args.net == "TwoLayerNet" else "")
               + (f" --data-dir {shlex.quote(args.data_dir)}" if args.data_dir else ""))
    where = Location(layer=name, tensor="training", oracle=Oracle.TWIN_TRAINING, dtype=args.dtype, seed=args.seed,
                     case=f"{name} training parity", piece=name, reproduce=command)
    return tasks.harness_problems(outcome, where, alone=True)


def _run(args, out, pool):
    impl = pool.described
    require(args, impl, (args.net, args.optimizer), out, doing="train")
    promised = tolerance.training_claim(args.net)
    if not promised.accuracy:  # no accuracies to tabulate: a line every 100 steps
        return run_composed(pool, args, out)

    data = shared["mnist"]
    per_epoch = max(len(data[0][0]) // args.batch_size, 1)
    exact = promised.exact_steps(args.dtype, args.steps)
    claim = (f"step-exact parity over all {args.steps} steps" if exact == args.steps else
             f"step-exact parity over the first {exact} steps, then the mean loss of every "
             f"{promised.window}-step window within {tolerance.TRAINING_BANDS['loss'].rtol:.0%} and the "
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

    def on_event(news):
        if "row" in news:
            e = news["row"]
            progress.clear()
            print(line((e["step"], f"{e['impl_loss']:.6f}", f"{e['twin_loss']:.6f}",
                        f"{abs(e['impl_loss'] - e['twin_loss']):.2e}", f"{e['impl_train_acc']:.4f}",
                        f"{e['twin_train_acc']:.4f}", f"{e['impl_test_acc']:.4f}", f"{e['twin_test_acc']:.4f}")),
                  file=out, flush=True)
            progress.update(e["step"])
        else:
            progress.update(news["step"])

    started = time.perf_counter()
    options = dict(dtype=args.dtype, steps=args.steps, batch_size=args.batch_size, lr=args.lr, hidden=args.hidden,
                   seed=args.seed, evaluate_every=per_epoch, checkpoint_every=per_epoch,
                   optimizer=args.optimizer)
    outcome = pool.run(tasks.train, args.net, options, on_event=on_event, seconds=0)
    progress.clear()
    problems = _ended(outcome, args, out, args.net)
    if problems and not outcome.done:
        return _report_ended(problems, out)
    result = outcome.value
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
    png = plot_losses(result, folder / "loss.png")
    print(f"wrote {folder / 'history.json'}" + (f" and {png}" if png else " (pip install matplotlib for the PNG)"),
          file=out)
    if result.convention:
        print(f"convention: {args.net}'s loss judged as {result.convention}", file=out)
    problems = result.failures() + (problems or [])
    _captured(outcome, problems, out)
    for problem in problems:
        print("\n" + problem.render(), file=out)
    if not problems:
        print(f"the two sides keep the claim at every step and every checkpoint ({claim})", file=out)
    return 1 if problems else 0


def _captured(outcome, problems, out):
    """What the implementation printed during a run that ended: with the first problem's report, else said alone."""
    if not outcome.output_bytes:
        return
    if problems:
        problems[0].output, problems[0].output_bytes = outcome.output, outcome.output_bytes
    else:
        print(captured(outcome.output, outcome.output_bytes).lstrip("\n"), file=out)


def _report_ended(problems, out):
    for problem in problems:
        print("\n" + problem.render(), file=out)
    print("\nthe training run did not end: 1 run planned, 0 ran to its end (1 failure)", file=out)
    return 1


def plot_losses(result, path):
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


def run_composed(pool, args, out):
    """The side-by-side run of a network whose claim compares no accuracies (tolerance.TRAINING_CLAIMS:
    MultiLayerNetExtend's test mode uses running statistics its twin does not keep; SimpleConvNet's accuracies were
    never measured side by side): a line every 100 steps."""
    name, claim = args.net, tolerance.training_claim(args.net)
    exact = claim.exact_steps(args.dtype, args.steps)
    print(f"{name} and its composed twin side by side: {args.steps} steps, {args.dtype}, batch "
          f"{args.batch_size}, {args.optimizer or f'SGD lr {args.lr:g}'}, seed {args.seed}; claim: step-exact over "
          f"{exact} steps" + ("" if exact == args.steps else f", then every {claim.window}-step window's mean loss "
                             f"within {tolerance.TRAINING_BANDS['loss'].rtol:.0%}"), file=out, flush=True)
    progress = Progress(args.steps, f"train-parity --net {name}")
    started = time.perf_counter()

    def on_event(news):
        progress.update(news["step"])
        if "impl_loss" in news:
            progress.clear()
            print(f"step {news['step']}: impl loss {news['impl_loss']:.6f}, twin {news['twin_loss']:.6f}", file=out,
                  flush=True)

    options = dict(dtype=args.dtype, steps=args.steps, batch_size=args.batch_size, seed=args.seed, lr=args.lr,
                   optimizer=args.optimizer, checkpoint_every=max(args.steps // 4, 1))
    outcome = pool.run(tasks.train, name, options, on_event=on_event, seconds=0)
    progress.clear()
    problems = _ended(outcome, args, out, name)
    if problems and not outcome.done:
        return _report_ended(problems, out)
    result = outcome.value
    max_abs, max_rel = result.max_loss_error(exact)
    print(f"\n{args.steps} steps in {time.perf_counter() - started:.1f} s; over the {exact} step-exact steps the losses "
          f"differ by at most {max_abs:.2e} abs, {max_rel:.2e} rel; measured inside the plain bound for "
          f"{result.step_exact_steps()} steps", file=out)
    if result.convention:
        print(f"convention: {args.net}'s loss judged as {result.convention}", file=out)
    problems = result.failures() + (problems or [])
    _captured(outcome, problems, out)
    for problem in problems:
        print("\n" + problem.render(), file=out)
    if not problems:
        print("the two sides keep the claim at every step and every checkpoint", file=out)
    return 1 if problems else 0
