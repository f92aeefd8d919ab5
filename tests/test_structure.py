"""A network's layers against the textbook's architecture for its class (reference/run/structure.py), and every
initial parameter of every network against its scheme (reference.run.network_checks.check_init)."""

import pytest

from bp_parity.reference.base.cases import FIXTURES
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.run import network_checks, structure

MUTANTS = FIXTURES / "mutants"
NETWORKS = registry.names("network")


@pytest.mark.parametrize("name", NETWORKS)
def test_impls_networks_have_the_textbooks_layers_one_object_a_position(name):
    results = structure.check_structure(protocol.load(), name, "float64", 7)
    assert len(results) == 1 and results[0].passed, results[0].render()


def test_every_network_states_its_layout():
    assert all(structure.layout(name) for name in NETWORKS)
    assert structure.layout("TwoLayerNet") == ("Affine", "Relu", "Affine")


def test_a_dropout_before_its_activation_is_named_with_the_layers_it_has():
    impl = protocol.load(str(MUTANTS / "multi_layer_net_extend_dropout_before_activation.py"))
    (result,) = structure.check_structure(impl, "MultiLayerNetExtend", "float64", 7)
    assert not result.passed and result.context.blamed == "MultiLayerNetExtend"
    assert ("layers Affine1 (Affine), BatchNorm1 (BatchNormalization), Dropout1 (Dropout), Activation_function1 "
            "(Relu)") in result.reason
    assert "(the first that differs: Dropout1)" in result.reason


def test_one_activation_object_at_every_position_is_the_networks_fault_not_the_layer_classes():
    """The structure check names the shared positions; the trace's failures at them blame the network, so the zoo's
    mutant is blamed on MultiLayerNet alone (the Sigmoid class is right)."""
    from bp_parity.reference.run.traces import network_traces

    impl = protocol.load(str(MUTANTS / "multi_layer_net_one_activation_for_every_layer.py"))
    (result,) = structure.check_structure(impl, "MultiLayerNet", "float64", 7)
    assert "Activation_function2 is Activation_function1; Activation_function3 is Activation_function1" \
        in result.reason
    failed = [r for trace in network_traces(impl, "MultiLayerNet", "float64", 7, batch=16) for r in trace.results
              if not r.passed and not r.skipped]
    assert failed and {r.context.blamed for r in failed} == {"MultiLayerNet"}


@pytest.mark.parametrize("name", NETWORKS)
def test_every_parameter_of_every_network_starts_as_its_scheme_says(name):
    results = network_checks.check_init(protocol.load(), name, "float64", 7)
    assert results and all(r.passed for r in results), next(r.render() for r in results if not r.passed)
    record = registry.piece(name).network
    params = record.init_build(protocol.load(), record.init_schemes[0], "float64", 7).params
    assert {r.context.tensor for r in results} == set(params)  # every parameter, gamma and beta included


@pytest.mark.parametrize("mutant, name, tensor", [
    ("multi_layer_net_extend_beta_initialised_to_ones", "MultiLayerNetExtend", "beta1"),
    ("simple_convnet_filters_ignore_weight_init_std", "SimpleConvNet", "W1"),
])
def test_a_wrong_initial_parameter_is_caught_there_and_nowhere_else(mutant, name, tensor):
    impl = protocol.load(str(MUTANTS / f"{mutant}.py"))
    failed = [r for r in network_checks.check_init(impl, name, "float64", 7) if not r.passed]
    assert failed and tensor in {r.context.tensor for r in failed}
    assert {r.context.tensor for r in failed} <= {tensor, tensor.replace("1", "2"), tensor.replace("1", "3")}


def test_simple_convnets_numerical_gradient_is_judged_at_inputs_that_keep_every_kink_away():
    """Its ReLUs and max pooling cannot be made smooth: the inputs are drawn so that every ReLU input and every
    pooling window's lead over its second value stays KINK_FREE_MARGIN away, measured here through the twin."""
    from bp_parity.reference.base import streams
    from bp_parity.reference.run.network import NetworkTwin

    record = registry.piece("SimpleConvNet").network
    network = record.numerical_build(protocol.load(), "float64")
    record.prepare(network, 7)
    twin = NetworkTwin.composed(network, "SimpleConvNet")
    x = network_checks.kink_free_inputs(network, twin, streams.rng(7, "net inputs"), 8, record.numerical_input)
    assert x.shape == (8, 1, 6, 6)
    results = network_checks.check_numerical_gradient(protocol.load(), "SimpleConvNet", "float64", 7)
    assert {r.context.tensor for r in results} == set(network.params)  # every parameter, and each given back
    assert results and all(r.passed for r in results)
    mutant = protocol.load(str(MUTANTS / "simple_convnet_numerical_gradient_one_sided.py"))
    failed = [r for r in network_checks.check_numerical_gradient(mutant, "SimpleConvNet", "float64", 7)
              if not r.passed]
    assert failed and all(r.context.oracle == "twin" for r in failed)


def test_the_deep_networks_test_mode_methods_are_judged_in_test_mode():
    """MultiLayerNetExtend's predict, loss and accuracy run batch norm on running statistics and scale dropout by
    default: judged against a twin of the layers' test-mode forms after training forwards set the statistics."""
    from bp_parity.reference.run.traces import mnist_subset

    mnist = mnist_subset("float64")
    results = network_checks.check_network_methods(protocol.load(), "MultiLayerNetExtend", "float64", 7, 16, mnist)
    assert {r.context.tensor for r in results} == {"predict", "loss", "accuracy"} and all(r.passed for r in results)
    mutant = protocol.load(str(MUTANTS / "multi_layer_net_extend_predict_always_trains.py"))
    failed = [r for r in network_checks.check_network_methods(mutant, "MultiLayerNetExtend", "float64", 7, 16, mnist)
              if not r.passed]
    assert "predict" in {r.context.tensor for r in failed}
