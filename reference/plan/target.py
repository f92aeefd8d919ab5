"""The implementation under test as the harness holds it: a Target, never the module itself.

A Target is what the command line named (--impl, --path, --map, --map-file), checked for what can be checked
without running the implementation (a map file that does not parse, a map without --impl), and the words every
reproduce line puts after --impl.  The module is loaded only in a supervised worker (reference.run.worker), which
calls Target.load(); what the worker finds is sent back as Target.describe(implementation) and held by the
harness as a Described: which protocol names are defined, which protocol was detected.
"""

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from bp_parity.reference.pieces import protocol


@dataclass
class Target:
    spec: str = protocol.OWN  # --impl as given: a dotted module name, a .py file or a package folder
    paths: list = field(default_factory=list)  # folders put on the import path first (the map file's, then --path's)
    names: dict = field(default_factory=dict)  # protocol name -> "module:attribute" (and "Piece.attribute" keys)
    options: tuple = ()  # the options that load it besides --impl, as shell words: --path, --map-file, --map as given

    @classmethod
    def from_args(cls, args):
        """The Target of a command's --impl, --path, --map and --map-file.  With a map, --impl must be named: the names
        the map leaves unbound are looked up there, and the default (this repository's impl) would answer for them."""
        paths, names = list(getattr(args, "path", None) or ()), {}
        if getattr(args, "map_file", None):
            file_paths, names = protocol.read_map_file(args.map_file)
            paths = file_paths + paths
        names.update(protocol.parse_map(getattr(args, "map", None)))
        if names and args.impl == protocol.OWN:
            raise ValueError("--map binds names of your implementation: name it with --impl too (a module on the "
                             "import path, a .py file or a package folder); the names the map leaves unbound are "
                             "looked up there")
        path = Path(str(args.impl))
        if str(args.impl).endswith(".py") and not path.is_file():  # said before any worker (or torch) starts
            raise ValueError(f"implementation path {path.resolve()} does not exist")
        if path.is_dir() and not (path / "__init__.py").exists():
            raise ValueError(f"implementation folder {path.resolve()} has no __init__.py")
        options = [f"--path {shlex.quote(p)}" for p in getattr(args, "path", None) or ()]
        options += [f"--map-file {shlex.quote(args.map_file)}"] if getattr(args, "map_file", None) else []
        options += [f"--map {shlex.quote(m)}" for m in getattr(args, "map", None) or ()]
        return cls(str(args.impl), paths, names, tuple(options))

    def arguments(self):
        """The words every command line that checks this implementation again puts after the command: --impl with
        the options that load it (a path with a space in it stays one word)."""
        return " ".join([f"--impl {shlex.quote(self.spec)}", *self.options])

    def load(self):
        """The Implementation (reference.pieces.protocol.load), which keeps this Target as its .target; run in a
        worker, never in the harness's process."""
        implementation = protocol.load(self.spec, paths=self.paths, names=self.names)
        implementation.target = self
        return implementation

    @staticmethod
    def describe(implementation):
        """What the harness needs to plan, as plain values: the names defined, the protocol detected."""
        return {"spec": implementation.spec, "detected": implementation.detected,
                "functional": bool(implementation.functional),
                "present": [n for n in protocol.protocol_names() if not implementation.missing([n])],
                # every other name it has (trace --net names any network class of it)
                "attributes": sorted(n for n in set(dir(implementation.module)) | set(implementation.bound)
                                     if isinstance(n, str) and not n.startswith("__"))}


def arguments(implementation):
    """--impl and the options that load `implementation` again, for a reproduce line: a Target's own, or that of the
    Target an Implementation or Described was loaded from (one loaded without a Target, as the suite's own tests
    load modules, is named by --impl alone)."""
    if isinstance(implementation, Target):
        return implementation.arguments()
    return (getattr(implementation, "target", None) or Target(implementation.spec)).arguments()


class Described:
    """The implementation as the harness knows it without holding it: Target.describe's answer from a worker."""

    def __init__(self, description, target=None):
        self.spec = description["spec"]
        self.target = target  # the Target the pool loaded it from
        self.detected = description["detected"]
        self.functional = description["functional"]
        self.present = set(description["present"])
        self.attributes = set(description.get("attributes", ()))

    def __repr__(self):
        return f"Described({self.spec!r})"

    def missing(self, names=None):
        known = set(protocol.protocol_names())
        return [n for n in (protocol.protocol_names() if names is None else names)
                if n not in self.present and (n in known or n not in self.attributes)]

    def require(self, *names):
        absent = self.missing(names)
        if absent:
            raise protocol.MissingProtocol(self.spec, absent)
