"""The harness catches deliberately broken implementations and blames the right piece.

Each mutant in fixtures/mutants/ names in BLAME the (layer, tensor) that the
harness must report; every other layer must still pass, so the blame is not
smeared over pieces that are right.
"""

from pathlib import Path

import pytest

from reference import cases, layer_checks, protocol

MUTANTS = sorted(p for p in (Path(__file__).resolve().parent.parent / "fixtures" / "mutants").glob("*.py")
                 if p.name != "__init__.py")
SEED = cases.layer_seeds()[0]


def _failures(impl):
    failures = []
    for case in cases.CASES:
        for dtype in case.dtypes:
            failures += [r for r in layer_checks.run_case(impl, case, dtype, SEED).results if not r.passed]
    return failures


@pytest.mark.parametrize("path", MUTANTS, ids=[p.stem for p in MUTANTS])
def test_mutant_is_caught_and_blamed_on_its_layer(path):
    impl = protocol.load(str(path))
    layer, tensor = impl.module.BLAME
    failures = _failures(impl)
    assert failures, f"{path.stem}: no check failed"
    blamed = {(f.context.layer, f.context.tensor) for f in failures}
    assert (layer, tensor) in blamed, f"{path.stem}: expected blame on {layer} {tensor}, got {sorted(blamed)}"
    assert {b[0] for b in blamed} == {layer}, f"{path.stem}: blame spread to other layers: {sorted(blamed)}"


def test_there_are_mutants_to_catch():
    assert len(MUTANTS) >= 3


def test_the_command_line_exits_1_on_a_mutant_and_0_on_impl(capsys):
    from reference.cli import main

    assert main(["check", "--layer", "Sigmoid", "--seed", str(SEED)]) == 0
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_from_input")
    assert main(["check", "--impl", str(mutant), "--layer", "Sigmoid", "--seed", str(SEED)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: Sigmoid dx" in out and "reproduce: python -m reference check" in out
