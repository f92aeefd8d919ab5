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
    return parser


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
    except (ValueError, protocol.MissingProtocol) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 2
