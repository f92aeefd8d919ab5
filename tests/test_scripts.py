"""The textbook scripts: the gradient check and the training, with their options and outputs."""

import json
from pathlib import Path

import numpy as np
import pytest

from bp_parity.impl import bp_two_layer_net, gradient_check, train_bp_two_neuralnet

SUBSET = str(Path(__file__).resolve().parent.parent / "fixtures" / "mnist-subset")


def test_gradient_check_prints_the_textbook_lines_and_passes(capsys):
    assert gradient_check._gradient_check(["--data-dir", SUBSET, "--samples", "2"]) == 0
    out = capsys.readouterr().out
    for key in ("W1:", "b1:", "W2:", "b2:"):
        assert any(line.startswith(key) for line in out.splitlines()), out
    assert "ok: max relative error" in out


def test_gradient_check_exits_1_on_a_wrong_gradient(capsys, monkeypatch):
    honest = bp_two_layer_net.TwoLayerNet.gradient

    def off_by_one_percent(self, x, t):
        grads = honest(self, x, t)
        return {**grads, "b1": grads["b1"] * 1.01}

    monkeypatch.setattr(bp_two_layer_net.TwoLayerNet, "gradient", off_by_one_percent)
    assert gradient_check._gradient_check(["--data-dir", SUBSET, "--samples", "2"]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_gradient_check_without_data_says_it_uses_random_inputs(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("BP_PARITY_DATA", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert gradient_check._gradient_check(["--samples", "1"]) == 0
    out = capsys.readouterr().out
    assert "So seeded random inputs stand in for the MNIST images." in out
    assert out.count("MNIST not found") == 1 and "..." not in out and "--data-dir" in out  # whole, and once


@pytest.mark.parametrize("batch_size, expected_evaluations", [(7, [0, 71, 142, 149]), (100, [*range(0, 150, 5), 149])])
def test_training_evaluates_every_whole_epoch_whatever_the_batch_size(tmp_path, capsys, batch_size,
                                                                      expected_evaluations):
    argv = ["--data-dir", SUBSET, "--iters", "150", "--batch-size", str(batch_size), "--out-dir", str(tmp_path)]
    assert train_bp_two_neuralnet.main(argv) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("test accuracy: 0.") for line in out.splitlines()), out
    history = json.loads((tmp_path / "history.json").read_text())
    assert history["epoch_iteration"] == expected_evaluations
    assert np.asarray(history["batch_indices"]).shape == (150, batch_size)
    with np.load(tmp_path / "weights.npz", allow_pickle=False) as weights:
        assert sorted(weights.files) == ["W1", "W2", "b1", "b2"] and weights["W1"].dtype == np.float32


def test_training_is_reproducible_from_its_seed(tmp_path, capsys):
    for run in ("a", "b"):
        train_bp_two_neuralnet.main(["--data-dir", SUBSET, "--iters", "20", "--seed", "3", "--dtype", "float64",
                                     "--out-dir", str(tmp_path / run)])
    capsys.readouterr()
    with np.load(tmp_path / "a" / "weights.npz") as a, np.load(tmp_path / "b" / "weights.npz") as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_training_rejects_bad_options_with_one_line(capsys):
    assert train_bp_two_neuralnet.main(["--data-dir", SUBSET, "--batch-size", "0"]) == 2
    assert "must be positive" in capsys.readouterr().err
    assert train_bp_two_neuralnet.main(["--data-dir", "/nonexistent/mnist"]) == 2
    assert "does not hold the four MNIST files" in capsys.readouterr().err


def test_the_weight_decay_experiment_prints_both_runs_and_draws_them(capsys, tmp_path):
    """Reduced from 201 epochs (README: the full run's gaps are 0.258 without decay and 0.185 with 0.1)."""
    from bp_parity.impl import overfit_weight_decay

    png = tmp_path / "curves.png"
    assert overfit_weight_decay.main(["--data-dir", SUBSET, "--epochs", "20", "--every", "10", "--train-size", "200",
                                      "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "lambda 0, epoch  10:" in out and "lambda 0.1, epoch  20:" in out
    finals = [line for line in out.splitlines() if ", gap " in line]
    assert [line.split(":")[0] for line in finals] == ["no weight decay", "weight decay 0.1"]
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:  # the golden environments: NumPy only
        assert "(pip install matplotlib for the figure)" in out and not png.exists()
    else:
        assert png.exists() and png.stat().st_size > 5000


def test_the_weight_decay_experiment_refuses_bad_options(capsys):
    from bp_parity.impl import overfit_weight_decay

    assert overfit_weight_decay.main(["--epochs", "0"]) == 2
    assert "--epochs" in capsys.readouterr().err
