"""`trace --report DIR` and `check --report DIR`: one self-contained HTML page a run (reference.report.page), its
figures inline, nothing fetched from anywhere; and the page as a real browser draws it (headless Chromium, where
this machine has it)."""

import base64
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from bp_parity.reference.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "fixtures" / "mutants"
pytest.importorskip("matplotlib", reason="the report page's figures need the plot extra (pip install -e '.[plot]')")


def _images(page):
    return [base64.b64decode(data) for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def _self_contained(page):
    assert "<script" not in page.lower()
    external = re.findall(r'(?:src|href)="(?!data:|#)([^"]*)"', page)  # in-page anchors are no fetch
    assert not external, external


@pytest.fixture(scope="module")
def trace_page(tmp_path_factory):
    """trace --report of a mutant whose Sigmoid.backward is wrong: (the page's path, what the command printed)."""
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("trace-report")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["trace", "--impl", str(MUTANTS / "sigmoid_backward_from_input.py"), "--report", str(folder)])
    assert code == 1
    return folder / "trace.html", printed.getvalue()


def test_a_trace_page_marks_the_first_divergence_of_each_network(trace_page):
    path, out = trace_page
    page = path.read_text(encoding="utf-8")
    assert f"report page: {path}" in out
    _self_contained(page)
    assert re.search(r"<h2 id=\"g0\">Sigmoid network</h2>", page) and ">Relu network</h2>" in page  # failing first
    assert "first divergence: <b>Sigmoid1 backward dx</b> (blame: Sigmoid)" in page
    assert '<tr class="first"><td>' in page  # the row marked in its table
    images = _images(page)
    assert len(images) >= 4 and all(i.startswith(b"\x89PNG") for i in images)  # a figure a network, heat maps
    assert "where Sigmoid1 backward dx differs" in page  # the mismatch's heat map
    assert "every row passes" in page  # the networks the mutant does not touch


def test_a_check_page_puts_the_diagnosis_beside_the_heat_map(tmp_path, capsys):
    argv = ["check", "--impl", str(MUTANTS / "affine_db_averaged.py"), "--layer", "Affine", "--layer", "Relu",
            "--report", str(tmp_path)]
    assert main(argv) == 1
    page = (tmp_path / "check.html").read_text(encoding="utf-8")
    _self_contained(page)
    assert "<h2 id=\"g0\">Affine</h2>" in page and ">Relu</h2>" in page
    assert '<p class="cause">likely cause: db is 1/8 of the expected (8: the batch size), on every element' in page
    assert 'alt="where Affine db differs"' in page
    assert "rerun: <code>" in page and "--layer Affine --layer Relu --report" in page


def test_the_heat_map_is_where_the_elements_differ():
    """The heat map's values are each element's error over its allowance: one wrong element of 12 is the one
    cell beyond 1 (computed here, not read from the picture)."""
    from bp_parity.reference.report import page
    from bp_parity.reference.report.compare import Location, compare
    from bp_parity.reference.report import tolerance

    expected = np.arange(12.0).reshape(3, 4)
    actual = expected.copy()
    actual[1, 2] += 1.0
    result = compare(actual, expected, tolerance.twin("float64"), Location("Affine", "dW", "twin", "float64", seed=7))
    assert not result.passed and page.heatmap(result).startswith("data:image/png;base64,")
    ratio = page.allowance_ratio(result)
    assert ratio.shape == (3, 4) and np.argwhere(ratio > 1).tolist() == [[1, 2]]
    assert ratio[1, 2] == pytest.approx(1.0 / (result.atol + 1e-10 * 6.0))


def _chromium():
    return next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium on this machine (apt-get install chromium): the page's "
                    "drawing in a real browser is not checked here; the page itself is, above")
def test_a_real_browser_draws_the_trace_page(trace_page, tmp_path):
    """Headless Chromium loads the page from the file alone and draws it: a screenshot that is not blank, and
    the figures decoded (an image that failed to load draws nothing of its colours)."""
    shot = tmp_path / "shot.png"
    done = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--screenshot={shot}", "--window-size=1280,1400", trace_page[0].as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05  # text, tables and figures, not an empty page
    green = (pixels[..., 1] > 0.4) & (pixels[..., 0] < 0.3) & (pixels[..., 2] < 0.3)  # the figures' passing points
    assert green.sum() > 50
