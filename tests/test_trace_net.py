"""`trace --net`: any network built from known layers, traced layer by layer; a mutant deep inside is blamed on
its own position; a layer the registry does not know is SKIPPED and the network still checked end to end."""

import numpy as np
import pytest

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases
from bp_parity.reference.pieces import protocol
from bp_parity.reference.cli.main import main
from bp_parity.reference.run.trace import NotANetwork, build_network, net_problem, ordered_layers, trace_network

DEEP = cases.FIXTURES / "variants" / "deep_net.py"
SEED = cases.layer_seeds()[0]


@pytest.fixture(scope="module")
def deep():
    return protocol.load(str(DEEP)).module


def _trace(network, dtype="float64"):
    x, t = net_problem(network, SEED, 16, dtype)
    return trace_network(network, x, t, seed=SEED, dtype=dtype, name=type(network).__name__)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_five_layer_network_of_impl_layers_agrees_layer_by_layer_and_end_to_end(deep, check, dtype):
    network = deep.DeepNet(dtype=dtype)
    traced = _trace(network, dtype)
    positions = [name for name, _ in ordered_layers(network)]
    assert positions == ["Affine1", "Relu1", "Affine2", "Sigmoid1", "Affine3", "Relu2", "Affine4", "Sigmoid2",
                         "Affine5"]
    # every layer forward, the loss forward and backward, every layer backward (Affine: dx dW db), gradient() against
    # the twin and, in float64, against finite differences
    assert len(traced.results) == 9 + 2 + (5 * 3 + 4) + 10 + (10 if dtype == "float64" else 0)
    for result in traced.results:
        check(result)


def test_a_mutant_deep_inside_is_blamed_on_its_own_position(deep):
    """Sigmoid2, the eighth of nine layers, forgets dout in its backward; every layer after it in the backward
    pass (Affine4 .. Affine1) inherits a wrong gradient, but each is judged on what it was fed."""
    mutant = protocol.load(str(cases.FIXTURES / "mutants" / "sigmoid_backward_without_dout.py")).module
    traced = _trace(deep.DeepNet(layer_classes={"Sigmoid2": mutant.Sigmoid}))
    first = traced.first_divergence
    assert (first.context.layer, first.context.blamed, first.context.phase, first.context.tensor) == (
        "Sigmoid2", "Sigmoid", "backward", "dx"), first.render()
    failing = {(r.context.layer, r.context.tensor) for r in traced.results if not r.passed}
    assert ("Sigmoid1", "dx") not in failing and ("Affine4", "dW") not in failing  # judged on their own inputs
    assert not [r for r in traced.results if r.context.phase == "forward" and not r.passed]


def test_the_command_line_names_the_first_divergence(tmp_path, capsys):
    module = tmp_path / "deep_with_mutant.py"
    module.write_text(
        "from bp_parity.reference.pieces import protocol\n"
        f"deep = protocol.load({str(DEEP)!r}).module\n"
        f"mutant = protocol.load({str(cases.FIXTURES / 'mutants' / 'affine_dw_transposed.py')!r}).module\n"
        "from bp_parity.impl import *  # noqa\n"
        "def MutantNet():\n"
        "    return deep.DeepNet(layer_classes={'Affine3': mutant.Affine})\n")
    assert main(["trace", "--impl", str(module), "--net", "MutantNet"]) == 1
    out = capsys.readouterr().out
    assert "MutantNet: first divergence at Affine3 backward dW (blame: Affine)" in out
    assert f"reproduce: {program()} trace --impl {module} --net MutantNet --seed {SEED}" in out


class Softsign:
    """A layer the registry does not know (written here, correct): y = x / (1 + |x|), dy/dx = 1 / (1 + |x|)^2."""

    def forward(self, x):
        self.x = x
        return x / (1 + np.abs(x))

    def backward(self, dout):
        return dout / (1 + np.abs(self.x)) ** 2


class WrongSoftsign(Softsign):
    def backward(self, dout):
        return dout / (1 + np.abs(self.x))


def test_an_unknown_layer_is_skipped_and_the_network_checked_end_to_end_by_differences(deep, check):
    traced = _trace(deep.DeepNet(layer_classes={"Relu2": Softsign}))
    skipped = traced.skipped
    assert [(r.context.layer, r.context.phase) for r in skipped] == [("Relu2", "forward"), ("Relu2", "backward")]
    assert all("registry does not know" in r.reason for r in skipped) and traced.passed
    end_to_end = [r for r in traced.results if r.context.phase == "gradient"]
    assert len(end_to_end) == 10 and {r.context.oracle for r in end_to_end} == {"finite differences"}
    for result in end_to_end:
        check(result)


