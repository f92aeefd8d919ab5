"""The functional protocol (reference/pieces/functional.py): CS231n-style functions checked as the registry's pieces."""

import shutil
import types
from pathlib import Path

import pytest

from bp_parity.reference.pieces import functional, protocol, registry
from bp_parity.reference.run import case as layer_checks
from bp_parity.reference.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cs231n_style" / "layers.py"


def test_the_cs231n_style_example_passes_with_no_adapter_and_says_what_it_detected(capsys):
    assert main(["check", "--impl", str(EXAMPLE), "--only-present", "--seed", "7", "--table"]) == 0
    out = capsys.readouterr().out
    # in the registry's order (the families': elementwise, affine and the losses, normalization, convolution, optimizers)
    assert out.startswith("protocol detected: functional (CS231n style): relu_forward + relu_backward as Relu; "
                          "sigmoid_forward + sigmoid_backward as Sigmoid; affine_forward + affine_backward as Affine;")
    assert "max_pool_forward_naive + max_pool_backward_naive as Pooling" in out
    for case in ("Affine-4d", "SoftmaxWithLoss-1sample-onehot", "Convolution-stride2-pad1", "Pooling-pad1",
                 "Pooling-ties", "Dropout-ratio0.8", "Dropout-test"):
        assert f"\n{case} " in out, case
    assert "0 failed or not run" in out


def test_a_broken_copy_of_it_is_caught_and_blamed_on_the_piece_its_functions_make(tmp_path):
    broken = tmp_path / "broken_layers.py"
    shutil.copy(EXAMPLE, broken)
    broken.write_text(broken.read_text().replace("flat.T @ dout, dout.sum(axis=0)", "flat.T @ dout, dout.mean(axis=0)"))
    impl = protocol.load(str(broken))
    failures = [r for case in registry.cases() if case.layer == "Affine" for dtype in case.dtypes
                for r in layer_checks.run_case(impl, case, dtype, 7).results if not r.passed]
    assert failures and {f.context.blamed for f in failures} == {"Affine"}
    assert any(f.context.tensor == "db" and f.context.oracle == "twin" for f in failures)
    others = [r for case in registry.cases() if case.layer in ("Relu", "Convolution") for dtype in case.dtypes
              for r in layer_checks.run_case(impl, case, dtype, 7).results if not r.passed and not r.skipped]
    assert not others


def test_classes_win_over_functions_and_half_a_form_is_no_form():
    module = types.SimpleNamespace(affine_forward=lambda x, w, b: (x, None), affine_backward=lambda d, c: (d, d, d),
                                   relu_forward=lambda x: (x, None), Relu=object)
    assert functional.detect(module) == {"Affine": ("affine_forward", "affine_backward")}
    half = types.SimpleNamespace(affine_forward=lambda x, w, b: (x, None))
    assert functional.detect(half) == {}
    from bp_parity.impl.linear_regression import sgd  # sgd(model, X, y, lr, epochs, batch_size, rng, ...): no update rule

    assert functional.detect(types.SimpleNamespace(sgd=sgd)) == {}
    assert functional.detect(types.SimpleNamespace(sgd=lambda w, dw, config=None: (w, config))) == {"SGD": ("sgd",)}


def test_the_textbooks_own_implementation_is_detected_as_such():
    impl = protocol.load()
    assert impl.functional == {} and impl.detected == "the textbook's classes"


def _example():
    return protocol.load(str(EXAMPLE))


def test_the_familys_update_rules_hold_parity_with_their_twins_at_drawn_hyper_parameters():
    from bp_parity.reference.run import optimizer_checks

    impl = _example()
    assert impl.require("Adam").family == "cs231n"
    for name in ("SGD", "Momentum", "RMSprop", "Adam"):
        for dtype in ("float64", "float32"):
            run = optimizer_checks.run_optimizer(impl, name, dtype, 7)
            assert run.passed and len(run.trajectory) == 100, (name, dtype)


