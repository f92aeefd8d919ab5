"""The registry: one record per piece the harness knows, and everything it knows about it.

OpInfo is the model.  A Piece states its protocol name and what is expected of it, how it is
checked (its spec: how inputs are drawn from a seeded generator, how the implementation and its
PyTorch twin are called, what finite differences differentiate), its case rows, the magnitudes
it is tested at under drawn shapes and why they stop there, its finite-difference mode, and its
documented differences from torch, each naming the test that predicts its size.  An optimizer
also states its textbook hyper-parameters, its twin and the rule written out; a network, how
the harness builds it small.

The case table, the suite's parametrization, the command line's filters, the trace, golden
recording and the zoo's blame all read this table; adding a piece is one register() call
(README: "Your own pieces").  Importing it does not import torch: twins are callables that
import torch when they first run (reference.base.lazy_torch).
"""

import importlib
import importlib.util
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import replace as with_fields
from pathlib import Path
from typing import Callable

import numpy as np

from reference.pieces import twins
from reference.base.cases import LayerCase
from reference.report.deviations import EPSILON_FREE_LOSS, LOG_EPSILON, OPTIMIZER_EPSILON, Deviation
from reference.pieces.convolution import Col2imSpec, Im2colSpec, draw_convolution, draw_pooling
from reference.pieces.models import ModelSpec, draw_ratings, draw_regression
from reference.run.case import (BatchNormSpec, BinarySpec, CrossEntropySpec, DropoutSpec, FunctionSpec, LayerSpec, NumericalGradientSpec, SoftmaxWithLossSpec, SvmLossSpec, draw_affine, draw_elementwise)

KINDS = ("layer", "function", "loss", "optimizer", "network", "model")


@dataclass(frozen=True)
class Magnitudes:
    """Input scales drawn for random shapes, as powers of ten per dtype, and why they stop there."""

    float64: tuple
    float32: tuple
    why: str = ""

    def range(self, dtype):
        return getattr(self, str(np.dtype(dtype)))


@dataclass(frozen=True)
class Optimizer:
    """What an optimizer piece adds: the textbook's hyper-parameters and the oracles of its rule.

    twin(params, **hyper): a torch.optim optimizer computing the textbook's rule; written_out:
    the rule in torch operations (a second, independent reading); torch_default_eps: torch.optim's
    own default epsilon where it differs from the textbook's (its difference is predicted by a test).
    """

    hyper: dict
    twin: Callable
    written_out: Callable = None
    torch_default_eps: float = None


@dataclass(frozen=True)
class Network:
    """What a network piece adds: build(impl, input_size, dtype) makes the implementation's network small."""

    build: Callable
    classes: int = 10
    init_schemes: tuple = ()  # weight_init_std values whose standard deviations are checked statistically
    prepare: Callable = None  # prepare(network, seed): the harness's own parameters, drawn in place before a trace
    input_shape: tuple = None  # one sample's shape where the first layer does not say it (a convolution's (C, H, W))


@dataclass(frozen=True)
class Piece:
    name: str  # the protocol name: what the implementation calls it
    kind: str  # layer, function, loss, optimizer or network
    expects: str  # what is expected of it, shown when it is missing
    spec: object = None  # layer_checks.Spec: inputs, the implementation's calls, the twin, finite differences
    cases: tuple = ()  # LayerCase rows
    magnitudes: Magnitudes = None  # drawn shapes (tests/test_properties.py, check --drawn)
    deviations: tuple = ()  # Deviation records: where the textbook differs from torch on purpose
    optimizer: Optimizer = None
    network: Network = None
    user: bool = False  # registered from outside the repository
    source: str = ""  # the --pieces module that registered it: reproduce lines carry it

    @property
    def twin(self):
        """The PyTorch twin, a callable (None for a piece checked against finite differences alone)."""
        if self.optimizer is not None:
            return self.optimizer.twin
        return getattr(self.spec, "twin", None)

    @property
    def fd(self):
        """The finite-difference mode of its checks: "full" (every element, float64; "sampled" elements on a large
        case, in full where one disagrees), "none" (no gradient to check), or "is itself one" (numerical_gradient: the twin's check uses the difference quotient's
        tolerance)."""
        if self.spec is None or not self.spec.fd_tensors:
            return "is itself one" if self.name == "numerical_gradient" else "none"
        if any(c.fd == "sampled" for c in self.cases):
            return "full; sampled on the large cases"
        return "full"


REGISTRY = {}


class RegistryError(ValueError):
    """A piece that cannot be registered as given; the message says what is wrong."""


def register(piece, replace=False):
    """Add a piece to the registry (replace=True to swap one of the same name); returns it."""
    if piece.kind not in KINDS:
        raise RegistryError(f"{piece.name}: kind {piece.kind!r} is not one of {', '.join(KINDS)}")
    if piece.name in REGISTRY and not replace:
        raise RegistryError(f"a piece named {piece.name!r} is registered already (replace=True swaps it)")
    if piece.kind in ("layer", "function", "loss", "model") and piece.spec is None:
        raise RegistryError(f"{piece.name}: a {piece.kind} needs a spec (layer_checks.LayerSpec for a layer)")
    taken = {c.id: p.name for p in REGISTRY.values() if p.name != piece.name for c in p.cases}
    for case in piece.cases:
        if case.layer != piece.name:
            raise RegistryError(f"case {case.id} checks {case.layer!r}, not the piece {piece.name!r} it is filed under")
        if case.id in taken:
            raise RegistryError(f"case id {case.id} is taken by {taken[case.id]}")
    if len({c.id for c in piece.cases}) != len(piece.cases):
        raise RegistryError(f"{piece.name}: two of its cases share an id")
    REGISTRY[piece.name] = piece
    return piece


