"""Implementation code in supervised worker processes: a verdict no exit, signal, hang or flood can forge or lose.

The harness's process never imports the implementation.  A Pool forks a worker (after NumPy, torch and the
harness are imported, so a worker starts in milliseconds; start method: os.fork, said in `describe`), the worker
imports the implementation under IMPORT_SECONDS and then runs units of work one after another (a case at one dtype
and seed: every check of it, implementation, twin and comparison together), each sent as a function and its
arguments.  The comparison runs in the worker beside the implementation because the arrays are made there and
most never need to cross; what crosses back is JSON (reference.run.wire), never pickle, so nothing the worker
sends can run code in the harness.

The supervisor (this process) reads a page of memory shared with the worker: which call into the implementation
the worker is in (reference.base.limits.time_limit writes it, reference.run.case.phase the phase) and until when it
may stay there.  It kills a worker that overstays, from outside (SIGKILL: no handler can extend a limit), and
reports the unit TIMEOUT in that call; a worker that ends (sys.exit, os._exit, a signal, a segmentation fault, the
kernel's out-of-memory killer) is reported EXITED or CRASHED in the call it was in; then a fresh worker takes over
and the run goes on.  What the implementation prints (both streams, Python's and the file descriptors') goes to a
file of the supervisor's, kept to its last OUTPUT_KEEP bytes with the total counted, and comes back with its unit.
The harness's global state is guarded around every call into the implementation (reference.run.state).
"""

import gc
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field

from bp_parity.reference.base import limits
from bp_parity.reference.report.compare import captured, Location, Verdict
from bp_parity.reference.plan.target import Described
from bp_parity.reference.run import state, wire

# what the harness puts here before a Pool starts is in every worker (inherited at the fork), so a task names it
# instead of carrying it (the golden arrays, read and checksummed once)
shared = {}

# where a task's progress goes: in a worker, a frame to the supervisor before the unit's result; in-process, the
# callback of the current run (a task calls event(value) with plain values: a step, a row of a table)
_emit = None


def event(value):
    """Send `value` (plain values, as results cross) to the on_event of the Pool.run that runs this task."""
    if _emit is not None:
        _emit(value)

IMPORT_SECONDS = 60.0  # importing the implementation (a module that trains at import is stopped here)
TASK_SECONDS = 600.0  # a whole unit of work, outside the calls into the implementation that have limits of their own
OUTPUT_KEEP = 64 * 1024  # bytes of captured output kept (the last ones)
OUTPUT_CAP = 8 * 1024 * 1024  # the capture file is cut back to its last OUTPUT_KEEP bytes beyond this size
POLL_SECONDS = 0.02
START_METHOD = "fork"


