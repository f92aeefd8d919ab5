"""The recorded golden arrays against the live twins (needs torch), and recording is deterministic."""

import filecmp

from bp_parity.reference.run import golden


def test_the_recorded_twin_outputs_still_match_the_live_twins():
    results = golden.drift(golden.load())
    moved = [r for r in results if not r.passed]
    assert results
    assert not moved, f"{len(moved)} recorded outputs moved; first:\n" + moved[0].render()


def test_recording_twice_gives_identical_files(tmp_path):
    golden.record(tmp_path / "a")
    golden.record(tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["layers-float32.npz", "layers-float64.npz", "manifest.json", "network-float32.npz",
                     "network-float64.npz"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert not mismatch and not errors


def test_the_committed_fixtures_are_what_these_versions_record(tmp_path):
    """Same versions and platform as the manifest: the committed files are byte for byte a fresh recording."""
    committed = golden.load()
    fresh = golden.record(tmp_path)
    if committed.manifest["made_by"] != fresh["made_by"]:
        assert not [r for r in golden.drift(committed) if not r.passed]
        return
    assert fresh["files"] == committed.manifest["files"]
