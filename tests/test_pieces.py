"""Your own pieces: one register() call puts a layer into every part of the harness, from the command line
(--pieces) and from a user's own pytest suite (reference.testing)."""

import shlex

import numpy as np
import pytest

from bp_parity.reference.base.program import arguments_of
from bp_parity.reference.base import cases
from bp_parity.reference.run import golden, zoo
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.cli.main import main
from bp_parity.reference.report.compare import ParityError
from bp_parity.reference.pieces.registry import RegistryError, layer, registered
from bp_parity.reference.testing import assert_network, assert_piece
from bp_parity.reference.run.trace import net_problem, trace_network

PIECES = cases.FIXTURES / "pieces"
LAYERS, REGISTERS = PIECES / "my_layers.py", PIECES / "my_pieces.py"
SEED = cases.layer_seeds()[0]


def _leaky_relu_twin(x):
    import torch.nn.functional as F

    return F.leaky_relu(x, 0.01)


LEAKY = layer("LeakyRelu", twin=_leaky_relu_twin, kinks=(0.0,), shapes=[(6, 7)])
WRONG = """
import numpy as np
from bp_parity.impl import *  # noqa
class LeakyRelu:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.01 * x, x)
    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)  # the slope forgotten: a ReLU's backward
"""


@pytest.fixture
def wrong_impl(tmp_path):
    path = tmp_path / "wrong_leaky.py"
    path.write_text(WRONG)
    return path


@pytest.fixture(autouse=True)
def clean_registry():
    """Every test leaves the registry as it found it (--pieces registers for the rest of the process)."""
    before = dict(registry.REGISTRY)
    yield
    registry.REGISTRY.clear()
    registry.REGISTRY.update(before)


def test_the_command_line_checks_a_users_layers_with_and_without_a_twin(capsys):
    assert main(["check", "--impl", str(LAYERS), "--pieces", str(REGISTERS), "--layer", "LeakyRelu",
                 "--layer", "Softsign", "--table"]) == 0
    out = capsys.readouterr().out
    assert "LeakyRelu-6x7      dx       float64  twin" in out and "Softsign-5x4       dx       float64  finite" in out
    assert "Softsign-5x4       forward" not in out
    assert "note: Softsign has no twin: its dx are judged by finite differences alone (float64)" in out


def test_a_wrong_user_layer_is_blamed_and_its_reproduce_line_carries_the_pieces(wrong_impl, capsys):
    assert main(["check", "--impl", str(wrong_impl), "--pieces", str(REGISTERS), "--layer", "LeakyRelu"]) == 1
    out = capsys.readouterr().out
    line = next(text for text in out.splitlines() if "reproduce:" in text)
    argv = shlex.split(line.split("reproduce: ", 1)[1])
    assert "--pieces" in argv and argv[argv.index("--pieces") + 1] == str(REGISTERS)
    assert main(arguments_of(line.split("reproduce: ", 1)[1])) == 1
    assert "MISMATCH: LeakyRelu dx -- twin" in capsys.readouterr().out


def test_from_a_users_pytest_suite(wrong_impl):
    with registered(LEAKY):
        assert_piece(str(LAYERS), "LeakyRelu")
        with pytest.raises(ParityError, match="LeakyRelu dx"):
            assert_piece(str(wrong_impl), "LeakyRelu")
    assert "LeakyRelu" not in registry.REGISTRY  # registered() undoes itself


def test_a_users_network_from_pytest():
    traced = assert_network(str(cases.FIXTURES / "variants" / "deep_net.py"), "FiveLayerNet")
    assert len(traced.results) == 50 and {r.context.oracle for r in traced.results} == {"twin", "finite differences"}


def test_one_entry_reaches_the_case_table_trace_golden_recording_and_the_zoos_blame(wrong_impl):
    """A new layer touches no module of the harness: register() alone puts it everywhere."""
    with registered(LEAKY):
        assert "LeakyRelu-6x7" in [c.id for c in registry.cases()]
        # golden recording reads the registry (the recording itself needs no change)
        arrays, entries = golden._layer_arrays("float64")
        assert any(e["case"] == "LeakyRelu-6x7" for e in entries)
        # the trace matches the class by name: compared with its twin, not SKIPPED
        deep = protocol.load(str(cases.FIXTURES / "variants" / "deep_net.py")).module
        mine = protocol.load(str(LAYERS)).module
        network = deep.DeepNet(layer_classes={"Relu2": mine.LeakyRelu})
        x, t = net_problem(network, SEED, 16, "float64")
        traced = trace_network(network, x, t, seed=SEED, dtype="float64")
        rows = [r for r in traced.results if r.context.layer == "Relu2"]
        assert traced.passed and not traced.skipped and {r.context.blamed for r in rows} == {"LeakyRelu"}
        # the zoo's blame: every failure of a wrong LeakyRelu blames LeakyRelu and nothing else
        with zoo.supervised(wrong_impl) as pool:
            failures = zoo.harness_failures(pool, SEED, zoo.trace_batch(SEED))
        assert failures and {f.context.blamed for f in failures} == {"LeakyRelu"}


