"""CS231n assignment 1's linear classifier losses, loss(W, X, y, reg) -> (loss, dW): svm_loss_naive and _vectorized,
softmax_loss_naive and _vectorized (reference/pieces/affine.py), in impl and in the assignment's own layout."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from bp_parity.reference.cli.main import main
from bp_parity.reference.pieces import affine, protocol, registry
from bp_parity.reference.run import case as layer_checks

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cs231n_style" / "classifiers"
NAMES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")


def _failures(impl, name, dtypes=("float64", "float32"), seed=7):
    return [r for case in registry.cases() if case.layer == name for dtype in dtypes
            for r in layer_checks.run_case(impl, case, dtype, seed).results if not r.passed and not r.skipped]


def test_the_assignments_package_passes_with_no_adapter_and_its_softmax_module_is_not_the_softmax_function(capsys):
    """The assignment's classifiers/ package has a module softmax.py beside the functions it gathers: that module is
    not the protocol's softmax(x), so --only-present leaves softmax out instead of calling a module."""
    assert main(["check", "--impl", str(EXAMPLE), "--only-present"]) == 0
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0] in NAMES + ("softmax",)]
    assert rows == list(NAMES)
    assert "936 checks over 3 seed(s): 0 failed or not run" in out
    impl = protocol.load(str(EXAMPLE))
    assert impl.missing(["softmax", "svm_loss_naive"]) == ["softmax"]


def test_the_older_skeletons_half_regularization_passes_under_its_named_convention(tmp_path):
    """0.5 * reg * sum(W * W) with dW += reg * W (the assignment's older skeletons) is the other convention: every
    check passes, and the loss and dW are judged by it exactly where the current one fails (reg > 0)."""
    older = tmp_path / "classifiers"
    shutil.copytree(EXAMPLE, older)
    for module in ("linear_svm.py", "softmax.py"):
        path = older / module
        source = path.read_text()
        assert source.count("reg * np.sum(W * W)") == 2 and source.count("2 * reg * W") == 2
        path.write_text(source.replace("reg * np.sum(W * W)", "0.5 * reg * np.sum(W * W)")
                        .replace("2 * reg * W", "reg * W"))
    impl = protocol.load(str(older))
    for name in NAMES:
        case = registry.case(f"{name}-batch")
        results = layer_checks.run_case(impl, case, "float64", 7).results
        assert all(r.passed for r in results), name
        judged = {r.context.tensor for r in results if r.note}
        assert judged == {"forward", "dW"}, name
        assert all("0.5 * reg" in r.note for r in results if r.note)
        no_reg = layer_checks.run_case(impl, registry.case(f"{name}-noreg"), "float64", 7).results
        assert all(r.passed and not r.note for r in no_reg), name


def test_a_loss_of_one_convention_and_a_gradient_of_the_other_is_caught_by_finite_differences(tmp_path):
    broken = tmp_path / "classifiers"
    shutil.copytree(EXAMPLE, broken)
    path = broken / "linear_svm.py"
    source = path.read_text()
    path.write_text(source.replace("dW = X.T.dot(counts) / num_train + 2 * reg * W",
                                   "dW = X.T.dot(counts) / num_train + reg * W"))
    failed = _failures(protocol.load(str(broken)), "svm_loss_vectorized", dtypes=("float64",))
    assert failed and {(r.context.tensor, r.context.oracle) for r in failed} == {("dW", "finite differences")}
    assert not _failures(protocol.load(str(broken)), "svm_loss_naive", dtypes=("float64",))


@pytest.mark.parametrize("name", ["softmax_loss_naive", "softmax_loss_vectorized"])
def test_an_unshifted_softmax_overflows_on_the_large_case_alone_and_the_report_says_so(tmp_path, name):
    broken = tmp_path / "classifiers"
    shutil.copytree(EXAMPLE, broken)
    path = broken / "softmax.py"
    source = path.read_text()
    assert source.count("scores = scores - scores.max(") == 2
    path.write_text(source.replace("scores = scores - scores.max()", "scores = scores")
                    .replace("scores = scores - scores.max(axis=1, keepdims=True)", "scores = scores"))
    failed = _failures(protocol.load(str(broken)), name)
    assert failed and {r.context.case for r in failed} == {f"{name}-large"}
    assert any("overflowed" in r.render() for r in failed)


def test_the_twins_are_the_hinge_and_cross_entropy_of_the_scores_plus_the_regularization():
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(0)
    W = torch.randn(5, 4, dtype=torch.float64, generator=generator)
    X = torch.randn(7, 5, dtype=torch.float64, generator=generator)
    y = torch.randint(0, 4, (7,), generator=generator)
    reg = 0.3
    penalty = (W * W).sum()
    hinge = F.multi_margin_loss(X @ W, y) * 4
    torch.testing.assert_close(affine.classifier_svm_loss(W, X, y, reg), hinge + reg * penalty, rtol=1e-14, atol=0)
    torch.testing.assert_close(affine.classifier_svm_loss(W, X, y, reg, half=True), hinge + reg * penalty / 2,
                               rtol=1e-14, atol=0)
    log_p = torch.log_softmax(X @ W, dim=1)
    expected = -log_p[torch.arange(7), y].mean() + reg * penalty
    torch.testing.assert_close(affine.classifier_softmax_loss(W, X, y, reg), expected, rtol=1e-14, atol=0)


def test_impl_keeps_the_dtype_and_the_hinge_cases_stay_off_its_kinks():
    from bp_parity.impl import svm_loss_naive

    spec = registry.spec_of("svm_loss_naive")
    for case in (c for c in registry.cases() if c.layer == "svm_loss_naive"):
        inp = spec.inputs(case, np.random.default_rng(7))
        margins = inp["X"] @ inp["W"]
        rows = np.arange(len(inp["y"]))
        margins = margins - margins[rows, inp["y"]][:, None] + 1
        margins[rows, inp["y"]] = np.inf
        assert np.abs(margins).min() >= affine.KINK_MARGIN, case.id
        W32, X32 = inp["W"].astype(np.float32), inp["X"].astype(np.float32)
        loss, dW = svm_loss_naive(W32, X32, inp["y"], 0.1)
        assert np.asarray(loss).dtype == np.float32 and dW.dtype == np.float32
