"""The implementation protocol: the textbook's names, resolved from any module.

The harness never reaches into `impl` directly: it loads a module (a dotted
name, a .py file or a package folder) and looks the protocol names up in it.
Extras are ignored; missing names are listed in one message, one name a line
with what is expected, and the checks that need them are reported as not run.

Where the code lives in several folders or calls the pieces by other names,
no adapter module is needed: `paths` are put on the import path first (the
textbook's scripts import `common.*` from the folder above them), and `names`
binds protocol names to whatever the implementation calls them, each to
"module:attribute" (imported after the paths) or to "attribute" of the
implementation's own module; a "Piece.attribute" key binds an attribute the
harness reads of a piece's instances (Affine.dW) to the one they keep
(grad_weight).  A map file (TOML or JSON) carries paths and names.  Names
only: where behaviour differs, an adapter module does it.
"""

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

from bp_parity.reference.pieces import functional, registry
from bp_parity.reference.pieces.spec import takes


def protocol_names():
    """Every protocol name the registry knows (reference.pieces.registry), in its order."""
    return registry.names()


class MissingProtocol(LookupError):
    """Protocol names that the implementation under test does not define."""

    def __init__(self, impl_name, names):
        self.impl_name = impl_name
        self.names = list(names)
        wanted = "".join(f"\n  {n}: {registry.expected(n)}" for n in self.names)
        super().__init__(f"implementation {impl_name!r} does not define {len(self.names)} protocol "
                         f"name{'s' if len(self.names) != 1 else ''}:{wanted}")


class Implementation:
    """An implementation under test: a loaded module, the argument that named it, and the protocol names bound to
    objects elsewhere (load's `names`, resolved)."""

    def __init__(self, module, spec, bound=None):
        self.module = module
        self.spec = spec
        self.bound = dict(bound or {})
        self.functional = {}  # piece -> the functions it stands for (reference.pieces.functional)
        self.target = None  # the Target it was loaded from (reference.plan.target), which names it on command lines
        self.reads = None  # a set while recording: every protocol name looked up (reference.run.unchanged)

    @property
    def detected(self):
        """Which protocol the implementation follows, in words."""
        if not self.functional:
            return "the textbook's classes"
        notes = {piece: getattr(self.bound.get(piece), "note", "") for piece in self.functional}
        forms = "; ".join(f"{' + '.join(names)} as {piece}" + (f" ({notes[piece]})" if notes[piece] else "")
                          for piece, names in self.functional.items())
        textbook = [n for n in protocol_names() if n not in self.functional and self._has(n)]
        return f"functional (CS231n style): {forms}" + (f"; the textbook's classes for the rest ({len(textbook)})"
                                                       if textbook else "")

    def __repr__(self):
        return f"Implementation({self.spec!r})"

    def _has(self, name):
        """Whether the name is bound.  A submodule of the same name is not the piece: a package laid out as CS231n's
        classifiers/ has a module softmax.py beside the functions it gathers, and no protocol object is a module.
        Nor is a function a functional form took as another piece: CS231n's update rule sgd(w, dw, config) is
        checked as SGD, not as linear regression's routine sgd(model, X, y, ...)."""
        if self.reads is not None:
            self.reads.add(name)
        if name in self.bound:
            return True
        if any(name in functions for functions in self.functional.values()):
            return False
        return hasattr(self.module, name) and not isinstance(getattr(self.module, name), ModuleType)

    def _get(self, name):
        if self.reads is not None:
            self.reads.add(name)
        return self.bound[name] if name in self.bound else getattr(self.module, name)

    def missing(self, names=None):
        """The protocol names (all the registry's when none are given) the implementation does not define."""
        return [n for n in (protocol_names() if names is None else names) if not self._has(n)]

    def require(self, *names):
        """The named protocol objects, or MissingProtocol naming every absent one."""
        absent = self.missing(names)
        if absent:
            raise MissingProtocol(self.spec, absent)
        objects = [self._get(n) for n in names]
        return objects[0] if len(objects) == 1 else objects


def add_paths(paths):
    """Put folders at the front of the import path (each once), in the order given; a folder that does not exist
    is a ValueError naming it."""
    for folder in reversed([Path(p).resolve() for p in paths or ()]):
        if not folder.is_dir():
            raise ValueError(f"--path {folder}: no such folder")
        if str(folder) in sys.path:
            sys.path.remove(str(folder))
        sys.path.insert(0, str(folder))


def parse_map(items):
    """{protocol name: target} from "Name=module:attribute" or "Name=attribute" strings."""
    names = {}
    for item in items or ():
        name, sep, target = item.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"--map {item!r}: expected Name=module:attribute (or Name=attribute of --impl)")
        names[name.strip()] = target.strip()
    return names


