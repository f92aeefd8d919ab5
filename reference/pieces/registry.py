"""The registry: one record per piece the harness knows, and everything it knows about it.

OpInfo is the model.  A Piece states its protocol name and what is expected of it, how it is
checked (its spec: how inputs are drawn from a seeded generator, how the implementation and its
PyTorch twin are called, what finite differences differentiate), its case rows, the magnitudes
it is tested at under drawn shapes and why they stop there, its finite-difference mode, and its
documented differences from torch, each naming the test that predicts its size.  An optimizer
also states its textbook hyper-parameters, its twin and the rule written out; a network, how
the harness builds it small.

The built-in records live in their families' modules (reference.pieces.elementwise, affine, ...), each
registered when the package is imported.  The plan (reference.plan.checks), the command line's filters, the trace,
golden recording and the zoo's blame all read this table; a piece of your own is one register() call
(docs/your-code.md: "Your own pieces").  Importing it does not import torch: twins are callables that
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

from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.vocabulary import Vocabulary
from bp_parity.reference.pieces.spec import draw_elementwise, KINK_MARGIN, LayerSpec

class Kind(Vocabulary):
    """What a piece is: the closed vocabulary of Piece.kind."""

    LAYER = "layer"  # a class with forward and backward (Affine, Relu, BatchNormalization ...)
    FUNCTION = "function"  # a function (softmax, numerical_gradient ...)
    LOSS = "loss"  # a loss layer or function (SoftmaxWithLoss, svm_loss)
    MODEL = "model"  # a model with its own loss (LinearRegression, PMF)
    OPTIMIZER = "optimizer"  # update(params, grads)
    NETWORK = "network"  # a network class (TwoLayerNet ...)
    ROUTINE = "routine"  # a function that prepares data for a model or trains one (prepare_housing, pmf_gd, sgd ...)

    @property
    def has_cases(self):
        """Whether its pieces are checked case by case through a spec (an optimizer, a network or a routine is not)."""
        return self not in (Kind.OPTIMIZER, Kind.NETWORK, Kind.ROUTINE)


KINDS = tuple(kind.value for kind in Kind)


@dataclass(frozen=True)
class Magnitudes:
    """Input scales drawn for random shapes, as powers of ten per dtype, and why they stop there."""

    float64: tuple
    float32: tuple
    why: str = ""

    def range(self, dtype):
        return getattr(self, str(np.dtype(dtype)))


@dataclass(frozen=True)
class Form:
    """A piece's functional form, the CS231n style (reference.pieces.functional): the functions that make it (all of
    them needed) and adapter(module) -> a class of the textbook's protocol that calls them; takes: how many positional
    arguments the first function must accept to be the form (an update rule's (w, dw, config): 3; 0: no test)."""

    functions: tuple
    adapter: Callable
    takes: int = 0


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
    # init_build(impl, scheme, dtype) -> the implementation's network made large enough to measure a standard
    # deviation, with weight_init_std=scheme (reference.run.network_checks.check_init); None: the initial weights of
    # the network are not checked
    init_build: Callable = None
    # the pieces of network.layers in order, as build() makes it (an activation as its option names it), and then
    # the loss: the textbook's architecture for the class, which reference.run.structure holds the network's own
    # layers to (kinds, order, one instance per position); () where the record's architecture says it
    layout: tuple = ()
    prepare: Callable = None  # prepare(network, seed): the harness's own parameters, drawn in place before a trace
    input_shape: tuple = None  # one sample's shape where the first layer does not say it (a convolution's (C, H, W))
    # the twin (reference.run.network.NetworkTwin): where the protocol fixes the layers, they are data here, as
    # (piece, parameter keys...), and the twin is built from them, never from the network's own layers (a network
    # that builds the wrong layer would be mirrored); else the twin is composed from the network's layers
    architecture: tuple = ()
    loss: str = "SoftmaxWithLoss"  # the loss piece of an architecture
    # the activations with which the trace also builds the architecture from the implementation's own layer classes
    # (Affine, activation, Affine, the loss), so that every layer class the protocol names is traced in a network
    composed_with: tuple = ()
    # side-by-side training (reference.run.training_parity; its claim: reference.report.tolerance.TRAINING_CLAIMS):
    # trained(impl, dtype, seed, **options) -> the implementation's network at the weights training starts from;
    # None where the network is not trained side by side
    trained: Callable = None
    lr: float = 0.1  # the learning rate of its plain SGD run
    trained_shape: tuple = None  # one MNIST sample's shape for it where not the flat 784 (a convolution's (1, 28, 28))
    # other sizes the trace builds it at, each traced as the first: (label, build) pairs, build as above; the sizes
    # the textbook's own calls never reach (an odd convolution output) are where sizing arithmetic breaks
    also_built: tuple = ()
    # the options build(impl, input_size, dtype, **options) takes to make the network whose numerical_gradient is
    # checked against its twin (reference.run.network_checks.check_numerical_gradient), as (name, value) pairs;
    # () where it is not checked
    numerical_options: tuple = ()
    # where no option makes the network smooth (SimpleConvNet: ReLU and max pooling), numerical_build(impl, dtype)
    # makes it small instead, and its inputs, one sample of shape numerical_input, are drawn with every ReLU input and
    # every pooling window's lead at least KINK_FREE_MARGIN from a kink, so no difference quotient straddles one
    numerical_build: Callable = None
    numerical_input: tuple = None


@dataclass(frozen=True)
class Routine:
    """What a routine piece adds: the check that runs it, as "module:function" of bp_parity.reference.run (the floor
    that runs implementation code, above this one), called as function(impl, dtype, seed, reproduce) -> [results];
    the dtypes it is run in; and the model piece it steps with, if any: where that model fails its own checks, the
    routine's failures follow from it (check's row says `inherited from` the model; the zoo does not run it)."""

    check: str
    tensors: tuple  # the names its results carry, for check --tensor
    dtypes: tuple = ("float64",)
    steps: str = ""


@dataclass(frozen=True)
class Piece:
    name: str  # the protocol name: what the implementation calls it
    kind: Kind  # layer, function, loss, model, optimizer, network or routine (a word given is made the member)
    expects: str  # what is expected of it, shown when it is missing
    spec: object = None  # spec.Spec: inputs, the implementation's calls, the twin, finite differences
    cases: tuple = ()  # LayerCase rows
    magnitudes: Magnitudes = None  # drawn shapes (tests/test_properties.py, check --drawn)
    deviations: tuple = ()  # Deviation records: where the textbook differs from torch on purpose
    optimizer: Optimizer = None
    network: Network = None
    routine: Routine = None
    form: Form = None  # its CS231n-style functional form, where it has one
    user: bool = False  # registered from outside the repository
    source: str = ""  # the --pieces module that registered it: reproduce lines carry it

    def __post_init__(self):
        try:  # a word of Kind as given becomes the member; one outside it is refused by register()
            object.__setattr__(self, "kind", Kind(self.kind))
        except ValueError:
            pass

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
            return "is itself one" if getattr(self.spec, "differences_itself", False) else "none"
        if any(c.fd == "sampled" for c in self.cases):
            return "full; sampled on the large cases"
        return "full"


REGISTRY = {}


class RegistryError(ValueError):
    """A piece that cannot be registered as given; the message says what is wrong."""


def register(piece, replace=False):
    """Add a piece to the registry (replace=True to swap one of the same name); returns it."""
    if not isinstance(piece.kind, Kind):
        raise RegistryError(f"{piece.name}: kind {piece.kind!r} is not one of {', '.join(KINDS)}")
    if piece.name in REGISTRY and not replace:
        raise RegistryError(f"a piece named {piece.name!r} is registered already (replace=True swaps it)")
    if piece.kind.has_cases and piece.spec is None:
        raise RegistryError(f"{piece.name}: a {piece.kind} needs a spec (spec.LayerSpec for a layer)")
    if piece.kind == Kind.NETWORK and piece.network is None:
        raise RegistryError(f"{piece.name}: a network needs its Network record (how the harness builds it)")
    if piece.kind == Kind.ROUTINE and piece.routine is None:
        raise RegistryError(f"{piece.name}: a routine needs its Routine record (the check that runs it)")
    if piece.kind == Kind.OPTIMIZER and piece.optimizer is None:
        raise RegistryError(f"{piece.name}: an optimizer needs its Optimizer record (hyper-parameters, twin)")
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


def spec_of(name):
    """The check spec of piece `name` (how its inputs are drawn and its calls made: reference.pieces.spec)."""
    return piece(name).spec


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
    return found if found is not None and found.kind in (Kind.LAYER, Kind.LOSS) else None


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
    if getattr(piece_.spec, "drawn_with_labels", False):
        shape, labels = (batch, max(features // 10, 1)), choice(["index", "onehot"])
    else:
        shape = (batch, features)
        if getattr(piece_.spec, "params", ()):
            out = integer(1, 64)
    return LayerCase(f"{piece_.name}-drawn", piece_.name, shape=shape, out=out, labels=labels, scale=scale,
                     fd="directional")


# --- the built-in pieces -------------------------------------------------------------------------
