def test_the_family_parts_from_the_textbook_by_the_predicted_first_step():
    """The family's rmsprop and adam differ from the textbook's RMSprop and Adam in epsilon (1e-8 against 1e-7) and,
    for adam, in where it goes; at the first step both have closed forms, and the measured difference between the two
    updates is that difference, to the rounding of w."""
    import numpy as np

    from bp_parity.impl import Adam, RMSprop

    rng = np.random.default_rng(0)
    w, g = rng.normal(size=200), rng.normal(size=200) * np.geomspace(1e-6, 1, 200)  # small gradients show epsilon
    module = _example().module
    lr, b1, b2, decay = 1e-3, 0.9, 0.999, 0.99
    family, _ = module.adam(w.copy(), g, {"learning_rate": lr, "beta1": b1, "beta2": b2})
    textbook = {"w": w.copy()}
    Adam(lr, b1, b2).update(textbook, {"w": g.copy()})
    predicted = lr * g / (np.abs(g) + 1e-8) - lr * np.sqrt(1 - b2) * g / (np.sqrt(1 - b2) * np.abs(g) + 1e-7)
    assert np.abs((textbook["w"] - family) - predicted).max() <= 8 * np.finfo(float).eps * np.abs(w).max()
    assert np.abs(predicted).max() > 1e-5  # a difference the float64 twin bound (1e-10 of the scale) would see
    family, _ = module.rmsprop(w.copy(), g, {"learning_rate": lr, "decay_rate": decay})
    textbook = {"w": w.copy()}
    RMSprop(lr, decay).update(textbook, {"w": g.copy()})
    root = np.sqrt((1 - decay) * g * g)
    predicted = lr * g / (root + 1e-8) - lr * g / (root + 1e-7)
    assert np.abs((textbook["w"] - family) - predicted).max() <= 8 * np.finfo(float).eps * np.abs(w).max()


def test_an_adam_with_the_textbooks_epsilon_is_caught_against_the_familys_twin(tmp_path):
    from bp_parity.reference.run import optimizer_checks

    broken = tmp_path / "adam_textbook_epsilon.py"
    broken.write_text(EXAMPLE.read_text().replace('config.setdefault("epsilon", 1e-8)\n    m = ',
                                                  'config.setdefault("epsilon", 1e-7)\n    m = '))
    impl = protocol.load(str(broken))
    failed = [r for r in optimizer_checks.run_optimizer(impl, "Adam", "float64", 7).results if not r.passed]
    assert failed and {r.context.blamed for r in failed} == {"Adam"}
    assert optimizer_checks.run_optimizer(impl, "RMSprop", "float64", 7).passed


def test_the_hinge_twin_is_torchs_multi_margin_loss_times_the_classes():
    """torch's F.multi_margin_loss (p=1, margin=1) averages the hinge terms over the classes as well as the batch:
    the twin (the CS231n form) is that loss times C, to rounding, and so is its gradient."""
    import torch
    import torch.nn.functional as F

    from bp_parity.reference.pieces import affine

    generator = torch.Generator().manual_seed(0)
    for classes in (2, 5, 10):
        x = torch.randn(9, classes, dtype=torch.float64, generator=generator, requires_grad=True)
        y = torch.randint(0, classes, (9,), generator=generator)
        ours = affine.svm_loss(x, y)
        (ours_grad,) = torch.autograd.grad(ours, x)
        theirs = F.multi_margin_loss(x, y) * classes
        (theirs_grad,) = torch.autograd.grad(theirs, x)
        torch.testing.assert_close(ours, theirs, rtol=1e-14, atol=1e-14)
        torch.testing.assert_close(ours_grad, theirs_grad, rtol=1e-14, atol=1e-14)


def test_a_hinge_loss_that_counts_the_true_class_is_off_by_one_and_blamed_on_its_forward():
    mutant = protocol.load(str(ROOT / "fixtures" / "mutants" / "svm_loss_counts_the_true_class.py"))
    case = registry.case("svm_loss-batch")
    failed = [r for r in layer_checks.run_case(mutant, case, "float64", 7).results if not r.passed]
    assert [(r.context.tensor, r.context.oracle) for r in failed] == [("forward", "twin")]
    assert abs(failed[0].worst_actual - failed[0].worst_expected - 1.0) < 1e-12


