"""Import paths and names without glue: --path, --map, --map-file and --only-present (reference.pieces.protocol.load)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bp_parity.reference.base.program import program
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "examples" / "textbook_layout"
MAP_FILE = LAYOUT / "bp-parity.toml"
# the protocol names the layout defines: the classes of its common/layers.py and the names its map binds
LAYOUT_DEFINES = ("Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "sigmoid", "softmax", "cross_entropy_error",
                  "numerical_gradient", "MulLayer", "AddLayer", "TwoLayerNet")


def _check(*args, cwd=ROOT):
    command = [sys.executable, "-m", "reference", "check", "--table", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_the_textbook_layout_is_checked_with_its_map_file_and_no_adapter():
    done = _check("--impl", "common.layers", "--map-file", str(MAP_FILE), "--only-present", "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "0 failed or not run" in done.stdout and "NOT RUN" not in done.stdout
    skipped = done.stdout.split("\n\n")[0]
    absent = len(registry.names()) - len(LAYOUT_DEFINES)
    assert skipped.startswith(f"SKIPPED ({absent} pieces") and "\n  Adam: class Adam" in skipped
    assert not any(f"\n  {name}:" in skipped for name in LAYOUT_DEFINES)
    for name in ("MulLayer-", "Affine-", "SoftmaxWithLoss-", "numerical_gradient", "TwoLayerNet"):
        assert name in done.stdout, name


def test_path_and_map_on_the_command_line_do_the_same():
    done = _check("--path", str(LAYOUT), "--path", str(LAYOUT / "ch05"), "--impl", "common.layers",
                  "--map", "MulLayer=layer_naive:MulLayer", "--map", "softmax=common.functions:softmax",
                  "--layer", "MulLayer", "--layer", "Relu", "--layer", "softmax", "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "MulLayer-scalar" in done.stdout and "0 failed or not run" in done.stdout


def test_a_bug_in_the_layout_is_blamed_and_its_reproduce_line_carries_the_map(tmp_path):
    copy = tmp_path / "layout"
    shutil.copytree(LAYOUT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    layers = copy / "common" / "layers.py"
    layers.write_text(layers.read_text().replace("self.dW = self.x.T @ dout", "self.dW = (self.x.T @ dout) * 2"))
    done = _check("--impl", "common.layers", "--map-file", str(copy / "bp-parity.toml"), "--layer", "Affine",
                  "--seed", "7")
    assert done.returncode == 1
    assert "MISMATCH: Affine dW" in done.stdout
    assert (f"reproduce: {program()} check --impl common.layers --map-file {copy / 'bp-parity.toml'} "
            "--case Affine-") in done.stdout


def test_without_the_path_the_map_says_what_to_do(tmp_path, capsys):
    config = tmp_path / "map.json"
    config.write_text(json.dumps({"map": {"MulLayer": "layer_naive_nowhere:MulLayer"}}))
    assert main(["check", "--impl", str(LAYOUT / "ch05" / "layer_naive.py"), "--map-file", str(config)]) == 2
    err = capsys.readouterr().err
    assert "--map MulLayer=layer_naive_nowhere:MulLayer: cannot import 'layer_naive_nowhere'" in err
    assert "with --path" in err


@pytest.mark.parametrize("argv, message", [
    (["--map", "MulLayer"], "expected Name=module:attribute"),
    (["--map", "Mullayer=layer_naive:MulLayer"], "Mullayer is not a protocol name; the protocol names: "),
    (["--map", "MulLayer=MulLayr"], "has no attribute 'MulLayr'"),
    (["--path", "/no/such/folder"], "--path /no/such/folder: no such folder"),
])
def test_a_wrong_path_or_map_is_one_clear_error(argv, message, capsys):
    assert main(["check", "--impl", str(LAYOUT / "ch05" / "layer_naive.py"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_map_needs_the_implementation_named(capsys):
    assert main(["check", "--map", "MulLayer=impl:MulLayer"]) == 2
    assert "name it with --impl too" in capsys.readouterr().err


def test_map_files_in_toml_and_json_read_the_same(tmp_path):
    toml_paths, toml_names = protocol.read_map_file(MAP_FILE)
    as_json = tmp_path / "map.json"
    as_json.write_text(json.dumps({"path": [str(LAYOUT), str(LAYOUT / "ch05")], "map": toml_names}))
    assert protocol.read_map_file(as_json) == (toml_paths, toml_names)
    assert toml_paths == [str(LAYOUT), str(LAYOUT / "ch05")]
    bad = tmp_path / "bad.toml"
    bad.write_text("[map\nMulLayer = 1\n")
    with pytest.raises(ValueError, match="bad.toml: not valid TOML"):
        protocol.read_map_file(bad)
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"map": {}, "impl": "x"}))
    with pytest.raises(ValueError, match="nothing else"):
        protocol.read_map_file(extra)


def test_only_present_skips_what_is_missing_instead_of_failing(tmp_path, capsys):
    partial = tmp_path / "partial_two.py"
    partial.write_text("from bp_parity.impl import Relu, Affine\n")
    assert main(["check", "--impl", str(partial), "--seed", "7", "--only-present", "--table"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"SKIPPED ({len(registry.names()) - 2} pieces") and "\n  MulLayer: class: forward(x, y)" in out
    assert "Relu-2d" in out and "NOT RUN" not in out
    nothing = tmp_path / "nothing_here.py"
    nothing.write_text("x = 1\n")
    assert main(["check", "--impl", str(nothing), "--only-present"]) == 2
    assert "defines none of the pieces chosen" in capsys.readouterr().err


HOMEWORK = ROOT / "examples" / "homework"


def test_the_homework_is_checked_through_its_map_with_no_adapter_module():
    """Other names (ReLU, Linear, SoftmaxCrossEntropy), gradients kept as grad_weight and grad_bias (bound by
    "Affine.dW" keys), and a loss whose backward() takes no upstream gradient (recognised by its signature)."""
    done = _check("--impl", str(HOMEWORK / "nn.py"), "--map-file", str(HOMEWORK / "bp-parity.toml"), "--only-present",
                  "--seed", "7")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "0 failed or not run" in done.stdout and "NOT RUN" not in done.stdout
    rows = [line.split() for line in done.stdout.splitlines()]
    for case, tensor in (("Affine-2d", "dW"), ("Affine-2d", "db"), ("SoftmaxWithLoss-index", "dx"),
                         ("MulLayer-scalar", "dy"), ("numerical_gradient", "gradient")):
        verdicts = {r[-1] for r in rows if r[:2] == [case, tensor]}
        assert verdicts == {"ok"}, (case, tensor, verdicts)


def test_a_homework_slip_behind_the_map_is_blamed_on_its_piece(tmp_path):
    copy = tmp_path / "homework"
    shutil.copytree(HOMEWORK, copy, ignore=shutil.ignore_patterns("__pycache__"))
    nn = copy / "nn.py"
    nn.write_text(nn.read_text().replace("return (grad / len(grad)).reshape(self.shape)",
                                         "return grad.reshape(self.shape)"))
    impl = protocol.load(str(nn), names=protocol.read_map_file(copy / "bp-parity.toml")[1])
    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import registry

    failed = [r for r in layer_checks.run_case(impl, registry.case("SoftmaxWithLoss-index"), "float64",
                                               7).results if not r.passed]
    assert failed and {r.context.blamed for r in failed} == {"SoftmaxWithLoss"}
    assert {r.context.tensor for r in failed} == {"dx"}


def test_an_attribute_map_binds_names_only_and_says_what_is_wrong():
    nn = str(HOMEWORK / "nn.py")
    impl = protocol.load(nn, names={"Affine": "Linear", "Affine.dW": "grad_weight"})
    layer = impl.require("Affine")(np.ones((3, 2)), np.zeros(2))
    layer.forward(np.ones((4, 3)))
    layer.backward(np.ones((4, 2)))
    assert layer.dW is layer.grad_weight and not hasattr(layer, "db")  # db left unbound: the harness will say so
    with pytest.raises(ValueError, match="both plain names"):
        protocol.load(nn, names={"Affine": "Linear", "Affine.dW": "grad weight"})
    with pytest.raises(ValueError, match="the implementation has no Affine; bind it too"):
        protocol.load(nn, names={"Affine.dW": "grad_weight"})
    with pytest.raises(ValueError, match="Afine is not a protocol name"):
        protocol.load(nn, names={"Afine.dW": "grad_weight"})
    with pytest.raises(ValueError, match="not a class"):
        protocol.load(nn, names={"softmax.dW": "x"})


def test_golden_takes_only_present_too(capsys):
    argv = ["golden", "--impl", str(HOMEWORK / "nn.py"), "--map-file", str(HOMEWORK / "bp-parity.toml")]
    assert main(argv) == 1  # the pieces the homework lacks are NOT RUN
    assert "NOT RUN (" in capsys.readouterr().out
    assert main([*argv, "--only-present"]) == 0
    out = capsys.readouterr().out
    header, _, rest = out.partition("SKIPPED (")
    count, _, listing = rest.partition(" pieces the implementation does not define, --only-present):\n")
    listed = [line.split(":")[0].strip() for line in listing.split("\n\n")[0].splitlines()]
    paths, names = protocol.read_map_file(HOMEWORK / "bp-parity.toml")
    homework = protocol.load(str(HOMEWORK / "nn.py"), paths=paths, names=names)
    assert int(count) == len(listed) and listed[0] == "BatchNormalization"
    assert sorted(homework.missing(listed)) == sorted(listed)  # each one skipped is one the homework lacks
    recorded = {c.layer for c in registry.cases()}  # golden records every case of the table
    assert {n for n in recorded if homework.missing([n])} <= set(listed)  # and each case piece it lacks is listed
    assert "NOT RUN" not in out and "0 failed or not run" in out
