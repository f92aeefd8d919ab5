"""`python -m reference check`: every case of the table, every optimizer and every network of an
implementation, against the twins and finite differences; one row per case, tensor, dtype and oracle
(the worst over the seeds run), then the full report of every failure; exit 1 if any check failed or
could not run."""

import time


from bp_parity.reference.base import cases, streams
from bp_parity.reference.base.program import program
from bp_parity.reference.cli.common import only_present_argument, print_skipped, supervised
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.plan import checks
from bp_parity.reference.report.compare import Location, NotRun, Oracle, Verdict
from bp_parity.reference.report.progress import Progress
from bp_parity.reference.report.tables import report, summary_line, unavailable
from bp_parity.reference.run import tasks

HELP = "check every piece of an implementation against the twins"


def checked_pieces():
    """The names `check --layer` takes: every piece with cases, every optimizer and every network, in registry order."""
    return [p.name for p in registry.pieces() if p.cases or not p.kind.has_cases]


def add_arguments(parser):
    parser.add_argument("--drawn", type=int, default=0, metavar="N",
                        help="also N cases of random shape and magnitude per piece that states its magnitudes "
                        "(what tests/test_properties.py draws with Hypothesis), from the stream 'drawn cases'")
    only_present_argument(parser)
    parser.add_argument("--report", metavar="DIR", help="write DIR/check.html: each piece's checks on a log scale "
                        "against the tolerance, a heat map of each mismatch beside its report (matplotlib)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the implementation inside the harness's own process, unsupervised (for a debugger "
                        "and for benchmarks/check_speed.py): an exit, a crash or a hang there ends or stalls the run")


def drawn_cases(args, seed):
    """`--drawn N` cases per piece with magnitudes, drawn at `seed` (dtype chosen per case, as the suite does)."""
    rng = streams.rng(seed, "drawn cases")
    drawn = []
    for piece in registry.pieces():
        if piece.magnitudes is None or (args.layer and piece.name not in args.layer) or args.case:
            continue
        for number in range(args.drawn):
            dtype = str(rng.choice(cases.DTYPES))
            case = registry.drawn_case(piece, dtype, lambda lo, hi: int(rng.integers(lo, hi + 1)),
                                       lambda lo, hi: float(rng.uniform(lo, hi)),
                                       lambda options: options[int(rng.integers(len(options)))])
            drawn.append((case, dtype, int(rng.integers(2**32))))
    return drawn


def valid_tensors(selected, with_optimizers, with_networks, routines=()):
    """Every tensor name a check of these cases (and the optimizers, networks, routines) can report, for --tensor."""
    names = set()
    rng = streams.rng(0, "layer inputs")
    for case in selected:
        spec = registry.spec_of(case.layer)
        names.update(spec.tensors + spec.fd_tensors)
        names.update(k for k in spec.inputs(case, rng) if not k.startswith("_"))
        if spec.stateful:
            names.add("sequence of calls")
            names.update(f"{t} ({call})" for t in spec.tensors for call in ("second call", "second backward",
                                                                            "backward repeated"))
    if with_optimizers:
        names.update(("W1", "b1", "W2", "b2", "update"))
    if with_networks:
        names.update(("W1", "b1", "W2", "b2", "forward", "dx", "dW", "db", "loss", "predict", "accuracy"))
    for name in routines:
        names.update(registry.piece(name).routine.tensors)
    return sorted(names)


def _plan(args, impl, planned, drawn):
    """Every unit of work of the run, before any runs: (row piece, row case, task, arguments, the unit's Location):
    the plan's units (reference.plan.checks) and the --drawn cases.  `check` exits 0 only when every one of them came
    back and every check in it passed."""

    def where(layer, case, dtype, seed, reproduce):
        return Location(layer=layer, tensor="every check", oracle=Oracle.HARNESS, dtype=dtype, seed=seed, case=case,
                        reproduce=reproduce, piece=layer)

    task = {"case": tasks.case, "optimizer": tasks.optimizer, "network": tasks.network, "routine": tasks.routine}

    def row(u):
        return u.piece, u.label, task[u.kind], u.arguments, where(u.piece, u.label, u.dtype, u.seed,
                                                                   u.reproduce(impl))

    units = [row(u) for u in planned if u.kind == "case"]
    for case, dtype, seed in drawn:
        if args.dtype and dtype not in args.dtype:
            continue
        label = f"{case.layer} drawn {case.shape} x{case.scale:.3g}"
        units.append((case.layer, label, tasks.case, (case, dtype, seed), where(case.layer, label, dtype, seed, "")))
    units += [row(u) for u in planned if u.kind != "case"]
    return units


def run(args, out):
    # nothing of the implementation runs here: it loads in a worker
    return supervised(args, out, lambda pool: _run(args, out, pool, tasks), in_process=args.in_process)


