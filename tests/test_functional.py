"""The functional protocol (reference/functional.py): CS231n-style functions checked as the registry's pieces."""

import shutil
import types
from pathlib import Path

from reference import functional, layer_checks, protocol, registry
from reference.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cs231n_style" / "layers.py"


def test_the_cs231n_style_example_passes_with_no_adapter_and_says_what_it_detected(capsys):
    assert main(["check", "--impl", str(EXAMPLE), "--only-present", "--seed", "7"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("protocol detected: functional (CS231n style): affine_forward + affine_backward as Affine;")
    assert "max_pool_forward_naive + max_pool_backward_naive as Pooling" in out
    for case in ("Affine-4d", "SoftmaxWithLoss-1sample-onehot", "Convolution-stride2-pad1", "Pooling-pad1",
                 "Pooling-ties"):
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
              for r in layer_checks.run_case(impl, case, dtype, 7).results if not r.passed]
    assert not others


def test_classes_win_over_functions_and_half_a_form_is_no_form():
    module = types.SimpleNamespace(affine_forward=lambda x, w, b: (x, None), affine_backward=lambda d, c: (d, d, d),
                                   relu_forward=lambda x: (x, None), Relu=object)
    assert functional.detect(module) == {"Affine": ("affine_forward", "affine_backward")}
    half = types.SimpleNamespace(affine_forward=lambda x, w, b: (x, None))
    assert functional.detect(half) == {}


def test_the_textbooks_own_implementation_is_detected_as_such():
    impl = protocol.load("impl")
    assert impl.functional == {} and impl.detected == "the textbook's classes"
