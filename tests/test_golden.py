"""The golden mode: impl against the twin outputs recorded in fixtures/golden/, with NumPy only.

This file, like the rest of what the golden tox environments run, never imports
torch; a corrupted, missing or newer-format fixture fails here with the command
that re-records it.
"""

import json
import shutil
import sys

import pytest

from bp_parity.reference.base.program import program
from bp_parity.reference.run import golden


@pytest.fixture(scope="module")
def recorded():
    return golden.load()


def _entries():
    try:
        manifest = golden.load().manifest
    except golden.GoldenError as error:
        return [pytest.param(error, id="golden-fixtures-unusable")]
    return [pytest.param(entry, id=f"{entry['case']}-{entry['dtype']}-seed{entry['seed']}")
            for entry in manifest["cases"] if entry["part"] == "layers"]


@pytest.mark.parametrize("entry", _entries())
def test_layer_case_matches_the_recorded_twin(impl_under_test, recorded, check, entry):
    if isinstance(entry, Exception):
        raise entry
    from bp_parity.reference.run import case as layer_checks
    from bp_parity.reference.pieces import registry

    found = recorded.case_arrays(entry)
    case = registry.case(entry["case"])
    run = layer_checks.run_case(impl_under_test, case, entry["dtype"], entry["seed"],
                                recorded=(dict(found["input"]), dict(found["expected"])))
    assert run.results
    for result in run.results:
        check(result)


def test_two_layer_net_matches_the_recorded_twin(impl_under_test, recorded, check):
    results = golden.check_network(impl_under_test, recorded)
    assert len(results) == 2 * 6  # two dtypes: loss, four gradients, scores
    for result in results:
        check(result)


def test_every_case_of_the_table_is_recorded(recorded):
    from bp_parity.reference.pieces import registry

    recorded_cases = {(e["case"], e["dtype"]) for e in recorded.manifest["cases"]}
    for case in registry.cases():
        for dtype in case.dtypes:
            assert (case.id, dtype) in recorded_cases, f"{case.id} {dtype} not recorded: re-record them (bp-parity record)"


def test_the_manifest_names_the_versions_that_made_it(recorded):
    made = recorded.manifest["made_by"]
    assert {"torch", "numpy", "python", "platform"} <= set(made)
    assert recorded.manifest["format"] == golden.FORMAT


def test_the_golden_mode_runs_with_torch_unimportable():
    """python -m reference golden, in a process where `import torch` fails."""
    import subprocess
    from pathlib import Path

    code = "import sys; sys.modules['torch'] = None; from bp_parity.reference.cli.main import main; sys.exit(main(['golden']))"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 failed or not run" in done.stdout


# --- integrity: a damaged fixture is never passed -------------------------------------------


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "golden"
    shutil.copytree(golden.GOLDEN, target)
    return target


def _damage_message(folder):
    with pytest.raises(golden.GoldenError) as caught:
        golden.load(folder)
    message = str(caught.value)
    assert f"{program()} record" in message
    return message


def test_a_missing_file_is_named(copy):
    (copy / "layers-float32.npz").unlink()
    assert "layers-float32.npz is missing" in _damage_message(copy)


def test_a_missing_manifest_is_named(copy):
    (copy / "manifest.json").unlink()
    assert "manifest.json is missing" in _damage_message(copy)


def test_a_truncated_file_is_named(copy):
    path = copy / "network-float64.npz"
    path.write_bytes(path.read_bytes()[:1000])
    message = _damage_message(copy)
    assert "network-float64.npz is 1000 bytes" in message and "truncated" in message


def test_an_altered_file_fails_its_checksum(copy):
    path = copy / "layers-float64.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    message = _damage_message(copy)
    assert "layers-float64.npz has SHA-256" in message and "altered" in message


def test_a_newer_manifest_format_is_refused(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format"] = golden.FORMAT + 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert "newer manifest format" in _damage_message(copy)


def test_an_array_that_disagrees_with_the_manifest_is_named(copy):
    loaded = golden.load(copy)
    entry = next(e for e in loaded.manifest["cases"] if e["part"] == "layers")
    name = next(iter(entry["arrays"]))
    entry["arrays"][name]["shape"] = [999]
    with pytest.raises(golden.GoldenError, match="the manifest says"):
        loaded.case_arrays(entry)
