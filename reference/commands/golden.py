"""`python -m reference golden | record | drift`: the recorded twin outputs (reference.golden)."""

import time

import numpy as np

from . import load_impl, only_present_argument, print_skipped
from ..tables import report

HELP = "check an implementation against the recorded twin outputs (no torch)"
RECORD_HELP = "record fixtures/golden/ from the live twins"
DRIFT_HELP = "compare the recorded twin outputs with the live twins"


def add_arguments(parser):
    parser.add_argument("--golden-dir", help="the golden folder (default: fixtures/golden)")
    only_present_argument(parser)


def run(args, out):
    """The implementation against the recorded twin outputs: NumPy only."""
    from .. import golden

    started = time.perf_counter()
    impl = load_impl(args)
    recorded = golden.load(args.golden_dir or golden.GOLDEN)
    made = recorded.manifest["made_by"]
    print(f"golden fixtures recorded with torch {made['torch']}, numpy {made['numpy']}, python {made['python']} "
          f"on {made['platform']}\n", file=out)
    rows = {}

    def wanted(case_id, context, dtype, seed):
        return ((not args.case or case_id in args.case) and (not args.tensor or context.names(args.tensor))
                and (not args.dtype or dtype in args.dtype) and (not args.seed or seed in args.seed))

    absent = set()

    def present(name, requires):
        if args.only_present and impl.missing(requires):
            absent.add(name)
            return False
        return True

    from ..layer_checks import spec_of

    for run in golden.check_layers(impl, recorded):
        if not present(run.case.layer, spec_of(run.case.layer).requires):
            continue
        for result in run.results:
            c = result.context
            if not wanted(run.case.id, c, run.dtype, run.seed):
                continue
            key = (run.case.layer, "*", run.dtype, c.oracle) if args.summary else (run.case.id, c.shown, run.dtype, c.oracle)
            rows.setdefault(key, []).append(result)
    for result in golden.check_network(impl, recorded) if present("TwoLayerNet", ("TwoLayerNet",)) else ():
        c = result.context
        if wanted("TwoLayerNet", c, c.dtype, c.seed):
            rows.setdefault(("TwoLayerNet", "*" if args.summary else c.shown, c.dtype, "golden"), []).append(result)
    print_skipped(absent, out)
    failures = report(rows, out, args.dump_dir)
    checks = sum(len(r) for r in rows.values())
    print(f"\n{checks} checks against golden fixtures: {len(failures)} failed or not run "
          f"({time.perf_counter() - started:.1f} s, implementation {args.impl!r}, numpy {np.__version__})", file=out)
    return 1 if failures or not rows else 0


def run_record(args, out):
    from .. import golden

    folder = args.golden_dir or golden.GOLDEN
    manifest = golden.record(folder)
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"recorded {len(manifest['cases'])} cases into {folder} ({total / 2**20:.2f} MiB) with "
          f"{', '.join(f'{k} {v}' for k, v in manifest['made_by'].items())}", file=out)
    return 0


def run_drift(args, out):
    from .. import golden

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
