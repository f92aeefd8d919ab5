"""The harness's global state, guarded around every call into the implementation.

An implementation runs in the harness's worker process, so whatever process-wide state it changes (the working
directory, the import path, NumPy's error handling, torch's defaults, signal handlers, the standard streams) the
harness's own code would then run under.  snapshot() reads each item named in ITEMS, changes() names those that
differ from an earlier snapshot as a person reads them, and restore() puts the earlier values back.  A change is a
finding about the piece whose call made it (leaving np.seterr(all="ignore") behind is a real bug in a layer); the
worker restores the state after every call, so no other piece's verdict depends on it.

The global random state of NumPy and torch is not an item: the harness itself seeds and draws from it where the
protocol does (dropout masks), so the worker resets it before each unit of work instead of judging it.
"""

import os
import signal
import sys

import numpy as np

# the signals whose handlers the harness relies on (SIGINT: Ctrl-C reaches the harness; SIGALRM and the interval
# timer: the in-process time limit; SIGCHLD: the supervisor's children)
SIGNALS = tuple(getattr(signal, name) for name in ("SIGALRM", "SIGINT", "SIGTERM", "SIGCHLD", "SIGHUP", "SIGUSR1",
                                                   "SIGUSR2", "SIGPIPE", "SIGXFSZ") if hasattr(signal, name))


def _torch():
    return sys.modules.get("torch")


_NAMED = tuple((signal.Signals(s).name, s) for s in SIGNALS)  # named once: the enum lookup costs more than the read


def _read_signals():
    return {name: signal.getsignal(number) for name, number in _NAMED}


def _write_signals(handlers):
    for name, handler in handlers.items():
        if handler is not None:  # None: set outside Python, cannot be put back from here
            signal.signal(signal.Signals[name], handler)


def _read_timer():
    return tuple(round(v, 3) for v in signal.getitimer(signal.ITIMER_REAL)) if hasattr(signal, "getitimer") else ()


def _write_timer(value):
    if value and hasattr(signal, "setitimer"):
        signal.setitimer(signal.ITIMER_REAL, *value)


def _read_streams():
    return (sys.stdout, sys.stderr, sys.stdin)


def _write_streams(value):
    sys.stdout, sys.stderr, sys.stdin = value


def _read_torch_dtype():
    torch = _torch()
    return str(torch.get_default_dtype()).replace("torch.", "") if torch is not None else None


def _write_torch_dtype(value):
    torch = _torch()
    if torch is not None and value is not None:
        torch.set_default_dtype(getattr(torch, value))


def _read_torch_threads():
    torch = _torch()
    return torch.get_num_threads() if torch is not None else None


def _write_torch_threads(value):
    torch = _torch()
    if torch is not None and value is not None:
        torch.set_num_threads(value)


def _write_path(value):
    sys.path[:] = list(value)


def _write_seterr(value):
    np.seterr(**value)


# name -> (read, write, how a person names it)
ITEMS = {
    "cwd": (os.getcwd, os.chdir, "the working directory"),
    "sys.path": (lambda: tuple(sys.path), _write_path, "sys.path"),
    "np.seterr": (np.geterr, _write_seterr, "NumPy's error handling (np.seterr)"),
    "signals": (_read_signals, _write_signals, "signal handlers"),
    "timer": (_read_timer, _write_timer, "the interval timer (signal.setitimer)"),
    "streams": (_read_streams, _write_streams, "sys.stdout / sys.stderr / sys.stdin"),
    "torch dtype": (_read_torch_dtype, _write_torch_dtype, "torch's default dtype"),
    "torch threads": (_read_torch_threads, _write_torch_threads, "torch's thread count"),
}


def snapshot():
    """{item: value} of every item in ITEMS, as they are now."""
    state = {}
    for name, (read, _, _) in ITEMS.items():
        try:
            state[name] = read()
        except Exception as error:  # noqa: BLE001 - a deleted working directory cannot be read
            state[name] = f"unreadable: {type(error).__name__}: {error}"
    return state


def _shown(name, before, after):
    if isinstance(before, dict) and isinstance(after, dict):
        moved = [f"{k} {before.get(k)!r} -> {after.get(k)!r}" for k in sorted(set(before) | set(after))
                 if before.get(k) != after.get(k)]
        return ", ".join(moved)
    if name == "sys.path":
        gone = [p for p in before if p not in after]
        added = [p for p in after if p not in before]
        parts = ([f"removed {gone[:3]}" + (f" and {len(gone) - 3} more" if len(gone) > 3 else "")] if gone else []) \
            + ([f"added {added[:3]}"] if added else [])
        return "; ".join(parts) or "reordered"
    if name == "streams":
        return "replaced"
    return f"{before!r} -> {after!r}"


def changes(before, after=None):
    """[(item, what a person reads)] of the items that differ between two snapshots (the second: now)."""
    after = snapshot() if after is None else after
    return [(ITEMS[name][2], _shown(name, before[name], after[name])) for name in ITEMS
            if before[name] != after[name]]


def restore(before):
    """Put every item back as it was in `before` (those that can be)."""
    for name, (read, write, _) in ITEMS.items():
        value = before[name]
        if isinstance(value, str) and value.startswith("unreadable:"):
            continue
        try:
            if read() != value:
                write(value)
        except Exception:  # noqa: BLE001 - what cannot be put back is reported by the next check's snapshot
            pass
