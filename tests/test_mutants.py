"""The harness catches every deliberately broken implementation and blames the right piece.

Each mutant in fixtures/mutants/ names in BLAME the (piece, tensor) the harness
must report; every failure must blame that piece and no other, so the blame is
not smeared over pieces that are right (reference.run.zoo).
"""

import pytest

from reference.base import cases
from reference.pieces import BUILTIN, protocol
from reference.run import zoo
from reference.cli.main import main

MUTANTS = zoo.mutant_paths()
SEED = cases.layer_seeds()[0]


@pytest.fixture(scope="module")
def trace_data():
    return zoo.trace_batch(SEED)


@pytest.mark.parametrize("path", MUTANTS, ids=[p.stem for p in MUTANTS])
def test_mutant_is_caught_and_blamed_on_its_piece(path, trace_data):
    result = zoo.run_mutant(path, SEED, trace_data)
    first = result.failures[0].render() if result.failures else ""
    assert result.caught, f"{result.name}: no check failed ({result.bug})"
    assert result.blamed_correctly, (
        f"{result.name}: expected blame on {result.expected}, got {result.blamed}\nfirst failure:\n{first}"
    )


def test_impl_itself_passes_everything_the_zoo_runs(trace_data):
    with zoo.supervised("impl") as pool:
        failures = zoo.harness_failures(pool, SEED, trace_data)
    assert not failures, "\n".join(f.render() for f in failures[:3])


def test_the_zoo_is_large_and_covers_every_piece_of_the_registry():
    pieces = {zoo.declared_blame(p)[0] for p in MUTANTS}
    routines = {"pmf_gd", "pmf_sgd", "prepare_housing", "step_size"}  # the routines around the models (zoo.py)
    assert pieces - set(BUILTIN) == routines, "a BLAME names neither a piece of the registry nor a routine"
    missing = set(BUILTIN) - pieces
    assert not missing, f"no mutant blames {sorted(missing)}: a piece the zoo never breaks is a piece never shown caught"


def test_every_mutant_says_what_is_wrong_and_where_to_blame():
    for path in MUTANTS:
        assert len(zoo.bug_of(path)) > 20, f"{path.stem}: no docstring naming the bug"
        piece, tensor = zoo.declared_blame(path)
        assert piece and tensor


def test_raised_names_the_phase_and_the_implementations_line_and_the_forward_is_still_judged(capsys):
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_raises")
    assert main(["check", "--impl", str(mutant), "--case", "Sigmoid-2d", "--dtype", "float64", "--seed", str(SEED),
                 "--table"]) == 1
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["Sigmoid-2d", "forward", "float64", "twin"] == next(r[:4] for r in rows if r[:2] == ["Sigmoid-2d", "forward"])
    assert next(r for r in rows if r[:2] == ["Sigmoid-2d", "forward"])[-1] == "ok"
    assert "RAISED: Sigmoid dx" in out and "backward raised AttributeError" in out
    assert f"at {mutant}:14 in backward" in out


def test_the_command_line_exits_1_on_a_mutant_and_0_on_impl(capsys):
    assert main(["check", "--layer", "Sigmoid", "--seed", str(SEED)]) == 0
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_from_input")
    assert main(["check", "--impl", str(mutant), "--layer", "Sigmoid", "--seed", str(SEED)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: Sigmoid dx" in out and "reproduce: python -m reference check" in out


def test_the_trace_blames_sigmoid_backward_not_the_w1_gradient(capsys):
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_from_input")
    assert main(["trace", "--impl", str(mutant), "--seed", str(SEED)]) == 1
    out = capsys.readouterr().out
    assert "Sigmoid network: first divergence at Sigmoid1 backward dx (blame: Sigmoid)" in out
    assert "Relu network: first divergence" not in out and "TwoLayerNet: first divergence" not in out


# optimizer mutant -> the step where its trajectory must first part from the twin's
PARTING_STEP = {
    "sgd_rebinds_params": 0,
    "adam_without_bias_correction": 0,
    "adam_step_counter_not_advanced": 1,  # right at t = 1; the bias correction of t = 1 is wrong from t = 2
    "momentum_wrong_sign": 0,
    "adagrad_accumulator_after_step": 0,
    "rmsprop_decay_reversed": 0,
    "nesterov_velocity_updated_first": 0,
    "momentum_literal_momentum": 1,  # the first step is -lr g whatever the momentum; the decay shows at step 1
    "rmsprop_literal_decay": 0,
    "sgd_default_learning_rate": 0,
    "adam_literal_betas": 0,
}


@pytest.mark.parametrize("name", sorted(PARTING_STEP))
def test_optimizer_mutant_is_blamed_at_the_step_where_the_trajectories_part(name):
    from reference.run import optimizer_checks

    path = next(p for p in MUTANTS if p.stem == name)
    impl = protocol.load(str(path))
    piece, _ = zoo.declared_blame(path)
    run = optimizer_checks.run_optimizer(impl, piece, "float64", SEED)
    failure = next(r for r in run.results if not r.passed)
    assert failure.context.layer == piece
    assert failure.context.step == PARTING_STEP[name], failure.render()
