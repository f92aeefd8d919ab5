"""`python -m reference`: the harness's commands, one module each in reference/commands/.

This module only builds the parser (each command adds its own options to the shared parents for
--impl, --pieces and the filters) and dispatches; it turns the errors a user can mend into one line.
"""

import argparse
import os
import sys

from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.cli import check, golden, optimizers, trace, train_parity, zoo  # noqa: E501
from bp_parity.reference.cli.common import filter_parent, impl_parent, load_pieces
from bp_parity.reference.cli import convergence as convergence_command
from bp_parity.reference.cli import deviations as deviations_command
from bp_parity.reference.run.golden import GoldenError

# name -> (module, its run function, help); golden, record and drift share one module
COMMANDS = {
    "check": (check, check.run, check.HELP),
    "trace": (trace, trace.run, trace.HELP),
    "train-parity": (train_parity, train_parity.run, train_parity.HELP),
    "zoo": (zoo, zoo.run, zoo.HELP),
    "optimizers": (optimizers, optimizers.run, optimizers.HELP),
    "golden": (golden, golden.run, golden.HELP),
    "record": (golden, golden.run_record, golden.RECORD_HELP),
    "drift": (golden, golden.run_drift, golden.DRIFT_HELP),
    "deviations": (deviations_command, deviations_command.run, deviations_command.HELP),
    "convergence": (convergence_command, convergence_command.run, convergence_command.HELP),
}
WITH_IMPL = ("check", "trace", "train-parity", "optimizers", "golden", "convergence")


def _prog():
    """How the command line was invoked, for its usage lines: the console script bp-parity, python -m bp_parity, or
    python -m reference (a checkout's folder, run from the repository)."""
    if os.path.basename(sys.argv[0] or "") == "bp-parity":
        return "bp-parity"
    main = sys.modules.get("__main__")
    return "python -m bp_parity" if getattr(main, "__package__", None) == "bp_parity" else "python -m reference"


def _parser():
    parser = argparse.ArgumentParser(prog=_prog(), description="bp-parity: the reference harness")
    subcommands = parser.add_subparsers(dest="command", required=True)
    impl = impl_parent()
    for name, (module, _, text) in COMMANDS.items():
        parents = [impl] if name in WITH_IMPL else []
        if name == "check":
            parents.append(filter_parent(sorted(c.id for c in registry.cases()), check.checked_pieces()))
        elif name == "golden":
            parents.append(filter_parent((), (), golden=True))
        sub = subcommands.add_parser(name, help=text, parents=parents)
        if hasattr(module, "add_arguments"):
            module.add_arguments(sub)
    return parser


def _preload_pieces(argv):
    """--pieces modules are imported before the parser is built, so --case and --layer know their cases."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--pieces", action="append")
    known, _ = early.parse_known_args(argv)
    load_pieces(known)


def parse_args(argv):
    """The parsed arguments, after importing any --pieces modules (whose cases --case and --layer accept)."""
    _preload_pieces(argv)
    return _parser().parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    out = sys.stdout
    try:
        args = parse_args(argv)
        args.argv = argv  # as typed: what a report page names as the command that reruns the run
        _, run, _ = COMMANDS[args.command]
        return run(args, out)
    except (ValueError, protocol.MissingProtocol, GoldenError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name not in MISSING_EXTRA:
            raise
        print(f"error: {error.name} is not installed; {MISSING_EXTRA[error.name]}", file=sys.stderr)
        return 2


# what a missing module means for a user, and the command that installs it
MISSING_EXTRA = {
    "torch": "the twins need it: pip install -e '.[test]' (torch==2.13.0, CPU), or run `python -m reference golden`, "
             "which needs NumPy only",
    "threadpoolctl": "side-by-side training needs it: pip install -e '.[test]'",
    "matplotlib": "the figures need it: pip install -e '.[plot]'",
}
