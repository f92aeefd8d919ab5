"""torch, imported when a twin first runs, not when the registry that names the twins is imported.

The registry holds every twin as a callable; the golden check (NumPy only) reads the registry too,
so the module that defines the twins must import without torch.  `torch.relu` through this proxy
imports torch at that moment; without torch installed it raises ModuleNotFoundError('torch'), which
the command line turns into the install hint (reference.cli.common.MISSING_EXTRA).
"""

import importlib


class LazyModule:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self):
        return f"LazyModule({self._name!r})"


torch = LazyModule("torch")
F = LazyModule("torch.nn.functional")
