"""Correct implementations that follow another documented convention pass: no false alarm on correct code.

Each module in fixtures/variants/ is impl with one piece written another correct way
(reference.report.deviations says which conventions the harness accepts).  Its mirror image, the same
convention with a real bug, is a mutant in fixtures/mutants/ and must be caught (tests/test_mutants.py).
"""


import pytest

from bp_parity.reference.base import cases
from bp_parity.reference.run import zoo
from bp_parity.reference.cli.main import main

VARIANTS = sorted(p for p in (cases.FIXTURES / "variants").glob("*.py") if p.name != "__init__.py")
SEED = cases.layer_seeds()[0]


@pytest.mark.parametrize("path", VARIANTS, ids=[p.stem for p in VARIANTS])
def test_a_correct_variant_passes_every_check_trace_and_optimizer(path):
    with zoo.supervised(path) as pool:
        failures = zoo.harness_failures(pool, SEED, zoo.trace_batch(SEED))
    assert not failures, "\n".join(f.render() for f in failures[:3])


def test_an_epsilon_free_loss_is_judged_by_its_own_convention_and_says_so(capsys):
    variant = cases.FIXTURES / "variants" / "softmax_with_loss_log_softmax.py"
    assert main(["check", "--impl", str(variant), "--case", "SoftmaxWithLoss-index", "--dtype", "float64",
                 "--seed", str(SEED)]) == 0
    out = capsys.readouterr().out
    assert "convention: SoftmaxWithLoss forward judged as the loss without the textbook's 1e-7" in out
    # impl itself follows the textbook's formula: no convention line
    assert main(["check", "--case", "SoftmaxWithLoss-index", "--dtype", "float64", "--seed", str(SEED)]) == 0
    assert "convention:" not in capsys.readouterr().out


def test_the_same_convention_with_a_wrong_backward_fails_on_dx_alone():
    mutant = cases.FIXTURES / "mutants" / "softmax_with_loss_log_softmax_wrong_backward.py"
    with zoo.supervised(mutant) as pool:
        failures = zoo.harness_failures(pool, SEED, zoo.trace_batch(SEED))
    oracles = {f.context.oracle for f in failures if f.context.tensor == "dx"}
    assert {"twin", "finite differences"} <= oracles
    assert not [f for f in failures if f.context.tensor == "forward"], "the epsilon-free forward is correct"


def test_a_network_without_dtype_gets_its_float32_checks_skipped_with_the_reason_and_passes(capsys):
    """A dtype the textbook's constructor cannot take is beyond the protocol: SKIPPED with the reason, never a failure
    by itself; every float64 check still runs and passes."""
    variant = cases.FIXTURES / "variants" / "two_layer_net_without_dtype.py"
    assert main(["golden", "--impl", str(variant), "--table"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("TwoLayerNet")]
    assert {row[-1] for row in rows if "float64" in row} == {"ok"}
    assert {row[-1] for row in rows if "float32" in row} == {"SKIPPED"} and len(rows) == 12
    assert "takes no dtype= argument" in out and "0 failed, 6 skipped" in out
    assert main(["check", "--impl", str(variant), "--layer", "TwoLayerNet", "--seed", "7"]) == 0
    assert "takes no dtype= argument" in capsys.readouterr().out
    assert main(["trace", "--impl", str(variant)]) == 0  # float64, the dtype it was built in


ASKED = "asked for --dtype float32: TwoLayerNet cannot be built in float32 (the SKIPPED line above says why); exit 1"


@pytest.mark.parametrize("argv", [["check", "--layer", "TwoLayerNet", "--seed", "7"], ["trace"],
                                  ["golden", "--case", "TwoLayerNet"]], ids=lambda argv: argv[0])
def test_a_dtype_asked_for_that_a_network_cannot_be_built_in_is_said_and_exits_1(argv, capsys):
    """One rule in every command: the float32 checks of a network without dtype= are SKIPPED with the reason (the
    run passes on what it could check) -- but a run whose --dtype asked for float32 says that the network cannot be
    had in it and exits 1; asked for float64, it passes; no row of another dtype than asked is printed."""
    variant = str(cases.FIXTURES / "variants" / "two_layer_net_without_dtype.py")
    assert main([*argv, "--impl", variant, "--dtype", "float32", "--table"]) == 1
    out = capsys.readouterr().out
    assert ASKED in out and "takes no dtype= argument" in out
    table = out.split("\n\n")[0 if argv[0] != "golden" else 1]  # golden's first paragraph says what recorded it
    assert "float64" not in table and ("float32" in table if argv[0] != "trace" else "(float32, seed" in out)
    assert main([*argv, "--impl", variant, "--dtype", "float64", "--table"]) == 0
    out = capsys.readouterr().out
    assert "asked for" not in out and "float32" not in out.split("\n\n")[0 if argv[0] != "golden" else 1]


def test_an_epsilon_free_network_passes_golden_and_its_loss_names_the_convention(capsys):
    """The convention is one rule wherever the loss appears: a TwoLayerNet whose loss() has no 1e-7 passes the
    golden mode too (its loss against the epsilon-free loss of the recorded scores), and the run says so."""
    variant = cases.FIXTURES / "variants" / "softmax_with_loss_log_softmax.py"
    assert main(["golden", "--impl", str(variant), "--case", "TwoLayerNet"]) == 0
    assert "convention: TwoLayerNet loss judged as the loss without the textbook's 1e-7" in capsys.readouterr().out
