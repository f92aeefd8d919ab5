"""Training parity on real MNIST: impl and its twin from the same weights on the same batches.

Needs the full MNIST (BP_PARITY_DATA, or the user cache): where it is missing
these tests fail with the places searched, they do not skip.
"""

import numpy as np
import pytest

from impl.mnist import load_mnist
from reference import training_parity


@pytest.fixture(scope="module")
def mnist_float64():
    return load_mnist(dtype=np.float64, download=False)


@pytest.fixture(scope="module")
def mnist_float32():
    return load_mnist(dtype=np.float32, download=False)


def _assert_parity(result):
    if result.first_loss_divergence is not None:
        pytest.fail("\n" + result.first_loss_divergence.render(), pytrace=False)
    for step, comparisons in result.checkpoints:
        for comparison in comparisons:
            if not comparison.passed:
                pytest.fail(f"weights part at step {step}:\n" + comparison.render(), pytrace=False)
    assert len(result.impl_loss) == len(result.twin_loss) == result.steps


def test_float64_1000_steps_loss_equal_at_every_step_and_weights_at_checkpoints(impl_under_test, mnist_float64):
    result = training_parity.run(impl_under_test, mnist_float64, dtype="float64", steps=1000, checkpoint_every=250,
                                 impl_spec=impl_under_test.spec)
    _assert_parity(result)
    max_abs, _ = result.max_loss_error()
    assert max_abs < 1e-13, f"float64 losses part by {max_abs:.2e}: more than rounding"
    assert result.impl_loss[-1] < 0.5 * result.impl_loss[0], "the network did not learn"


def test_float32_1000_steps_within_the_float32_policy(impl_under_test, mnist_float32):
    result = training_parity.run(impl_under_test, mnist_float32, dtype="float32", steps=1000, checkpoint_every=500,
                                 impl_spec=impl_under_test.spec)
    _assert_parity(result)


def test_first_divergence_names_the_step(impl_under_test, mnist_float64):
    """A twin trained with another learning rate parts at step 1 (the first update), and the report says so."""
    import torch

    from reference import network

    class FasterTwin(network.TwinTwoLayerNet):
        def gradient(self, x, t):
            loss, grads = super().gradient(x, t)
            for p in self.params.values():
                p.grad.mul_(1.01)
            return loss, grads

    original = training_parity.TwinTwoLayerNet
    training_parity.TwinTwoLayerNet = FasterTwin
    try:
        result = training_parity.run(impl_under_test, mnist_float64, dtype="float64", steps=5)
    finally:
        training_parity.TwinTwoLayerNet = original
    assert result.first_loss_divergence is not None
    assert "loss at step 1" in result.first_loss_divergence.render()


@pytest.mark.mnist_full
def test_textbook_run_side_by_side_final_test_accuracies_within_a_tenth_of_a_point(impl_under_test, mnist_float32):
    """The full textbook run (10,000 steps, float32) on both sides."""
    result = training_parity.run(impl_under_test, mnist_float32, dtype="float32", steps=10000, evaluate_every=600,
                                 checkpoint_every=10000, impl_spec=impl_under_test.spec)
    final = result.epochs[-1]
    assert abs(final["impl_test_acc"] - final["twin_test_acc"]) <= 0.001, final
    assert final["impl_test_acc"] >= 0.965, final


@pytest.mark.mnist_full
def test_training_script_reaches_the_textbooks_accuracy(tmp_path, capsys):
    import json

    from impl import train_bp_two_neuralnet

    assert train_bp_two_neuralnet.main(["--out-dir", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()
    accuracy_line = next(line for line in last if line.startswith("test accuracy: "))
    assert float(accuracy_line.split(": ")[1]) >= 0.965, accuracy_line
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as weights:
        assert weights["W1"].shape == (784, 50) and weights["W1"].dtype == np.float32
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["batch_indices"]) == 10000 and len(history["batch_indices"][0]) == 100
    assert len(history["test_acc"]) == 18  # epochs 0..16 at whole iterations, and the last iteration
