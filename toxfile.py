"""tox finds every Python that pyenv installed, as CI does.

pyenv's shims (python3.10, python3.12, ...) answer only for the versions pyenv has made
current, so on a machine whose Pythons come from pyenv the golden environments for the
other versions find no interpreter.  tox loads this file (its inline plugin) before it
looks for interpreters: PYENV_VERSION then lists every installed version, the current one
first, for tox and for everything it starts.  Where PYENV_VERSION is set already, or there
is no pyenv, nothing changes.
"""

import os
import shutil
import subprocess


def _every_pyenv_version():
    pyenv = shutil.which("pyenv")
    if not pyenv or os.environ.get("PYENV_VERSION"):
        return None
    try:
        current = subprocess.run([pyenv, "version-name"], capture_output=True, text=True, timeout=30).stdout.strip()
        installed = subprocess.run([pyenv, "versions", "--bare"], capture_output=True, text=True,
                                   timeout=30).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    first = [v for v in current.split(":") if v]
    return ":".join(first + [v for v in installed if v not in first]) or None


_versions = _every_pyenv_version()
if _versions:
    os.environ["PYENV_VERSION"] = _versions
