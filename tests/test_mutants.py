"""The harness catches every deliberately broken implementation and blames the right piece.

Each mutant in fixtures/mutants/ names in BLAME the (piece, tensor) the harness
must report; every failure must blame that piece and no other, so the blame is
not smeared over pieces that are right (reference.run.zoo).
"""

import pytest

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.pieces import BUILTIN, protocol
from bp_parity.reference.report import diagnosis
from bp_parity.reference.run import zoo
from bp_parity.reference.cli.main import main

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
    # never a wrong hint: the diagnoses given are the one its docstring declares, and that one is given
    hints = [f"{f.context.layer} {f.context.shown}: {text}" for f in result.failures
             for _, text in getattr(f, "diagnosis", None) or ()]
    assert result.diagnosed_correctly, (f"{result.name}: declares Diagnosis: {result.declared}, got "
                                        f"{result.diagnoses}\n" + "\n".join(hints[:5]))


def test_impl_itself_passes_everything_the_zoo_runs(trace_data):
    with zoo.supervised(protocol.OWN) as pool:
        failures = zoo.harness_failures(pool, SEED, trace_data)
    assert not failures, "\n".join(f.render() for f in failures[:3])


def test_the_zoo_is_large_and_covers_every_piece_of_the_registry():
    pieces = {zoo.declared_blame(p)[0] for p in MUTANTS}
    assert pieces <= set(BUILTIN), f"a BLAME names no piece of the registry: {sorted(pieces - set(BUILTIN))}"
    missing = set(BUILTIN) - pieces
    assert not missing, f"no mutant blames {sorted(missing)}: a piece the zoo never breaks is a piece never shown caught"


def test_every_mutant_says_what_is_wrong_and_where_to_blame():
    for path in MUTANTS:
        assert len(zoo.bug_of(path)) > 20, f"{path.stem}: no docstring naming the bug"
        piece, tensor = zoo.declared_blame(path)
        assert piece and tensor
        declared = zoo.declared_diagnosis(path)
        assert declared is not None and set(declared) <= set(diagnosis.NAMES), f"{path.stem}: no `Diagnosis:` line"


def test_raised_names_the_phase_and_the_implementations_line_and_the_forward_is_still_judged(capsys):
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_raises")
    assert main(["check", "--impl", str(mutant), "--case", "Sigmoid-2d", "--dtype", "float64", "--seed", str(SEED),
                 "--table"]) == 1
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert ["Sigmoid-2d", "forward", "float64", "twin"] == next(r[:4] for r in rows if r[:2] == ["Sigmoid-2d", "forward"])
    assert next(r for r in rows if r[:2] == ["Sigmoid-2d", "forward"])[-1] == "ok"
    assert "RAISED: Sigmoid dx" in out and "backward raised AttributeError" in out
    line = next(n for n, text in enumerate(mutant.read_text().splitlines(), 1) if "self.output" in text)
    assert f"at {mutant}:{line} in backward" in out, out


def test_the_command_line_exits_1_on_a_mutant_and_0_on_impl(capsys):
    assert main(["check", "--layer", "Sigmoid", "--seed", str(SEED)]) == 0
    mutant = next(p for p in MUTANTS if p.stem == "sigmoid_backward_from_input")
    assert main(["check", "--impl", str(mutant), "--layer", "Sigmoid", "--seed", str(SEED)]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH: Sigmoid dx" in out and f"reproduce: {program()} check" in out


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
    from bp_parity.reference.run import optimizer_checks

    path = next(p for p in MUTANTS if p.stem == name)
    impl = protocol.load(str(path))
    piece, _ = zoo.declared_blame(path)
    run = optimizer_checks.run_optimizer(impl, piece, "float64", SEED)
    failure = next(r for r in run.results if not r.passed)
    assert failure.context.layer == piece
    assert failure.context.step == PARTING_STEP[name], failure.render()


def _failures(result):
    return sorted((f.context.blamed, f.context.layer, f.context.shown, str(f.context.oracle), f.context.dtype,
                   str(f.verdict)) for f in result.failures)


# one of each kind: a layer, a loss, a network's own method, an optimizer, a model's routine, a function of the
# CS231n form (which runs every unit)
SAMPLE = ["affine_db_averaged", "softmax_with_loss_without_max_shift", "simple_convnet_accuracy_drops_the_last_batch",
          "adam_step_counter_not_advanced", "pmf_gd_steps_with_the_mean_gradient", "functional_affine_db_averaged"]


@pytest.mark.parametrize("name", SAMPLE)
def test_running_a_mutant_only_where_it_differs_loses_nothing(name, trace_data):
    """The zoo runs each mutant only on the units that read a protocol name it binds otherwise than impl
    (reference.run.unchanged): on one mutant of each kind, the failures are those of the whole plan, one for one."""
    path = zoo.MUTANTS / f"{name}.py"
    restricted = zoo.run_mutant(path, SEED, trace_data)
    whole = zoo.run_mutant(path, SEED, trace_data, whole=True)
    assert _failures(restricted) == _failures(whole) and restricted.failures
    assert whole.ran[0] == whole.ran[1]
    if name.startswith("functional_"):  # a functional form: every unit runs
        assert restricted.ran == whole.ran
    else:
        assert restricted.ran[0] < whole.ran[1] / 2, restricted.ran


PATCHES = {
    "patches_impl": "import bp_parity.impl.net_layer\n\n\ndef _backward(self, dout):\n    return dout\n\n\n"
                    "bp_parity.impl.net_layer.Relu.backward = _backward\n",
    "seeds_numpy": "import numpy as np\n\nnp.random.seed(1234)\n",
    "sets_errors": "import numpy as np\n\nnp.seterr(all='ignore')\n",
}


@pytest.mark.parametrize("kind", sorted(PATCHES))
def test_a_mutant_that_changes_impl_itself_or_the_global_state_runs_every_unit(kind, tmp_path, trace_data):
    """A mutant whose objects are impl's but which changes impl's code (a method patched in place), NumPy's global
    random state or its error handling at import: the units that read impl's own names do not run as on impl, so
    every unit runs; the patched Relu is caught and blamed."""
    path = tmp_path / f"{kind}.py"
    path.write_text('"""' + kind + '"""\n\n' + PATCHES[kind] + "\nfrom bp_parity.impl import *  # noqa: F403\n\n"
                    "BLAME = ('Relu', 'dx')\n")
    with zoo.supervised(path) as pool:
        assert zoo.needed(zoo.clean_run(SEED, trace_data), pool) is None
    if kind == "patches_impl":
        result = zoo.run_mutant(path, SEED, trace_data)
        assert result.ran[0] == result.ran[1] and result.caught and result.blamed == ["Relu"]


def test_an_unchanged_copy_of_impl_runs_no_unit(tmp_path, trace_data):
    path = tmp_path / "same.py"
    path.write_text('"""impl itself."""\n\nfrom bp_parity.impl import *  # noqa: F403\n\nBLAME = ("Relu", "dx")\n')
    result = zoo.run_mutant(path, SEED, trace_data)
    assert result.ran == (0, result.ran[1]) and not result.caught
