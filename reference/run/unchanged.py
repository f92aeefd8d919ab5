"""What a mutant of the zoo leaves as impl has it: the ground for running a mutant only where it differs.

A mutant (fixtures/mutants/) imports impl and redefines one piece.  A unit of the zoo's plan that reads from the
implementation only protocol names bound to impl's very objects, in a process where impl's code and the global
state the units start from are as impl's own worker has them, runs exactly as it runs on impl, where it passes
(tests/test_mutants.py: impl passes everything the zoo runs): it can neither catch the mutant nor blame another
piece.  So the zoo runs it on impl once, records which names each unit read (protocol.Implementation.reads), and
on each mutant runs only the units that read a name the mutant binds otherwise, unless the fingerprint below
differs from impl's, when it runs them all.  tests/test_mutants.py runs the whole plan on a sample of mutants and
requires the same failures, unit for unit.

fingerprint(impl) reads, in the worker, before any unit: how each protocol name is bound ("impl": the object the
impl package itself binds; "own": another; "absent"), whether any functional form was detected, the code of every
impl module loaded (each function's bytecode, constants, names, defaults and closure; each class's members; each
value's type, or its value where it is a number, string or array), NumPy's error handling and global random state.
"""

import hashlib
import sys
import types

import numpy as np

from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces.protocol import OWN


def _code(code):
    return (code.co_code, code.co_names, tuple(_code(c) if isinstance(c, types.CodeType) else repr(c)
                                               for c in code.co_consts))


def _ours(value):
    module = getattr(value, "__module__", None) or ""
    return module == OWN or module.startswith(OWN + ".")


def _describe(value, depth=0):
    """A process-independent description of a value of an impl module (no ids, no addresses)."""
    if depth > 6:
        return ("deep", type(value).__qualname__)
    if isinstance(value, types.FunctionType):
        cells = tuple(_describe(c.cell_contents, depth + 1) if c.cell_contents is not value else "self"
                      for c in value.__closure__ or ()) if all(_filled(c) for c in value.__closure__ or ()) else "?"
        return ("function", value.__module__, value.__qualname__, _code(value.__code__),
                repr(value.__defaults__), repr(sorted((value.__kwdefaults__ or {}).items())), cells)
    if isinstance(value, type):
        if not _ours(value):
            return ("type", value.__module__, value.__qualname__)
        return ("class", value.__qualname__, tuple(b.__qualname__ for b in value.__mro__),
                tuple((k, _describe(v, depth + 1)) for k, v in sorted(vars(value).items())
                      if k not in ("__dict__", "__weakref__", "__doc__", "__module__")))
    if isinstance(value, (staticmethod, classmethod)):
        return (type(value).__name__, _describe(value.__func__, depth + 1))
    if isinstance(value, property):
        return ("property", _describe(value.fget, depth + 1), _describe(value.fset, depth + 1))
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest())
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes, np.generic)):
        return ("value", repr(value))
    if isinstance(value, (tuple, list, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return (type(value).__name__, tuple(_describe(v, depth + 1) for v in items))
    if isinstance(value, dict):
        return ("dict", tuple((repr(k), _describe(v, depth + 1)) for k, v in sorted(value.items(), key=repr)))
    if callable(value) and hasattr(value, "__qualname__"):  # a builtin or another library's function
        return ("callable", getattr(value, "__module__", ""), value.__qualname__)
    return ("object", type(value).__module__, type(value).__qualname__)


def _filled(cell):
    try:
        cell.cell_contents
        return True
    except ValueError:
        return False


def fingerprint(impl):
    """{"bindings": {name: "impl" | "own" | "absent"}, "functional": bool, "modules": {name: digest}, "state": digest}
    of the implementation `impl` (a protocol.Implementation) in this worker: the mutant's, or the baseline's, a module
    that is the package impl star-imported (zoo.clean_run), so both see the package as this process imported it."""
    package = sys.modules.get(OWN)
    bindings = {}
    for name in registry.names():
        if not impl._has(name):
            bindings[name] = "absent"
        else:
            bindings[name] = "impl" if package is not None and impl._get(name) is getattr(package, name, None) \
                else "own"
    modules = {}
    for module_name in sorted(m for m in list(sys.modules) if m == OWN or m.startswith(OWN + ".")):
        module = sys.modules[module_name]
        if module is None:
            continue
        # a package's submodules are its attributes once imported (which differs with what ran): each is described
        # as a module of its own
        described = tuple((k, _describe(v)) for k, v in sorted(vars(module).items())
                          if (not k.startswith("__") or k == "__all__")
                          and not (isinstance(v, types.ModuleType) and v.__name__.startswith(OWN + ".")))
        modules[module_name] = hashlib.sha256(repr(described).encode()).hexdigest()
    kind, keys, position, gaussian, cached = np.random.get_state()
    state = hashlib.sha256(repr((sorted(np.geterr().items()), kind, keys.tobytes(), position, gaussian,
                                 cached)).encode()).hexdigest()
    return {"bindings": bindings, "functional": bool(impl.functional), "modules": modules, "state": state}


def differing(clean, mutant):
    """The protocol names the mutant binds otherwise than impl, or None where the mutant's worker differs from
    impl's beyond its bindings (its code, its global state, a functional form, a module set): then every unit runs."""
    if mutant["functional"] or clean["functional"] or mutant["state"] != clean["state"] \
            or any(clean["modules"].get(name) != digest for name, digest in mutant["modules"].items()):
        return None
    return {name for name, kind in mutant["bindings"].items()
            if kind == "own" or kind != clean["bindings"].get(name)}