def unregister(name):
    REGISTRY.pop(name, None)


@contextmanager
def registered(*pieces):
    """Register pieces for the duration of a block (a user's pytest fixture, a test)."""
    for p in pieces:
        register(p)
    try:
        yield pieces
    finally:
        for p in pieces:
            unregister(p.name)


def piece(name):
    try:
        return REGISTRY[name]
    except KeyError:
        raise RegistryError(f"no piece named {name!r} in the registry; known: {', '.join(REGISTRY)}") from None


def pieces(*kinds):
    """The registered pieces, in registration order, of the given kinds (all when none given)."""
    return [p for p in REGISTRY.values() if not kinds or p.kind in kinds]


def names(*kinds):
    return [p.name for p in pieces(*kinds)]


def cases():
    """Every case row of every piece: the case table."""
    return [case for p in REGISTRY.values() for case in p.cases]


def find_case(case_id):
    return next((c for c in cases() if c.id == case_id), None)


def case(case_id):
    found = find_case(case_id)
    if found is None:
        raise RegistryError(f"no case {case_id!r}; known: {', '.join(c.id for c in cases())}")
    return found


def expected(name):
    """What the protocol expects of `name`, for the message that says it is missing."""
    return REGISTRY[name].expects if name in REGISTRY else "protocol name"


def hyper(name):
    """The textbook's hyper-parameters of optimizer `name` (a copy)."""
    found = REGISTRY.get(name)
    if found is None or found.optimizer is None:
        raise ValueError(f"no such optimizer {name!r}; known: {', '.join(names('optimizer'))}")
    return dict(found.optimizer.hyper)


def deviations():
    """(piece name, Deviation) for every documented difference from torch."""
    return [(p.name, d) for p in REGISTRY.values() for d in p.deviations]


def by_class(class_name):
    """The layer or loss piece a network's layer of this class is (matched by class name), or None."""
    found = REGISTRY.get(class_name)
    return found if found is not None and found.kind in ("layer", "loss") else None


_LOADED = {}  # --pieces argument -> the names it registered


def load_pieces(spec):
    """Import a module of the user's that registers pieces (a dotted name or a .py file); returns the pieces
    it added."""
    done = _LOADED.get(spec)
    if done and all(n in REGISTRY for n in done):  # imported already in this process (a reproduce line, a test)
        return [REGISTRY[n] for n in done]
    before = set(REGISTRY)
    path = Path(spec)
    if spec.endswith(".py"):
        if not path.is_file():
            raise ValueError(f"--pieces {spec}: no such file")
        name = f"_bp_parity_pieces_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path.resolve())
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        if str(path.resolve().parent) not in sys.path:
            sys.path.insert(0, str(path.resolve().parent))
        module_spec.loader.exec_module(module)
    else:
        try:
            if spec in sys.modules:  # imported before, its pieces since removed: register them again
                importlib.reload(sys.modules[spec])
            else:
                importlib.import_module(spec)
        except ModuleNotFoundError as error:
            if error.name and spec.startswith(error.name):
                raise ValueError(f"--pieces {spec}: no module named {error.name!r} (a dotted name on sys.path or a "
                                 ".py file)") from None
            raise
    added = [REGISTRY[n] for n in REGISTRY if n not in before]
    for found in added:
        REGISTRY[found.name] = with_fields(found, source=spec)
    added = [REGISTRY[found.name] for found in added]
    _LOADED[spec] = [found.name for found in added]
    if not added:
        raise ValueError(f"--pieces {spec}: the module registered no piece (call reference.pieces.registry.register)")
    return added


# --- your own pieces ----------------------------------------------------------------------------

def layer(name, twin=None, *, params=(), shapes=((6, 7), (2, 3, 4)), draw=None, scale=1.0, kinks=(), expects="",
          magnitudes=None, dtypes=None):
    """A Piece for your own layer class `name` (looked up in the implementation under test by that name):
    `name(*params)` with forward(x) -> y and backward(dout) -> dx, keeping the gradient of each parameter p
    as the attribute d<p>.  Pass it to register().

    twin(x, *params) -> y computes the same in torch (autograd gives the backward); with twin=None the layer
    is checked against finite differences alone (its dx and d<p>, float64), and its forward by nothing.
    shapes: x's shapes, one case each (ids name-6x7, ...).  A layer without parameters draws x standard
    normal times `scale` (moved at least KINK_MARGIN away from every point in `kinks`, where the derivative
    jumps) and dout standard normal; a layer with parameters gives draw(case, rng) -> {"x", each parameter,
    "dout"} in float64.  magnitudes: Magnitudes for drawn shapes (check --drawn, the property tests).
    dtypes: both by default; float64 alone without a twin (finite differences judge float64 only).
    """
    dtypes = dtypes or (("float64", "float32") if twin is not None else ("float64",))
    if params and draw is None:
        raise RegistryError(f"{name}: a layer with parameters {params} needs draw(case, rng) -> {{'x', "
                            f"{', '.join(repr(p) for p in params)}, 'dout'}}")
    if draw is None:
        def draw_x(rng, shape):
            x = rng.normal(size=shape)
            for kink in kinks:
                from reference.run.case import KINK_MARGIN

                near = np.abs(x - kink) < KINK_MARGIN
                x = np.where(near, np.where(x >= kink, x + KINK_MARGIN, x - KINK_MARGIN), x)
            return x

        draw = draw_elementwise(draw_x)
    rows = tuple(LayerCase(f"{name}-{'x'.join(str(n) for n in shape)}", name, shape=tuple(shape), scale=scale,
                           dtypes=tuple(dtypes)) for shape in shapes)
    what = expects or (f"class {name}({', '.join(params)}): forward(x); backward(dout) -> dx"
                       + (f"; keeps {', '.join('d' + p for p in params)}" if params else ""))
    return Piece(name, "layer", what, spec=LayerSpec(name, draw, twin, params=params), cases=rows,
                 magnitudes=magnitudes, user=True)