def test_a_wrong_unknown_layer_is_still_caught_end_to_end(deep):
    traced = _trace(deep.DeepNet(layer_classes={"Relu2": WrongSoftsign}))
    failed = [r for r in traced.results if not r.passed and not r.skipped]
    # the layers before Relu2 in the backward pass are judged on what they were fed and pass; gradient() of the
    # weights below the wrong layer fails against differences of loss()
    assert {r.context.tensor for r in failed} >= {"W1", "W2", "W3"} and all(
        r.context.phase == "gradient" for r in failed), [r.render() for r in failed]
    assert {"W4", "W5"}.isdisjoint({r.context.tensor for r in failed})


def test_a_network_that_needs_arguments_or_has_no_layers_is_refused_clearly(tmp_path, capsys):
    module = tmp_path / "odd_nets.py"
    module.write_text("from bp_parity.impl import *  # noqa\n"
                      "class NeedsArgs:\n    def __init__(self, n):\n        self.n = n\n"
                      "class NoLayers:\n    pass\n")
    impl = protocol.load(str(module))
    with pytest.raises(NotANetwork, match="needs arguments"):
        build_network(impl, "NeedsArgs")
    assert main(["trace", "--impl", str(module), "--net", "NoLayers"]) == 1
    assert "NoLayers has no `layers`" in capsys.readouterr().out
    assert main(["trace", "--impl", str(module), "--net", "Missing"]) == 2
    assert "does not define 1 protocol name:\n  Missing: protocol name" in capsys.readouterr().err


def test_the_textbook_network_is_built_small_by_its_registry_record():
    impl = protocol.load()
    network = build_network(impl, "TwoLayerNet", "float32")
    assert network.params["W1"].shape == (784, 50) and network.params["W1"].dtype == np.float32


def test_finite_differences_step_away_from_a_kink_and_refuse_one_they_sit_on():
    from bp_parity.reference.run import finite_diff

    def f(v):
        return 2.0 * np.maximum(v, 0).sum()

    near = np.array([1e-7, 0.5, -0.3])  # the first element's kink lies inside the first step
    direction = np.ones(3)
    plain, _ = finite_diff.directional(f, near, direction)
    careful, _, step = finite_diff.directional_away_from_kinks(f, near, direction, lambda g: 1e-6 * (1 + abs(g)))
    assert abs(plain - 4.0) > 0.1 and abs(careful - 4.0) < 1e-6 and step < 1e-7
    with pytest.raises(finite_diff.OnAKink):  # exactly on the kink: no derivative to find
        finite_diff.directional_away_from_kinks(f, np.array([0.0, 0.5]), np.ones(2), lambda g: 1e-6 * (1 + abs(g)))


IN_PLACE = '''"""A Sigmoid whose backward multiplies into dout in place: the right dx, handed back in the caller's array."""
from bp_parity.impl import *  # noqa: F403
from bp_parity.impl import net_layer


class Sigmoid(net_layer.Sigmoid):
    def backward(self, dout):
        dout *= (1.0 - self.out) * self.out
        return dout
'''


def test_the_trace_feeds_each_twin_what_the_layer_was_given_before_it_ran(tmp_path, capsys):
    """A layer that writes into its argument cannot change its own oracle: the twin of each layer gets a copy of the
    x (forward) and dout (backward) taken before the layer ran.  This Sigmoid's dx is right and the trace says so
    (the write into dout is the case checks' to report, under the oracle 'arguments'); fed the dout after the call,
    the twin would have differentiated a dout already multiplied, and blamed a right dx."""
    from bp_parity.reference.cli.main import main

    module = tmp_path / "in_place.py"
    module.write_text(IN_PLACE)
    assert main(["trace", "--impl", str(module), "--seed", "7", "--batch", "8", "--table"]) == 0
    out = capsys.readouterr().out
    assert any(line.split()[:6] == ["Sigmoid", "network", "Sigmoid1", "Sigmoid", "backward", "dx"]
               and line.rstrip().endswith(" ok") for line in out.splitlines()), out
    assert main(["check", "--impl", str(module), "--layer", "Sigmoid", "--seed", "7"]) == 1
    assert "MISMATCH: Sigmoid dout -- arguments" in capsys.readouterr().out
