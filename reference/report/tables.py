"""Tables and grouped failure reports for the command line: how results are shown, apart from parsing."""

import numpy as np
from bp_parity.reference.report.compare import Oracle, Verdict


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


# the oracles as the piece table names them, short enough for one row per piece
SHORT_ORACLE = {"finite differences": "fd", "arguments": "args", "the same call before": "repeat",
                "twin, 100 steps": "twin 100 steps"}


def _worst_used(results):
    return max((r.used for r in results if r.compared and not np.isnan(r.used)), default=float("nan"))


def _verdict(results):
    """A row's verdict: the first failure's, else SKIPPED if any was skipped, else ok; with how many of the
    results when there are several."""
    bad = [r for r in results if not r.passed and not r.skipped]
    skipped = [r for r in results if r.skipped]
    verdict = bad[0].verdict if bad else Verdict.SKIPPED if skipped else Verdict.OK
    if len(results) > 1 and (bad or skipped):
        verdict += f" ({len(bad or skipped)} of {len(results)} results)"
    return verdict


def _piece_verdict(results, piece=None, failing=(), steps=""):
    """A piece's verdict: the first failure's with how many checks failed, SKIPPED when every check was, else ok
    (with how many were skipped).  A network's failures that blame another piece which fails its own checks
    (`failing`) are inherited from it, not findings of the network's: said so, with the pieces they follow from.  So
    are a routine's where the model it `steps` with fails its own: its run follows that model's gradient."""
    bad = [r for r in results if not r.passed and not r.skipped]
    skipped = sum(r.skipped for r in results)
    if steps and steps in failing:
        own = []
    else:
        own = [r for r in bad if r.context.blamed == piece or r.context.blamed not in failing]
    if bad and not own:
        sources = sorted({steps} if steps in failing else {r.context.blamed for r in bad})
        return f"inherited from {', '.join(sources)} ({len(bad)} of {len(results)} checks)"
    if bad:
        return f"{own[0].verdict} ({len(bad)} of {len(results)} checks)"
    if skipped == len(results):
        return str(Verdict.SKIPPED)
    return str(Verdict.OK) + (f" ({skipped} skipped)" if skipped else "")


