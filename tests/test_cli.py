"""python -m reference: every command runs, prints its table, writes its files, and exits as it says."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bp_parity.reference.base.program import arguments_of, program
from bp_parity.reference.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
SUBSET = str(ROOT / "fixtures" / "mnist-subset")


def test_a_clean_check_fits_a_screen_one_row_per_piece(capsys):
    """The short answer by default: one row per piece (checks, dtypes, oracles, worst allowance used, verdict) and
    the totals; a screen of 50 lines holds all of it."""
    from bp_parity.reference.cli.check import checked_pieces

    assert main(["check", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) <= 50, out
    assert lines[0].split() == ["piece", "checks", "dtypes", "oracles", "worst", "allowance", "used", "verdict"]
    rows = {line.split()[0]: line.split() for line in lines[2:2 + len(checked_pieces())]}
    assert sorted(rows) == sorted(checked_pieces())  # every piece, once
    assert rows["Affine"][1:4] == [rows["Affine"][1], "float64,", "float32"] and int(rows["Affine"][1]) > 100
    assert all(row[-1] == "ok" for row in rows.values())
    assert "twin, args, repeat, fd" in next(line for line in lines if line.startswith("Affine "))
    assert "0 failed or not run" in out


def test_check_table_prints_a_row_per_case_tensor_dtype_and_oracle(capsys):
    assert main(["check", "--seed", "7", "--layer", "Affine", "--table"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[:4] for line in out.splitlines()]
    assert ["Affine-4d", "dW", "float32", "twin"] in rows
    assert main(["check", "--seed", "7", "--layer", "Affine", "--verbose"]) == 0
    assert capsys.readouterr().out.splitlines()[:-2] == out.splitlines()[:-2]  # --verbose is the same table


def test_a_failing_piece_gets_its_row_and_every_failure_in_full(capsys):
    broken = ROOT / "fixtures" / "mutants" / "affine_db_averaged.py"
    assert main(["check", "--impl", str(broken), "--seed", "7", "--layer", "Affine", "--layer", "Relu"]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line for line in out.splitlines()[2:4]}
    assert rows["Relu"].rstrip().endswith(" ok") and "MISMATCH (28 of 195 checks)" in rows["Affine"]
    assert "MISMATCH: Affine db -- twin, float64, seed 7" in out and f"reproduce: {program()} check" in out


def test_check_lists_missing_names_once_and_reports_their_checks_not_run(tmp_path, capsys):
    partial = tmp_path / "partial.py"
    partial.write_text("from bp_parity.impl import Relu, Affine\n")
    assert main(["check", "--impl", str(partial), "--seed", "7"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("note: implementation")
    assert "protocol names:\n  MulLayer: class: forward(x, y)" in out and "NOT RUN (" in out
    relu = next(line for line in out.splitlines() if line.startswith("Relu "))
    assert relu.rstrip().endswith(" ok") and "NOT RUN (" in next(l for l in out.splitlines() if l.startswith("MulLayer "))


def test_an_unknown_implementation_is_one_clear_error(capsys):
    assert main(["check", "--impl", "no_such_module_here"]) == 2
    assert "cannot import implementation 'no_such_module_here'" in capsys.readouterr().err


def test_trace_finds_no_divergence_in_any_network_one_row_each(capsys):
    assert main(["trace", "--seed", "7", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    networks = [line.split("  ")[0] for line in out.splitlines()[2:6]]
    assert networks == ["Relu network", "Sigmoid network", "TwoLayerNet", "TwoLayerNet methods"]
    assert len(out.splitlines()) <= 12 and "no divergence" in out
    assert main(["trace", "--seed", "7", "--batch", "8", "--table"]) == 0  # every row
    rows = [line.split("  ")[0] for line in capsys.readouterr().out.splitlines()]
    assert rows.count("Relu network") == 12


def test_trace_prints_the_rows_of_a_network_that_fails(capsys):
    broken = ROOT / "fixtures" / "mutants" / "affine_db_averaged.py"
    assert main(["trace", "--impl", str(broken), "--seed", "7", "--batch", "8"]) == 1
    out = capsys.readouterr().out
    summary = {line.split("  ")[0]: line for line in out.splitlines()[2:6]}
    assert "MISMATCH (2 of 12 rows)" in summary["Relu network"] and summary["TwoLayerNet"].rstrip().endswith("ok")
    rows = [line.split() for line in out.splitlines()[7:]]
    assert ["Relu", "network", "Affine2", "Affine", "backward", "db"] in [r[:6] for r in rows]
    assert not any(r[:2] == ["TwoLayerNet", "methods"] for r in rows[2:])  # the passing networks' rows are not shown
    assert "Relu network: first divergence at Affine2 backward db (blame: Affine)" in out


def test_train_parity_writes_history_and_plot(tmp_path, capsys):
    assert main(["train-parity", "--data-dir", SUBSET, "--steps", "12", "--batch-size", "50", "--dtype", "float64",
                 "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "the two sides keep the claim at every step" in out and "final test accuracy: impl" in out
    assert "claim: step-exact parity over all 12 steps" in out
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["impl_loss"]) == 12 and len(history["batch_indices"]) == 12
    assert (tmp_path / "loss.png").stat().st_size > 10_000


def test_train_parity_prints_each_row_as_it_is_made(tmp_path, capsys, monkeypatch):
    """Rows reach stdout during the run, not at its end: each evaluation row crosses from the worker that trains as
    an event, and the command prints and flushes it when it comes."""
    from bp_parity.reference.run import worker

    seen = []
    original = worker.Pool.run

    def spy(self, function, *args, on_event=None, **options):
        def recording(news):
            on_event(news)
            if "row" in news:
                seen.append(capsys.readouterr().out)

        return original(self, function, *args, on_event=recording, **options)

    monkeypatch.setattr(worker.Pool, "run", spy)
    assert main(["train-parity", "--data-dir", SUBSET, "--steps", "12", "--batch-size", "50", "--dtype", "float64",
                 "--optimizer", "Adam", "--out-dir", str(tmp_path)]) == 0
    assert len(seen) == 3 and all(chunk.strip() for chunk in seen)  # steps 0, 10 and 11, each as it came
    assert seen[0].strip().splitlines()[-1].split()[0] == "0"


def test_train_parity_reproduce_line_names_the_optimizer_and_sizes(tmp_path, monkeypatch):
    from bp_parity.reference.run import training_parity
    from bp_parity.impl.mnist import load_mnist
    from bp_parity.reference.pieces import protocol

    data = load_mnist(dtype="float64", data_dir=SUBSET, download=False)
    result = training_parity.run(protocol.load(), data, steps=3, batch_size=20, hidden=7, optimizer="Momentum",
                                 checkpoint_every=1)
    command = result.checkpoints[0][1][0].context.reproduce
    for part in ("--optimizer Momentum", "--batch-size 20", "--hidden 7", "--steps 1", "--dtype float64"):
        assert part in command, command


def test_optimizers_writes_both_figures_and_a_table(tmp_path, capsys):
    assert main(["optimizers", "--data-dir", SUBSET, "--steps", "15", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for name in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"):
        assert name in out
    assert (tmp_path / "paths.png").stat().st_size > 10_000
    assert (tmp_path / "mnist_loss.png").stat().st_size > 10_000


def test_optimizers_check_reproduces_one_optimizer(capsys):
    assert main(["optimizers", "--check", "--optimizer", "Adam", "--dtype", "float32", "--seed", "7"]) == 0
    assert "ok: Adam W1 at step 99" in capsys.readouterr().out


def test_zoo_scores_the_mutants_it_is_given(capsys):
    assert main(["zoo", "--mutant", "affine_db_averaged", "--mutant", "sgd_rebinds_params"]) == 0
    out = capsys.readouterr().out
    assert "score: caught 2/2, blamed correctly 2/2" in out and "wall time" in out
    ran = re.search(r"units run: (\d+) of (\d+) \(on each mutant", out)
    assert ran and 0 < int(ran.group(1)) < int(ran.group(2)) / 4, out
    assert main(["zoo", "--mutant", "affine_db_averaged", "--whole"]) == 0
    out = capsys.readouterr().out
    ran = re.search(r"units run: (\d+) of (\d+) \(every unit", out)
    assert ran and ran.group(1) == ran.group(2) and "score: caught 1/1, blamed correctly 1/1" in out


def test_a_failures_reproduce_command_reruns_exactly_that_check(capsys):
    """The command a report prints, run as printed, fails on the same case, tensor, dtype and seed."""
    import shlex

    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import protocol, registry

    mutant = ROOT / "fixtures" / "mutants" / "affine_db_averaged.py"
    run = layer_checks.run_case(protocol.load(str(mutant)), registry.case("Affine-4d"), "float32", 42)
    failure = next(r for r in run.results if not r.passed)
    argv = shlex.split(failure.context.reproduce)
    assert argv[:len(program().split())] == program().split()
    assert main(arguments_of(failure.context.reproduce)) == 1
    out = capsys.readouterr().out
    assert "Affine-4d" in out and "db" in out and "float32" in out and "seed 42" in out
    assert out.count("MISMATCH:") == 1


@pytest.mark.parametrize("mutant, case, dtype, seed", [
    ("affine_dw_accumulates", "Affine-2d", "float64", 7),  # a sequence-of-calls check: "dW (second backward)"
    ("relu_mask_strictly_negative", "Relu-zeros", "float32", 42),
])
def test_a_sample_of_reproduce_lines_rerun_exactly_their_check(mutant, case, dtype, seed, capsys):
    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import protocol, registry

    path = ROOT / "fixtures" / "mutants" / f"{mutant}.py"
    run = layer_checks.run_case(protocol.load(str(path)), registry.case(case), dtype, seed)
    for failure in [r for r in run.results if not r.passed]:
        assert main(arguments_of(failure.context.reproduce)) == 1, failure.context.reproduce
        out = capsys.readouterr().out
        head = f"{failure.context.layer} {failure.context.shown} -- {failure.context.oracle}, {dtype}, seed {seed}"
        assert out.count(head) == 1 and out.count("MISMATCH:") + out.count("RAISED:") == 1, out


def test_an_optimizer_failures_reproduce_line_reruns_it(capsys):
    from bp_parity.reference.run import optimizer_checks
    from bp_parity.reference.pieces import protocol

    path = ROOT / "fixtures" / "mutants" / "momentum_literal_momentum.py"
    run = optimizer_checks.run_optimizer(protocol.load(str(path)), "Momentum", "float32", 42)
    failure = next(r for r in run.results if not r.passed)
    assert main(arguments_of(failure.context.reproduce)) == 1
    assert failure.context.shown in capsys.readouterr().out


def test_reproduce_lines_keep_a_path_with_spaces_one_argument(tmp_path, capsys):
    """--impl's value is quoted on every reproduce line (reference.plan.target.Target.arguments), so a path with a
    space in it reruns as written: a layer's check, an optimizer's and a network's trace."""
    import shlex
    import shutil

    from bp_parity.reference.run import case as layer_checks, optimizer_checks
    from bp_parity.reference.pieces import protocol, registry
    from bp_parity.reference.run.traces import network_traces

    folder = tmp_path / "my mutants"
    folder.mkdir()
    layer = shutil.copy(ROOT / "fixtures" / "mutants" / "affine_db_averaged.py", folder / "affine slip.py")
    rule = shutil.copy(ROOT / "fixtures" / "mutants" / "momentum_literal_momentum.py", folder / "momentum slip.py")
    impl = protocol.load(str(layer))
    failures = [next(r for r in layer_checks.run_case(impl, registry.case("Affine-2d"), "float64", 7).results
                     if not r.passed)]
    run = optimizer_checks.run_optimizer(protocol.load(str(rule)), "Momentum", "float32", 42)
    failures.append(next(r for r in run.results if not r.passed))
    traced = network_traces(impl, "TwoLayerNet", "float64", 7)
    failures.append(next(r for t in traced for r in t.results if not r.passed))
    for failure in failures:
        argv = shlex.split(failure.context.reproduce)
        assert argv[argv.index("--impl") + 1] in (str(layer), str(rule)), failure.context.reproduce
        assert main(arguments_of(failure.context.reproduce)) == 1, failure.context.reproduce
        assert failure.context.shown in capsys.readouterr().out


