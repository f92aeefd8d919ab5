"""The floors of reference/: each subpackage imports only the floors below it, no module circles back to itself,
and nothing imports the command line.  Read from the source (module-level and function-local imports alike), so a
late import cannot hide an edge.

    base/    cases, streams, limits, lazy torch, threads: what every floor stands on
    report/  comparison, tolerance, deviations, tables, progress
    pieces/  the registry and one module per family of pieces
    plan/    the implementation as a Target, and the one plan of checks
    run/     the workers and everything that runs a check or a side-by-side run
    cli/     the commands; with the front doors pytest_plugin and testing at the top
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "reference"
FLOORS = ("base", "report", "pieces", "plan", "run", "cli")
PACKAGE = "bp_parity.reference"  # the name the harness is imported by, in a checkout and installed alike
FRONT_DOORS = {f"{PACKAGE}.pytest_plugin": len(FLOORS), f"{PACKAGE}.testing": len(FLOORS),
               f"{PACKAGE}.__main__": len(FLOORS) + 1}


def _modules():
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        name = ".".join(("bp_parity", *path.relative_to(ROOT.parent).with_suffix("").parts))
        found[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return found


def _imports(modules):
    """module -> {(imported module, line)} over every import statement in it, at any depth."""
    edges = {}
    for name, path in modules.items():
        edges[name] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                raise AssertionError(f"{name}:{node.lineno}: a relative import (the floors are written out)")
            else:
                continue
            edges[name].update((t, node.lineno) for t in targets if t in modules and t not in (name, PACKAGE))
    return edges


def _floor(name):
    if name in FRONT_DOORS:
        return FRONT_DOORS[name]
    return FLOORS.index(name.split(".")[2])


def test_every_module_of_reference_lives_on_a_floor():
    loose = [n for n in _modules() if n != PACKAGE and n not in FRONT_DOORS and n.split(".")[2] not in FLOORS]
    assert not loose


def test_imports_run_only_downward_and_nothing_imports_the_command_line():
    modules = _modules()
    up = [f"{name}:{line} imports {target}" for name, targets in _imports(modules).items() if name != PACKAGE
          for target, line in targets if _floor(target) > _floor(name)]
    assert not up
    into_cli = [f"{name}:{line}" for name, targets in _imports(modules).items() for target, line in targets
                if target.startswith(f"{PACKAGE}.cli") and not name.startswith((f"{PACKAGE}.cli", f"{PACKAGE}.__main__"))]
    assert not into_cli


def test_no_module_imports_itself_back_through_others():
    edges = {name: {t for t, _ in targets} for name, targets in _imports(_modules()).items()}
    circles = []

    def visit(node, path, done):
        for nxt in sorted(edges[node]):
            if nxt in path:
                circles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in done:
                done.add(nxt)
                visit(nxt, path + [nxt], done)

    for start in sorted(edges):
        visit(start, [start], {start})
    assert not circles, circles[:3]
