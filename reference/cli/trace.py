"""`python -m reference trace`: networks layer by layer against the twins, and the first divergence.

Without --net: the networks the protocol allows (Affine-Relu-Affine and Affine-Sigmoid-Affine built from
the implementation's layers, its TwoLayerNet, and every public method of that network), on a batch of the
MNIST subset.  With --net NAME: that network of the implementation (reference.run.trace.build_network), of
any depth, built from layers the registry knows."""

from pathlib import Path

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.cli.common import only_present_argument, supervised, table_argument
from bp_parity.reference.report.compare import Location, NotRun, Oracle, Verdict
from bp_parity.reference.report.tables import num, pct, print_table, summary_line, unavailable
from bp_parity.reference.run import tasks
from bp_parity.reference.run.trace import Trace

HELP = "trace networks layer by layer against the twins (--net NAME: any network of the implementation)"


def add_arguments(parser):
    parser.add_argument("--net", help="a network class of the implementation whose constructor needs no arguments, "
                        "or a zero-argument factory function (the textbook's TwoLayerNet is built small)")
    parser.add_argument("--dtype", choices=cases.DTYPES, default=None,
                        help="float64 (default) or float32; with --net, the dtype the network was built in")
    parser.add_argument("--seed", type=int, default=cases.layer_seeds()[0], help="seed of the weights and the batch")
    parser.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--data-dir", help="MNIST folder (default: the subset in fixtures/mnist-subset)")
    parser.add_argument("--dump-dir", help="write an .npz of both sides for every mismatch")
    parser.add_argument("--report", metavar="DIR", help="write DIR/trace.html: each network's rows on a log scale "
                        "against the tolerance, the first divergence marked, a heat map of each mismatch (matplotlib)")
    table_argument(parser)
    only_present_argument(parser, "trace the networks whose pieces the implementation defines and report the others "
                          "SKIPPED (not NOT RUN, which fails the run)")


def run(args, out):
    return supervised(args, out, lambda pool: _run(args, out, pool))


def _run(args, out, pool):
    from dataclasses import replace

    impl = pool.described
    command = (f"{program()} trace {args.target.arguments()}" + (f" --net {args.net}" if args.net else "")
               + (f" --dtype {args.dtype}" if args.dtype else "") + f" --seed {args.seed} --batch {args.batch}")
    if args.net:
        impl.require(args.net)
    name = args.net or "TwoLayerNet"
    outcome = pool.run(tasks.traces, args.net, args.seed, args.batch, args.dtype, args.data_dir, command)
    where = Location(layer=name, tensor="every check", oracle=Oracle.HARNESS, dtype=args.dtype or "float64",
                     seed=args.seed, case=name, piece=name, reproduce=command)
    if outcome.done:
        traces = outcome.value
        extra = tasks.harness_problems(outcome, where)  # the state it changed, what it printed
        for trace in traces:
            tasks.results_of(replace(outcome, value=trace.results, state=[]), where)
        if extra:
            traces.append(Trace(f"{name} (the harness's global state)", extra))
    else:
        traces = [Trace(name, tasks.results_of(outcome, where))]
    if args.only_present:  # a network whose pieces the implementation does not define: SKIPPED, not NOT RUN
        for trace in traces:
            trace.results = [NotRun(r.context, f"not defined by the implementation (--only-present): "
                                    f"{', '.join(r.missing)}", Verdict.SKIPPED)
                             if getattr(r, "missing", None) and r.verdict == Verdict.NOT_RUN else r
                             for r in trace.results]
    failed = [trace for trace in traces if not trace.passed]
    if not args.table:  # the short answer: one row per network, then the rows of every network that failed
        summary = [("network", "rows", "layers", "worst allowance used", "verdict")]
        for trace in traces:
            rows = trace.results
            bad = sum(not r.passed and not r.skipped for r in rows)
            skipped = sum(r.skipped for r in rows)
            verdict = (f"{trace.first_divergence.verdict} ({bad} of {len(rows)} rows)" if not trace.passed
                       else Verdict.SKIPPED if rows and skipped == len(rows)
                       else Verdict.OK + (f" ({skipped} skipped)" if skipped else ""))
            used = max((r.used for r in rows if r.compared and not np.isnan(r.used)), default=float("nan"))
            summary.append((trace.network, len(rows), len({r.context.layer for r in rows}), pct(used), verdict))
        print_table(summary, out)
    table = [("network", "layer", "piece", "tensor", "max abs err", "max rel err", "verdict")]
    for trace in traces if args.table else failed:
        for r in trace.results:
            c = r.context
            table.append((trace.network, c.layer, c.piece if c.piece != c.layer else "", c.shown,
                          num(r.max_abs) if r.compared else "-", num(r.max_rel) if r.compared else "-", r.verdict))
    if len(table) > 1:
        if not args.table:
            print("", file=out)
        print_table(table, out)
    for trace in failed:
        first = trace.first_divergence
        if args.dump_dir:
            first.dump(args.dump_dir)
        what = "not run" if first.verdict == Verdict.NOT_RUN else "first divergence"
        print(f"\n{trace.network}: {what} at {first.context.layer} {first.context.shown} "
              f"(blame: {first.context.blamed})\n" + first.render(), file=out)
    for trace in traces:  # each reason once, with how many rows it skipped
        reasons = [r.reason for r in trace.skipped]
        for reason in dict.fromkeys(reasons):
            count = reasons.count(reason)
            print(f"\n{trace.network}: {count} row{'s' if count != 1 else ''} SKIPPED: {reason}", file=out)
    results = [r for trace in traces for r in trace.results]
    if not failed and any(r.passed for r in results):
        dtype = traces[0].results[0].context.dtype if traces and traces[0].results else args.dtype
        print(f"\nno divergence: every layer the registry knows agrees with its twin ({dtype}, seed {args.seed})",
              file=out)
    asked = unavailable(results, (args.dtype,) if args.dtype else ())
    if asked:
        print(asked, file=out)
    closing = summary_line(1, int(outcome.done), {} if outcome.done else {outcome.verdict: 1},
                           sum(r.passed for r in results), sum(not r.passed and not r.skipped for r in results),
                           sum(r.skipped for r in results), pool.started)
    if args.report:
        from bp_parity.reference.report import page

        written = page.write(Path(args.report) / "trace.html", f"bp-parity trace of {args.target.spec}", command,
                             [page.Group(t.network, t.results, t.first_divergence) for t in traces], closing)
        print(f"report page: {written}", file=out)
    print(closing, file=out)
    return 1 if failed or not outcome.done or not any(r.passed for r in results) or asked else 0
