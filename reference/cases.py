"""The one table of layer cases that drives the command line and the suite.

A case names a protocol piece and the shapes it is checked at.  Every case is
run in float64 and float32 (unless it says otherwise) at every fixed seed; its
inputs come from the stream "layer inputs" (reference.streams) through the piece's spec in
reference.layer_checks.
"""

import json
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
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

    def __str__(self):
        return self.id


CASES = (
    LayerCase("MulLayer-scalar", "MulLayer"),
    LayerCase("MulLayer-array", "MulLayer", shape=(4, 3)),
    LayerCase("AddLayer-scalar", "AddLayer"),
    LayerCase("AddLayer-array", "AddLayer", shape=(4, 3)),
    LayerCase("Relu-2d", "Relu", shape=(6, 7)),
    LayerCase("Relu-4d", "Relu", shape=(2, 3, 4, 5)),
    # ReLU at exactly 0: the textbook's mask (x <= 0) and torch both pass no gradient there; a central
    # difference would straddle the kink, so this case is judged by the twin alone
    LayerCase("Relu-zeros", "Relu", shape=(6, 7), fd="none", zeros=True),
    LayerCase("Sigmoid-2d", "Sigmoid", shape=(6, 7)),
    LayerCase("Sigmoid-3d", "Sigmoid", shape=(3, 4, 5)),
    LayerCase("Affine-2d", "Affine", shape=(8, 12), out=5),
    LayerCase("Affine-4d", "Affine", shape=(5, 2, 3, 2), out=4),
    LayerCase("Affine-square", "Affine", shape=(6, 6), out=6),
    LayerCase("Affine-1sample", "Affine", shape=(1, 9), out=3),
    LayerCase("Affine-1out", "Affine", shape=(7, 5), out=1),  # one output unit: db sums a column
    LayerCase("SoftmaxWithLoss-index", "SoftmaxWithLoss", shape=(8, 10), labels="index"),
    LayerCase("SoftmaxWithLoss-onehot", "SoftmaxWithLoss", shape=(8, 10), labels="onehot"),
    LayerCase("SoftmaxWithLoss-1sample", "SoftmaxWithLoss", shape=(10,), labels="index"),
    LayerCase("SoftmaxWithLoss-1sample-onehot", "SoftmaxWithLoss", shape=(10,), labels="onehot"),  # t of shape (C,)
    LayerCase("sigmoid-fn", "sigmoid", shape=(5, 6)),
    LayerCase("softmax-1d", "softmax", shape=(10,)),
    LayerCase("softmax-2d", "softmax", shape=(7, 10)),
    LayerCase("softmax-large", "softmax", shape=(4, 10), scale=500.0),  # scores in the thousands: exp overflows unshifted
    LayerCase("cross_entropy_error-index", "cross_entropy_error", shape=(8, 10), labels="index"),
    LayerCase("cross_entropy_error-onehot", "cross_entropy_error", shape=(8, 10), labels="onehot"),
    LayerCase("cross_entropy_error-1sample", "cross_entropy_error", shape=(10,), labels="index"),
    LayerCase("cross_entropy_error-1sample-onehot", "cross_entropy_error", shape=(10,), labels="onehot"),
    LayerCase("numerical_gradient", "numerical_gradient", shape=(3, 4), dtypes=("float64",)),
    LayerCase("numerical_gradient-1d", "numerical_gradient", shape=(6,), dtypes=("float64",)),
)

CASES_BY_ID = {case.id: case for case in CASES}


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
