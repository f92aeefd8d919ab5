"""The pytest plugin (reference/pytest_plugin.py) from a project outside this repository: a small implementation
and a pyproject.toml, once correct and once broken."""

import subprocess
import sys
import textwrap

import pytest

from bp_parity.reference.base.program import program

LAYERS = textwrap.dedent('''
    """A project's own layers: ReLU and a fully connected layer, in the textbook's names."""
    import numpy as np


    class Relu:
        def forward(self, x):
            self.keep = x > 0
            return x * self.keep

        def backward(self, dout):
            return dout * self.keep


    class Affine:
        def __init__(self, W, b):
            self.W, self.b = W, b

        def forward(self, x):
            self.shape = x.shape
            self.x = x.reshape(len(x), -1)
            return self.x @ self.W + self.b

        def backward(self, dout):
            self.dW = self.x.T @ dout
            self.db = dout.sum(axis=0)
            return (dout @ self.W.T).reshape(self.shape)
''')

PYPROJECT = textwrap.dedent('''
    [project]
    name = "my-homework"
    version = "0.1"

    [tool.pytest.ini_options]
    bp_parity_impl = "mylayers"
    bp_parity_only_present = true
''')


def _project(tmp_path, layers):
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "mylayers.py").write_text(layers)
    (tmp_path / "test_own.py").write_text("def test_the_projects_own_test():\n    assert True\n")
    return tmp_path


def _pytest(project, *args):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error", *args]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300, check=False)


def test_a_correct_implementation_passes_inside_the_projects_own_run(tmp_path):
    done = _pytest(_project(tmp_path, LAYERS), "-rs")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed > 100 and " skipped" in summary  # the project's test and the parity checks of Relu and Affine
    assert "not defined by the implementation: MulLayer (bp_parity_only_present)" in done.stdout


def test_a_broken_implementation_fails_the_projects_run_with_the_report(tmp_path):
    broken = LAYERS.replace("self.dW = self.x.T @ dout", "self.dW = 2 * self.x.T @ dout")
    done = _pytest(_project(tmp_path, broken), "-x", "-rf", "-k", "Affine-2d and dW")
    assert done.returncode == 1, done.stdout[-3000:]
    out = done.stdout
    assert "FAILED bp-parity::test_twin_parity[Affine-2d-backward-dW-float" in out
    assert "MISMATCH: Affine dW" in out and f"reproduce: {program()} check --impl mylayers --case Affine-2d" in out
    assert "likely cause: dW is 2 times the expected, on every element" in out  # the diagnosis is in the message


def test_the_junit_xml_carries_each_items_figures_and_diagnosis(tmp_path):
    """--junitxml: every parity item has its worst errors, tolerance and allowance used as <property> elements, a
    failing one its verdict and diagnosis too (CI dashboards read them)."""
    import xml.etree.ElementTree as ElementTree

    broken = LAYERS.replace("self.dW = self.x.T @ dout", "self.dW = 2 * self.x.T @ dout")
    report = tmp_path / "junit.xml"
    done = _pytest(_project(tmp_path, broken), "-k", "Affine-2d and backward", f"--junitxml={report}")
    assert done.returncode == 1, done.stdout[-3000:]
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
             for case in ElementTree.parse(report).getroot().iter("testcase")}
    failing = cases["test_twin_parity[Affine-2d-backward-dW-float64-seed7]"]
    assert failing["bp_parity_verdict"] == "MISMATCH" and failing["bp_parity_tolerance"] == "rtol 1e-10, atol 1e-10*scale"
    assert failing["bp_parity_diagnosis"] == "dW is 2 times the expected, on every element"
    passing = cases["test_twin_parity[Affine-2d-backward-dx-float64-seed7]"]
    assert "bp_parity_verdict" not in passing and float(passing["bp_parity_max_abs_err"]) < 1e-12
    assert passing["bp_parity_allowance_used"].endswith("%")


def test_without_an_implementation_named_the_plugin_adds_nothing(tmp_path):
    project = _project(tmp_path, LAYERS)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\naddopts = ""\n')
    done = _pytest(project)
    assert done.returncode == 0 and "1 passed" in done.stdout.splitlines()[-1], done.stdout[-2000:]


def test_an_implementation_that_cannot_load_is_one_failing_test(tmp_path):
    done = _pytest(_project(tmp_path, LAYERS), "--bp-parity-impl", "no_such_module_anywhere")
    assert done.returncode == 1
    assert "bp-parity cannot load the implementation: cannot import implementation 'no_such_module_anywhere'" in \
        done.stdout


