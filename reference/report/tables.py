"""Tables and grouped failure reports for the command line: how results are shown, apart from parsing."""

import numpy as np
from reference.report.compare import Verdict


def num(value):
    return "-" if np.isnan(value) else f"{value:.2e}"


def pct(fraction):
    return "-" if np.isnan(fraction) else f"{100 * fraction:.2g}%"


def print_table(table, out):
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def report(rows, out, dump_dir=None):
    """Print one row per key of `rows` (the worst over its results), then every failure; return the failures.

    rows: {(case, tensor, dtype, oracle): [results]}."""
    header = ("case", "tensor", "dtype", "oracle", "max abs err", "max rel err", "allowance used", "tolerance", "verdict")
    table = [header]
    failures = []
    for (case_id, tensor, dtype, oracle), results in rows.items():
        bad = [r for r in results if not r.passed and not r.skipped]
        failures.extend(bad)
        compared = [r for r in results if r.compared]
        max_abs = max((r.max_abs for r in compared), default=float("nan"))
        max_rel = max((r.max_rel for r in compared), default=float("nan"))
        used = max((r.used for r in compared if not np.isnan(r.used)), default=float("nan"))
        tol = compared[0].tolerance.describe() if compared else "-"
        skipped = [r for r in results if r.skipped]
        verdict = bad[0].verdict if bad else Verdict.SKIPPED if skipped else Verdict.OK
        if len(results) > 1 and (bad or skipped):
            verdict += f" ({len(bad or skipped)} of {len(results)} results)"
        table.append((case_id, tensor, dtype, oracle, num(max_abs), num(max_rel), pct(used), tol, verdict))
    print_table(table, out)
    notes = {}
    for results in rows.values():
        for r in results:
            if r.passed and getattr(r, "note", ""):
                notes.setdefault((r.context.blamed, r.context.tensor, r.note), []).append(r)
    for (piece, tensor, note), judged in notes.items():
        print(f"\nconvention: {piece} {tensor} judged as {note} ({len(judged)} results)", file=out)
    print_failures(failures, out, dump_dir)
    reasons = {}
    for results in rows.values():
        for r in results:
            if r.skipped:
                reasons.setdefault(r.reason, []).append(r)
    for reason, skipped in reasons.items():
        pieces = sorted({r.context.layer for r in skipped})
        print(f"\nSKIPPED ({len(skipped)} checks of {', '.join(pieces)}): {reason}", file=out)
    return failures


def print_failures(failures, out, dump_dir=None):
    """One full report per cause (piece, tensor, dtype, oracle, verdict), then the other cases and seeds
    where the same cause failed on one line; checks NOT RUN grouped by their reason."""
    not_run, causes = {}, {}
    for failure in failures:
        if failure.verdict == Verdict.NOT_RUN:
            not_run.setdefault(failure.reason, []).append(failure)
            continue
        c = failure.context  # dx, dx (second call), dx (second backward), dx at step 3: one cause
        causes.setdefault((c.blamed, c.tensor, c.dtype, c.oracle, failure.verdict), []).append(failure)
    for group in causes.values():
        first = group[0]
        if dump_dir:
            for failure in group:
                failure.dump(dump_dir)
        print("\n" + first.render(), file=out)
        if len(group) > 1:
            others = ", ".join(f"{f.context.case or f.context.layer}"
                               + (f" {f.context.shown}" if f.context.shown != first.context.shown else "")
                               + f" seed {f.context.seed}" for f in group[1:])
            print(f"  the same failure ({len(group) - 1} more): {others}", file=out)
    for reason, skipped in not_run.items():
        pieces = sorted({f.context.layer for f in skipped})
        print(f"\nNOT RUN ({len(skipped)} checks of {', '.join(pieces)}): {reason}", file=out)


def summary_line(planned, ran, ended, passed, failed, skipped, workers):
    """The last line of a run: planned / ran units, and the checks passed / failed / skipped."""
    lost = ", ".join(f"{count} {verdict}" for verdict, count in sorted(ended.items()))
    return (f"planned {planned} unit{'s' if planned != 1 else ''} of work, ran {ran}" + (f" ({lost})" if lost else "")
            + f"; checks: {passed} passed, {failed} failed, {skipped} skipped"
            + (f"; {workers} worker{'s' if workers != 1 else ''} started" if workers else "; in process"))
