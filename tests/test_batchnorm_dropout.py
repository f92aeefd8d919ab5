"""What makes batch normalization and dropout hard to check, checked: a drawn upstream gradient, masks and running
statistics that stand still under finite differences, running statistics over many calls."""

import numpy as np
import pytest
import torch

from bp_parity.reference.base import cases, streams
from bp_parity.reference.run import case as layer_checks
from bp_parity.reference.pieces import normalization, protocol, registry

SEED = cases.layer_seeds()[0]
MUTANTS = cases.FIXTURES / "mutants"


def _inputs(case_id, dtype="float64", seed=SEED):
    case = registry.case(case_id)
    spec = registry.spec_of(case.layer)
    return case, spec, layer_checks.cast(spec.inputs(case, streams.rng(seed, "layer inputs")), dtype)


def test_a_backward_without_the_variance_path_passes_an_all_ones_gradient_and_fails_the_drawn_one():
    """With dout all ones a correct dx is zero, and so is the mutant's: the harness draws dout."""
    _, spec, inputs = _inputs("BatchNormalization-2d")
    right, wrong = protocol.load(), protocol.load(str(MUTANTS / "batchnorm_backward_drops_variance_path.py"))
    results = {}
    for label, impl in (("right", right), ("wrong", wrong)):
        for dout in ("ones", "drawn"):
            layer = spec.make(impl, inputs)
            spec.forward(layer, inputs)
            given = dict(inputs, dout=np.ones_like(inputs["dout"]) if dout == "ones" else inputs["dout"])
            results[label, dout] = spec.backward(layer, given)["dx"]
    np.testing.assert_allclose(results["right", "ones"], 0, atol=1e-12)
    np.testing.assert_allclose(results["wrong", "ones"], 0, atol=1e-12)
    assert np.max(np.abs(results["wrong", "drawn"] - results["right", "drawn"])) > 0.1
    assert np.std(inputs["dout"]) > 0.5  # what the harness hands every backward


def test_finite_differences_of_dropout_see_one_mask_and_give_the_generator_back():
    _, spec, inputs = _inputs("Dropout-2d")
    before = np.random.get_state()[1].copy()
    f, point = spec.fd_losses(protocol.load(), inputs)["dx"]
    assert f(point) == f(point) == f(point)  # the same mask at every evaluation, not a fresh draw
    assert np.array_equal(np.random.get_state()[1], before)


def test_finite_differences_of_batch_norm_leave_the_running_statistics_alone():
    _, spec, inputs = _inputs("BatchNormalization-2d")
    impl = protocol.load()
    layer = spec.make(impl, inputs)
    spec.forward(layer, inputs)
    kept = layer.running_mean.copy()
    for f, point in spec.fd_losses(impl, inputs).values():
        f(point + 0.01)
    assert np.array_equal(layer.running_mean, kept)
    assert np.array_equal(inputs["running_mean"], layer_checks.cast(spec.inputs(
        registry.case("BatchNormalization-2d"), streams.rng(SEED, "layer inputs")), "float64")["running_mean"])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_running_statistics_after_many_training_forwards_equal_the_rule_written_out(dtype):
    rng = np.random.default_rng(3)
    impl = protocol.load()
    gamma, beta = rng.normal(size=4).astype(dtype), rng.normal(size=4).astype(dtype)
    layer = impl.require("BatchNormalization")(gamma, beta, momentum=0.8)
    mean, var = torch.zeros(4, dtype=getattr(torch, dtype)), torch.zeros(4, dtype=getattr(torch, dtype))
    for _ in range(7):
        x = (rng.normal(size=(10, 4)) * 2 + 1).astype(dtype)
        layer.forward(x)
        mean, var = normalization.batch_norm_running(torch.from_numpy(x), mean, var, 0.8)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(layer.running_mean, mean.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.running_var, var.numpy(), rtol=tol, atol=tol)
    kept = (layer.running_mean.copy(), layer.running_var.copy())
    test_out = layer.forward(x, train_flg=False)  # test mode: uses the running statistics and moves nothing
    assert np.array_equal(layer.running_mean, kept[0]) and np.array_equal(layer.running_var, kept[1])
    expected = normalization.batch_norm(torch.from_numpy(x), torch.from_numpy(gamma), torch.from_numpy(beta),
                                torch.from_numpy(layer.running_mean), torch.from_numpy(layer.running_var), train=False)
    np.testing.assert_allclose(test_out, expected.numpy(), rtol=tol, atol=tol)


def test_the_dropout_mask_is_the_textbooks_draw_and_keeps_about_one_minus_the_ratio():
    case, spec, inputs = _inputs("Dropout-ratio0.8")
    run = layer_checks.run_case(protocol.load(), case, "float64", SEED)
    mask = run.impl_outputs["mask"]
    assert abs(mask.mean() - 0.2) < 0.15 and run.find("mask", "twin").passed


TRAINING_ONLY_BACKWARD = '''from bp_parity.impl import *  # noqa: F403
from bp_parity.impl import net_layer


class BatchNormalization(net_layer.BatchNormalization):
    """The book's: what backward needs exists only after a training forward."""

    def forward(self, x, train_flg=True):
        self.trained = train_flg
        out = super().forward(x, train_flg)
        if not train_flg:
            self.xn = None  # the book's test-mode forward leaves it unset
        return out

    def backward(self, dout):
        if not self.trained:
            return dout * self.xn
        return super().backward(dout)


class Dropout(net_layer.Dropout):
    def forward(self, x, train_flg=True):
        self.mask = self.mask if train_flg else None
        return super().forward(x, train_flg)

    def backward(self, dout):
        return dout * self.mask
'''


@pytest.mark.parametrize("case_id", ["BatchNormalization-test", "BatchNormalization-test-4d", "Dropout-test"])
def test_a_backward_after_a_test_mode_forward_that_the_book_never_makes_is_skipped_not_failed(tmp_path, case_id):
    """The textbook's protocol calls backward only after a training forward: an implementation that cannot answer it
    otherwise gets that check SKIPPED with the reason; its forward is still judged, and passes."""
    module = tmp_path / "training_only_backward.py"
    module.write_text(TRAINING_ONLY_BACKWARD)
    run = layer_checks.run_case(protocol.load(str(module)), registry.case(case_id), "float64", SEED)
    skipped = [r for r in run.results if r.skipped]
    assert {r.context.tensor for r in skipped} >= {"dx"}, [r.render() for r in run.results if not r.passed]
    assert all("beyond the textbook's protocol" in r.reason for r in skipped)
    assert not [r for r in run.results if not r.passed and not r.skipped], [r.render() for r in run.results]
    assert run.find("forward", "twin").passed
    textbook = layer_checks.run_case(protocol.load(), registry.case(case_id), "float64", SEED)
    assert not [r for r in textbook.results if r.skipped]  # impl answers it: judged, not skipped


def test_a_wrong_answer_to_the_call_beyond_the_protocol_is_still_judged():
    """Beyond the protocol is no blank cheque: an implementation that answers a test-mode backward, wrongly, fails."""
    from bp_parity.impl import net_layer

    class Wrong(net_layer.Dropout):
        def backward(self, dout):
            return dout * 2.0

    impl = protocol.load()
    impl.bound["Dropout"] = Wrong
    run = layer_checks.run_case(impl, registry.case("Dropout-test"), "float64", SEED)
    assert not run.find("dx", "twin").passed
