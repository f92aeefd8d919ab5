"""MultiLayerNetExtend (five hidden layers of 100, batch norm, dropout 0.2, weight decay 0.1) trained side by side
with a twin composed from its own layers' twins, from the same weights, batches and dropout masks."""

import numpy as np
import pytest

from bp_parity.reference.run import training_parity
from bp_parity.reference.pieces import protocol
from bp_parity.reference.report import tolerance


def _assert_parity(result):
    assert result.passed, "\n\n".join(f.render() for f in result.failures())


def test_float64_300_steps_step_exact(impl_under_test, full_mnist):
    result = training_parity.run(impl_under_test, full_mnist("float64"), net="MultiLayerNetExtend", dtype="float64",
                                 steps=300, checkpoint_every=100)
    _assert_parity(result)
    assert [step for step, _ in result.checkpoints] == [99, 199, 299] and not result.bands
    assert result.max_loss_error()[0] < 1e-14  # measured 8.9e-16 over 1,000 steps (tolerance.py)
    assert result.impl_loss[-1] < result.impl_loss[0] - 0.5  # it learns


def test_float32_step_exact_over_its_horizon_then_window_means(impl_under_test, full_mnist):
    result = training_parity.run(impl_under_test, full_mnist("float32"), net="MultiLayerNetExtend", dtype="float32",
                                 steps=225)
    _assert_parity(result)
    assert result.exact_steps == 25 and [c.context.shown for c in result.bands] == [
        "mean loss of steps 25..124 at step 124", "mean loss of steps 125..224 at step 224"]


def test_a_gradient_that_forgets_one_layers_weight_decay_is_caught_at_the_first_step(tmp_path, full_mnist):
    module = tmp_path / "decay_forgotten.py"
    module.write_text("from bp_parity.impl import *  # noqa\n"
                      "from bp_parity.impl import multi_layer_net_extend\n"
                      "class MultiLayerNetExtend(multi_layer_net_extend.MultiLayerNetExtend):\n"
                      "    def gradient(self, x, t):\n"
                      "        grads = super().gradient(x, t)\n"
                      "        grads['W3'] = grads['W3'] - self.weight_decay_lambda * self.params['W3']\n"
                      "        return grads\n")
    result = training_parity.run(protocol.load(str(module)), full_mnist("float64"), net="MultiLayerNetExtend",
                                 dtype="float64", steps=3, checkpoint_every=1)
    first = result.failures()[0]
    assert first.context.step == 1 and first.context.tensor == "loss", first.render()
    # after the first step only W3 has moved wrongly; from the second on, everything inherits it
    assert [c.context.tensor for c in result.checkpoints[0][1] if not c.passed] == ["W3"]


@pytest.mark.mnist_full
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_1000_steps(impl_under_test, full_mnist, dtype):
    result = training_parity.run(impl_under_test, full_mnist(dtype), net="MultiLayerNetExtend", dtype=dtype,
                                 steps=1000, checkpoint_every=250)
    _assert_parity(result)
    assert result.exact_steps == (1000 if dtype == "float64" else tolerance.training_claim("MultiLayerNetExtend").horizon["float32"])
    assert np.isfinite(result.impl_loss).all()
