"""One module per command of `python -m reference`; reference.cli.main only builds the parser and dispatches.

Each command module has HELP, add_arguments(parser) and run(args, out) -> exit status.  The options
several commands share come from the parent parsers here: impl_parent() (--impl, --pieces) and
filter_parent() (the filters of check and golden).
"""

import argparse

from bp_parity.reference.base import cases
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.plan.target import Target
from bp_parity.reference.run import worker


def impl_parent():
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--impl", default=protocol.OWN, help="module name, .py file or package folder (default: "
                        f"{protocol.OWN}, this repository's impl/)")
    parent.add_argument("--pieces", action="append", metavar="MODULE",
                        help="a module (dotted name or .py file) that registers your own pieces (repeatable; "
                        "docs/your-code.md: Your own pieces)")
    parent.add_argument("--path", action="append", metavar="DIR",
                        help="a folder to put on the import path before the implementation is loaded (repeatable)")
    parent.add_argument("--map", action="append", metavar="NAME=MODULE:ATTR",
                        help="bind a protocol name to what the implementation calls it: module:attribute, or an "
                        "attribute of --impl (repeatable)")
    parent.add_argument("--import-limit", type=float, default=None, metavar="SECONDS",
                        help="how long importing the implementation may take in its worker before it is reported "
                        "TIMEOUT at import (default 60)")
    parent.add_argument("--map-file", metavar="FILE",
                        help="a TOML (or .json) file with `path = [...]` and a [map] table of NAME = \"module:attr\"")
    return parent


def target(args):
    """The Target of --impl after --path and --map/--map-file (reference.plan.target), kept as args.target: the
    implementation every reproduce line names (Target.arguments())."""

    args.target = Target.from_args(args)
    return args.target


def supervised(args, out, work, in_process=False, made=None, torch=True):
    """Start the pool of workers for --impl (reference.run.worker) and return work(pool); where the implementation
    cannot be loaded, the report of that and 1 (its import raised, exited, crashed or hung: a failure of every
    check), or a ValueError for arguments that name nothing loadable.  made: the Target where the command made it
    first (to read what the workers share before they fork); torch False: a NumPy-only command (no twin)."""

    made = made or target(args)
    try:
        pool = worker.pool(made, in_process=in_process, import_seconds=getattr(args, "import_limit", None),
                           torch=torch)
    except worker.LoadFailed as failed:
        if failed.usage:
            raise ValueError(failed.reason) from None
        print(failed.render(made.spec) + "\n\nplanned nothing: the implementation could not be loaded (1 failure)",
              file=out)
        return 1
    with pool:
        return work(pool)


def load_impl(args):
    """The implementation of --impl, loaded in this process: the repository's own suite only (tests/conftest.py),
    which runs the implementation in-process under pytest's own supervision; every command uses a worker."""
    return target(args).load()


def print_skipped(names, out):
    """The note of --only-present: the pieces left out, one a line with what is expected."""

    if names:
        print(f"SKIPPED ({len(names)} piece{'s' if len(names) != 1 else ''} the implementation does not define,"
              " --only-present):" + "".join(f"\n  {n}: {registry.expected(n)}" for n in sorted(names)) + "\n",
              file=out)


def require(args, impl, names, out, doing="check"):
    """The pieces a command that runs one thing needs (train-parity's network, convergence's model): without them,
    the implementation's MissingProtocol, or with --only-present the SKIPPED note and, since nothing is left to run,
    the same error as check's when it defines none of the pieces chosen (exit non-zero: nothing was proved)."""
    absent = impl.missing([n for n in names if n])
    if absent and getattr(args, "only_present", False):
        print_skipped(absent, out)
        raise ValueError(f"implementation {args.impl!r} defines none of the pieces chosen: nothing to {doing}")
    impl.require(*[n for n in names if n])


def only_present_argument(parser, text="check the pieces the implementation defines and report the others SKIPPED "
                          "(not NOT RUN, which fails the run)"):
    parser.add_argument("--only-present", action="store_true", help=text)


def table_argument(parser):
    """--table (--verbose): every row, where the default is the short answer (one row per piece or network, then
    every failure in full)."""
    parser.add_argument("--table", "--verbose", dest="table", action="store_true",
                        help="the whole table: one row per case, tensor, dtype and oracle (default: one row per "
                        "piece, then every failure in full)")


def filter_parent(case_ids, piece_names, golden=False):
    """--case, --layer, --tensor, --dtype, --seed/--seeds: the filters of check (and golden)."""
    parent = argparse.ArgumentParser(add_help=False)
    if golden:
        parent.add_argument("--case", action="append", help="only this recorded case (repeatable)")
    else:
        parent.add_argument("--case", action="append", choices=case_ids, metavar="ID",
                            help="only this case of the table (repeatable)")
        parent.add_argument("--layer", action="append", choices=piece_names, metavar="NAME",
                            help="only the checks of this protocol name (repeatable): " + ", ".join(piece_names))
    parent.add_argument("--tensor", help="only this tensor (forward, dx, dW, db, dy, gradient, W1, or an argument name)")
    parent.add_argument("--dtype", choices=cases.DTYPES, action="append", help="only this dtype (repeatable)")
    seeds = parent.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, action="append", help="this seed instead of the fixed ones (repeatable)")
    if not golden:
        seeds.add_argument("--seeds", type=int, help="N seeds of the sweep (fixtures/seeds.json) instead of the fixed ones")
    parent.add_argument("--dump-dir", help="write an .npz of both sides and the inputs for every mismatch")
    table_argument(parent)
    parent.add_argument("--summary", action="store_true",
                        help="one row per piece, dtype and oracle (the worst over cases, tensors and seeds)")
    return parent


def load_pieces(args):
    """Import every --pieces module (they register themselves); returns the pieces they added."""

    added = []
    for spec in getattr(args, "pieces", None) or ():
        added += registry.load_pieces(spec)
    return added
