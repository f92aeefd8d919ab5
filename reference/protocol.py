"""The implementation protocol: the textbook's names, resolved from any module.

The harness never reaches into `impl` directly: it loads a module (a dotted
name, a .py file or a package folder) and looks the protocol names up in it.
Extras are ignored; missing names are listed in one message, and the checks
that need them are reported as not run.
"""

import importlib
import importlib.util
import sys
from pathlib import Path

def protocol_names():
    """Every protocol name the registry knows (reference.registry), in its order."""
    from . import registry

    return registry.names()


class MissingProtocol(LookupError):
    """Protocol names that the implementation under test does not define."""

    def __init__(self, impl_name, names):
        self.impl_name = impl_name
        self.names = list(names)
        from .registry import expected

        wanted = "; ".join(f"{n} ({expected(n)})" for n in self.names)
        super().__init__(f"implementation {impl_name!r} does not define: {wanted}")


class Implementation:
    """An implementation under test: a loaded module and the argument that named it."""

    def __init__(self, module, spec):
        self.module = module
        self.spec = spec

    def __repr__(self):
        return f"Implementation({self.spec!r})"

    def missing(self, names=None):
        """The protocol names (all the registry's when none are given) the implementation does not define."""
        return [n for n in (protocol_names() if names is None else names) if not hasattr(self.module, n)]

    def require(self, *names):
        """The named protocol objects, or MissingProtocol naming every absent one."""
        absent = self.missing(names)
        if absent:
            raise MissingProtocol(self.spec, absent)
        objects = [getattr(self.module, n) for n in names]
        return objects[0] if len(objects) == 1 else objects


def load(spec="impl"):
    """Load an implementation from a dotted module name, a .py file or a package folder."""
    path = Path(spec)
    if spec.endswith(".py") or path.is_dir() or path.exists():
        return Implementation(_load_path(path), spec)
    try:
        module = importlib.import_module(spec)
    except ModuleNotFoundError as error:
        if error.name and spec.startswith(error.name):
            raise ValueError(
                f"cannot import implementation {spec!r}: no module named {error.name!r} "
                "(give a dotted module name on sys.path, a .py file, or a package folder)"
            ) from None
        raise
    return Implementation(module, spec)


def _load_path(path):
    path = path.resolve()
    if path.is_dir():
        init = path / "__init__.py"
        if not init.exists():
            raise ValueError(f"implementation folder {path} has no __init__.py")
        name, location, search = path.name, init, [str(path)]
    elif path.is_file():
        name, location, search = path.stem, path, None
        if str(path.parent) not in sys.path:  # as Python does for a script: its folder is importable
            sys.path.insert(0, str(path.parent))
    else:
        raise ValueError(f"implementation path {path} does not exist")
    module_name = f"_bp_parity_impl_{name}"
    spec = importlib.util.spec_from_file_location(module_name, location, submodule_search_locations=search)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
