"""A network's structure against the textbook's architecture for its class.

The trace composes a network's twin from the network's own layers, so it cannot see a network built of the right
layers in the wrong order (a Dropout before its activation), of the wrong kind (a Sigmoid where the options ask
for ReLU) or with one layer object at several positions (a single activation instance reused, which keeps only its
last call's mask).  This holds network.layers, as the record's build() makes the network, to the record's layout
(registry.Network.layout, or its architecture): at each position a layer of that piece (an instance of the class the
implementation binds to its name, or of a class of its name), every position its own object, and the loss layer of
the record's loss.  One result per network: passed, or a MISMATCH that lists the layers it has beside the ones
expected.
"""

import numpy as np

from bp_parity.reference.pieces import registry
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, NotRun, Oracle, Verdict
from bp_parity.reference.run.network import last_layer, ordered_layers
from bp_parity.reference.run.trace import build_network


def layout(name):
    """The pieces of network `name`'s layers in order, as its record builds it (() where it states none)."""
    network = registry.piece(name).network
    return network.layout or tuple(entry[0] for entry in network.architecture)


def _is(layer, piece, classes):
    """Whether `layer` is a `piece`: an instance of the class the implementation binds to the name, or of a class of
    the piece's name (a network module builds its layers from its own import of them, as the trace reads them)."""
    found = registry.by_class(type(layer).__name__)
    return isinstance(layer, classes[piece]) or (found is not None and found.name == piece)


def check_structure(impl, name, dtype, seed, reproduce=""):
    """[result] for network piece `name`; [] where its record states no layout, or where the network or the
    classes cannot be had (its trace reports that)."""
    expected = layout(name)
    if not expected:
        return []
    record = registry.piece(name).network
    context = Context(layer=name, tensor="layers", oracle=Oracle.ARCHITECTURE, dtype=dtype, seed=seed,
                      case=f"{name} as the harness builds it", phase="construction", reproduce=reproduce)
    try:
        network = build_network(impl, name, dtype)
        layers = ordered_layers(network)
        _, last = last_layer(network)
        classes = {piece: impl.require(piece) for piece in (*expected, record.loss)}
    except Exception:  # noqa: BLE001 - a missing piece, no layers, a constructor that raises: the trace reports each
        return []
    found = [f"{position} ({type(layer).__name__})" for position, layer in layers]
    wrong = [position for (position, layer), piece in zip(layers, expected) if not _is(layer, piece, classes)]
    first_at = {}
    shared = [f"{position} is {first_at.setdefault(id(layer), position)}" for position, layer in layers
              if first_at.setdefault(id(layer), position) != position]
    problems = []
    if len(layers) != len(expected) or wrong:
        problems.append(f"layers {', '.join(found)} where the textbook's {name} has {', '.join(expected)}"
                        + (f" (the first that differs: {wrong[0]})" if wrong else ""))
    if shared:
        problems.append(f"one layer object at several positions ({'; '.join(shared)}): it keeps only its last "
                        "call's state, so the backward at the other positions uses another position's")
    if not _is(last, record.loss, classes):
        problems.append(f"the loss layer is {type(last).__name__}, not the textbook's {record.loss}")
    if problems:
        return [NotRun(context, "; ".join(problems), Verdict.MISMATCH)]
    return [compare(np.ones(len(layers), dtype=bool), np.ones(len(expected), dtype=bool), tolerance.EXACT, context)]