def _run(args, out, pool, tasks):
    impl = pool.described
    seeds = args.seed or cases.layer_seeds(args.seeds)
    planned = checks.units(seeds, pieces=args.layer, case_ids=args.case)  # the one plan, then --dtype below

    def chosen(kind):
        return list(dict.fromkeys(u.case if kind == "case" else u.piece for u in planned if u.kind == kind))

    selected, optimizers, networks = chosen("case"), chosen("optimizer"), chosen("network")
    routines = chosen("routine")
    if args.tensor:
        valid = valid_tensors(selected, bool(optimizers), bool(networks), routines)
        if args.tensor not in valid:
            raise ValueError(f"no check reports a tensor {args.tensor!r} for the cases chosen; valid: "
                             + ", ".join(repr(v) for v in valid))

    if impl.functional:
        print(f"protocol detected: {impl.detected}\n", file=out)
    missing = impl.missing()
    if missing and args.only_present:
        skipped = sorted({c.layer for c in selected if impl.missing(registry.spec_of(c.layer).requires)}
                         | {n for n in optimizers + networks + routines if impl.missing((n,))})
        planned = [u for u in planned if u.piece not in skipped]
        selected = [c for c in selected if c.layer not in skipped]
        print_skipped(skipped, out)
        if not planned:
            raise ValueError(f"implementation {args.impl!r} defines none of the pieces chosen: nothing to check")
    elif missing:
        print(f"note: {protocol.MissingProtocol(args.impl, missing)}\ntheir checks are reported NOT RUN\n", file=out)
    for name in dict.fromkeys(c.layer for c in selected):
        spec = registry.spec_of(name)
        if spec.fd_tensors and not spec.tensors:
            print(f"note: {name} has no twin: its {', '.join(spec.fd_tensors)} are judged by finite differences "
                  "alone (float64), its forward by nothing\n", file=out)
    started = time.perf_counter()
    rows = {}  # (case, tensor, dtype, oracle) -> results over the seeds
    pieces = {}  # the same key -> the piece whose unit it came from (the short answer's row)

    def add(key_piece, key_case, result):
        c = result.context
        if args.tensor and c.oracle != Oracle.HARNESS and not c.is_tensor(args.tensor):
            return  # "dx" is the first call's dx, "dx (second call)" the second's: a reproduce line reruns one check
        oracle = Oracle.TWIN_100_STEPS if key_piece in optimizers and c.oracle != Oracle.HARNESS else c.oracle
        key = (key_piece, "*", c.dtype, oracle) if args.summary else (key_case, c.shown if not c.call and c.step is None
                                                                       else c.tensor, c.dtype, oracle)
        rows.setdefault(key, []).append(result)
        pieces.setdefault(key, key_piece)

    drawn = [d for seed in seeds for d in drawn_cases(args, seed)] if args.drawn else []
    units = _plan(args, impl, [u for u in planned if not args.dtype or u.dtype in args.dtype], drawn)
    progress = Progress(len(units), "check")
    ran = 0
    ended = {}  # verdict -> units whose worker ended, hung or overstayed (or that were not waited on)
    hung = {}  # piece -> the call of its unit that did not return: its other units are not waited on again
    for number, (piece, label, task, arguments, where) in enumerate(units):
        progress.update(number)
        if piece in hung:
            ended[Verdict.NOT_RUN] = ended.get(Verdict.NOT_RUN, 0) + 1
            add(piece, label, NotRun(where, f"an earlier unit of {piece} did not return ({hung[piece]}); its "
                                     "other units are not waited on, each would wait out the same limit", Verdict.NOT_RUN))
            continue
        outcome = pool.run(task, *arguments)
        ran += outcome.done
        if not outcome.done:
            ended[outcome.verdict] = ended.get(outcome.verdict, 0) + 1
            if outcome.verdict == Verdict.TIMEOUT:
                hung[piece] = f"TIMEOUT in {outcome.where}" if outcome.where else Verdict.TIMEOUT
        for result in tasks.results_of(outcome, where):
            add(piece, getattr(result, "network", label), result)
    progress.clear()
    elapsed = time.perf_counter() - started
    if not rows:
        raise ValueError("no check matches the filters as given (--case, --layer, --tensor and --dtype together)")
    steps = {p.name: p.routine.steps for p in registry.pieces("routine") if p.routine.steps}
    failures = report(rows, out, args.dump_dir, None if args.table or args.summary else pieces, steps)
    made = sum(len(r) for r in rows.values())
    skipped = sum(r.skipped for results in rows.values() for r in results)
    passed = sum(r.passed for results in rows.values() for r in results)
    print(f"\n{made} checks over {len(seeds)} seed(s): {len(failures)} failed or not run"
          + (f", {skipped} skipped (not in the implementation's form)" if skipped else "")
          + f" ({elapsed:.1f} s, implementation {args.impl!r})", file=out)
    asked = unavailable([r for results in rows.values() for r in results], args.dtype or ())
    if asked:
        print(asked, file=out)
    closing = summary_line(len(units), ran, ended, passed, len(failures), skipped, pool.started)
    if args.report:
        _page(args, rows, pieces, closing, out)
    print(closing, file=out)
    return 0 if ran == len(units) and not failures and passed and not asked else 1


def _page(args, rows, pieces, closing, out):
    """check --report DIR: one group per piece, its checks in the order they ran (reference.report.page)."""
    import shlex
    from pathlib import Path

    from bp_parity.reference.report import page

    groups = {}
    for key, results in rows.items():
        groups.setdefault(pieces[key], []).extend(results)
    command = f"{program()} {shlex.join(getattr(args, 'argv', None) or ['check'])}"
    written = page.write(Path(args.report) / "check.html", f"bp-parity check of {args.target.spec}", command,
                         [page.Group(name, results, next((r for r in results if not r.passed and not r.skipped),
                                                         None)) for name, results in groups.items()], closing)
    print(f"report page: {written}", file=out)