# --- drawn shapes (Hypothesis in the suite, a seeded generator in `check --drawn`) --------------------

def drawn_case(piece_, dtype, integer, real, choice):
    """A LayerCase of random shape and magnitude for a piece with magnitudes: integer(lo, hi), real(lo, hi)
    and choice(options) draw its values (Hypothesis strategies in the suite, a generator in the CLI).
    Finite differences along one random direction, as gradcheck's fast mode."""
    batch, features = integer(1, 64), integer(1, 300)
    low, high = piece_.magnitudes.range(dtype)
    scale = 10 ** real(low, high)
    out, labels = 0, ""
    if isinstance(piece_.spec, SoftmaxWithLossSpec):
        shape, labels = (batch, max(features // 10, 1)), choice(["index", "onehot"])
    else:
        shape = (batch, features)
        if getattr(piece_.spec, "params", ()):
            out = integer(1, 64)
    return LayerCase(f"{piece_.name}-drawn", piece_.name, shape=shape, out=out, labels=labels, scale=scale,
                     fd="directional")


# --- the built-in pieces -------------------------------------------------------------------------

def _away_from_kink(rng, shape):
    """ReLU inputs at least KINK_MARGIN from 0: a central difference (step ~6e-6 |x|) never crosses it."""
    from reference.run.case import KINK_MARGIN

    x = rng.normal(size=shape)
    return np.where(x >= 0, x + KINK_MARGIN, x - KINK_MARGIN)


def _normal(scale):
    return lambda rng, shape: rng.normal(size=shape) * scale


def _affine_twin(x, W, b):
    return twins.affine(x, W, b)


_FLOAT32_PRODUCTS = ("float32 matrix products stop at 10^0: assert_close's absolute 1e-5 is about ten ulps of "
                     "unit-sized terms, and a sum of larger terms that cancels keeps their rounding (a dW of 1.4 "
                     "summed from terms of 30 was off by 2.3e-5)")

_LOSS_DEVIATIONS = (
    Deviation(
        piece="cross_entropy_error, SoftmaxWithLoss.forward",
        textbook=f"E = -(1/N) sum_n log(y[n, t_n] + {LOG_EPSILON:g})",
        torch_builtin="F.cross_entropy / F.nll_loss: -(1/N) sum_n log(y[n, t_n]), no epsilon",
        twin="the textbook's formula with the epsilon, in torch operations",
        consequence="the textbook's loss is lower by (1/N) sum_n log(1 + 1e-7 / y[n, t_n]), "
        "about 1e-7 / y_t: invisible at float32, far beyond the float64 twin tolerance",
        predicted_by="tests/test_deviations.py::test_textbook_cross_entropy_differs_from_torch_by_the_documented_"
        "epsilon_term",
    ),
)

_SOFTMAX_WITH_LOSS_DEVIATIONS = _LOSS_DEVIATIONS + (
    Deviation(
        piece="SoftmaxWithLoss.backward",
        textbook="dx = (softmax(x) - onehot(t)) / N, the derivative of the loss WITHOUT the epsilon",
        torch_builtin="autograd of F.cross_entropy: the same (y - onehot(t)) / N",
        twin="autograd of F.cross_entropy (the epsilon-free loss); finite differences differentiate the layer's "
        "own forward and multiply row n by q_n / y_t, q_n = exp(-L_n) read from the implementation's own loss "
        "on that row ((y_t + 1e-7) / y_t for the textbook's forward)",
        consequence="the backward is not the exact derivative of the forward: row n of the two differs by exactly "
        "the factor (y_t + 1e-7) / y_t, so comparing them unadjusted would report a false mismatch of about "
        "1e-7 / y_t (and where y_t falls far below 1e-7 the forward is flat and finite differences cannot see "
        "the derivative at all)",
        predicted_by="tests/test_deviations.py::test_softmax_with_loss_backward_is_the_epsilon_free_derivative",
    ),
    Deviation(
        piece="SoftmaxWithLoss.forward (another convention)",
        textbook="the loss with the epsilon",
        torch_builtin=EPSILON_FREE_LOSS,
        twin="both: the textbook's formula judges wherever it passes, else the epsilon-free one, and the report "
        "says which (compare.compare_conventions)",
        consequence="a correct log-softmax implementation passes, judged by the epsilon-free convention",
        predicted_by="tests/test_variants.py::test_an_epsilon_free_loss_is_judged_by_its_own_convention_and_says_so",
    ),
)


_BATCH_NORM_DEVIATIONS = (
    Deviation(
        piece="BatchNormalization.forward",
        textbook="xn = (x - mu) / sqrt(var + 1e-6), var the biased batch variance",
        torch_builtin="F.batch_norm / nn.BatchNorm1d: eps 1e-5 by default",
        twin="F.batch_norm(training=True, eps=1e-6): the textbook's epsilon",
        consequence="with torch's default eps the outputs differ by about (1e-5 - 1e-6) / (2 (var + eps)) of xn",
        predicted_by="tests/test_deviations.py::test_batch_norm_with_torchs_epsilon_differs_by_the_predicted_term",
    ),
    Deviation(
        piece="BatchNormalization running statistics",
        textbook="running = momentum running + (1 - momentum) batch, the biased variance; zero before the first "
        "forward",
        torch_builtin="F.batch_norm(training=True, momentum=m_t): running = (1 - m_t) running + m_t batch, the "
        "unbiased variance N/(N-1) var",
        twin="the textbook's rule written out (reference.pieces.twins.batch_norm_running)",
        consequence="with m_t = 1 - momentum the means agree and torch's running variance is larger by "
        "(1 - momentum) var / (N - 1)",
        predicted_by="tests/test_deviations.py::test_torch_running_statistics_differ_from_the_textbooks_by_the_"
        "predicted_terms",
    ),
)


def _optimizer_twin(name):
    def make(params, **hyper):
        from reference.pieces import optimizers as optimizer_twins

        return optimizer_twins.twin(name, params, **hyper)

    make.__name__ = f"{name}_twin"
    make.__doc__ = f"the twin of the textbook's {name} (reference.pieces.optimizers.twin)"
    return make


def _written_out(name):
    def make(params, **hyper):
        from reference.pieces import optimizers as optimizer_twins

        return optimizer_twins.WRITTEN_OUT[name](params, **hyper)

    make.__name__ = f"{name}_written_out"
    return make


def _build_multi_layer_net(name, **options):
    def build(impl, input_size, dtype):
        network_class = impl.require(name)
        try:
            return network_class(input_size, [20, 15, 12], 10, dtype=dtype, seed=0, **options)
        except TypeError:  # the textbook's signature: no dtype=, no seed= (float64, NumPy's global generator)
            return network_class(input_size, [20, 15, 12], 10, **options)

    return build


def _drawn_parameters(network, seed):
    """Every parameter drawn by the harness (stream "weights"), in place so the layers see them: W ~ N(0, 2 / fan_in),
    biases and betas ~ 0.1 N(0, 1), gammas ~ 1 + 0.1 N(0, 1).  Nonzero biases, so that a gradient or a decay that
    mistreats them shows."""
    from reference.base import streams

    rng = streams.rng(seed, "weights")
    for key, value in network.params.items():
        shape = np.shape(value)
        if key.startswith("W"):  # fan-in: rows of an Affine's (D, M); C FH FW of a filter bank (FN, C, FH, FW)
            fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
            drawn = rng.normal(size=shape) * np.sqrt(2.0 / fan_in)
        elif key.startswith("gamma"):
            drawn = 1 + 0.1 * rng.normal(size=shape)
        else:
            drawn = 0.1 * rng.normal(size=shape)
        value[...] = drawn


CONVNET_INPUT = (1, 12, 12)


def _build_simple_convnet(impl, input_size, dtype):
    """SimpleConvNet small: 4 filters of 3x3 padded by 1 on a 12x12 image (pooled to 6x6), 12 hidden units."""
    network_class = impl.require("SimpleConvNet")
    conv_param = {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1}
    try:
        return network_class(CONVNET_INPUT, conv_param, 12, 10, dtype=dtype, seed=0)
    except TypeError:  # the textbook's signature: float64, NumPy's global generator
        return network_class(CONVNET_INPUT, conv_param, 12, 10)


def _build_two_layer_net(impl, input_size, dtype):
    from reference.run.weights import make_impl_network

    return make_impl_network(impl, input_size, 50, 10, dtype)


_OPTIMIZER_DEVIATIONS = {
    "Momentum": Deviation(
        piece="Momentum",
        textbook="v <- momentum v - lr g;  p <- p + v",
        torch_builtin="torch.optim.SGD(momentum): b <- momentum b + g;  p <- p - lr b",
        twin="torch.optim.SGD with momentum (the same rule: v = -lr b while lr is constant)",
        consequence="none beyond rounding",
        predicted_by="tests/test_optimizers.py::test_the_rule_written_out_agrees_with_torch_optim_to_rounding",
    ),
    "Nesterov": Deviation(
        piece="Nesterov",
        textbook="p <- p + momentum^2 v - (1 + momentum) lr g (v from before the step);  v <- momentum v - lr g",
        torch_builtin="torch.optim.SGD(nesterov=True): b <- momentum b + g;  p <- p - lr (g + momentum b)",
        twin="torch.optim.SGD(nesterov=True) itself (v = -lr b makes the two one rule)",
        consequence="none beyond rounding. Updating v first and stepping with the new v, the textbook's code "
        "before its authors fixed it, is another rule: it parts from the built-in by ~5e-2 in 100 steps and is "
        "a mutant in the zoo",
        predicted_by="tests/test_optimizers.py::test_the_rule_written_out_agrees_with_torch_optim_to_rounding",
    ),
    "AdaGrad": Deviation(
        piece="AdaGrad",
        textbook=f"h <- h + g^2;  p <- p - lr g / (sqrt(h) + {OPTIMIZER_EPSILON:g})",
        torch_builtin="torch.optim.Adagrad: the same rule with eps 1e-10 by default",
        twin=f"torch.optim.Adagrad(eps={OPTIMIZER_EPSILON:g})",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-10)), "
        "predicted to rounding",
        predicted_by="tests/test_optimizers.py::test_the_difference_from_torch_optim_defaults_is_the_predicted_"
        "epsilon_term",
    ),
    "RMSprop": Deviation(
        piece="RMSprop",
        textbook=f"h <- decay h + (1 - decay) g^2;  p <- p - lr g / (sqrt(h) + {OPTIMIZER_EPSILON:g})",
        torch_builtin="torch.optim.RMSprop(alpha=decay): the same rule with eps 1e-8 by default",
        twin=f"torch.optim.RMSprop(alpha=decay_rate, eps={OPTIMIZER_EPSILON:g})",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-8)), "
        "predicted to rounding",
        predicted_by="tests/test_optimizers.py::test_the_difference_from_torch_optim_defaults_is_the_predicted_"
        "epsilon_term",
    ),
    "Adam": Deviation(
        piece="Adam",
        textbook="lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);  p <- p - lr_t m / (sqrt(v) + 1e-7)",
        torch_builtin="torch.optim.Adam: p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + 1e-8)",
        twin="the textbook's rule in torch operations (reference.pieces.optimizers.TextbookAdam)",
        consequence="the textbook's step is torch's with eps_torch = 1e-7 sqrt(1 - beta2^t): with both epsilons 0 "
        "the two agree to rounding, and with torch's defaults their difference is the predicted epsilon term "
        "summed over the steps",
        predicted_by="tests/test_optimizers.py::test_adam_written_out_equals_torch_adam_with_no_epsilon",
    ),
}

