"""A time limit per check, so that an implementation that never returns is reported, not waited on.

Uses SIGALRM, which Python delivers between bytecodes of the main thread: a
loop written in Python is interrupted; a call stuck inside C code is
interrupted when it returns to Python.  Off the main thread (or without
SIGALRM) the limit is not enforced and the check runs unlimited.
"""

import signal
import threading
from contextlib import contextmanager

# Every check of the layer table runs in milliseconds (the largest, finite
# differences of Affine-2d, in about 10 ms): 5 s is reached only by an
# implementation that hangs, not by a slow machine.
CHECK_SECONDS = 5.0


class CheckTimeout(Exception):
    """The implementation did not return within the time limit."""


@contextmanager
def time_limit(seconds=CHECK_SECONDS, what="the implementation"):
    usable = hasattr(signal, "SIGALRM") and threading.current_thread() is threading.main_thread()
    if not usable or not seconds:
        yield
        return

    def _expired(signum, frame):
        raise CheckTimeout(f"{what} did not return within {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