def test_a_layer_with_parameters_draws_them_and_checks_their_gradients(tmp_path):
    path = tmp_path / "scale_layer.py"
    path.write_text("from bp_parity.impl import *  # noqa\n"
                    "class Scale:\n"
                    "    def __init__(self, g):\n        self.g = g\n"
                    "    def forward(self, x):\n        self.x = x\n        return x * self.g\n"
                    "    def backward(self, dout):\n        self.dg = (dout * self.x).sum(axis=0)\n"
                    "        return dout * self.g\n")

    def draw(case, rng):
        return {"x": rng.normal(size=case.shape), "g": rng.normal(size=case.shape[1:]),
                "dout": rng.normal(size=case.shape)}

    scale = layer("Scale", twin=lambda x, g: x * g, params=("g",), draw=draw, shapes=[(5, 3)])
    with registered(scale):
        results = assert_piece(str(path), "Scale")
    assert {(r.context.tensor, r.context.oracle) for r in results} >= {("dg", "twin"), ("dg", "finite differences")}


def test_what_cannot_be_registered_is_refused_with_the_reason():
    with pytest.raises(RegistryError, match="registered already"):
        registry.register(layer("Relu", twin=lambda x: x))
    with pytest.raises(RegistryError, match="needs draw"):
        layer("Scale", twin=lambda x, g: x * g, params=("g",))
    with pytest.raises(RegistryError, match="taken by Relu"):
        registry.register(registry.Piece("Other", "layer", "-", spec=registry.piece("Relu").spec,
                                         cases=(cases.LayerCase("Relu-2d", "Other"),)))
    with pytest.raises(RegistryError, match="not the piece"):
        registry.register(registry.Piece("Other", "layer", "-", spec=registry.piece("Relu").spec,
                                         cases=(cases.LayerCase("Other-1", "Relu"),)))
    with pytest.raises(RegistryError, match="kind 'layers' is not one of layer, function, loss, model, optimizer, network"):
        registry.register(registry.Piece("Other", "layers", "-", spec=registry.piece("Relu").spec))
    with pytest.raises(RegistryError, match="a network needs its Network record"):
        registry.register(registry.Piece("OtherNet", "network", "-"))
    with pytest.raises(RegistryError, match="an optimizer needs its Optimizer record"):
        registry.register(registry.Piece("OtherRule", "optimizer", "-"))


def test_a_piece_kind_is_a_word_of_its_vocabulary():
    """Kinds are a closed vocabulary: the word a record gives becomes the member, which compares and hashes as it."""
    relu = registry.piece("Relu")
    assert relu.kind is registry.Kind.LAYER and relu.kind == "layer" and {"layer": 1}[relu.kind] == 1
    assert registry.Piece("Other", "optimizer", "-").kind is registry.Kind.OPTIMIZER
    assert {p.name for p in registry.pieces() if not p.kind.has_cases} == set(registry.names("optimizer", "network",
                                                                                           "routine"))


def test_pieces_that_register_nothing_or_do_not_exist_are_errors(tmp_path, capsys):
    empty = tmp_path / "nothing.py"
    empty.write_text("x = 1\n")
    assert main(["check", "--pieces", str(empty)]) == 2
    assert "registered no piece" in capsys.readouterr().err
    assert main(["check", "--pieces", str(tmp_path / "absent.py")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_registry_lists_every_documented_difference_with_a_test_that_exists():
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = registry.deviations()
    assert {name for name, _ in found} == {"SoftmaxWithLoss", "cross_entropy_error", "BatchNormalization", "Momentum",
                                           "Nesterov", "AdaGrad", "RMSprop", "Adam"}
    for name, deviation in found:
        path, _, test = deviation.predicted_by.partition("::")
        tree = ast.parse((root / path).read_text(encoding="utf-8"))
        assert test in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}, (name, deviation.predicted_by)


def test_every_builtin_piece_states_what_the_issue_asks(capsys):
    for piece in registry.pieces():
        assert piece.expects and piece.kind in registry.KINDS
        if piece.kind in ("layer", "loss", "function"):
            assert piece.cases and piece.spec is not None
            assert callable(piece.twin), piece.name
        if piece.kind == "optimizer":
            assert callable(piece.optimizer.twin) and piece.optimizer.hyper["lr"] > 0
    assert main(["deviations"]) == 0
    assert "predicted by: tests/test_optimizers.py" in capsys.readouterr().out
    assert np.isfinite(registry.piece("Affine").magnitudes.range("float32")[1])
