"""Time limits on calls into the implementation, so that one that never returns is reported, not waited on.

Every call into the implementation runs inside `time_limit(seconds, what)`.  In a supervised worker
(reference.run.worker) the block only says where the worker is and until when it may stay there, in a page of
memory the supervisor reads; the supervisor kills a worker that overstays from outside, so no signal handler, no
`sleep` inside C and no loop that swallows exceptions can extend it, and it guards the harness's global state
around the block (reference.run.state).  Run in the harness's own process (the repository's suite, `--in-process`)
it falls back to SIGALRM, which Python delivers between bytecodes of the main thread: a call stuck inside C code is
interrupted when it returns to Python; off the main thread the limit is not enforced.
"""

import signal
import threading
from contextlib import contextmanager

import numpy as np

# Every check of the layer table runs in milliseconds (the largest, finite
# differences of Affine-2d, in about 10 ms): 5 s is reached only by an
# implementation that hangs, not by a slow machine.
CHECK_SECONDS = 5.0

# One training step (gradient, loss, update) or one evaluation of accuracy over the training set: the textbook's
# SimpleConvNet steps a batch of 100 in about 50 ms and TwoLayerNet evaluates 60,000 images in about 0.2 s here.
STEP_SECONDS = 60.0

# set in a supervised worker: a context manager (what, seconds) that marks the block for the supervisor, and a
# function that notes the phase inside it (construction, forward, backward)
supervised = None
marked = None
noted = None


class CheckTimeout(Exception):
    """The implementation did not return within the time limit."""


@contextmanager
def time_limit(seconds=CHECK_SECONDS, what="the implementation", guard_state=True, at=None):
    """guard_state False: in a worker, only the limit and the place (the state is checked after the unit).  at: the
    Location of the check the call belongs to (in a worker that ends or hangs in the call, the report is there)."""
    if supervised is not None:
        with (supervised if guard_state else marked)(what, seconds, at):
            yield
        return
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


def note(phase):
    """Where inside the current block the implementation is (the phase a crash or hang is reported in)."""
    if noted is not None:
        noted(phase)


def _floating_point_error(kind, flag):
    """NumPy's floating-point errors inside a call into the implementation: NaN and inf are the comparator's to
    report, not a warning's (np.errstate(all="call") with this callback is as quiet as all="ignore", and a call that
    leaves np.seterr(all="ignore") behind is seen changing it)."""


@contextmanager
def calling(what, seconds=CHECK_SECONDS, at=None):
    """A call into the implementation: NumPy's floating-point errors quiet, under time_limit (and, in a worker, the
    guard of the harness's global state, which sees the errstate set here as the state to keep)."""
    with np.errstate(all="call", call=_floating_point_error), time_limit(seconds, what, at=at):
        yield