def test_batch_norm_as_functions_is_checked_in_train_mode_and_skipped_where_the_form_has_no_backward(tmp_path):
    impl = _example()
    results = {case.id: layer_checks.run_case(impl, case, "float64", 7).results
               for case in registry.cases() if case.layer == "BatchNormalization"}
    train = [r for r in results["BatchNormalization-4d"] if r.context.oracle in ("twin", "finite differences")]
    assert train and all(r.passed for r in train) and {"dx", "dgamma", "running_var"} <= {r.context.tensor
                                                                                          for r in train}
    test_mode = results["BatchNormalization-test"]
    skipped = sorted((r.context.tensor, r.context.oracle) for r in test_mode if r.skipped)
    assert skipped == sorted((t, o) for t in ("dbeta", "dgamma", "dx") for o in ("twin", "finite differences"))
    assert all(r.passed for r in test_mode if not r.skipped)
    # a backward without the variance path is caught in train mode
    broken = tmp_path / "bn_without_variance_path.py"
    source = EXAMPLE.read_text()
    assert source.count("dxc = dxn * istd + dvar * 2.0 * xc / n") == 1
    broken.write_text(source.replace("dxc = dxn * istd + dvar * 2.0 * xc / n", "dxc = dxn * istd"))
    case = registry.case("BatchNormalization-2d")
    failed = [r for r in layer_checks.run_case(protocol.load(str(broken)), case, "float64", 7).results
              if not r.passed and not r.skipped]
    assert failed and {r.context.blamed for r in failed} == {"BatchNormalization"}
    assert {r.context.tensor for r in failed} == {"dx"}


def _dropout_results(module_path, case_id, dtype):
    return layer_checks.run_case(protocol.load(str(module_path)), registry.case(case_id), dtype, 7).results


def test_the_familys_dropout_parts_from_the_textbooks_by_the_predicted_reflection_and_scale(monkeypatch):
    """The textbook keeps a unit where its draw u > ratio and never rescales (x (1 - ratio) at test time); the family
    keeps it where u < p = 1 - ratio and scales by 1/p (x at test time).  Predicted: the family's output on draws u
    is the textbook's output on the reflected draws 1 - u, divided by p, in training and at test time, dx likewise;
    measured on the two implementations, the example's functions and impl's class, to the rounding of x / p."""
    import numpy as np

    from bp_parity import impl

    module = _example().module
    rng = np.random.default_rng(0)
    x, dout = rng.normal(size=(40, 30)), rng.normal(size=(40, 30))
    draw = np.random.rand
    for ratio in (0.2, 0.5, 0.75):
        keep = 1.0 - ratio
        np.random.seed(11)
        family, cache = module.dropout_forward(x, {"p": keep, "mode": "train"})
        family_dx = module.dropout_backward(dout, cache)
        layer = impl.Dropout(ratio)
        np.random.seed(11)
        plain = layer.forward(x, True)
        assert np.mean((plain != 0) != (family != 0)) > 0.2  # unreflected, the masks part
        with monkeypatch.context() as patch:
            patch.setattr(np.random, "rand", lambda *shape: 1.0 - draw(*shape))
            np.random.seed(11)
            reflected = layer.forward(x, True)
        reflected_dx = layer.backward(dout)
        np.testing.assert_allclose(family, reflected / keep, rtol=2 * np.finfo(float).eps, atol=0)
        np.testing.assert_allclose(family_dx, reflected_dx / keep, rtol=2 * np.finfo(float).eps, atol=0)
        test_out, test_cache = module.dropout_forward(x, {"p": keep, "mode": "test"})
        np.testing.assert_allclose(test_out, layer.forward(x, False) / keep, rtol=2 * np.finfo(float).eps, atol=0)
        np.testing.assert_array_equal(module.dropout_backward(dout, test_cache), dout)