_OPTIMIZERS = (
    ("SGD", "class SGD(lr=0.01) with update(params, grads) in place", {"lr": 0.01}, None),
    ("Momentum", "class Momentum(lr=0.01, momentum=0.9) with update(params, grads) in place",
     {"lr": 0.01, "momentum": 0.9}, None),
    ("Nesterov", "class Nesterov(lr=0.01, momentum=0.9) with update(params, grads) in place",
     {"lr": 0.01, "momentum": 0.9}, None),
    ("AdaGrad", "class AdaGrad(lr=0.01) with update(params, grads) in place", {"lr": 0.01}, 1e-10),
    ("RMSprop", "class RMSprop(lr=0.01, decay_rate=0.99) with update(params, grads) in place",
     {"lr": 0.01, "decay_rate": 0.99}, 1e-8),
    ("Adam", "class Adam(lr=0.001, beta1=0.9, beta2=0.999) with update(params, grads) in place",
     {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}, 1e-8),
)


def _builtins():
    C = LayerCase
    unit = Magnitudes((-3.0, 3.0), (-3.0, 3.0), "elementwise products and sums: any scale")
    register(Piece("MulLayer", "layer", "class: forward(x, y) -> x*y; backward(dout) -> (dx, dy)",
                   spec=BinarySpec("MulLayer", twins.mul), magnitudes=unit, cases=(
                       C("MulLayer-scalar", "MulLayer"),
                       C("MulLayer-array", "MulLayer", shape=(4, 3)))))
    register(Piece("AddLayer", "layer", "class: forward(x, y) -> x+y; backward(dout) -> (dx, dy)",
                   spec=BinarySpec("AddLayer", twins.add), magnitudes=unit, cases=(
                       C("AddLayer-scalar", "AddLayer"),
                       C("AddLayer-array", "AddLayer", shape=(4, 3)))))
    register(Piece("Relu", "layer", "class: forward(x); backward(dout) -> dx",
                   spec=LayerSpec("Relu", draw_elementwise(_away_from_kink), twins.relu),
                   magnitudes=Magnitudes((-3.0, 3.0), (-3.0, 3.0), "inputs kept KINK_MARGIN x scale from the kink"),
                   cases=(
                       C("Relu-2d", "Relu", shape=(6, 7)),
                       C("Relu-4d", "Relu", shape=(2, 3, 4, 5)),
                       # ReLU at exactly 0: the textbook's mask (x <= 0) and torch both pass no gradient there; a
                       # central difference would straddle the kink, so this case is judged by the twin alone
                       C("Relu-zeros", "Relu", shape=(6, 7), fd="none", zeros=True))))
    register(Piece("Sigmoid", "layer", "class: forward(x); backward(dout) -> dx",
                   spec=LayerSpec("Sigmoid", draw_elementwise(_normal(3.0)), twins.sigmoid),
                   magnitudes=Magnitudes((-3.0, 2.0), (-3.0, 2.0),
                                         "beyond 10^2, sigmoid'(x) ~ e^-|x| is smaller than a central difference "
                                         "whose step grows with |x| can resolve (at |x| ~ 345 the quotient is off "
                                         "by 4e-6 relative)"),
                   cases=(
                       C("Sigmoid-2d", "Sigmoid", shape=(6, 7)),
                       C("Sigmoid-3d", "Sigmoid", shape=(3, 4, 5)))))
    register(Piece("Affine", "layer", "class Affine(W, b): forward(x); backward(dout) -> dx; keeps dW, db",
                   spec=LayerSpec("Affine", draw_affine, _affine_twin, params=("W", "b")),
                   magnitudes=Magnitudes((-3.0, 2.0), (-3.0, 0.0), _FLOAT32_PRODUCTS),
                   cases=(
                       C("Affine-2d", "Affine", shape=(8, 12), out=5),
                       C("Affine-4d", "Affine", shape=(5, 2, 3, 2), out=4),
                       C("Affine-square", "Affine", shape=(6, 6), out=6),
                       C("Affine-1sample", "Affine", shape=(1, 9), out=3),
                       C("Affine-1out", "Affine", shape=(7, 5), out=1))))  # one output unit: db sums a column
    register(Piece("SoftmaxWithLoss", "loss", "class: forward(x, t) -> loss; backward(dout=1) -> dx",
                   spec=SoftmaxWithLossSpec(twins.softmax_with_loss, twins.softmax_cross_entropy),
                   magnitudes=Magnitudes((-3.0, 0.5), (-3.0, 0.5),
                                         "with scores much wider, a true class can fall far below the textbook's "
                                         "1e-7, where its forward is flat and finite differences cannot see the "
                                         "derivative"),
                   deviations=_SOFTMAX_WITH_LOSS_DEVIATIONS,
                   cases=(
                       C("SoftmaxWithLoss-index", "SoftmaxWithLoss", shape=(8, 10), labels="index"),
                       C("SoftmaxWithLoss-onehot", "SoftmaxWithLoss", shape=(8, 10), labels="onehot"),
                       C("SoftmaxWithLoss-1sample", "SoftmaxWithLoss", shape=(10,), labels="index"),
                       # t of shape (C,)
                       C("SoftmaxWithLoss-1sample-onehot", "SoftmaxWithLoss", shape=(10,), labels="onehot"))))
    register(Piece("sigmoid", "function", "function sigmoid(x)",
                   spec=FunctionSpec("sigmoid", twins.sigmoid, 3.0), cases=(
                       C("sigmoid-fn", "sigmoid", shape=(5, 6)),)))
    register(Piece("softmax", "function", "function softmax(x), batched over the last axis",
                   spec=FunctionSpec("softmax", twins.softmax, 2.0), cases=(
                       C("softmax-1d", "softmax", shape=(10,)),
                       C("softmax-2d", "softmax", shape=(7, 10)),
                       # scores in the thousands: exp overflows unshifted
                       C("softmax-large", "softmax", shape=(4, 10), scale=500.0))))
    register(Piece("cross_entropy_error", "function", "function cross_entropy_error(y, t), t as indices or one-hot",
                   spec=CrossEntropySpec(twins.cross_entropy_error), deviations=_LOSS_DEVIATIONS, cases=(
                       C("cross_entropy_error-index", "cross_entropy_error", shape=(8, 10), labels="index"),
                       C("cross_entropy_error-onehot", "cross_entropy_error", shape=(8, 10), labels="onehot"),
                       C("cross_entropy_error-1sample", "cross_entropy_error", shape=(10,), labels="index"),
                       C("cross_entropy_error-1sample-onehot", "cross_entropy_error", shape=(10,),
                         labels="onehot"))))
    register(Piece("svm_loss", "loss", "function svm_loss(x, y) -> (loss, dx): the multiclass hinge loss, sum over "
                   "j != y of max(0, x_j - x_y + 1), averaged over the batch, and its gradient",
                   spec=SvmLossSpec(twins.svm_loss), cases=(
                       C("svm_loss-batch", "svm_loss", shape=(8, 10)),
                       C("svm_loss-1sample", "svm_loss", shape=(1, 6)),
                       C("svm_loss-2class", "svm_loss", shape=(7, 2)),
                       # scores far apart: most margins are 0 and their gradient too
                       C("svm_loss-wide", "svm_loss", shape=(6, 5), scale=4.0))))
    register(Piece("numerical_gradient", "function", "function numerical_gradient(f, x) by central differences",
                   spec=NumericalGradientSpec(), cases=(
                       C("numerical_gradient", "numerical_gradient", shape=(3, 4), dtypes=("float64",)),
                       C("numerical_gradient-1d", "numerical_gradient", shape=(6,), dtypes=("float64",)))))
    register(Piece("BatchNormalization", "layer",
                   "class BatchNormalization(gamma, beta, momentum=0.9, running_mean=None, running_var=None): "
                   "forward(x, train_flg=True); backward(dout) -> dx; keeps dgamma, dbeta, running_mean, running_var",
                   spec=BatchNormSpec("BatchNormalization", twins.batch_norm, twins.batch_norm_running),
                   deviations=_BATCH_NORM_DEVIATIONS,
                   cases=(
                       C("BatchNormalization-2d", "BatchNormalization", shape=(8, 6)),
                       C("BatchNormalization-4d", "BatchNormalization", shape=(5, 2, 3, 3)),  # per element of C*H*W
                       C("BatchNormalization-test", "BatchNormalization", shape=(8, 6), options=(("train", False),)),
                       C("BatchNormalization-test-4d", "BatchNormalization", shape=(4, 2, 2, 3),
                         options=(("train", False),)),
                       # the textbook's first forward: no running statistics handed in, they start at zero
                       C("BatchNormalization-zero-start", "BatchNormalization", shape=(6, 5),
                         options=(("start", "zero"),)),
                       C("BatchNormalization-3samples", "BatchNormalization", shape=(3, 7)),
                       C("BatchNormalization-1feature", "BatchNormalization", shape=(9, 1)))))
    register(Piece("Dropout", "layer", "class Dropout(dropout_ratio=0.5): forward(x, train_flg=True) with the mask "
                   "np.random.rand(*x.shape) > dropout_ratio; backward(dout) -> dx",
                   spec=DropoutSpec("Dropout", twins.dropout, twins.textbook_dropout_mask),
                   cases=(
                       C("Dropout-2d", "Dropout", shape=(8, 10)),
                       C("Dropout-4d", "Dropout", shape=(3, 2, 4, 4), options=(("ratio", 0.3),)),
                       C("Dropout-ratio0.8", "Dropout", shape=(6, 9), options=(("ratio", 0.8),)),
                       C("Dropout-test", "Dropout", shape=(8, 10), options=(("ratio", 0.2), ("train", False))))))
    register(Piece("im2col", "function", "function im2col(input_data, filter_h, filter_w, stride=1, pad=0) -> col "
                   "(N out_h out_w, C filter_h filter_w): one row per window, zero padding",
                   spec=Im2colSpec(twins.im2col), cases=(
                       # stride 1 under a 3x3 filter: windows overlap; odd, non-square image
                       C("im2col-overlap", "im2col", shape=(2, 3, 5, 6), options=(("filter", (3, 3)),)),
                       C("im2col-stride2-pad1", "im2col", shape=(2, 2, 7, 6),
                         options=(("filter", (3, 2)), ("stride", 2), ("pad", 1))),
                       C("im2col-disjoint", "im2col", shape=(1, 2, 6, 6), options=(("filter", (2, 2)), ("stride", 2))),
                       C("im2col-1x1", "im2col", shape=(2, 3, 4, 4), options=(("filter", (1, 1)),)))))
    register(Piece("col2im", "function", "function col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0) -> "
                   "an image: im2col's adjoint, entries of overlapping windows added, the padding's dropped",
                   spec=Col2imSpec(twins.col2im), cases=(
                       # the overlapping cases are the ones where assigning instead of adding shows
                       C("col2im-overlap", "col2im", shape=(2, 3, 5, 6), options=(("filter", (3, 3)),)),
                       C("col2im-stride2-pad1", "col2im", shape=(2, 2, 7, 6),
                         options=(("filter", (3, 2)), ("stride", 2), ("pad", 1))),
                       C("col2im-disjoint", "col2im", shape=(1, 2, 6, 6), options=(("filter", (2, 2)), ("stride", 2))),
                       C("col2im-1x1", "col2im", shape=(2, 3, 4, 4), options=(("filter", (1, 1)),)))))
    register(Piece("Convolution", "layer", "class Convolution(W, b, stride=1, pad=0): W (FN, C, FH, FW); forward(x) "
                   "(N, C, H, W) -> (N, FN, out_h, out_w); backward(dout) -> dx; keeps dW, db",
                   spec=LayerSpec("Convolution", draw_convolution, twins.convolution, params=("W", "b"),
                                  settings=("stride", "pad")),
                   cases=(
                       C("Convolution-overlap", "Convolution", shape=(2, 3, 6, 5), out=4,
                         options=(("filter", (3, 3)),)),
                       C("Convolution-stride2-pad1", "Convolution", shape=(2, 2, 7, 6), out=3,
                         options=(("filter", (3, 3)), ("stride", 2), ("pad", 1))),
                       # (8 - 2) / 3 and (7 - 2) / 3: the floor takes 3 and 2 windows, the last rows left over
                       C("Convolution-stride3", "Convolution", shape=(2, 2, 8, 7), out=3,
                         options=(("filter", (2, 2)), ("stride", 3))),
                       C("Convolution-1channel-pad2", "Convolution", shape=(3, 1, 6, 6), out=2,
                         options=(("filter", (5, 5)), ("pad", 2))),
                       C("Convolution-1sample", "Convolution", shape=(1, 3, 5, 7), out=2,
                         options=(("filter", (2, 3)),)),
                       C("Convolution-1x1", "Convolution", shape=(2, 4, 5, 5), out=3, options=(("filter", (1, 1)),)),
                       # a filter as large as the image: one output position, every weight meets every pixel once
                       C("Convolution-whole", "Convolution", shape=(2, 2, 4, 5), out=3, options=(("filter", (4, 5)),)),
                       # MNIST-sized: finite differences on 16 drawn elements per tensor, in full where one disagrees.
                       # float64 only: dW and db sum 2 x 24 x 24 = 1,152 products, which float32 rounds to ~1e-5
                       # relative in impl and torch alike (measured: 4.3e-5 on a dW of 4.2), beyond assert_close's
                       # defaults, whose premise is a few unit-sized terms; the small cases hold float32 to them
                       C("Convolution-mnist", "Convolution", shape=(2, 1, 28, 28), out=6,
                         options=(("filter", (5, 5)),), fd="sampled", dtypes=("float64",)))))
    register(Piece("Pooling", "layer", "class Pooling(pool_h, pool_w, stride=2, pad=0): max pooling; forward(x) "
                   "(N, C, H, W) -> (N, C, out_h, out_w); backward(dout) -> dx routed to each window's maximum (ties: "
                   "the first in row-major order; padding never wins)",
                   spec=LayerSpec("Pooling", draw_pooling, twins.max_pooling,
                                  settings=("pool_h", "pool_w", "stride", "pad")),
                   cases=(
                       C("Pooling-2x2", "Pooling", shape=(2, 3, 6, 8), options=(("pool", (2, 2)), ("stride", 2))),
                       C("Pooling-overlap", "Pooling", shape=(2, 2, 7, 6), options=(("pool", (3, 3)), ("stride", 1))),
                       C("Pooling-pad1", "Pooling", shape=(2, 2, 7, 7),
                         options=(("pool", (3, 3)), ("stride", 2), ("pad", 1))),
                       # odd sizes under a 2x3 window and stride 2: the floor drops the last row and column
                       C("Pooling-odd", "Pooling", shape=(1, 3, 7, 6), options=(("pool", (2, 3)), ("stride", 2))),
                       C("Pooling-1channel", "Pooling", shape=(3, 1, 5, 5), options=(("pool", (2, 2)), ("stride", 1))),
                       # ties: which maximum gets the gradient is a convention (see the record); twin only
                       C("Pooling-ties", "Pooling", shape=(2, 2, 6, 6), fd="none",
                         options=(("pool", (2, 2)), ("stride", 2), ("ties", True))),
                       C("Pooling-ties-overlap", "Pooling", shape=(2, 2, 5, 5), fd="none",
                         options=(("pool", (3, 3)), ("stride", 1), ("ties", True))))))
    register(Piece("LinearRegression", "model", "class LinearRegression(w, b, l2=0.0): loss(X, y) = (1/2n) ||X w + "
                   "b - y||^2 + (l2/2) ||w||^2; gradient(X, y) -> {'w', 'b'}",
                   spec=ModelSpec("LinearRegression", draw_regression, twins.linear_regression_loss),
                   cases=(
                       C("LinearRegression-plain", "LinearRegression", shape=(20, 6)),
                       C("LinearRegression-ridge", "LinearRegression", shape=(20, 6), options=(("l2", 0.3),)),
                       C("LinearRegression-1row", "LinearRegression", shape=(1, 5), options=(("l2", 0.1),)),
                       C("LinearRegression-1feature", "LinearRegression", shape=(15, 1)),
                       # more features than rows: the data term alone has a flat direction, the ridge term not
                       C("LinearRegression-wide", "LinearRegression", shape=(4, 9), options=(("l2", 0.05),)))))
    register(Piece("PMF", "model", "class PMF(U, V, lam_u=0.0, lam_v=0.0, bu=None, bi=None, lam_b=0.0, mean=0.0): "
                   "loss(X, y) = (1/2) sum (r - mean - bu[user] - bi[item] - U[user] . V[item])^2 + (lam_u/2) ||U||^2 "
                   "+ (lam_v/2) ||V||^2 + (lam_b/2) (||bu||^2 + ||bi||^2) over rated (user, item) rows of X; "
                   "gradient(X, y) -> {'U', 'V'} (and 'bu', 'bi' when biased)",
                   spec=ModelSpec("PMF", draw_ratings, twins.pmf_loss, params=("U", "V", "bu", "bi"),
                                  settings=("lam_u", "lam_v", "lam_b", "mean"), optional=("bu", "bi"),
                                  optional_option="biased", by_name=True),
                   cases=(
                       C("PMF-sparse", "PMF", shape=(7, 6, 3)),  # a third of the pairs: users and items rated often
                       C("PMF-dense", "PMF", shape=(4, 5, 2), options=(("ratings", 20),)),
                       C("PMF-1factor", "PMF", shape=(5, 4, 1), options=(("ratings", 9),)),
                       C("PMF-no-prior", "PMF", shape=(6, 6, 3), options=(("lam", 0.0),)),
                       C("PMF-1rating", "PMF", shape=(3, 3, 2), options=(("ratings", 1),)),
                       C("PMF-biased", "PMF", shape=(7, 6, 3), options=(("biased", True),)),
                       C("PMF-biased-dense", "PMF", shape=(4, 5, 2), options=(("ratings", 20), ("biased", True))))))
    register(Piece("TwoLayerNet", "network",
                   "class TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01) with params, "
                   "layers, lastLayer, predict, loss, accuracy, gradient, numerical_gradient",
                   network=Network(build=_build_two_layer_net)))
    register(Piece("MultiLayerNet", "network",
                   "class MultiLayerNet(input_size, hidden_size_list, output_size, activation='relu', "
                   "weight_init_std='relu', weight_decay_lambda=0) with params W1..Wn b1..bn, layers, last_layer, "
                   "predict, loss (plus 0.5 lambda sum W^2), accuracy, gradient, numerical_gradient",
                   network=Network(build=_build_multi_layer_net("MultiLayerNet", activation="sigmoid",
                                                                weight_init_std="xavier", weight_decay_lambda=0.1),
                                   init_schemes=("relu", "he", "sigmoid", "xavier", 0.05), prepare=_drawn_parameters)))
    register(Piece("MultiLayerNetExtend", "network",
                   "class MultiLayerNetExtend(..., use_dropout=False, dropout_ration=0.5, use_batchnorm=False): "
                   "MultiLayerNet with BatchNorm{n} (gamma{n}, beta{n}) and Dropout{n} per hidden layer",
                   network=Network(build=_build_multi_layer_net("MultiLayerNetExtend", weight_decay_lambda=0.05,
                                                                use_dropout=True, dropout_ration=0.2,
                                                                use_batchnorm=True),
                                   init_schemes=("he", "xavier"), prepare=_drawn_parameters)))
    register(Piece("SimpleConvNet", "network",
                   "class SimpleConvNet(input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, "
                   "'pad': 0, 'stride': 1}, hidden_size=100, output_size=10, weight_init_std=0.01): Conv1 Relu1 Pool1 "
                   "Affine1 Relu2 Affine2, last_layer; params W1 b1 W2 b2 W3 b3",
                   network=Network(build=_build_simple_convnet, input_shape=CONVNET_INPUT,
                                   prepare=_drawn_parameters)))
    for name, expects, hyper, torch_eps in _OPTIMIZERS:
        register(Piece(name, "optimizer", expects, deviations=(_OPTIMIZER_DEVIATIONS[name],)
                       if name in _OPTIMIZER_DEVIATIONS else (),
                       optimizer=Optimizer(hyper=hyper, twin=_optimizer_twin(name),
                                           written_out=_written_out(name) if name != "SGD" else None,
                                           torch_default_eps=torch_eps)))


_builtins()
BUILTIN = tuple(REGISTRY)
