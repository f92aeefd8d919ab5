"""impl is the system under test: NumPy only, never torch, reference or tests."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"torch", "reference", "bp_parity.reference", "tests"}


def _root(name):
    """The package an import names: its first part, or its first two inside the bp_parity namespace."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "bp_parity" else parts[0]


def _imported_roots(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (_root(alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield _root(node.module)


def test_impl_source_imports_nothing_of_the_harness():
    offenders = {
        str(path.relative_to(ROOT)): sorted(set(_imported_roots(path)) & FORBIDDEN)
        for path in sorted((ROOT / "impl").glob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"impl must not import torch, reference or tests: {offenders}"


BLOCK_TORCH_AND_RUN = """
import sys
sys.modules["torch"] = None  # any `import torch` now raises ImportError
import numpy as np
from bp_parity import impl
x = np.array([[1.0, -2.0, 3.0]], dtype=np.float32)
layer = impl.Affine(np.ones((3, 2), np.float32), np.zeros(2, np.float32))
loss = impl.SoftmaxWithLoss()
relu = impl.Relu()
value = loss.forward(layer.forward(relu.forward(x)), np.array([1]))
dx = relu.backward(layer.backward(loss.backward()))
assert dx.dtype == np.float32 and dx.shape == x.shape
assert "torch" not in [m for m in sys.modules if sys.modules[m] is not None]
print("ok", float(value))
"""


def test_impl_works_with_torch_unimportable():
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH_AND_RUN], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