def test_the_familys_dropout_twin_is_torchs_dropout_on_the_mask_torch_drew():
    """torch's F.dropout is inverted dropout with its own generator: on the mask it drew (read from its output, x never
    0) the family's twin gives the same output and gradient, to rounding (torch multiplies by 1/p, the twin divides)."""
    import torch
    import torch.nn.functional as F

    from bp_parity.reference.pieces import normalization

    generator = torch.Generator().manual_seed(0)
    for ratio in (0.2, 0.5, 0.75):
        x = (torch.rand(50, 40, dtype=torch.float64, generator=generator) + 0.5).requires_grad_()
        torch.manual_seed(1)
        theirs = F.dropout(x, ratio, training=True)
        mask = (theirs != 0).detach()
        assert 0 < mask.double().mean() < 1
        ours = normalization.inverted_dropout(x, mask.double(), ratio)
        torch.testing.assert_close(ours, theirs, rtol=2 * torch.finfo(torch.float64).eps, atol=0)
        dout = torch.randn(50, 40, dtype=torch.float64, generator=generator)
        (our_grad,) = torch.autograd.grad(ours, x, dout)
        (their_grad,) = torch.autograd.grad(theirs, x, dout)
        torch.testing.assert_close(our_grad, their_grad, rtol=2 * torch.finfo(torch.float64).eps, atol=0)
        torch.testing.assert_close(normalization.inverted_dropout(x, None, ratio, train=False), F.dropout(x, ratio, False))


def test_dropout_slips_of_the_family_are_caught_and_blamed_on_dropout(tmp_path):
    scaled = "mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / x.dtype.type(p)"
    source = EXAMPLE.read_text()
    assert scaled in source

    def broken(name, replacement):
        path = tmp_path / f"{name}.py"
        path.write_text(source.replace(scaled, replacement))
        return path

    # the course notes' "vanilla" dropout, never scaled: forward and dx off by 1/p, the mask right
    failed = {(r.context.tensor, r.context.oracle) for r in _dropout_results(
        broken("unscaled", "mask = (np.random.rand(*x.shape) < p).astype(x.dtype)"), "Dropout-2d", "float64")
        if not r.passed}
    assert {("forward", "twin"), ("dx", "twin")} <= failed and ("mask", "twin") not in failed
    # p read as the probability of dropping (older copies): at p = 0.7 the mask keeps 30% and the scale is 1/0.3
    # (at p = 0.5 it is the reflected draw, a correct one: reference.report.deviations.REFLECTED_MASK)
    results = _dropout_results(broken("p_drops", "mask = (np.random.rand(*x.shape) >= p).astype(x.dtype) / "
                                                 "x.dtype.type(1 - p)"), "Dropout-4d", "float64")
    failed = [r for r in results if not r.passed]
    assert ("mask", "twin") in {(r.context.tensor, r.context.oracle) for r in failed}
    assert {r.context.blamed for r in failed} == {"Dropout"}
    # the course's usual (rand < p) / p: right in float64, a float64 output for a float32 x
    promoted = broken("float64_mask", "mask = (np.random.rand(*x.shape) < p) / p")
    assert all(r.passed for r in _dropout_results(promoted, "Dropout-4d", "float64"))
    failed = [r for r in _dropout_results(promoted, "Dropout-4d", "float32") if not r.passed]
    assert failed and {r.problem for r in failed} == {"dtype"} and {r.context.tensor for r in failed} == {"forward",
                                                                                                        "dx"}


def test_the_golden_arrays_skip_the_familys_dropout_they_were_not_recorded_for():
    from bp_parity.reference.run import golden

    runs = [run for run in golden.check_layers(_example(), golden.load()) if run.case.layer == "Dropout"]
    results = [r for run in runs for r in run.results]
    assert results and all(r.skipped for r in results)
    assert "recorded from the textbook's twin" in results[0].reason


