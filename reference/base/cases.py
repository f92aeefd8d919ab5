"""A layer case: a protocol piece and the shapes it is checked at; and the fixed seeds.

The cases themselves are rows of their piece's record in reference.pieces.registry
(registry.cases() is the table the command line and the suite read).  Every case is
run in float64 and float32 (unless it says otherwise) at every fixed seed; its
inputs come from the stream "layer inputs" (reference.base.streams) through the piece's spec in
reference.run.case.
"""

import json
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class LayerCase:
    id: str
    layer: str  # the protocol name under test
    shape: tuple = ()  # x's shape; the batch axis first where there is one
    out: int = 0  # Affine: output features M
    labels: str = ""  # "index" or "onehot" for losses
    dtypes: tuple = DTYPES
    scale: float = 1.0  # multiplies the spec's input magnitudes
    fd: str = "full"  # finite differences of every element, "directional" (one random direction), or "none"
    zeros: bool = False  # every third element of x exactly 0: the kink itself, where only the twin can judge
    options: tuple = ()  # (name, value) pairs a piece's spec reads: ("train", False), ("ratio", 0.2), ...

    def __str__(self):
        return self.id

    def option(self, name, default=None):
        return dict(self.options).get(name, default)


def load_seeds():
    """The suite's fixed seeds, from fixtures/seeds.json."""
    with open(FIXTURES / "seeds.json", encoding="utf-8") as f:
        return json.load(f)


def layer_seeds(count=None):
    """The fixed layer seeds, or `count` seeds of the sweep (fixtures/seeds.json)."""
    seeds = load_seeds()
    if not count:
        return list(seeds["layer"])
    first = seeds["sweep_first"]
    return list(range(first, first + int(count)))
