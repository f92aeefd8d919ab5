"""The elementwise activations and the computational graph's layers (the textbook's chapter 5: MulLayer, AddLayer,
Relu, Sigmoid, and Tanh): for each its record, how its inputs are drawn, its twin, and its CS231n form where it has
one (relu_forward/relu_backward, sigmoid_forward/sigmoid_backward)."""

from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.lazy_torch import torch
from bp_parity.reference.pieces.registry import Form, Magnitudes, Piece, register
from bp_parity.reference.pieces.spec import _away_from_kink as _away_from_kink_at_0, BinarySpec, draw_elementwise, LayerSpec, parts


def mul(x, y):
    """z = x * y."""
    return x * y

def add(x, y):
    """z = x + y."""
    return x + y

def relu(x):
    """max(0, x); torch's derivative at 0 is 0, as the textbook's mask x <= 0."""
    return torch.relu(x)

def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


def tanh(x):
    """tanh(x)."""
    return torch.tanh(x)


def _away_from_kink(rng, shape):
    """ReLU inputs at least KINK_MARGIN from 0: a central difference (step ~6e-6 |x|) never crosses it."""
    return _away_from_kink_at_0(rng.normal(size=shape))

def _normal(scale):
    return lambda rng, shape: rng.normal(size=shape) * scale


C = LayerCase
unit = Magnitudes((-3.0, 3.0), (-3.0, 3.0), "elementwise products and sums: any scale")
register(Piece("MulLayer", "layer", "class: forward(x, y) -> x*y; backward(dout) -> (dx, dy)",
               spec=BinarySpec("MulLayer", mul), magnitudes=unit, cases=(
                   C("MulLayer-scalar", "MulLayer"),
                   C("MulLayer-array", "MulLayer", shape=(4, 3)))))

register(Piece("AddLayer", "layer", "class: forward(x, y) -> x+y; backward(dout) -> (dx, dy)",
               spec=BinarySpec("AddLayer", add), magnitudes=unit, cases=(
                   C("AddLayer-scalar", "AddLayer"),
                   C("AddLayer-array", "AddLayer", shape=(4, 3)))))

def _form(piece, name):
    """The CS231n form {name}_forward(x) -> (out, cache), {name}_backward(dout, cache) -> dx, as the textbook's
    `piece` (reference.pieces.functional)."""

    def adapter(m):
        forward, backward = getattr(m, f"{name}_forward"), getattr(m, f"{name}_backward")

        class Layer:
            __doc__ = f"{name}_forward / {name}_backward as the textbook's layer"

            def forward(self, x):
                out, self.cache = parts(forward(x), f"{name}_forward", "out, cache")
                return out

            def backward(self, dout):
                return backward(dout, self.cache)

        Layer.__name__ = piece
        return Layer

    return Form((f"{name}_forward", f"{name}_backward"), adapter)


register(Piece("Relu", "layer", "class: forward(x); backward(dout) -> dx",
               spec=LayerSpec("Relu", draw_elementwise(_away_from_kink), relu),
               magnitudes=Magnitudes((-3.0, 3.0), (-3.0, 3.0), "inputs kept KINK_MARGIN x scale from the kink"),
               cases=(
                   C("Relu-2d", "Relu", shape=(6, 7)),
                   C("Relu-4d", "Relu", shape=(2, 3, 4, 5)),
                   # ReLU at exactly 0: the textbook's mask (x <= 0) and torch both pass no gradient there; a
                   # central difference would straddle the kink, so this case is judged by the twin alone
                   C("Relu-zeros", "Relu", shape=(6, 7), fd="none", zeros=True)),
               form=_form("Relu", "relu")))

register(Piece("Sigmoid", "layer", "class: forward(x); backward(dout) -> dx",
               spec=LayerSpec("Sigmoid", draw_elementwise(_normal(3.0)), sigmoid),
               magnitudes=Magnitudes((-3.0, 2.0), (-3.0, 2.0),
                                     "beyond 10^2, sigmoid'(x) ~ e^-|x| is smaller than a central difference "
                                     "whose step grows with |x| can resolve (at |x| ~ 345 the quotient is off "
                                     "by 4e-6 relative)"),
               cases=(
                   C("Sigmoid-2d", "Sigmoid", shape=(6, 7)),
                   C("Sigmoid-3d", "Sigmoid", shape=(3, 4, 5))),
               form=_form("Sigmoid", "sigmoid")))

register(Piece("Tanh", "layer", "class: forward(x); backward(dout) -> dx",
               spec=LayerSpec("Tanh", draw_elementwise(_normal(2.0)), tanh),
               magnitudes=Magnitudes((-3.0, 1.0), (-3.0, 3.0),
                                     "float64 stops at 10^1: dx = dout (1 - y^2) from the kept output keeps only "
                                     "ulp(1) / (1 - y^2) of relative precision, and NumPy's and torch's tanh round a "
                                     "fifth of all inputs one ulp apart; once every input of a tensor is past |x| ~ 7.6 "
                                     "(1 - y^2 < 1e-6: likelier the fewer and larger the inputs) the two derivatives "
                                     "part by more than rtol 1e-10 (measured: 3 of 1,500 drawn cases at 10^2, none of "
                                     "1,500 at 10^1.5); float32's absolute 1e-5 absorbs it (none of 300 at 10^3); tests/test_deviations.py "
                                     "predicts the difference from the one ulp"),
               cases=(
                   C("Tanh-2d", "Tanh", shape=(6, 7)),
                   C("Tanh-3d", "Tanh", shape=(3, 4, 5)))))