@pytest.mark.parametrize("argv, listed", [
    (["check", "--layer", "Afine"], "invalid choice: 'Afine' (choose from 'MulLayer'"),
    (["check", "--layer", "relu"], "'Relu'"),
    (["check", "--tensor", "dX"], "'W', 'W1', 'W2'"),
    (["check", "--case", "Affine-2d", "--layer", "Relu"], "no check matches the filters"),
])
def test_a_typo_in_a_filter_is_an_error_that_lists_the_valid_values(argv, listed, capsys):
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own choice errors
        code = exit_.code
    assert code == 2
    assert listed in capsys.readouterr().err


def test_a_wrong_impl_is_reported_before_torch_is_imported():
    done = subprocess.run([sys.executable, "-c", (
        "import sys; from bp_parity.reference.cli.main import main; code = main(['check', '--impl', 'no/such/file.py']); "
        "print(code, 'torch' in sys.modules)")], capture_output=True, text=True, cwd=ROOT)
    assert done.stdout.split() == ["2", "False"], done.stdout + done.stderr
    assert "implementation path" in done.stderr and "does not exist" in done.stderr


def test_the_console_script_is_the_same_command_line():
    """`bp-parity` (installed beside the interpreter by the package's [project.scripts]) runs what python -m reference
    runs, and says its own name in its usage."""
    script = Path(sys.executable).with_name("bp-parity")
    assert script.exists(), f"{script}: the package is installed without its console script"
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and shown.stdout.startswith("usage: bp-parity "), shown.stdout + shown.stderr
    ran = subprocess.run([str(script), "check", "--case", "Relu-2d", "--seed", "7"], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert ran.returncode == 0 and "0 failed or not run" in ran.stdout, ran.stdout + ran.stderr
    broken = ROOT / "fixtures" / "mutants" / "affine_db_averaged.py"
    failed = subprocess.run([str(script), "check", "--impl", str(broken), "--case", "Affine-2d", "--seed", "7"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert failed.returncode == 1 and "MISMATCH: Affine" in failed.stdout, failed.stdout + failed.stderr


def test_trace_only_present_skips_the_networks_the_implementation_does_not_define(capsys):
    """A CS231n solution has layers and no TwoLayerNet: trace reports that NOT RUN (exit 1), and with --only-present,
    as check does, SKIPPED with the reason, the networks built of its layers still traced and judged."""
    example = str(ROOT / "examples" / "cs231n_style" / "layers.py")
    assert main(["trace", "--impl", example, "--seed", "7", "--batch", "8"]) == 1
    assert "NOT RUN (1 of 1 rows)" in capsys.readouterr().out
    assert main(["trace", "--impl", example, "--seed", "7", "--batch", "8", "--only-present"]) == 0
    out = capsys.readouterr().out
    assert "TwoLayerNet: 1 row SKIPPED: not defined by the implementation (--only-present): TwoLayerNet" in out
    assert "Relu network     12" in out and "no divergence" in out


UPCASTS = '''"""Two pieces whose forward returns float64 for float32 input."""
import numpy as np

from bp_parity.impl import *  # noqa: F403
from bp_parity.impl import net_layer


class Affine(net_layer.Affine):
    def forward(self, x):
        return super().forward(x).astype(np.float64)


class Sigmoid(net_layer.Sigmoid):
    def forward(self, x):
        return super().forward(x).astype(np.float64)
'''


def test_one_cause_in_several_pieces_is_one_finding_with_one_report_a_piece(tmp_path, capsys):
    """The same diagnosis, word for word, in checks of several pieces (float32 in, float64 out) is said once, with
    the pieces and the count, and each piece gets one report instead of one per case."""
    module = tmp_path / "upcasts.py"
    module.write_text(UPCASTS)
    assert main(["check", "--impl", str(module), "--layer", "Affine", "--layer", "Sigmoid", "--seed", "7"]) == 1
    out = capsys.readouterr().out
    findings = [line for line in out.splitlines() if line.startswith("finding: ")]
    assert len(findings) == 1 and "the dtype is float64 where float32 belongs" in findings[0]
    assert "-- in 14 checks of 2 pieces: Affine, Sigmoid; one report of each piece follows" in findings[0]
    assert out.count("\nMISMATCH: ") == 2 and "MISMATCH: Affine forward" in out and "MISMATCH: Sigmoid forward" in out


def test_a_networks_failures_that_follow_from_a_failing_piece_are_inherited(capsys):
    """The Relu and Sigmoid networks built of a broken Affine diverge at Affine's db: the TwoLayerNet row says they
    are inherited from Affine (which fails its own checks), not a finding of the network's."""
    broken = ROOT / "fixtures" / "mutants" / "affine_db_averaged.py"
    assert main(["check", "--impl", str(broken), "--seed", "7", "--layer", "Affine", "--layer", "TwoLayerNet"]) == 1
    rows = {line.split()[0]: line.rstrip() for line in capsys.readouterr().out.splitlines()[2:4]}
    assert rows["Affine"].endswith("MISMATCH (28 of 195 checks)")
    assert rows["TwoLayerNet"].endswith("inherited from Affine (8 of 186 checks)")


def test_optimizers_check_only_present_skips_the_rules_a_solution_does_not_have(capsys):
    """A CS231n solution has sgd, sgd_momentum, rmsprop and adam: without --only-present its missing Nesterov and
    AdaGrad fail the run (NOT RUN); with it they are SKIPPED, said with what is expected, and the four are judged."""
    example = str(ROOT / "examples" / "cs231n_style" / "layers.py")
    assert main(["optimizers", "--check", "--impl", example]) == 1
    capsys.readouterr()
    assert main(["optimizers", "--check", "--impl", example, "--only-present"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("SKIPPED (2 pieces the implementation does not define, --only-present):")
    assert "\n  AdaGrad: class AdaGrad" in out and "\n  Nesterov: class Nesterov" in out
    assert out.rstrip().endswith("planned 4 units of work, ran 4; checks: 16 passed, 0 failed, 0 skipped; "
                                 "1 worker started")


SELECTION = ("--impl", "--path", "--map", "--map-file", "--pieces", "--only-present", "--dtype", "--seed")


def test_every_command_that_checks_an_implementation_takes_the_same_selection_options():
    import argparse

    from bp_parity.reference.cli.main import WITH_IMPL, _parser

    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    lacking = {name: [o for o in SELECTION if o not in {s for a in commands[name]._actions for s in a.option_strings}]
               for name in WITH_IMPL}
    assert not any(lacking.values()), lacking


@pytest.mark.parametrize("argv, needs", [
    (["train-parity", "--steps", "3"], "TwoLayerNet"),
    (["convergence", "--steps", "3"], "LinearRegression"),
])
def test_a_command_that_runs_one_thing_says_what_only_present_left_out_and_exits_non_zero(argv, needs, capsys):
    """--only-present on train-parity and convergence: the network (the model) the implementation does not define is
    SKIPPED with what is expected, and since nothing is left to run the command fails as check does."""
    code = main([*argv, "--impl", str(ROOT / "examples" / "cs231n_style" / "layers.py"), "--only-present"])
    captured = capsys.readouterr()
    assert code != 0
    assert "SKIPPED (" in captured.out and f"  {needs}: class {needs}(" in captured.out
    assert "defines none of the pieces chosen: nothing to" in captured.err


def test_convergence_refuses_a_dtype_it_cannot_give(capsys):
    assert main(["convergence", "--dtype", "float32"]) != 0
    assert "asked for --dtype float32: convergence runs gradient descent in float64 only" in capsys.readouterr().err
