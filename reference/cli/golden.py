"""`python -m reference golden | record | drift`: the recorded twin outputs (reference.run.golden)."""

import time

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.cli.common import only_present_argument, print_skipped, supervised
from bp_parity.reference.pieces.registry import spec_of
from bp_parity.reference.report.compare import Location, Oracle
from bp_parity.reference.report.tables import report, summary_line, unavailable
from bp_parity.reference.run import golden, tasks, worker

HELP = "check an implementation against the recorded twin outputs (no torch)"
RECORD_HELP = "record fixtures/golden/ from the live twins"
DRIFT_HELP = "compare the recorded twin outputs with the live twins"


def add_arguments(parser):
    parser.add_argument("--golden-dir", help="the golden folder (default: fixtures/golden)")
    only_present_argument(parser)


def run(args, out):
    """The implementation against the recorded twin outputs: NumPy only."""

    started = time.perf_counter()
    recorded = golden.load(args.golden_dir or golden.GOLDEN)
    worker.shared["golden"] = recorded  # read and checksummed once, here; every worker has it
    return supervised(args, out, lambda pool: _run(args, out, pool, recorded, started))


def _run(args, out, pool, recorded, started):
    impl = pool.described
    made = recorded.manifest["made_by"]
    print(f"golden fixtures recorded with torch {made['torch']}, numpy {made['numpy']}, python {made['python']} "
          f"on {made['platform']}\n", file=out)
    rows, pieces = {}, {}  # (case, tensor, dtype, oracle) -> results; the same key -> its piece

    def wanted(case_id, context, dtype, seed):
        return ((not args.case or case_id in args.case) and (not args.tensor or context.is_tensor(args.tensor)
                                                             or context.oracle == Oracle.HARNESS)
                and (not args.dtype or dtype in args.dtype) and (not args.seed or seed in args.seed))

    absent = set()

    def present(name, requires):
        if args.only_present and impl.missing(requires):
            absent.add(name)
            return False
        return True

    units = []  # (piece, case id, dtype, seed, task, entry number)
    for number, entry in enumerate(golden.entries(recorded, "layers")):
        case = golden.entry_case(entry)
        if present(case.layer, spec_of(case.layer).requires) and (not args.case or case.id in args.case) \
                and (not args.dtype or entry["dtype"] in args.dtype) and (not args.seed or entry["seed"] in args.seed):
            units.append((case.layer, case.id, entry["dtype"], entry["seed"], tasks.golden_layer, number))
    if present("TwoLayerNet", ("TwoLayerNet",)):
        for number, entry in enumerate(golden.entries(recorded, "network")):
            if (not args.case or "TwoLayerNet" in args.case) and (not args.dtype or entry["dtype"] in args.dtype) \
                    and (not args.seed or entry["seed"] in args.seed):
                units.append(("TwoLayerNet", "TwoLayerNet", entry["dtype"], entry["seed"], tasks.golden_network,
                              number))
    ran, ended = 0, {}
    for piece, case_id, dtype, seed, task, number in units:
        where = Location(layer=piece, tensor="every check", oracle=Oracle.HARNESS, dtype=dtype, seed=seed, case=case_id,
                         piece=piece, reproduce=f"{program()} golden {args.target.arguments()} --case {case_id} "
                         f"--dtype {dtype}")
        outcome = pool.run(task, number)
        ran += outcome.done
        if not outcome.done:
            ended[outcome.verdict] = ended.get(outcome.verdict, 0) + 1
        for result in tasks.results_of(outcome, where):
            c = result.context
            if not wanted(case_id, c, dtype, seed):
                continue
            shown = "*" if args.summary else c.shown
            key = (piece if args.summary else case_id, shown, dtype, "golden" if piece == "TwoLayerNet"
                   and c.oracle != Oracle.HARNESS else c.oracle)
            rows.setdefault(key, []).append(result)
            pieces.setdefault(key, piece)
    print_skipped(absent, out)
    failures = report(rows, out, args.dump_dir, None if args.table or args.summary else pieces)
    checks = sum(len(r) for r in rows.values())
    skipped = sum(r.skipped for results in rows.values() for r in results)
    passed = sum(r.passed for results in rows.values() for r in results)
    print(f"\n{checks} checks against golden fixtures: {len(failures)} failed or not run "
          f"({time.perf_counter() - started:.1f} s, implementation {args.impl!r}, numpy {np.__version__})", file=out)
    asked = unavailable([r for results in rows.values() for r in results], args.dtype or ())
    if asked:
        print(asked, file=out)
    print(summary_line(len(units), ran, ended, passed, len(failures), skipped, pool.started), file=out)
    return 0 if rows and ran == len(units) and not failures and passed and not asked else 1


def run_record(args, out):
    folder = args.golden_dir or golden.GOLDEN
    manifest = golden.record(folder)
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"recorded {len(manifest['cases'])} cases into {folder} ({total / 2**20:.2f} MiB) with "
          f"{', '.join(f'{k} {v}' for k, v in manifest['made_by'].items())}", file=out)
    return 0


def run_drift(args, out):
    recorded = golden.load(args.golden_dir or golden.GOLDEN)
    results = golden.drift(recorded)
    moved = [r for r in results if not r.passed]
    for r in moved:
        print(r.render() + "\n", file=out)
    worst = max(results, key=lambda r: r.used if not np.isnan(r.used) else -1.0)
    made = recorded.manifest["made_by"]
    print(f"{len(results)} recorded twin outputs (torch {made['torch']}) against the live twins "
          f"(torch {golden.versions()['torch']}): {len(moved)} moved; the closest to moving is "
          f"{worst.context.layer} {worst.context.shown} ({worst.context.dtype}), abs {worst.max_abs:.2e}", file=out)
    return 1 if moved else 0