def test_the_usual_draws_of_the_mask_are_the_notes_or_the_reflected_one_and_pass(tmp_path):
    """reference.report.deviations.REFLECTED_MASK: NumPy's legacy binomial(1, p) takes one uniform u a unit, as rand does,
    and keeps u > 1 - p for p <= 1/2 but u < p above (measured here); a copy of the example that draws binomially, and
    one that draws rand > 1 - p, pass every Dropout case, judged by the reflected convention exactly where their draw
    parts from the notes' (binomial: p <= 1/2, Dropout-2d and the 0.8 ratio; the reflected draw: every train case)."""
    import numpy as np

    for p in (0.2, 0.5, 0.7, 0.8):
        np.random.seed(5)
        drawn = np.random.binomial(1, p, (300, 40)).astype(bool)
        np.random.seed(5)
        u = np.random.rand(300, 40)
        np.testing.assert_array_equal(drawn, u > 1 - p if p <= 0.5 else u < p)
    notes_draw = "mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / x.dtype.type(p)"
    for name, draw, expected in (
            ("binomial", "mask = np.random.binomial(1, p, x.shape).astype(x.dtype) / x.dtype.type(p)",
             {"Dropout-2d", "Dropout-ratio0.8"}),
            ("reflected", "mask = (np.random.rand(*x.shape) > 1 - p).astype(x.dtype) / x.dtype.type(p)",
             {"Dropout-2d", "Dropout-4d", "Dropout-ratio0.8"})):
        path = tmp_path / f"{name}_dropout.py"
        path.write_text(EXAMPLE.read_text().replace(notes_draw, draw))
        judged = {}
        for case in [c for c in registry.cases() if c.layer == "Dropout"]:
            for dtype in case.dtypes:
                results = _dropout_results(path, case.id, dtype)
                assert all(r.passed for r in results), (name, case.id, dtype)
                judged[case.id] = judged.get(case.id, set()) | {getattr(r, "note", "") for r in results}
        from bp_parity.reference.report import deviations

        by_convention = {case for case, notes in judged.items() if any(deviations.REFLECTED_MASK in n for n in notes)}
        assert by_convention == expected, name


def test_an_unfinished_function_is_reported_as_what_it_returned(tmp_path):
    """A function left as its template leaves it returns None: the report says so, for the function by name, not the
    adapter's unpacking or slicing error."""
    unfinished = tmp_path / "unfinished.py"
    source = EXAMPLE.read_text()
    source = source.replace("def affine_backward(dout, cache):\n", "def affine_backward(dout, cache):\n    return None\n")
    source = source.replace("def max_pool_backward_naive(dout, cache):\n",
                            "def max_pool_backward_naive(dout, cache):\n    return None\n")
    unfinished.write_text(source)
    impl = protocol.load(str(unfinished))
    affine = [r for r in layer_checks.run_case(impl, registry.case("Affine-2d"), "float64", 7).results
              if not r.passed]
    assert affine and all("affine_backward returned None, not (dx, dw, db)" in r.reason for r in affine
                          if r.verdict == "RAISED")
    assert any(r.verdict == "RAISED" for r in affine)
    pooled = [r for r in layer_checks.run_case(impl, registry.case("Pooling-pad1"), "float64", 7).results
              if not r.passed]
    assert pooled and {r.verdict for r in pooled} == {"MISMATCH"}  # "impl returned NoneType", the padding untouched
    assert all(r.problem == "type" for r in pooled)


def test_a_geometry_the_form_assumes_away_is_skipped_not_failed():
    """CS231n's pooling docstring lets the function assume (H - pool) % stride == 0 (the fast layers assert the same of
    convolution): cases whose windows do not tile the padded input are SKIPPED for the family, with the arithmetic;
    the textbook's classes (which floor) are checked on them."""
    impl = _example()
    for case_id in ("Convolution-stride3", "Convolution-stride2-pad1", "Pooling-odd"):
        results = layer_checks.run_case(impl, registry.case(case_id), "float64", 7).results
        judged = [r for r in results if r.context.oracle != "arguments"]  # arguments: left unchanged, still checked
        assert judged and all(r.skipped for r in judged) and all(r.passed for r in results if not r.skipped), case_id
        assert "not a multiple of stride" in judged[0].reason
        textbook = layer_checks.run_case(protocol.load(), registry.case(case_id), "float64", 7).results
        assert textbook and all(r.passed for r in textbook), case_id
    tiled = layer_checks.run_case(impl, registry.case("Convolution-overlap"), "float64", 7).results
    assert tiled and all(r.passed for r in tiled)


