"""What an install adds to a user's environment: one top-level package, bp_parity, holding the repository's impl/
and reference/ as bp_parity.impl and bp_parity.reference (pyproject.toml), every one of their packages included."""

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _folder_packages():
    found = {"bp_parity"}
    for folder in ("impl", "reference"):
        for init in (ROOT / folder).rglob("__init__.py"):
            found.add(".".join(("bp_parity", *init.parent.relative_to(ROOT).parts)))
    return found


def test_the_package_list_is_every_package_of_impl_and_reference():
    assert set(CONFIG["packages"]) == _folder_packages()
    assert CONFIG["package-dir"] == {"bp_parity.impl": "impl", "bp_parity.reference": "reference"}


def test_the_console_script_and_the_plugin_are_named_inside_the_namespace():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["scripts"]["bp-parity"].startswith("bp_parity.reference.")
    assert project["entry-points"]["pytest11"]["bp_parity"].startswith("bp_parity.reference.")


def test_a_built_wheel_has_one_top_level_package(tmp_path):
    pytest.importorskip("setuptools", reason="building the wheel here needs setuptools in this Python")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("bp_parity-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"bp_parity"}
    assert "bp_parity/reference/cli/main.py" in names and "bp_parity/impl/net_layer.py" in names
