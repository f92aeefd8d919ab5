"""Implementations that exit, crash, hang, flood their output or change the harness's global state
(fixtures/hostile/): `check` reports each on the piece that did it, within bounded time, with every other piece
still judged, and exits 0 only when every planned unit ran and every check passed."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = ROOT / "fixtures" / "hostile"

# fixture -> (exit status, the verdict line the report must hold, the unit count it must say ran short of planned)
EXPECTED = {
    "exit_in_forward": (1, r"EXITED in Relu \(forward and backward\), in forward: sys\.exit\(0\)", "EXITED"),
    "os_exit_in_backward": (1, r"EXITED in Relu \(forward and backward\), in backward: the worker exited with code 0",
                            "EXITED"),
    "segfault_in_backward": (1, r"CRASHED in Relu \(forward and backward\), in backward: the worker died of SIGSEGV",
                             "CRASHED"),
    "kills_itself": (1, r"CRASHED in Relu \(forward and backward\), in forward: the worker died of SIGTERM", "CRASHED"),
    "hangs_in_c": (1, r"TIMEOUT in Relu \(forward and backward\), in backward: did not return within its time limit",
                   "TIMEOUT"),
    "raises_keyboard_interrupt": (1, r"RAISED in Relu \(forward and backward\), in backward: KeyboardInterrupt",
                                  "RAISED"),
    "moves_cwd_and_empties_path": (1, r"Affine \(forward and backward\) left the working directory changed: .*"
                                   r"left sys\.path changed", None),
    "leaves_seterr": (1, r"Sigmoid \(forward and backward\) left NumPy's error handling \(np\.seterr\) changed", None),
    "installs_sigalrm": (1, r"Sigmoid \(forward and backward\) left signal handlers changed: SIGALRM", None),
    "prints_and_is_wrong": (1, r"captured output \(\d+ bytes in all; the last \d+ lines\):\n    \| Relu\.backward: "
                            r"dout of shape", None),
    "writes_to_descriptor": (1, r"captured output .*\n    \| written to fd 1 by Relu\.backward", None),
    "prints_a_flood": (0, r"checks: 279 passed, 0 failed, 0 skipped", None),
}
PIECES = ["--layer", "Relu", "--layer", "Affine", "--layer", "Sigmoid", "--seed", "7"]


def _check(module, *options, timeout=180):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "reference", "check", "--impl", str(HOSTILE / f"{module}.py"),
                           "--table", *options], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return done, time.monotonic() - started


def test_every_hostile_fixture_has_an_expectation():
    elsewhere = ["exit_at_import", "import_never_returns", "os_exit_in_training"]  # tested below, one by one
    assert sorted(EXPECTED) + elsewhere == sorted(
        sorted(p.stem for p in HOSTILE.glob("*.py") if p.stem != "__init__"), key=lambda n: n in elsewhere)


@pytest.mark.parametrize("module", sorted(EXPECTED), ids=lambda m: m.replace("_", " "))
def test_a_hostile_implementation_is_reported_and_the_run_goes_on(module):
    status, pattern, lost = EXPECTED[module]
    done, elapsed = _check(module, *PIECES)
    out = done.stdout
    assert done.returncode == status, out[-3000:] + done.stderr[-2000:]
    assert re.search(pattern, out), out[-3000:]
    last = out.strip().splitlines()[-1]
    planned, ran = map(int, re.match(r"planned (\d+) units of work, ran (\d+)", last).groups())
    assert planned == 20
    if lost == "TIMEOUT":  # the first unit that hangs is waited on; the piece's other units are not (NOT RUN)
        assert f"({planned - ran - 1} NOT RUN, 1 TIMEOUT)" in last and ran == 14, last
        assert "an earlier unit of Relu did not return (TIMEOUT in Relu (forward and backward), in " \
               "backward)" in out, out[-3000:]
    elif lost:  # the units of the misbehaving piece are lost, and said; every other unit ran
        assert f"{planned - ran} {lost})" in last and ran == 14, last
    else:
        assert ran == planned, last
    # the other pieces are judged: Affine's and Sigmoid's rows are in the table, ok
    judged = [line for line in out.splitlines() if line.startswith(("Affine-2d ", "Sigmoid-2d "))]
    assert judged and any(line.rstrip().endswith("ok") for line in judged), out[:3000]
    assert elapsed < (30 if lost == "TIMEOUT" else 120), f"{module}: {elapsed:.0f} s"  # one 5 s limit waited out


def test_a_print_flood_stays_out_of_the_report_and_the_log():
    done, elapsed = _check("prints_a_flood", *PIECES)
    assert done.returncode == 0
    # 100 kB a forward call, some hundred calls: none of it reaches the harness's own output
    assert len(done.stdout) + len(done.stderr) < 200_000 and "xxxxxxxxxx" not in done.stdout + done.stderr


def test_an_exit_at_import_is_a_failure_with_what_it_printed():
    done, _ = _check("exit_at_import")
    assert done.returncode == 1
    assert "EXITED at import: implementation" in done.stdout and "sys.exit(0)" in done.stdout
    assert "| training..." in done.stdout
    assert done.stdout.strip().endswith("planned nothing: the implementation could not be loaded (1 failure)")


def test_an_import_that_never_returns_is_stopped_at_the_import_limit():
    done, elapsed = _check("import_never_returns", "--import-limit", "2")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TIMEOUT at import" in done.stdout and "did not return within 2 s" in done.stdout
    assert elapsed < 60


def test_the_time_limit_is_kept_from_outside_whatever_handler_the_implementation_installs():
    """installs_sigalrm arms a 1000 s timer with a handler that ignores it, at every Sigmoid forward: the run takes
    as long as a correct one (no check waits for it), and the handler is reported, not obeyed."""
    done, elapsed = _check("installs_sigalrm", "--layer", "Sigmoid", "--seed", "7")
    assert "STATE CHANGED" in done.stdout
    assert elapsed < 60


def test_a_training_run_that_exits_midway_is_reported_in_its_step(tmp_path):
    """train-parity trains in a worker: an os._exit in the fifth gradient is EXITED in training step 4, after the
    rows that came before it, and the run exits 1 (it exited 0 with half a run when training ran in-process)."""
    done = subprocess.run([sys.executable, "-m", "reference", "train-parity", "--impl",
                           str(HOSTILE / "os_exit_in_training.py"), "--data-dir", str(ROOT / "fixtures" / "mnist-subset"),
                           "--steps", "12", "--batch-size", "50", "--dtype", "float64", "--out-dir", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=180)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert re.search(r"EXITED in training step 4: the worker exited with code 0", done.stdout), done.stdout
    assert done.stdout.splitlines()[3].split()[0] == "0"  # the first evaluation row, printed before the exit
    assert "1 run planned, 0 ran to its end (1 failure)" in done.stdout
    assert not (tmp_path / "history.json").exists()


def _write(tmp_path, text):
    path = tmp_path / "hostile_impl.py"
    path.write_text(text)
    return path


def test_the_optimizer_figures_report_an_update_that_exits_and_go_on(tmp_path):
    """optimizers (the figures) runs each path and MNIST run in a worker: an Adam.update that calls os._exit(0) is
    EXITED on Adam's units, the other five optimizers are still drawn and judged, and the run exits 1."""
    impl = _write(tmp_path, "import os\nfrom bp_parity.impl import *  # noqa\nfrom bp_parity.impl.optimizer import Adam as _Adam\n\n\n"
                  "class Adam(_Adam):\n    def update(self, params, grads):\n        os._exit(0)\n")
    done = subprocess.run([sys.executable, "-m", "reference", "optimizers", "--impl", str(impl), "--steps", "5",
                           "--data-dir", str(ROOT / "fixtures" / "mnist-subset"), "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "EXITED: Adam path on f(x, y)" in done.stdout and "EXITED: Adam MNIST run" in done.stdout, done.stdout
    rows = {line.split()[0]: line.split()[-1] for line in done.stdout.splitlines()
            if line.split() and line.split()[0] in ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
            and ":" not in line}
    assert rows == {"SGD": "ok", "Momentum": "ok", "Nesterov": "ok", "AdaGrad": "ok", "RMSprop": "ok",
                    "Adam": "EXITED"}, done.stdout
    assert "EXITED in Adam on f(x, y)" in done.stdout and "EXITED in training step 0" in done.stdout


def test_convergence_reports_a_gradient_that_exits(tmp_path):
    """convergence runs gradient descent in a worker: a LinearRegression.gradient that calls sys.exit(0) is EXITED,
    never the 0 a script's exit used to leave."""
    impl = _write(tmp_path, "import sys\nfrom bp_parity.impl import *  # noqa\nfrom bp_parity.impl.linear_regression import "
                  "LinearRegression as _LR\n\n\nclass LinearRegression(_LR):\n    def gradient(self, X, y):\n"
                  "        sys.exit(0)\n")
    done = subprocess.run([sys.executable, "-m", "reference", "convergence", "--impl", str(impl), "--steps", "20",
                           "--sgd-steps", "50", "--sgd-runs", "2", "--out-dir", str(tmp_path / "out")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    assert "EXITED in LinearRegression.gradient at gradient descent step 0: sys.exit(0)" in done.stdout, done.stdout
    assert "EXITED in LinearRegression in SGD run 0: sys.exit(0)" in done.stdout


def _harness_error_after_a_call(impl):
    """A unit whose implementation call returns and whose harness code then raises."""
    from bp_parity.reference.base import limits

    relu = impl.require("Relu")()
    with limits.time_limit(5.0, "Relu.forward"):
        relu.forward(np.ones((2, 3)))
    raise KeyError("the harness's own slip")


def _exit_inside_a_call(impl):
    from bp_parity.reference.base import limits

    with limits.time_limit(5.0, "Relu.forward"):
        raise SystemExit(0)


def test_a_harness_error_after_a_call_is_not_blamed_on_the_call_that_returned():
    """The worker's slot still names the last call into the implementation after it returned; an exception the
    harness raises after it is reported as outside any call, while one that left the call is reported in it."""
    from bp_parity.reference.plan.target import Target
    from bp_parity.reference.run import worker

    with worker.Pool(Target()) as pool:
        after = pool.run(_harness_error_after_a_call)
        inside = pool.run(_exit_inside_a_call)
    assert after.verdict == "RAISED" and "KeyError" in after.reason and after.where == worker.OUTSIDE
    assert inside.verdict == "EXITED" and inside.where.startswith("Relu.forward")