def test_the_older_form_where_p_is_the_drop_probability_is_read_from_its_docstring(tmp_path, capsys):
    """The 2017-era assignment's dropout_forward says "We drop each neuron output with probability p": the adapter
    passes p = dropout_ratio to such a function, says so in the detected protocol, and the same twin judges it."""
    older = tmp_path / "older_dropout.py"
    source = EXAMPLE.read_text()
    old_forward = '''def dropout_forward(x, dropout_param):
    """Inverted dropout: in "train" mode each unit kept with probability p and scaled by 1/p, so that "test" mode
    is x itself.  A "seed" in dropout_param fixes the draw."""
    p, mode = dropout_param["p"], dropout_param["mode"]'''
    assert old_forward in source
    older.write_text(source.replace(old_forward, '''def dropout_forward(x, dropout_param):
    """Inverted dropout.  We drop each neuron output with
    probability p."""
    p, mode = 1 - dropout_param["p"], dropout_param["mode"]'''))
    for case in [c for c in registry.cases() if c.layer == "Dropout"]:
        for dtype in case.dtypes:
            assert all(r.passed for r in _dropout_results(older, case.id, dtype)), (case.id, dtype)
    assert "dropout_forward + dropout_backward as Dropout (p the drop probability, as its docstring says)" in \
        protocol.load(str(older)).detected
    assert "(p the drop probability" not in _example().detected


OPTIM = '''import numpy as np


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    w {sign}= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config["momentum"] * config.get("velocity", np.zeros_like(w)) - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config
'''


@pytest.mark.parametrize("sign, status", [("-", 0), ("+", 1)], ids=["right", "ascends"])
def test_an_update_rule_mapped_by_name_is_checked_in_its_form(sign, status, tmp_path, capsys):
    """--map SGD=optim:sgd binds the family's rule(w, dw, config), which is no class: the harness adapts it as it
    adapts a module's own sgd (it used to call it as the textbook's SGD(lr=...) and report the implementation's
    TypeError), so one run checks a solution's layers and its optim.py together; a rule that ascends is caught."""
    (tmp_path / "optim.py").write_text(OPTIM.replace("{sign}", sign))
    (tmp_path / "layers.py").write_text("from bp_parity.impl import Relu\n")
    assert main(["check", "--impl", str(tmp_path / "layers.py"), "--path", str(tmp_path), "--map", "SGD=optim:sgd",
                 "--map", "Momentum=optim:sgd_momentum", "--layer", "Relu", "--layer", "SGD", "--layer", "Momentum",
                 "--seed", "7"]) == status
    out = capsys.readouterr().out
    assert out.startswith("protocol detected: functional (CS231n style): optim:sgd as SGD; optim:sgd_momentum as "
                          "Momentum")
    rows = {line.split()[0]: line.rstrip() for line in out.splitlines() if line.startswith(("Relu ", "SGD ",
                                                                                           "Momentum "))}
    assert rows["Relu"].endswith(" ok") and rows["Momentum"].endswith(" ok")
    assert rows["SGD"].endswith(" ok") if status == 0 else "MISMATCH" in rows["SGD"] and "unexpected keyword" not in out


@pytest.mark.parametrize("mutant, layer, only_cases", [
    ("functional_conv_backward_without_stride", "Convolution", {"Convolution-stride2-tiles"}),
    ("functional_max_pool_square_window", "Pooling", {"Pooling-2x3-tiles", "Pooling-global"}),  # 16x32 is not square
    ("pooling_arg_max_kept_in_uint8", "Pooling", {"Pooling-global"}),
])
def test_a_bug_on_a_path_only_a_tiling_stride_a_2x3_window_or_a_global_window_reaches_is_caught_there(mutant, layer,
                                                                                                      only_cases):
    """The forms may assume whole windows, so every strided case the textbook floors is SKIPPED for them: a strided
    convolution and a non-square pooling whose windows tile are the cases that reach a form's stride and width; a
    window of 512 elements is the one that reaches offsets past 255.  Each bug is caught on those cases and no other."""
    impl = protocol.load(str(ROOT / "fixtures" / "mutants" / f"{mutant}.py"))
    failed = {r.context.case for case in registry.cases() if case.layer == layer for dtype in case.dtypes
              for r in layer_checks.run_case(impl, case, dtype, 7).results if not r.passed and not r.skipped}
    assert failed == only_cases
