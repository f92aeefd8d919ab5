"""How every reproduce line and every printed command starts: `bp-parity`, the console script, where it is installed
beside this Python (pip install puts it in the interpreter's bin/), else `python -m bp_parity`, which runs the same
command line from a checkout that is not installed (the golden environments) as from an install.  Read once."""

import functools
import os
import sys


@functools.cache
def program():
    script = os.path.join(os.path.dirname(sys.executable), "bp-parity")
    return "bp-parity" if os.path.isfile(script) and os.access(script, os.X_OK) else "python -m bp_parity"


def arguments_of(line):
    """The words of a printed command line after its program (bp-parity, python -m bp_parity, python -m reference),
    as the command line's main() takes them; ValueError for a line that is no command of the harness."""
    import shlex

    words = shlex.split(line)
    if words[:1] == ["bp-parity"]:
        return words[1:]
    if words[:3] in (["python", "-m", "bp_parity"], ["python", "-m", "reference"]):
        return words[3:]
    raise ValueError(f"not a command of the harness: {line!r}")