def read_map_file(path):
    """(paths, names) of a map file: TOML with `path = [...]` (folders, relative to the file) and a `[map]` table
    of Name = "module:attribute", or the same as a JSON object."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"--map-file {path}: cannot read: {error}") from None
    try:
        if path.suffix == ".json":
            import json

            content = json.loads(text)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                raise ValueError(f"--map-file {path}: TOML needs Python 3.11 (give the same as .json)") from None
            content = tomllib.loads(text)
    except ValueError as error:
        raise ValueError(f"--map-file {path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {error}") \
            from None
    if not isinstance(content, dict) or not isinstance(content.get("map", {}), dict) or not isinstance(
            content.get("path", []), list) or set(content) - {"map", "path"}:
        raise ValueError(f"--map-file {path}: expected `path` (a list of folders) and a `map` table of "
                         "Name = \"module:attribute\", nothing else")
    folders = [str((path.parent / p).resolve()) for p in content.get("path", [])]
    return folders, {str(k): str(v) for k, v in content.get("map", {}).items()}


def _resolve(name, target, module):
    modname, sep, attribute = target.rpartition(":") if ":" in target else ("", "", target)
    if sep:
        try:
            owner = importlib.import_module(modname)
        except ModuleNotFoundError as error:
            raise ValueError(f"--map {name}={target}: cannot import {modname!r} ({error}); put its folder on the "
                             "import path with --path") from None
    else:
        owner = module
    value = owner
    for part in attribute.split("."):
        if not hasattr(value, part):
            raise ValueError(f"--map {name}={target}: {getattr(owner, '__name__', modname)!r} has no attribute "
                             f"{attribute!r}")
        value = getattr(value, part)
    return value


OWN = "bp_parity.impl"  # this repository's implementation, the default --impl: its name in a checkout and installed


def load(spec=OWN, paths=(), names=None):
    """Load an implementation from a dotted module name, a .py file or a package folder, after putting `paths` on
    the import path; `names` binds protocol names to "module:attribute" or "attribute" targets, and "Piece.attribute"
    keys bind an attribute the harness reads (Affine.dW) to the one the piece's instances keep (grad_weight)."""
    add_paths(paths)
    implementation = _load(spec)
    implementation.functional = functional.detect(implementation.module)
    implementation.bound.update(functional.adapters(implementation.module))
    names = dict(names or {})
    aliases = {}  # piece -> {protocol attribute: the implementation's attribute}, from "Piece.attribute" keys
    for key in [k for k in names if "." in k]:
        piece, _, attribute = key.partition(".")
        target = names.pop(key)
        if not attribute.isidentifier() or not target.isidentifier():
            raise ValueError(f"--map {key}={target}: an attribute is bound to another attribute of the same "
                             "instance, both plain names (Affine.dW=grad_weight)")
        aliases.setdefault(piece, {})[attribute] = target
    known = set(protocol_names())
    unknown = sorted((set(names) | set(aliases)) - known)
    if unknown:
        raise ValueError(f"--map: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a protocol "
                         f"name; the protocol names: {', '.join(sorted(known))}")
    for name, target in names.items():
        implementation.bound[name] = _adapted(implementation, name, target, _resolve(name, target,
                                                                                     implementation.module))
    for piece, attributes in aliases.items():
        if implementation.missing([piece]):
            raise ValueError(f"--map {piece}.{next(iter(attributes))}=...: the implementation has no {piece}; bind "
                             f"it too ({piece}=module:attribute)")
        implementation.bound[piece] = _aliased(piece, implementation.require(piece), attributes)
    return implementation


def _adapted(implementation, piece, target, value):
    """What --map binds `piece` to: `value` itself, or where `value` is a function in the piece's one-function form
    (an update rule rule(w, dw, config) -> (next_w, config) mapped as SGD), that form's adapter, as when the module
    defines it under the family's name: `--map SGD=optim:sgd` checks the family's sgd, not a class that is none."""
    record = registry.REGISTRY.get(piece)
    form = record.form if record is not None else None
    if form is None or len(form.functions) != 1 or isinstance(value, type) or not callable(value) \
            or (form.takes and not takes(value, form.takes)):
        return value
    implementation.functional[piece] = (target,)
    return form.adapter(SimpleNamespace(**{form.functions[0]: value}))


def _aliased(piece, cls, attributes):
    """`cls` with each protocol attribute an alias of the implementation's own (read and written through): the
    textbook's Affine keeps its gradients as dW and db, a class that calls them grad_weight and grad_bias is the
    same layer under other names.  Names only: no method is wrapped, no value changed."""
    if not isinstance(cls, type):
        raise ValueError(f"--map {piece}.{next(iter(attributes))}=...: {piece} is {cls!r}, not a class")

    def alias(target):
        return property(lambda self: getattr(self, target), lambda self, value: setattr(self, target, value),
                        doc=f"the implementation's {target}")

    return type(cls.__name__, (cls,), {"__module__": cls.__module__, "__doc__": cls.__doc__,
                                       **{a: alias(t) for a, t in attributes.items()}})


def _load(spec):
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
    for loaded in [m for m in sys.modules if m.startswith(f"{module_name}.")]:
        del sys.modules[loaded]  # another folder of the same name loaded before: its submodules are not this one's
    spec = importlib.util.spec_from_file_location(module_name, location, submodule_search_locations=search)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module