def report(rows, out, dump_dir=None, pieces=None, steps=None):
    """Print the table of `rows`, then every failure in full; return the failures.

    rows: {(case, tensor, dtype, oracle): [results]}.  Without `pieces`: one row per key (the worst over its
    results).  With `pieces` ({key: piece}): one row per piece, the short answer (checks, dtypes, oracles, the
    worst allowance used, the verdict); the failures below are the same either way.  steps: {routine: the model
    it steps with} (registry.Routine), whose failures make the routine's inherited."""
    failures = [r for results in rows.values() for r in results if not r.passed and not r.skipped]
    if pieces is not None:
        grouped, oracles_of = {}, {}
        for key, results in rows.items():
            grouped.setdefault(pieces[key], []).extend(results)
            if key[3] != Oracle.HARNESS:
                oracles_of.setdefault(pieces[key], {})[str(key[3])] = None
        table = [("piece", "checks", "dtypes", "oracles", "worst allowance used", "verdict")]
        # the pieces that fail checks of their own (a piece's own unit blames it)
        failing = {piece for piece, results in grouped.items()
                   if any(not r.passed and not r.skipped and r.context.blamed == piece for r in results)}
        for piece, results in grouped.items():
            dtypes = sorted({r.context.dtype for r in results if r.context.dtype}, reverse=True)
            oracles = oracles_of.get(piece, {})
            table.append((piece, len(results), ", ".join(dtypes) or "-",
                          ", ".join(SHORT_ORACLE.get(o, o) for o in oracles) or "-", pct(_worst_used(results)),
                          _piece_verdict(results, piece, failing, (steps or {}).get(piece, ""))))
        print_table(table, out)
    else:
        header = ("case", "tensor", "dtype", "oracle", "max abs err", "max rel err", "allowance used", "tolerance",
                  "verdict")
        table = [header]
        for (case_id, tensor, dtype, oracle), results in rows.items():
            compared = [r for r in results if r.compared]
            max_abs = max((r.max_abs for r in compared), default=float("nan"))
            max_rel = max((r.max_rel for r in compared), default=float("nan"))
            tol = compared[0].tolerance.describe() if compared else "-"
            table.append((case_id, tensor, dtype, oracle, num(max_abs), num(max_rel), pct(_worst_used(results)), tol,
                          _verdict(results)))
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
    findings = {}  # one diagnosis, word for word, in checks of several pieces: said once, with one report a piece
    for failure in failures:
        for name, text in getattr(failure, "diagnosis", None) or ():
            findings.setdefault(text, []).append(failure)
    shared = {text: group for text, group in findings.items() if len({f.context.blamed for f in group}) > 1}
    covered = {}  # id(failure) -> its finding's text
    for text, group in shared.items():
        pieces = sorted({f.context.blamed for f in group})
        print(f"\nfinding: {text} -- in {len(group)} checks of {len(pieces)} pieces: {', '.join(pieces)}; one "
              "report of each piece follows", file=out)
        for failure in group:
            covered.setdefault(id(failure), text)
    shown = set()  # (finding, piece) whose one report is printed
    for failure in failures:
        if failure.verdict == Verdict.NOT_RUN:
            not_run.setdefault(failure.reason, []).append(failure)
            continue
        c = failure.context  # dx, dx (second call), dx (second backward), dx at step 3: one cause
        if id(failure) in covered:
            key = (covered[id(failure)], c.blamed)
            if key in shown:
                continue
            shown.add(key)
        causes.setdefault((c.blamed, c.tensor, c.dtype, c.oracle, failure.verdict), []).append(failure)
    for group in causes.values():
        # the report shown is the first with a diagnosis, where one has (one number, a scalar case, may show none)
        first = next((f for f in group if getattr(f, "diagnosis", None)), group[0])
        if dump_dir:
            for failure in group:
                failure.dump(dump_dir)
        print("\n" + first.render(), file=out)
        if len(group) > 1:
            others = ", ".join(f"{f.context.case or f.context.layer}"
                               + (f" {f.context.shown}" if f.context.shown != first.context.shown else "")
                               + f" seed {f.context.seed}" for f in group if f is not first)
            print(f"  the same failure ({len(group) - 1} more): {others}", file=out)
    for reason, skipped in not_run.items():
        pieces = sorted({f.context.layer for f in skipped})
        print(f"\nNOT RUN ({len(skipped)} checks of {', '.join(pieces)}): {reason}", file=out)


def unavailable(results, asked):
    """The line a run prints when a dtype it was asked for (--dtype) cannot be had by some piece, or None.

    Such checks are SKIPPED with the reason (beyond the protocol, never a failure by itself); asked for explicitly,
    a dtype a piece cannot be checked in is not an answer for that piece, and the run exits 1 after this line."""
    missed = {}
    for r in results:
        if getattr(r, "unavailable_dtype", False) and r.context.dtype in asked:
            missed.setdefault(r.context.dtype, set()).add(r.context.blamed)
    if not missed:
        return None
    return ("\nasked for --dtype " + ", ".join(missed) + ": "
            + "; ".join(f"{', '.join(sorted(pieces))} cannot be built in {dtype}" for dtype, pieces in missed.items())
            + " (the SKIPPED line above says why); exit 1, as nothing of theirs was checked in the dtype asked for")


def summary_line(planned, ran, ended, passed, failed, skipped, workers):
    """The last line of a run: planned / ran units, and the checks passed / failed / skipped."""
    lost = ", ".join(f"{count} {verdict}" for verdict, count in sorted(ended.items()))
    return (f"planned {planned} unit{'s' if planned != 1 else ''} of work, ran {ran}" + (f" ({lost})" if lost else "")
            + f"; checks: {passed} passed, {failed} failed, {skipped} skipped"
            + (f"; {workers} worker{'s' if workers != 1 else ''} started" if workers else "; in process"))