class Slot:
    """A page of anonymous shared memory: the deadline of the call the worker is in (0: none), the call, its phase.

    Written by the worker (enter, note, leave), read by the supervisor; the supervisor reads the text after it has
    stopped the worker, so it is never read half written where it matters."""

    SIZE = 4096
    TEXT = 1500

    def __init__(self):
        import mmap

        self._map = mmap.mmap(-1, self.SIZE)  # MAP_SHARED | MAP_ANONYMOUS: the forked worker writes the same page

    def _put(self, offset, text):
        data = text.encode("utf-8", "replace")[: self.TEXT]
        self._map[offset + 4: offset + 4 + len(data)] = data
        struct.pack_into("<I", self._map, offset, len(data))

    def _get(self, offset):
        (size,) = struct.unpack_from("<I", self._map, offset)
        return bytes(self._map[offset + 4: offset + 4 + min(size, self.TEXT)]).decode("utf-8", "replace")

    @property
    def at(self):
        """The Location the last call named (None where it named none, or it does not read as one)."""
        (size,) = struct.unpack_from("<I", self._map, self.AT)
        if not size or size > self.AT_TEXT:
            return None
        try:
            made = wire.decode(bytes(self._map[self.AT + 4: self.AT + 4 + size]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return made if isinstance(made, Location) else None

    AT = 16 + 2 * (4 + TEXT)  # the Location of the check the call belongs to, as JSON (reference.run.wire)
    AT_TEXT = SIZE - AT - 4

    def enter(self, what, seconds, at=None):
        self._put(16, what)
        self._put(16 + 4 + self.TEXT, "")
        text = wire.encode(at) if at is not None else ""
        self._put(self.AT, text if len(text.encode("utf-8")) <= self.AT_TEXT else "")
        struct.pack_into("<d", self._map, 0, time.monotonic() + seconds if seconds else 0.0)

    def note(self, phase):
        self._put(16 + 4 + self.TEXT, phase)

    def leave(self):
        struct.pack_into("<d", self._map, 0, 0.0)

    @property
    def deadline(self):
        return struct.unpack_from("<d", self._map, 0)[0]

    @property
    def where(self):
        what, phase = self._get(16), self._get(16 + 4 + self.TEXT)
        return f"{what}, in {phase}" if what and phase else what

    def clear(self):
        self.leave()
        self._put(16, "")
        self._put(16 + 4 + self.TEXT, "")
        struct.pack_into("<I", self._map, self.AT, 0)


def _write_frame(fd, payload):
    data = struct.pack(">Q", len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd, size):
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd):
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    return _read_exactly(fd, struct.unpack(">Q", header)[0])


@dataclass
class Outcome:
    """What one unit of work came to: its value (done), or the verdict that stands for every check of it.

    verdict: "" (done), TIMEOUT, EXITED, CRASHED, RAISED (a Verdict; RAISED: an exception escaped the harness's own code in the
    worker); where: the call into the implementation it happened in; output: the last lines it printed and
    output_bytes how much in all; state: [(item, change)] of the harness's global state it changed."""

    value: object = None
    verdict: str = ""
    reason: str = ""
    where: str = ""
    output: str = ""
    output_bytes: int = 0
    state: list = field(default_factory=list)
    at: object = None  # the Location of the check the call it ended in belongs to, where the call named one

    @property
    def done(self):
        return not self.verdict


class LoadFailed(Exception):
    """The implementation could not be loaded: verdict (RAISED, EXITED, CRASHED, TIMEOUT) and why."""

    def __init__(self, verdict, reason, output="", output_bytes=0, usage=False):
        super().__init__(reason)
        self.verdict, self.reason, self.usage = verdict, reason, usage
        self.output, self.output_bytes = output, output_bytes

    def render(self, spec):
        text = f"{self.verdict} at import: implementation {spec!r}: {self.reason}"
        return text + captured(self.output, self.output_bytes)


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


# ---------------------------------------------------------------------------------------------------------------
# the worker's side


class _Guard:
    """The worker's guard of a call into the implementation: marks the slot and checks the global state."""

    def __init__(self, slot):
        self.slot = slot
        self.changes = []  # (what, item, change) since the unit began
        self.depth = 0
        self.escaped = None  # the exception that last left a call into the implementation

    def mark(self, what, seconds, at=None):
        """A call that only marks the slot (a training step, thousands in a unit): its limit is kept from outside;
        the global state is checked once, after the unit (the changes "between calls")."""
        return self(what, seconds, at, guard_state=False)

    @contextmanager
    def __call__(self, what, seconds, at=None, guard_state=True):
        if self.depth:  # a call inside a call (a trace step inside a network method): the outer one holds the limit
            yield
            return
        self.depth += 1
        before = state.snapshot() if guard_state else None
        self.slot.enter(what, seconds, at)
        try:
            yield
        except BaseException as error:
            self.escaped = error  # raised in the call: the slot's text says where, for the unit's report
            raise
        finally:
            self.slot.leave()
            self.depth -= 1
            moved = state.changes(before) if guard_state else ()
            if moved:
                self.changes.extend((what, item, change) for item, change in moved)
                state.restore(before)


OUTSIDE = "no call into the implementation: the harness's own code, or code outside the calls it guards"


def _where(slot, guard, error):
    """Where a unit's escaped exception was raised: the call into the implementation the slot names, where the
    exception (or the one it was raised from) left that call; else OUTSIDE, even though the slot still names the
    last call (which had returned): a harness error is never reported as the implementation's last method's."""
    inside = error is not None and guard.escaped is not None and guard.escaped in (error, error.__cause__,
                                                                                 error.__context__)
    return slot.where if inside else OUTSIDE


def _serve(target, slot, requests, replies, output_fd):
    """The worker's life: load the implementation, then run units until the supervisor closes the pipe."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle; it ends the workers
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    torch = sys.modules.get("torch")
    if torch is not None:
        # torch's OpenMP pool does not survive a fork (a child that uses it hangs); the twins are small
        torch.set_num_threads(1)
    guard = _Guard(slot)
    limits.supervised, limits.marked, limits.noted = guard, guard.mark, slot.note

    def reply(message):
        _write_frame(replies, wire.encode(message).encode("utf-8"))

    global _emit
    _emit = lambda value: reply({"kind": "event", "value": value})  # noqa: E731

    slot.enter(f"import of {target.spec}", 0)
    try:
        impl = target.load()
    except (ValueError, LookupError) as error:  # the arguments name nothing loadable: the user's to mend
        reply({"kind": "usage", "reason": str(error)})
        return
    except BaseException as error:  # noqa: BLE001 - an implementation's import may raise anything, SystemExit too
        if isinstance(error, SystemExit):
            _flush()
            reply({"kind": "exited", "reason": f"sys.exit({error.code!r})", "where": slot.where})
            return
        reply({"kind": "raised", "reason": _exception(error), "where": slot.where})
        return
    slot.clear()
    _flush()
    reply({"kind": "ready", "description": target.describe(impl)})
    baseline = state.snapshot()
    random_state = _random_state()
    while True:
        message = _read_frame(requests)
        if message is None:
            return
        function, args = pickle.loads(message)  # from the supervisor, never from the implementation
        guard.changes, guard.escaped = [], None
        _reset_random(random_state)
        slot.clear()
        try:
            value = function(impl, *args)
        except SystemExit as error:
            _flush()
            reply({"kind": "exited", "reason": f"sys.exit({error.code!r})", "where": _where(slot, guard, error)})
            return
        except BaseException as error:  # noqa: BLE001 - escaped the harness's own handling: never a pass
            _flush()
            reply({"kind": "raised", "reason": _exception(error), "where": _where(slot, guard, error)})
            return
        _flush()
        changes = guard.changes + [("between calls", item, change) for item, change in state.changes(baseline)]
        state.restore(baseline)
        reply({"kind": "done", "value": value, "state": [list(c) for c in changes]})


def _exception(error):
    frames = traceback.extract_tb(error.__traceback__)
    last = f" at {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}" if frames else ""
    return f"{type(error).__name__}: {error}{last}"


def _flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream the implementation replaced or closed
            pass


def _random_state():
    import numpy as np

    torch = sys.modules.get("torch")
    return np.random.get_state(), (torch.get_rng_state() if torch is not None else None)


def _reset_random(saved):
    import numpy as np

    np.random.set_state(saved[0])
    torch = sys.modules.get("torch")
    if torch is not None and saved[1] is not None:
        torch.set_rng_state(saved[1])


# ---------------------------------------------------------------------------------------------------------------
# the supervisor's side


class _Worker:
    """One forked worker and the supervisor's ends of its pipes, its output file and its slot."""

    def __init__(self, target):
        self.slot = Slot()
        descriptor, path = tempfile.mkstemp(prefix="bp-parity-output-")
        os.close(descriptor)
        self.output = os.open(path, os.O_RDWR | os.O_APPEND)
        os.unlink(path)
        self.dropped, self.kept = 0, b""
        requests_read, self.requests = os.pipe()
        self.replies, replies_write = os.pipe()
        _flush()
        # the harness's objects (torch's modules most of all) into the collector's permanent generation: the worker's
        # collections then never touch them, so their pages stay shared with this process instead of being copied
        gc.freeze()
        self.pid = os.fork()
        if self.pid == 0:  # the worker
            code = 0
            try:
                os.close(self.requests)
                os.close(self.replies)
                _serve(target, self.slot, requests_read, replies_write, self.output)
            except BaseException:  # noqa: BLE001 - the worker never returns into the supervisor's code
                code = 70
            finally:
                _flush()
                os._exit(code)
        os.close(requests_read)
        os.close(replies_write)
        self.alive = True

    def send(self, function, args):
        try:
            _write_frame(self.requests, pickle.dumps((function, args)))
            return True
        except (BrokenPipeError, OSError):
            return False

    def _cap_output(self):
        size = os.fstat(self.output).st_size
        if size > OUTPUT_CAP:
            self.kept = os.pread(self.output, OUTPUT_KEEP, size - OUTPUT_KEEP)
            os.ftruncate(self.output, 0)
            self.dropped += size

    def take_output(self):
        """(the last OUTPUT_KEEP bytes as text, the bytes written in all) since the last call; the file is emptied."""
        size = os.fstat(self.output).st_size
        tail = os.pread(self.output, OUTPUT_KEEP, max(0, size - OUTPUT_KEEP))
        if size < OUTPUT_KEEP and self.dropped:
            tail = self.kept[-(OUTPUT_KEEP - size):] + tail
        total = self.dropped + size
        os.ftruncate(self.output, 0)
        self.dropped, self.kept = 0, b""
        return tail.decode("utf-8", "replace"), total

    def wait(self, seconds):
        """(message, None) when the worker answered; (None, Outcome) when it died, hung or overstayed."""
        started = time.monotonic()
        while True:
            ready, _, _ = select.select([self.replies], [], [], POLL_SECONDS)
            if ready:
                frame = _read_frame(self.replies)
                if frame is None:
                    return None, self._ended()
                try:
                    return wire.decode(frame.decode("utf-8")), None
                except (ValueError, UnicodeDecodeError) as error:
                    self.kill()
                    return None, Outcome(verdict=Verdict.CRASHED, reason=f"the worker sent what the harness cannot read "
                                         f"({error})", where=self.slot.where)
            now = time.monotonic()
            deadline = self.slot.deadline
            self._cap_output()
            if deadline and now > deadline:
                where = self.slot.where
                self.kill()
                return None, Outcome(verdict=Verdict.TIMEOUT, where=self.slot.where or where,
                                     reason="did not return within its time limit (the worker was stopped from "
                                     "outside)")
            if seconds and now - started > seconds:
                self.kill()
                return None, Outcome(verdict=Verdict.TIMEOUT, where=self.slot.where,
                                     reason=f"the unit of work did not end within {seconds:g} s (the worker was "
                                     "stopped from outside)")

    def _ended(self):
        """The worker closed its pipe: it ended (or closed the harness's pipe and is ended here)."""
        where = self.slot.where
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:  # alive but deaf: it closed the pipe the harness reads
                time.sleep(0.05)
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                self.kill()
                return Outcome(verdict=Verdict.CRASHED, where=where, reason="the worker closed the harness's pipe")
        except ChildProcessError:
            status = 0
        self.alive = False
        self._close()
        if os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            why = {signal.SIGSEGV: "a segmentation fault", signal.SIGKILL: "killed from outside (out of memory?)",
                   signal.SIGABRT: "aborted", signal.SIGBUS: "a bus error", signal.SIGFPE: "a floating-point trap"}
            return Outcome(verdict=Verdict.CRASHED, where=where,
                           reason=f"the worker died of {_signal_name(number)} ({why.get(number, 'a signal')})")
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else status
        return Outcome(verdict=Verdict.EXITED, where=where, reason=f"the worker exited with code {code} (os._exit or the "
                       "like: no exception, no summary)")

    def kill(self):
        if self.alive:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.alive = False
            self._close()

    def _close(self):
        for fd in ("requests", "replies"):
            descriptor = getattr(self, fd, None)
            if descriptor is not None:
                try:
                    os.close(descriptor)
                except OSError:
                    pass
                setattr(self, fd, None)

    def close(self):
        if self.alive:
            self._close()  # EOF on its requests: the worker returns and exits
            try:
                for _ in range(50):
                    pid, _ = os.waitpid(self.pid, os.WNOHANG)
                    if pid:
                        break
                    time.sleep(0.01)
                else:
                    self.kill()
            except ChildProcessError:
                pass
            self.alive = False
        try:
            os.close(self.output)
        except OSError:
            pass


def _import_torch():
    """Import, before the first fork, what every worker would otherwise import afresh: torch, the harness's modules
    the tasks use, and torch._dynamo, which torch.optim imports at its first step (with sympy: about 1.3 s, paid
    again by each fresh worker, once per mutant in the zoo, where it was half of each mutant's time)."""
    import importlib
    import importlib.util

    try:
        if "torch" not in sys.modules and importlib.util.find_spec("torch") is None:
            return
        import torch  # noqa: F401
        import torch._dynamo  # noqa: F401
    except ImportError:  # NumPy only (the golden mode): the workers start without it
        return

    for name in ("run.case", "run.trace", "run.network_checks", "run.optimizer_checks", "run.golden",
                 "run.training_parity", "pieces.functional", "pieces.optimizer_rules",
                 "run.traces", "run.pipeline_checks", "run.tasks"):
        importlib.import_module(f"bp_parity.reference.{name}")


class Pool:
    """The supervisor of the workers that run one implementation (one worker at a time: the run is sequential, and
    the suite's own parallelism is pytest-xdist's).

    pool.description: what the implementation defines (reference.plan.target.Target.describe), read by the first
    worker; pool.run(function, *args) -> Outcome runs function(impl, *args) in a worker.  LoadFailed where the
    implementation cannot be loaded."""

    def __init__(self, target, import_seconds=IMPORT_SECONDS, task_seconds=TASK_SECONDS, torch=True):
        self.target, self.import_seconds, self.task_seconds = target, import_seconds, task_seconds
        self._worker = None
        self.started = 0  # workers started (a fresh one after every crash)
        if torch:  # (torch False: a NumPy-only command, whose units use no twin)
            _import_torch()  # before the first fork: every worker starts with it, and its state is in the baseline
        self.description = self._start()
        self.described = Described(self.description, target)  # the harness's view of it (reference.plan.target)

    def _start(self):
        self._worker = worker = _Worker(self.target)
        self.started += 1
        message, failed = worker.wait(self.import_seconds)
        output, size = worker.take_output()
        if failed is not None:
            if failed.verdict == Verdict.TIMEOUT:
                failed.reason = (f"the import did not return within {self.import_seconds:g} s (a script that trains "
                                 "or waits at import? put that under if __name__ == \"__main__\")")
            raise LoadFailed(failed.verdict, failed.reason, output, size)
        if message["kind"] == "ready":
            return message["description"]
        worker.close()
        self._worker = None
        if message["kind"] == "usage":
            raise LoadFailed(Verdict.NOT_RUN, message["reason"], output, size, usage=True)
        verdict = Verdict.EXITED if message["kind"] == "exited" else Verdict.RAISED
        raise LoadFailed(verdict, message["reason"], output, size)

    def run(self, function, *args, on_event=None, seconds=None):
        """Outcome of function(impl, *args) in a worker (started afresh where the last one ended); on_event(value)
        for each event(value) the task sends before it ends; seconds: the unit's limit instead of task_seconds (0:
        none beyond the limits of the calls into the implementation)."""
        if self._worker is None or not self._worker.alive:
            self._start()
        worker = self._worker
        if not worker.send(function, args):
            outcome = worker.wait(1.0)[1] or Outcome(verdict=Verdict.CRASHED, reason="the worker took no more work")
        else:
            limit = self.task_seconds if seconds is None else seconds
            started = time.monotonic()
            while True:
                left = limit - (time.monotonic() - started) if limit else 0
                message, outcome = worker.wait(max(left, 1e-3) if limit else 0)
                if outcome is not None or message["kind"] != "event":
                    break
                if on_event is not None:
                    on_event(message["value"])
            if outcome is None:
                kind = message["kind"]
                if kind == "done":
                    outcome = Outcome(value=message["value"], state=[tuple(c) for c in message["state"]])
                else:
                    worker.wait(5.0)  # the worker ends after a reply that is no result
                    outcome = Outcome(verdict=Verdict.EXITED if kind == "exited" else Verdict.RAISED, reason=message["reason"],
                                      where=message.get("where", ""))
        if not outcome.done:
            outcome.at = worker.slot.at
        if worker.alive or worker.output is not None:
            outcome.output, outcome.output_bytes = worker.take_output()
        if not worker.alive:
            worker.close()
            self._worker = None
        return outcome

    def close(self):
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class InProcess:
    """A Pool's interface with the implementation loaded in the harness's own process: no supervision, for
    measuring what the workers cost (benchmarks/check_speed.py) and for a debugger (check --in-process)."""

    def __init__(self, target, loaded=None):
        self.impl = loaded or target.load()  # loaded: the Implementation of target, where the caller holds it already
        self.description = target.describe(self.impl)
        self.described = Described(self.description, target)
        self.started = 0

    def run(self, function, *args, on_event=None, seconds=None):
        global _emit
        kept, _emit = _emit, on_event
        try:
            return Outcome(value=function(self.impl, *args))
        finally:
            _emit = kept

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def pool(target, in_process=False, import_seconds=None, torch=True):
    """The supervised Pool of `target`, or InProcess where asked."""
    if in_process:
        return InProcess(target)
    return Pool(target, import_seconds=import_seconds or IMPORT_SECONDS, torch=torch)
