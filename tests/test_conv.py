"""Convolution, pooling, im2col and col2im beyond the case table: the conventions their checks rest on, the bugs
only some cases can expose (and that those cases do), the sampled finite differences, SimpleConvNet traced and
trained side by side with its twin, and the chapter's training script."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bp_parity.reference.base import cases
from bp_parity.reference.run import case as layer_checks, training_parity
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.report import tolerance
from bp_parity.reference.run.traces import network_traces
from bp_parity.reference.pieces.convolution import distinct, gather_windows

SEED = cases.layer_seeds()[0]
MUTANTS = cases.FIXTURES / "mutants"


def _mutant(name):
    return protocol.load(str(MUTANTS / f"{name}.py"))


def _failing_cases(impl, piece):
    failing = set()
    for case in registry.piece(piece).cases:
        for dtype in case.dtypes:
            if any(not r.passed for r in layer_checks.run_case(impl, case, dtype, SEED).results):
                failing.add(case.id)
    return failing


def _overlaps(case):
    """Whether some input element lies in two windows: a window longer than the stride along an axis."""
    window = case.option("filter") or case.option("pool")
    return any(size > case.option("stride", 1) for size in window)


def test_torch_gives_a_tied_windows_gradient_to_its_first_maximum_in_row_major_order():
    """The tie cases judge Pooling by torch's max_pool2d; this is the rule they then hold it to, checked on torch
    itself (windows overlapping, padded) so that a torch that changed it would say so here first."""
    x = torch.zeros(1, 1, 4, 5, dtype=torch.float64, requires_grad=True)
    out, index = F.max_pool2d(x, (3, 3), stride=1, padding=1, return_indices=True)
    out.sum().backward()
    height, width = 4, 5
    for y in range(out.shape[2]):
        for x_ in range(out.shape[3]):
            rows = [r for r in range(y - 1, y + 2) if 0 <= r < height]
            cols = [c for c in range(x_ - 1, x_ + 2) if 0 <= c < width]
            assert int(index[0, 0, y, x_]) == rows[0] * width + cols[0]  # the first real element, row-major
    # and so the gradient of each element counts the windows whose first real element it is
    assert x.grad.sum() == out.numel()


def test_impl_ties_go_to_the_first_maximum_too():
    impl = protocol.load().module
    x = np.zeros((1, 1, 4, 4))
    layer = impl.Pooling(2, 2, 2)
    layer.forward(x)
    dx = layer.backward(np.ones((1, 1, 2, 2)))
    assert dx[0, 0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]


@pytest.mark.parametrize("shape,settings", [((2, 3, 5, 6), (3, 3, 1, 0)), ((2, 2, 7, 6), (3, 2, 2, 1)),
                                            ((1, 2, 8, 7), (2, 2, 3, 0)), ((2, 1, 5, 5), (5, 5, 1, 2))])
def test_col2im_is_the_adjoint_of_im2col(shape, settings):
    """<im2col(x), c> = <x, col2im(c)> for any x and c: the identity a backward through windows rests on, checked on
    the implementation with no twin at all."""
    impl = protocol.load().module
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=shape)
    col = impl.im2col(x, *settings)
    c = rng.normal(size=col.shape)
    left, right = np.sum(col * c), np.sum(x * impl.col2im(c, shape, *settings))
    assert abs(left - right) <= 1e-13 * np.sum(np.abs(col * c))
    assert np.array_equal(col, gather_windows(x, *settings))  # and the harness's own indexing takes the same windows


def test_assigning_col2im_is_caught_by_the_overlapping_cases_and_only_there():
    failing = _failing_cases(_mutant("col2im_assigns_instead_of_adding"), "col2im")
    overlapping = {c.id for c in registry.piece("col2im").cases if _overlaps(c)}
    assert failing == overlapping and overlapping and len(overlapping) < len(registry.piece("col2im").cases)


def test_a_backward_to_every_tied_maximum_is_caught_by_the_tie_cases_and_only_there():
    failing = _failing_cases(_mutant("pooling_backward_to_every_tied_maximum"), "Pooling")
    assert failing == {c.id for c in registry.piece("Pooling").cases if c.option("ties")} == {
        "Pooling-ties", "Pooling-ties-overlap"}


def test_assigning_pooling_backward_is_caught_where_windows_overlap():
    failing = _failing_cases(_mutant("pooling_backward_assigns_overlapping_windows"), "Pooling")
    assert failing and all(_overlaps(registry.case(c)) for c in failing)
    assert "Pooling-2x2" not in failing and "Pooling-ties" not in failing


def test_pooling_inputs_are_drawn_without_ties_far_beyond_a_difference_step():
    rng = np.random.default_rng(SEED)
    x = distinct(rng, (2, 3, 7, 6))
    gaps = np.diff(np.sort(x.ravel()))
    assert gaps.min() >= 2 / x.size * 0.99 and np.abs(x).max() <= 2


def test_a_correct_layer_is_differentiated_at_16_sampled_elements_per_tensor():
    run = layer_checks.run_case(protocol.load(), registry.case("Convolution-mnist"), "float64", SEED)
    for tensor in ("dx", "dW", "db"):
        result = run.find(tensor, "finite differences")
        assert result.passed and result.total == min(layer_checks.FD_SAMPLES, run.impl_outputs[tensor].size)


def test_a_failing_sampled_check_is_followed_by_a_full_one_that_names_the_element():
    mutant = _mutant("convolution_dw_reshaped_in_the_wrong_order")
    run = layer_checks.run_case(mutant, registry.case("Convolution-mnist"), "float64", SEED)
    result = run.find("dW", "finite differences")
    assert not result.passed and result.total == 6 * 1 * 5 * 5  # every element of dW, not the 16 drawn
    assert "worst element [" in result.render() and "(shape (6, 1, 5, 5)" in result.render()
    assert run.find("dx", "finite differences").total == layer_checks.FD_SAMPLES  # the other tensors stay sampled


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_simple_convnet_traced_layer_by_layer_and_end_to_end(check, dtype):
    traces = network_traces(protocol.load(), "SimpleConvNet", dtype, SEED, batch=16)
    trace = traces[0]
    pieces = [r.context.piece for r in trace.results if r.context.phase == "forward"]
    assert pieces == ["Convolution", "Relu", "Pooling", "Affine", "Relu", "Affine", "SoftmaxWithLoss"]
    gradient_rows = [r for r in trace.results if r.context.phase == "gradient"]
    # six parameters against the composed twin, and in float64 against finite differences too
    assert len(gradient_rows) == (12 if dtype == "float64" else 6)
    for result in trace.results:
        check(result)


def test_the_layers_refuse_shapes_they_cannot_take_with_a_sentence():
    impl = protocol.load().module
    conv = impl.Convolution(np.zeros((2, 3, 3, 3)), np.zeros(2))
    with pytest.raises(ValueError, match=r"not \(N, 3, H, W\)"):
        conv.forward(np.zeros((1, 2, 5, 5)))
    with pytest.raises(ValueError, match="does not fit"):
        impl.im2col(np.zeros((1, 1, 2, 2)), 3, 3)
    with pytest.raises(ValueError, match="more than half"):
        impl.Pooling(2, 2, 2, pad=2)
    with pytest.raises(ValueError, match="does not match"):
        impl.col2im(np.zeros((5, 9)), (1, 1, 4, 4), 3, 3)


def test_simple_convnet_builds_odd_sizes_and_counts_every_sample_in_accuracy():
    impl = protocol.load().module
    net = impl.SimpleConvNet(input_dim=(1, 11, 11), conv_param={"filter_num": 3, "filter_size": 4}, hidden_size=5,
                             seed=0)
    x = np.random.default_rng(0).normal(size=(7, 1, 11, 11))
    assert net.predict(x).shape == (7, 10)
    assert net.params["W2"].shape == (3 * 4 * 4, 5)  # 8x8 maps pooled to 4x4 by the floor rule
    t = net.predict(x).argmax(axis=1)
    assert net.accuracy(x, t, batch_size=3) == 1.0  # 3 + 3 + 1 samples, all counted


def _assert_parity(result):
    assert result.passed, "\n\n".join(f.render() for f in result.failures())


def test_convnet_float64_step_exact_from_the_same_weights_and_batches(full_mnist):
    result = training_parity.run(protocol.load(), full_mnist("float64"), net="SimpleConvNet", dtype="float64",
                                 steps=40, checkpoint_every=20)
    _assert_parity(result)
    assert result.exact_steps == 40 and [step for step, _ in result.checkpoints] == [19, 39]
    assert result.max_loss_error()[0] < 1e-14  # measured 1.3e-15 over 200 steps (tolerance.py)


def test_convnet_float32_step_exact_over_its_horizon_then_window_means(full_mnist):
    result = training_parity.run(protocol.load(), full_mnist("float32"), net="SimpleConvNet", dtype="float32",
                                 steps=110)
    _assert_parity(result)
    assert result.exact_steps == tolerance.training_claim("SimpleConvNet").horizon["float32"] == 10
    assert [c.context.shown for c in result.bands] == ["mean loss of steps 10..109 at step 109"]


def test_a_network_that_skips_the_convolutions_backward_parts_at_the_second_step(full_mnist):
    mutant = _mutant("simple_convnet_gradient_skips_the_convolution")
    result = training_parity.run(mutant, full_mnist("float64"), net="SimpleConvNet", dtype="float64", steps=3,
                                 checkpoint_every=1)
    first = result.failures()[0]
    # the first step's loss comes before any update; the second sees W1 unmoved
    assert (first.context.step, first.context.tensor) == (1, "loss"), first.render()
    # after the first step the convolution's parameters alone are wrong: the dense layers' gradients were right
    assert [c.context.tensor for c in result.checkpoints[0][1] if not c.passed] == ["W1", "b1"]


@pytest.mark.mnist_full
@pytest.mark.parametrize("dtype,steps", [("float64", 200), ("float32", 1000)])
def test_convnet_training_parity_at_length(full_mnist, dtype, steps):
    result = training_parity.run(protocol.load(), full_mnist(dtype), net="SimpleConvNet", dtype=dtype,
                                 steps=steps, checkpoint_every=50)
    _assert_parity(result)
    assert result.exact_steps == (steps if dtype == "float64" else 10)
    assert result.impl_loss[-1] < result.impl_loss[0] - 1.0  # it learns


def test_the_training_script_prints_every_epoch_and_the_test_accuracy(capsys):
    from bp_parity.impl import train_convnet

    assert train_convnet.main(["--train-size", "400", "--epochs", "2", "--eval-samples", "100",
                               "--data-dir", str(cases.FIXTURES / "mnist-subset")]) == 0
    out = capsys.readouterr().out
    assert "epoch  1 (iteration     4)" in out and "epoch  2 (iteration     8)" in out
    assert out.rstrip().splitlines()[-1].startswith("test accuracy: 0.")


def test_the_training_script_rejects_bad_options_with_one_line(capsys):
    from bp_parity.impl import train_convnet

    assert train_convnet.main(["--epochs", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
