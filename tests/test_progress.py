"""Long commands are never silent (reference.report.progress): a line redrawn on a terminal, a plain line every LOG_EVERY
seconds in a log."""

import io

from bp_parity.reference.report import progress


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_log_gets_a_plain_line_every_log_every_seconds_and_a_short_run_none(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    log = io.StringIO()
    bar = progress.Progress(10, "zoo", stream=log)
    for index in range(10):
        clock.now += 4.0  # 4 s a mutant: lines at 16 s and 32 s, none at the end
        bar.update(index)
    bar.clear()
    assert log.getvalue().splitlines() == ["zoo: 4/10 (40%), 16 s, ~24 s left", "zoo: 8/10 (80%), 32 s, ~8 s left"]
    short = io.StringIO()
    bar = progress.Progress(3, "check", stream=short)
    for index in range(3):
        clock.now += 1.0
        bar.update(index)
    assert short.getvalue() == ""


def test_a_terminal_gets_one_line_redrawn_in_place(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    screen = Terminal()
    bar = progress.Progress(2, "zoo", stream=screen)
    for index in range(2):
        clock.now += 1.0
        bar.update(index)
    bar.clear()
    assert "\n" not in screen.getvalue() and screen.getvalue().count("\r") == 4  # two draws, and the wipe
    assert "zoo: 2/2 (100%)" in screen.getvalue()
