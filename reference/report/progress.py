"""Progress of a long command on stderr: one line redrawn in place on a terminal; elsewhere (a log, CI) a plain line
every LOG_EVERY seconds, so a long run is never silent there either.

Rows of results go to stdout as they are made; this only fills the wait between
them, on stderr, so a pipe of stdout gets the rows and nothing else.
"""

import sys
import time


LOG_EVERY = 15.0  # seconds between progress lines where stderr is no terminal


class Progress:
    """Progress(total, label).update(done_index) redraws at most 5 times a second on a terminal, writes a line every
    LOG_EVERY seconds elsewhere (none for a run shorter than that); clear() wipes the terminal's line."""

    def __init__(self, total, label, stream=None):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.enabled = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self._drawn = self.started if not self.enabled else 0.0
        self._width = 0

    def update(self, index):
        now = time.perf_counter()
        done = index + 1
        if self.enabled and now - self._drawn < 0.2 and done < self.total:
            return
        if not self.enabled and (now - self._drawn < LOG_EVERY or done >= self.total):
            return
        self._drawn = now
        elapsed = now - self.started
        left = elapsed / done * (self.total - done) if done else 0.0
        text = f"{self.label}: {done}/{self.total} ({100 * done / self.total:.0f}%), {elapsed:.0f} s, ~{left:.0f} s left"
        if not self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()
            return
        self._width = max(self._width, len(text))
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()

    def clear(self):
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
