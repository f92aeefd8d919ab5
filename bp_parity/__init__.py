"""bp-parity under one name of its own: bp_parity.impl (the system under test, NumPy only) and bp_parity.reference
(the harness).

Installed, the distribution adds this one top-level package and nothing else, so a project with a module or package
of its own called `impl` or `reference` keeps importing its own, in its tests and under the pytest plugin.  In the
repository the two live in the folders impl/ and reference/ beside this one (the layout the textbook's protocol and
DESIGN.md name); pyproject.toml maps them under this package for an install, and in a checkout that is not installed
(the golden environments: PYTHONPATH is the repository) this package's search path takes in its parent folder.
"""

import os as _os

_HERE = _os.path.dirname(_os.path.abspath(__file__))
if not _os.path.isdir(_os.path.join(_HERE, "reference")):  # a checkout: impl/ and reference/ are this folder's siblings
    __path__.append(_os.path.dirname(_HERE))  # noqa: F821 (a package's __path__)

__all__ = []
