"""`python -m reference zoo`: the harness against every mutant in fixtures/mutants/, and its score."""

import time

from bp_parity.reference.base import cases
from bp_parity.reference.report.progress import Progress
from bp_parity.reference.report.tables import print_table
from bp_parity.reference.run import zoo

HELP = "run the harness against every mutant in fixtures/mutants/"
IMPL = False  # the zoo runs impl and the mutants, not an --impl


def add_arguments(parser):
    parser.add_argument("--seed", type=int, default=cases.layer_seeds()[0])
    parser.add_argument("--mutant", action="append", help="only this mutant (file stem; repeatable)")
    parser.add_argument("--verbose", action="store_true", help="print the report of each mutant's first failure")
    parser.add_argument("--markdown", action="store_true",
                        help="print the table as Markdown, with each mutant's declared diagnosis (docs/zoo.md's table)")
    parser.add_argument("--whole", action="store_true",
                        help="run every unit of the plan on each mutant (default: only the units that read a protocol "
                        "name the mutant binds otherwise than impl, reference.run.unchanged)")


def run(args, out):
    started = time.perf_counter()
    paths = zoo.mutant_paths()
    if args.mutant:
        paths = [p for p in paths if p.stem in args.mutant]
        unknown = set(args.mutant) - {p.stem for p in paths}
        if unknown:
            raise ValueError(f"no such mutant: {', '.join(sorted(unknown))} (see fixtures/mutants/)")

    progress = Progress(len(paths), "zoo")
    clean, results = zoo.run_zoo(args.seed, paths, on_mutant=lambda index, result: progress.update(index),
                                 whole=args.whole)
    progress.clear()
    table = [("mutant", "must blame", "caught", "blamed", "correct", "diagnosis", "units", "s")]
    for r, path in zip(results, paths):
        table.append((r.name, " ".join(r.expected), "yes" if r.caught else "MISSED", ", ".join(r.blamed) or "-",
                      "yes" if r.blamed_correctly else "NO", ", ".join(zoo.declared_diagnosis(path)) or "none",
                      f"{r.ran[0]}/{r.ran[1]}", f"{r.seconds:.2f}"))
    if args.markdown:  # the mutant's name in code, every other cell as it is
        print("\n".join([f"| {' | '.join(table[0])} |", "|" + " --- |" * len(table[0])]
                        + [f"| `{row[0]}` | {' | '.join(row[1:])} |" for row in table[1:]]), file=out)
    else:
        print_table(table, out)
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
    ran = sum(r.ran[0] for r in results)
    print(f"units run: {ran} of {sum(r.ran[1] for r in results)} "
          + ("(every unit on every mutant, --whole)" if args.whole else "(on each mutant, those that read what it "
             "changes; --whole runs them all)"), file=out)
    print(f"score: caught {caught}/{len(results)}, blamed correctly {correct}/{len(results)} "
          f"(seed {args.seed}, wall time {elapsed:.1f} s)", file=out)
    return 0 if not clean and caught == correct == len(results) else 1