@pytest.mark.parametrize("flag", ["--bp-parity-impl", "--bp-parity-map-file", "--bp-parity-path"])
def test_its_options_are_in_pytest_help(flag):
    done = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert flag in done.stdout


def test_the_cs231n_style_example_passes_through_the_plugin_with_its_skips(tmp_path):
    """The functional protocol inside a project's run: batch norm's test-mode backward (no form) is skipped for the
    twin and for finite differences alike, the family's dropout holds against its own twin."""
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "cs231n_style" / "layers.py"
    project = _project(tmp_path, example.read_text())
    done = _pytest(project, "-rs", "-k", "BatchNormalization or Dropout or own")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert int(summary.split(" passed")[0].split()[-1]) > 100 and " skipped" in summary
    assert "batchnorm_backward has no form after a test-mode forward" in done.stdout


def test_a_file_named_in_the_ini_is_found_from_a_subfolder_of_the_project(tmp_path):
    project = _project(tmp_path, LAYERS)
    (project / "pyproject.toml").write_text(PYPROJECT.replace('bp_parity_impl = "mylayers"',
                                                              'bp_parity_impl = "mylayers.py"'))
    (project / "tests").mkdir()
    (project / "test_own.py").rename(project / "tests" / "test_own.py")
    done = _pytest(project / "tests", "-k", "Relu-2d or own")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert int(done.stdout.strip().splitlines()[-1].split(" passed")[0].split()[-1]) > 10


def test_a_worker_that_exits_is_a_failed_test_with_its_report_and_the_run_goes_on(tmp_path):
    """The plugin runs the implementation in a supervised worker: a Relu.backward that calls os._exit(0) makes Relu's
    tests fail EXITED, in backward (never a pytest internal error, never a pass), and Affine's still pass."""
    exiting = LAYERS.replace("import numpy as np", "import os\n\nimport numpy as np").replace(
        "        return dout * self.keep", "        os._exit(0)")
    assert "os._exit(0)" in exiting
    done = _pytest(_project(tmp_path, exiting), "-rf", "-k", "Relu or Affine-2d")
    out = done.stdout
    assert done.returncode == 1, out[-3000:] + done.stderr[-2000:]
    assert "INTERNALERROR" not in out + done.stderr
    assert "EXITED in Relu (forward and backward), in backward: the worker exited with code 0" in out, out[-3000:]
    failed = [line for line in out.splitlines() if line.startswith("FAILED bp-parity::")]
    assert failed and all("Relu" in line for line in failed), failed
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and int(summary.split(" passed")[0].split()[-1]) > 10, summary  # Affine's, and own


def test_a_project_with_its_own_reference_and_impl_keeps_importing_them_under_the_plugin(tmp_path):
    """bp-parity installs one top-level package, bp_parity: a project's own module `reference` and package `impl`
    are what its tests import, with the plugin loaded and checking that very `impl` (its Relu and Affine)."""
    project = _project(tmp_path, LAYERS)
    (project / "mylayers.py").unlink()
    (project / "impl").mkdir()
    (project / "impl" / "__init__.py").write_text(LAYERS)
    (project / "reference.py").write_text('WHOSE = "the project\'s own reference module"\n')
    (project / "pyproject.toml").write_text(PYPROJECT.replace('bp_parity_impl = "mylayers"', 'bp_parity_impl = "impl"'))
    (project / "test_own.py").write_text(textwrap.dedent('''
        import impl
        import reference


        def test_the_projects_own_modules_are_imported():
            assert reference.WHOSE == "the project's own reference module"
            assert hasattr(impl, "Relu") and not hasattr(impl, "TwoLayerNet")
            assert impl.__file__.startswith(str(__import__("pathlib").Path(__file__).parent))
    '''))
    done = _pytest(project, "-k", "Relu or Affine-2d or own")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert int(summary.split(" passed")[0].split()[-1]) > 50  # the project's test and the plugin's checks of its impl
    broken = LAYERS.replace("self.dW = self.x.T @ dout", "self.dW = 2 * self.x.T @ dout")
    (project / "impl" / "__init__.py").write_text(broken)
    done = _pytest(project, "-rf", "-k", "Affine-2d and dW or own")
    assert done.returncode == 1 and "MISMATCH: Affine dW" in done.stdout, done.stdout[-3000:]
    assert "FAILED bp-parity::test_twin_parity[Affine-2d-backward-dW" in done.stdout
    assert "FAILED test_own.py" not in done.stdout and "passed" in done.stdout.splitlines()[-1]
