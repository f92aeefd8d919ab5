"""Run one case of the layer table on an implementation and on its oracles.

For a case, a dtype and a seed, run_case draws the inputs, runs the
implementation's forward and backward, runs the PyTorch twin on copies of the
same inputs, differentiates the implementation's own forward by central
differences (float64), checks that no argument was written into, and returns
one Comparison per tensor and oracle.

Each protocol piece has a spec below: how its inputs are drawn, how the
implementation and the twin are called, and what finite differences
differentiate.  Inputs are drawn in float64 and then cast, so the float32 run
sees the float64 run's values rounded.
"""

import shlex
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reference.report import deviations, tolerance
from reference.run import finite_diff
from reference.base import streams
from reference.report.compare import Context, NotRun, compare, compare_conventions  # noqa: F401 - NotRun re-exported
from reference.base.limits import CheckTimeout, calling, note
from reference.pieces.protocol import MissingProtocol, shell_argument, takes

# ReLU inputs are kept at least this far from the kink at 0: the finite
# difference step (~6e-6 |x|) then never crosses it.
KINK_MARGIN = 0.1


def _given(value):
    """What the implementation receives: 0-d arrays as NumPy scalars, like the textbook's numbers."""
    return value[()] if isinstance(value, np.ndarray) and value.ndim == 0 else value


def _tensor(value, grad=False):
    import torch

    tensor = torch.from_numpy(np.array(value, copy=True))
    return tensor.requires_grad_(True) if grad else tensor


def _numpy(tensor):
    return tensor.detach().numpy()


def _away_from_kink(x):
    return np.where(x >= 0, x + KINK_MARGIN, x - KINK_MARGIN)


def _labels(rng, n, classes, form, batched):
    index = rng.integers(0, classes, size=n)
    if form == "onehot":
        onehot = np.eye(classes)[index]
        return index, onehot if batched else onehot[0]
    return index, index if batched else index[0]


class NotInForm(Exception):
    """Raised by an adapter (reference.pieces.functional) for a call its form does not have (a CS231n-style batch norm has
    no backward after a test-mode forward): the checks that need it are SKIPPED, neither passed nor failed."""


class ImplRaised(Exception):
    """The implementation raised during one phase of a check (construction, forward, backward, call).

    outputs: what the earlier phases produced, still compared; where: the implementation's own
    file:line (the innermost frame outside the harness), so the report points into its code.
    """

    def __init__(self, phase_name, error, outputs):
        super().__init__(f"{phase_name} raised {type(error).__name__}: {error}")
        self.phase, self.error, self.outputs = phase_name, error, outputs
        self.where = raised_where(error)

    def reason(self):
        return f"{self.phase} raised {type(self.error).__name__}: {self.error}" + (
            f"\n  at {self.where}" if self.where else "")


_HARNESS = str(Path(__file__).resolve().parents[1])  # reference/: every floor of the harness


def raised_where(error):
    """'file:line in function' of the innermost traceback frame outside reference/, or ''."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_HARNESS)]
    if not frames:
        return ""
    frame = frames[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"


@contextmanager
def phase(name, outputs):
    """Tag anything the implementation raises inside the block with the phase it raised in (and note the phase, so a
    worker that dies or hangs in it is reported there: reference.base.limits.note)."""
    note(name)
    try:
        yield
    except (CheckTimeout, ImplRaised):
        raise
    except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
        raise ImplRaised(name, error, outputs) from error


class Spec:
    """How one protocol piece is checked (subclasses fill this in)."""

    requires = ()  # protocol names the implementation must define
    fd_requires = ()  # further names that finite differences need
    tensors = ()  # compared with the twin
    fd_tensors = ()  # also compared with finite differences (float64)
    tolerance_kind = {}  # tensor -> "fd" where the twin check is itself a difference quotient
    # tensor -> ((key in run_twin's outputs, what it is), ...): other documented conventions the tensor may
    # follow instead (reference.report.deviations); judged by the textbook's formula wherever that passes, else by
    # the first of these that does (compare.compare_conventions)
    conventions = {}

    stateful = False  # a layer instance with forward and backward: checked over a sequence of calls too
    # inputs that belong to the layer instance, not to one call: kept the same over a sequence of calls
    construction = ()

    def inputs(self, case, rng):
        raise NotImplementedError

    def run_impl(self, impl, inp):
        """{tensor: value} of one call; each phase that raises is reported as that phase (see phase())."""
        outputs = {}
        with phase("construction", outputs):
            layer = self.make(impl, inp)
        with phase("forward", outputs):
            outputs.update(self.forward(layer, inp))
        with phase("backward", outputs):
            outputs.update(self.backward(layer, inp))
        return outputs

    def make(self, impl, inp):
        """A fresh instance of the layer under test (stateful specs)."""
        raise NotImplementedError

    def for_impl(self, impl):
        """The spec this implementation's piece is checked by: itself, or a family's form where the piece's class
        says it follows one (reference.pieces.functional) and the spec has a twin of that form."""
        return self

    def forward(self, layer, inp):
        raise NotImplementedError

    def backward(self, layer, inp):
        raise NotImplementedError

    def run_twin(self, inp):
        raise NotImplementedError

    def fd_losses(self, impl, inp):
        """tensor -> (f, point): the tensor should equal df/dpoint of the scalar f."""
        raise NotImplementedError

    def fd_factor(self, tensor, inp, impl):
        """What the derivative of f is multiplied by to give the tensor (1: nothing)."""
        return 1.0

    def case_tensors(self, case):
        """The tensors compared with the twin for this case (a test-mode dropout has no mask)."""
        return self.tensors

    def case_fd_tensors(self, case):
        """The tensors compared with finite differences for this case (a model's optional parameters)."""
        return self.fd_tensors

    def carry(self, expected):
        """Inputs of the next call on the same instance that follow from this call's twin outputs (a layer's
        running statistics); nothing for a layer whose calls are independent."""
        return {}

    def trace_twin(self, layer, generator):
        """The twin of this layer inside a network's trace, as twin(x, *params): the piece's own twin, unless
        the layer's call depends on more (a dropout mask replayed from `generator`)."""
        return self.twin


class BinarySpec(Spec):
    """MulLayer / AddLayer: forward(x, y); backward(dout) -> (dx, dy)."""

    tensors = ("forward", "dx", "dy")
    fd_tensors = ("dx", "dy")
    stateful = True

    def __init__(self, name, twin):
        self.requires = (name,)
        self.name = name
        self.twin = twin  # torch (x, y) -> z

    def inputs(self, case, rng):
        return {k: rng.normal(size=case.shape) * case.scale for k in ("x", "y", "dout")}

    def make(self, impl, inp):
        return impl.require(self.name)()

    def forward(self, layer, inp):
        return {"forward": layer.forward(_given(inp["x"]), _given(inp["y"]))}

    def backward(self, layer, inp):
        dx, dy = layer.backward(_given(inp["dout"]))
        return {"dx": dx, "dy": dy}

    def run_twin(self, inp):
        x, y = _tensor(inp["x"], True), _tensor(inp["y"], True)
        z = self.twin(x, y)
        z.backward(_tensor(inp["dout"]))
        return {"forward": _numpy(z), "dx": _numpy(x.grad), "dy": _numpy(y.grad)}

    def fd_losses(self, impl, inp):
        layer_class = impl.require(self.name)
        x, y, dout = inp["x"], inp["y"], inp["dout"]

        def loss_x(xx):
            return np.sum(layer_class().forward(_given(xx), _given(y)) * dout)

        def loss_y(yy):
            return np.sum(layer_class().forward(_given(x), _given(yy)) * dout)

        return {"dx": (loss_x, x), "dy": (loss_y, y)}


class LayerSpec(Spec):
    """A layer class `name(*params)` with forward(x) -> y and backward(dout) -> dx that keeps the
    gradient of each parameter p as the attribute d<p> (the textbook's Affine keeps dW and db).

    draw(case, rng) -> {"x": ..., each parameter ..., "dout": ...} in float64 (the order it draws in
    is the order of the stream); twin(x, *params) -> y in torch, or None for a layer checked against
    finite differences alone.  Relu, Sigmoid and Affine are this spec; so is a user's own layer
    (reference.pieces.registry.register).
    """

    stateful = True

    def __init__(self, name, draw, twin, params=(), settings=()):
        self.name = name
        self.requires = (name,)
        self.draw = draw
        self.twin = twin
        self.params = tuple(params)
        # constructor arguments after the parameters that are no arrays to differentiate (a convolution's stride
        # and pad): drawn as 0-d integer inputs, handed to the constructor in this order, to the twin as keywords,
        # and read back from the layer's attributes of the same names inside a network's trace
        self.settings = tuple(settings)
        self.construction = self.params + self.settings
        grads = tuple(f"d{p}" for p in self.params)
        self.fd_tensors = ("dx",) + grads
        self.tensors = ("forward", "dx") + grads if twin is not None else ()

    def inputs(self, case, rng):
        inputs = self.draw(case, rng)
        if case.zeros:
            inputs["x"].flat[::3] = 0.0
        return inputs

    def _construct(self, layer_class, args):
        return layer_class(*(args[p] for p in self.params), *(int(args[s]) for s in self.settings))

    def _twin_settings(self, inp):
        return {s: int(inp[s]) for s in self.settings}

    def make(self, impl, inp):
        return self._construct(impl.require(self.name), inp)

    def forward(self, layer, inp):
        return {"forward": layer.forward(inp["x"])}

    def backward(self, layer, inp):
        outputs = {"dx": layer.backward(inp["dout"])}
        outputs.update({f"d{p}": getattr(layer, f"d{p}") for p in self.params})
        return outputs

    def run_twin(self, inp):
        x = _tensor(inp["x"], True)
        params = [_tensor(inp[p], True) for p in self.params]
        y = self.twin(x, *params, **self._twin_settings(inp))
        y.backward(_tensor(inp["dout"]))
        outputs = {"forward": _numpy(y), "dx": _numpy(x.grad)}
        outputs.update({f"d{p}": _numpy(t.grad) for p, t in zip(self.params, params)})
        return outputs

    def fd_losses(self, impl, inp):
        layer_class = impl.require(self.name)
        dout = inp["dout"]
        given = {k: inp[k] for k in ("x",) + self.params + self.settings}

        def loss_of(name):
            def f(value):
                args = dict(given, **{name: value})
                return np.sum(self._construct(layer_class, args).forward(args["x"]) * dout)
            return f

        losses = {"dx": (loss_of("x"), inp["x"])}
        losses.update({f"d{p}": (loss_of(p), inp[p]) for p in self.params})
        return losses

    def trace_twin(self, layer, generator):
        """In a network's trace: the twin with the layer's own settings (its stride and pad)."""
        if not self.settings:
            return self.twin
        settings = {s: int(getattr(layer, s)) for s in self.settings}
        return lambda x, *params: self.twin(x, *params, **settings)


def draw_elementwise(draw_x):
    """draw(case, rng) for a layer of one input and no parameters: x by draw_x(rng, shape) times the
    case's scale, then dout standard normal."""
    def draw(case, rng):
        return {"x": draw_x(rng, case.shape) * case.scale, "dout": rng.normal(size=case.shape)}
    return draw


def draw_affine(case, rng):
    """x standard normal (times the case's scale), W normal / sqrt(features), b normal * 0.5, dout (N, M)."""
    n, features = case.shape[0], int(np.prod(case.shape[1:]))
    return {
        "x": rng.normal(size=case.shape) * case.scale,
        "W": rng.normal(size=(features, case.out)) / np.sqrt(features),
        "b": rng.normal(size=case.out) * 0.5,
        "dout": rng.normal(size=(n, case.out)),
    }


# BatchNormalization's dx is summed from terms gamma / std * dout, so a feature whose samples nearly coincide
# amplifies rounding without bound, correct code included (float32 parted by 1.2e-5 at a batch std of 0.1).  Each
# feature's batch standard deviation is set to U(1, 2) times the case's scale, which keeps the terms unit-sized (the
# float32 tolerance's premise).  With two samples xn is +-1 to within 1e-6 and a correct dx is zero up to rounding,
# so the smallest batch checked is three.
STD_RANGE = (1.0, 2.0)


class BatchNormSpec(Spec):
    """BatchNormalization(gamma, beta, momentum, running_mean, running_var): forward(x, train_flg) and
    backward(dout) keeping dgamma, dbeta; the running statistics after the forward are compared too.

    The case's options: train (default True), momentum (default: drawn in 0.5..0.99), start ("drawn":
    running statistics handed to the constructor, or "zero": none, the textbook's first forward).
    dout is always drawn: with dout all ones a correct dx is identically zero, and a backward that drops
    the variance path would pass.  Finite differences evaluate a fresh layer, built with the same running
    statistics, at every point: the statistics the tested layer moves never move under the difference.
    """

    tensors = ("forward", "running_mean", "running_var", "dx", "dgamma", "dbeta")
    fd_tensors = ("dx", "dgamma", "dbeta")
    stateful = True
    params = ("gamma", "beta")

    def __init__(self, name, twin, running_twin):
        self.name = name
        self.requires = (name,)
        self.twin = twin
        self.running_twin = running_twin

    construction = ("gamma", "beta", "momentum", "running_mean", "running_var")

    @staticmethod
    def _drawn_start(case):
        return case.option("start", "drawn") == "drawn"

    def inputs(self, case, rng):
        features = int(np.prod(case.shape[1:]))
        x = rng.normal(size=case.shape) + rng.normal(size=case.shape[1:])
        if case.shape[0] > 1:  # each feature's batch std set to U(1, 2) times the scale (see STD_RANGE)
            rows = x.reshape(case.shape[0], -1)
            centred = rows - rows.mean(axis=0)
            spread = centred.std(axis=0)
            rows = rows.mean(axis=0) + centred / np.where(spread > 0, spread, 1.0) * rng.uniform(*STD_RANGE,
                                                                                                 size=features)
            x = rows.reshape(case.shape) * case.scale
        inputs = {"x": x, "gamma": rng.normal(size=features), "beta": rng.normal(size=features),
                  "momentum": np.asarray(case.option("momentum", rng.uniform(0.5, 0.99)))}
        running = (rng.normal(size=features), rng.uniform(0.5, 2.0, size=features))
        if self._drawn_start(case):
            inputs["running_mean"], inputs["running_var"] = running
        inputs["dout"] = rng.normal(size=case.shape)
        inputs["_train"] = np.asarray(bool(case.option("train", True)))
        return inputs

    def make(self, impl, inp):
        return impl.require(self.name)(inp["gamma"], inp["beta"], float(inp["momentum"]), inp.get("running_mean"),
                                       inp.get("running_var"))

    def forward(self, layer, inp):
        y = layer.forward(inp["x"], bool(inp["_train"]))
        return {"forward": y, "running_mean": layer.running_mean, "running_var": layer.running_var}

    def backward(self, layer, inp):
        return {"dx": layer.backward(inp["dout"]), "dgamma": layer.dgamma, "dbeta": layer.dbeta}

    def _running(self, inp):
        features = int(np.prod(inp["x"].shape[1:]))
        zero = np.zeros(features, dtype=inp["x"].dtype)
        return (_tensor(inp.get("running_mean", zero)), _tensor(inp.get("running_var", zero)))

    def run_twin(self, inp):
        import torch

        x, gamma, beta = (_tensor(inp[k], True) for k in ("x", "gamma", "beta"))
        mean, var = self._running(inp)
        train = bool(inp["_train"])
        y = self.twin(x, gamma, beta, mean, var, train)
        y.backward(_tensor(inp["dout"]))
        if train:
            with torch.no_grad():
                mean, var = self.running_twin(x, mean, var, float(inp["momentum"]))
        return {"forward": _numpy(y), "running_mean": _numpy(mean), "running_var": _numpy(var),
                "dx": _numpy(x.grad), "dgamma": _numpy(gamma.grad), "dbeta": _numpy(beta.grad)}

    def carry(self, expected):
        """The next call starts from the running statistics this one left."""
        return {"running_mean": expected["running_mean"], "running_var": expected["running_var"]}

    def fd_losses(self, impl, inp):
        layer_class = impl.require(self.name)
        train, dout = bool(inp["_train"]), inp["dout"]
        given = {k: inp[k] for k in ("x", "gamma", "beta")}

        def loss_of(name):
            def f(value):
                args = dict(given, **{name: value})
                fresh = layer_class(args["gamma"], args["beta"], float(inp["momentum"]),
                                    None if "running_mean" not in inp else inp["running_mean"].copy(),
                                    None if "running_var" not in inp else inp["running_var"].copy())
                return np.sum(fresh.forward(args["x"], train) * dout)
            return f

        return {"dx": (loss_of("x"), inp["x"]), "dgamma": (loss_of("gamma"), inp["gamma"]),
                "dbeta": (loss_of("beta"), inp["beta"])}

    def trace_twin(self, layer, generator):
        """In a network's trace: the training-mode forward with the layer's own gamma and beta."""
        return lambda x, gamma, beta: self.twin(x, gamma, beta, None, None, True)


class DropoutSpec(Spec):
    """Dropout(dropout_ratio): forward(x, train_flg), backward(dout).

    The mask is the textbook's: NumPy's global generator, rand(*x.shape) > ratio.  The harness puts the
    global generator in a state of its own before every forward (and gives it back afterwards), so the
    twin replays the same mask from the same state, and finite differences, which evaluate a fresh layer
    at every point, see one mask throughout, never a new draw.  The mask the implementation used is read
    from its output (x is never 0) and compared with the textbook's draw as the tensor "mask".
    Options: ratio (default 0.5), train (default True).

    A piece whose class has family "cs231n" (reference.pieces.functional's adapter of dropout_forward/dropout_backward)
    is checked against that family's form instead (for_impl): inverted dropout, the mask rand(*x.shape) < p drawn
    from the same state, kept units scaled by 1/p, p = 1 - ratio; x itself at test time.
    """

    family = None  # FamilyDropoutSpec names its family

    tensors = ("forward", "mask", "dx")
    fd_tensors = ("dx",)
    stateful = True
    params = ()
    construction = ("ratio",)

    def __init__(self, name, twin, mask_twin):
        self.name = name
        self.requires = (name,)
        self.twin = twin
        self.mask_twin = mask_twin

    def case_tensors(self, case):
        return self.tensors if case.option("train", True) else ("forward", "dx")

    def inputs(self, case, rng):
        return {"x": rng.normal(size=case.shape) * case.scale, "dout": rng.normal(size=case.shape),
                "ratio": np.asarray(case.option("ratio", 0.5)), "_train": np.asarray(bool(case.option("train", True))),
                "_seed": np.asarray(rng.integers(2**31))}

    def make(self, impl, inp):
        return impl.require(self.name)(float(inp["ratio"]))

    def for_impl(self, impl):
        if getattr(impl.require(self.name), "family", None) != "cs231n":
            return self
        from reference.pieces import twins

        return FamilyDropoutSpec(self.name, twins.inverted_dropout, twins.inverted_dropout_mask)

    def forward(self, layer, inp):
        train = bool(inp["_train"])
        with streams.GlobalGenerator(inp["_seed"]):
            y = layer.forward(inp["x"], train)
        outputs = {"forward": y}
        if train:
            outputs["mask"] = np.asarray(np.asarray(y) != 0)
        return outputs

    def backward(self, layer, inp):
        return {"dx": layer.backward(inp["dout"])}

    def run_twin(self, inp):
        x = _tensor(inp["x"], True)
        train, ratio = bool(inp["_train"]), float(inp["ratio"])
        mask = self.mask_twin(streams.replay(inp["_seed"]), inp["x"].shape, ratio) if train else None
        y = self.twin(x, _tensor(mask.astype(inp["x"].dtype)) if train else None, ratio, train)
        y.backward(_tensor(inp["dout"]))
        outputs = {"forward": _numpy(y), "dx": _numpy(x.grad)}
        if train:
            outputs["mask"] = mask
        return outputs

    def fd_losses(self, impl, inp):
        layer_class = impl.require(self.name)
        train, ratio, dout = bool(inp["_train"]), float(inp["ratio"]), inp["dout"]

        def f(value):
            with streams.GlobalGenerator(inp["_seed"]):
                return np.sum(layer_class(ratio).forward(value, train) * dout)

        return {"dx": (f, inp["x"])}

    def trace_twin(self, layer, generator):
        """In a network's trace: x * the textbook's mask drawn from `generator` (the global generator's state
        just before this layer's forward), with the ratio the layer was built with."""
        ratio = float(getattr(layer, "dropout_ratio", 0.5))

        def twin(x):
            mask = self.mask_twin(generator, tuple(x.shape), ratio)
            return self.twin(x, _tensor(mask.astype(_numpy(x).dtype)), ratio, True)

        return twin


class FamilyDropoutSpec(DropoutSpec):
    """The CS231n family's dropout (DropoutSpec.for_impl): its twin draws the course notes' mask, rand(*x.shape) < p;
    the reflected draw from the same uniforms, u > 1 - p, is the other documented convention
    (reference.report.deviations.REFLECTED_MASK), with forward and dx computed on it."""

    family = "cs231n"
    conventions = {t: ((f"{t} (reflected mask)", deviations.REFLECTED_MASK),) for t in ("forward", "mask", "dx")}

    def run_twin(self, inp):
        from reference.pieces import twins

        outputs = super().run_twin(inp)
        if bool(inp["_train"]):
            other = DropoutSpec(self.name, self.twin, twins.reflected_dropout_mask).run_twin(inp)
            outputs.update({f"{k} (reflected mask)": v for k, v in other.items()})
        return outputs


class SoftmaxWithLossSpec(Spec):
    """SoftmaxWithLoss: forward(x, t) -> loss; backward(dout) -> dx (see reference.report.deviations).

    dout is drawn (magnitude 0.5 to 2, either sign), never 1, so a backward that ignores it is caught.  A backward
    that takes no argument at all (backward() -> d loss / dx, the form of many homework and autograd-style losses)
    cannot ignore one: the harness multiplies what it returns by dout itself, the chain rule's one product.
    """

    requires = ("SoftmaxWithLoss",)
    tensors = ("forward", "dx")
    fd_tensors = ("dx",)
    conventions = {"forward": (("forward without epsilon", deviations.EPSILON_FREE_LOSS),)}

    def __init__(self, twin, backward_twin):
        self.twin = twin  # torch (scores, class indices) -> the textbook's loss (epsilon included)
        self.backward_twin = backward_twin  # the epsilon-free loss that its backward differentiates

    def inputs(self, case, rng):
        batched = len(case.shape) == 2
        n = case.shape[0] if batched else 1
        index, t = _labels(rng, n, case.shape[-1], case.labels, batched)
        x = rng.normal(size=case.shape) * 2 * case.scale
        dout = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0)
        return {"x": x, "t": t, "_index": index, "dout": dout}

    stateful = True

    def make(self, impl, inp):
        return impl.require("SoftmaxWithLoss")()

    def forward(self, layer, inp):
        return {"forward": layer.forward(inp["x"], _given(inp["t"]))}

    def backward(self, layer, inp):
        if not takes(layer.backward, 1, unknown=True):  # backward() -> d loss / dx (see the docstring)
            return {"dx": np.asarray(layer.backward()) * inp["dout"]}
        return {"dx": layer.backward(_given(inp["dout"]))}

    def run_twin(self, inp):
        index = _tensor(inp["_index"])
        if inp["x"].ndim == 1:
            index = index[0]
        loss = self.twin(_tensor(inp["x"]), index)
        x = _tensor(inp["x"], True)
        plain = self.backward_twin(x, index)
        plain.backward(_tensor(inp["dout"]))
        return {"forward": _numpy(loss), "dx": _numpy(x.grad), "forward without epsilon": _numpy(plain)}

    def fd_losses(self, impl, inp):
        layer_class = impl.require("SoftmaxWithLoss")
        t, dout = _given(inp["t"]), float(inp["dout"])
        return {"dx": (lambda xx: layer_class().forward(xx, t) * dout, inp["x"])}

    def fd_factor(self, tensor, inp, impl):
        """q_n / y_t per row n, where q_n = exp(-L_n) is what the implementation's own forward took the log
        of for that row alone (L_n: its loss on the batch of row n only).

        The backward is the derivative of -log y_t; a forward of -log q_n (q_n = y_t + a guard) has
        derivative (y_t / q_n) times it, so the backward is q_n / y_t times the forward's derivative.  The
        factor is 1 for a forward without an epsilon, (y_t + 1e-7) / y_t for the textbook's, and whatever
        the forward really does otherwise: no assumption about the epsilon.  y_t comes from the
        harness's own float64 softmax, not the implementation's.
        """
        layer_class = impl.require("SoftmaxWithLoss")
        x = np.asarray(inp["x"], dtype=np.float64)
        t = np.asarray(inp["t"])
        rows = x.reshape(-1, x.shape[-1])
        shifted = rows - rows.max(axis=1, keepdims=True)
        y = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        y_t = y[np.arange(len(rows)), inp["_index"]]
        if x.ndim == 1:
            losses = [float(layer_class().forward(x, _given(t)))]
        else:
            losses = [float(layer_class().forward(x[n:n + 1], t[n:n + 1])) for n in range(len(rows))]
        factor = np.exp(-np.asarray(losses)) / y_t
        return factor[:, None] if x.ndim == 2 else factor


class FunctionSpec(Spec):
    """sigmoid / softmax: y = f(x), forward only."""

    tensors = ("forward",)

    def __init__(self, name, twin, scale):
        self.requires = (name,)
        self.name = name
        self.twin = twin
        self.scale = scale

    def inputs(self, case, rng):
        return {"x": rng.normal(size=case.shape) * self.scale * case.scale}

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("forward", outputs):
            outputs["forward"] = impl.require(self.name)(inp["x"])
        return outputs

    def run_twin(self, inp):
        return {"forward": _numpy(self.twin(_tensor(inp["x"])))}


class CrossEntropySpec(Spec):
    """cross_entropy_error(y, t) on probabilities y, labels as indices or one-hot."""

    requires = ("cross_entropy_error",)
    tensors = ("forward",)

    def __init__(self, twin):
        self.twin = twin

    def inputs(self, case, rng):
        batched = len(case.shape) == 2
        n = case.shape[0] if batched else 1
        logits = rng.normal(size=case.shape) * 2 * case.scale
        y = np.exp(logits - logits.max(axis=-1, keepdims=True))
        y /= y.sum(axis=-1, keepdims=True)
        index, t = _labels(rng, n, case.shape[-1], case.labels, batched)
        return {"y": y, "t": t, "_index": index}

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("forward", outputs):
            outputs["forward"] = impl.require("cross_entropy_error")(inp["y"], _given(inp["t"]))
        return outputs

    def run_twin(self, inp):
        index = _tensor(inp["_index"])
        if inp["y"].ndim == 1:
            index = index[0]
        return {"forward": _numpy(self.twin(_tensor(inp["y"]), index))}


class SvmLossSpec(Spec):
    """svm_loss(x, y) -> (loss, dx): the multiclass hinge loss averaged over the batch and its gradient (the CS231n
    form; reference.pieces.twins.svm_loss).  Scores are drawn with every margin x_j - x_y + 1 at least KINK_MARGIN from 0,
    where the hinge's derivative jumps; finite differences differentiate the returned loss."""

    requires = ("svm_loss",)
    tensors = ("forward", "dx")
    fd_tensors = ("dx",)

    def __init__(self, twin):
        self.twin = twin

    def inputs(self, case, rng):
        n, classes = case.shape
        x = rng.normal(size=(n, classes)) * case.scale
        y = rng.integers(0, classes, size=n)
        rows = np.arange(n)
        for _ in range(100):
            margins = x - x[rows, y][:, None] + 1
            near = np.abs(margins) < KINK_MARGIN
            near[rows, y] = False
            if not near.any():
                break
            x = np.where(near, x + np.where(margins >= 0, 2, -2) * KINK_MARGIN, x)  # only off-label scores move
        return {"x": x, "y": y}

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("call", outputs):
            outputs["forward"], outputs["dx"] = impl.require("svm_loss")(inp["x"], inp["y"])
        return outputs

    def run_twin(self, inp):
        x = _tensor(inp["x"], True)
        loss = self.twin(x, _tensor(inp["y"]))
        loss.backward()
        return {"forward": _numpy(loss), "dx": _numpy(x.grad)}

    def fd_losses(self, impl, inp):
        svm_loss = impl.require("svm_loss")
        return {"dx": (lambda value: svm_loss(value, inp["y"])[0], inp["x"])}


class NumericalGradientSpec(Spec):
    """numerical_gradient(f, x) on f(x) = sum(c sin x), against autograd's c cos x."""

    requires = ("numerical_gradient",)
    tensors = ("gradient",)
    tolerance_kind = {"gradient": "fd"}

    def inputs(self, case, rng):
        return {"x": rng.normal(size=case.shape), "c": rng.normal(size=case.shape)}

    def run_impl(self, impl, inp):
        c = inp["c"]
        outputs = {}
        with phase("call", outputs):
            outputs["gradient"] = impl.require("numerical_gradient")(lambda x: np.sum(c * np.sin(x)), inp["x"])
        return outputs

    @staticmethod
    def twin(x, c):
        """The function whose gradient is checked, in torch: autograd gives c cos x."""
        return (c * x.sin()).sum()

    def run_twin(self, inp):
        x = _tensor(inp["x"], True)
        self.twin(x, _tensor(inp["c"])).backward()
        return {"gradient": _numpy(x.grad)}


def spec_of(name):
    """The check spec of a piece (reference.pieces.registry)."""
    from reference.pieces.registry import piece

    return piece(name).spec


def cast(inputs, dtype):
    """Float arrays to the dtype under test; labels stay integers."""
    arrays = {k: np.asarray(v) for k, v in inputs.items()}  # rng.normal(size=()) is a Python float
    return {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for k, v in arrays.items()}


def copy_inputs(inputs):
    return {k: np.array(v, copy=True) for k, v in inputs.items()}


@dataclass
class CaseRun:
    case: object
    dtype: str
    seed: int
    impl_outputs: dict = field(default_factory=dict)
    results: list = field(default_factory=list)  # Comparison or NotRun

    def find(self, tensor, oracle):
        for result in self.results:
            if result.context.tensor == tensor and result.context.oracle == oracle and not result.context.call:
                return result
        raise KeyError(f"{self.case.id}: no {oracle} check of {tensor}")


def reproduce_command(impl_spec, case_id, tensor, dtype, seed, command="check"):
    """The command that runs exactly this check again.

    Cases outside the table (drawn by Hypothesis) are replayed by their test:
    Hypothesis runs derandomized, so the same example comes back first.
    """
    from reference.pieces.registry import find_case, piece

    case = find_case(case_id)
    if case is None:
        layer = case_id.split("-")[0]
        return f"pytest tests/test_properties.py --impl {shell_argument(impl_spec)} -k {layer}"
    source = piece(case.layer).source
    pieces = f" --pieces {shlex.quote(source)}" if source and command == "check" else ""
    tensor = f" --tensor {shlex.quote(tensor)}" if tensor else ""  # None: every check of the case
    return (f"python -m reference {command} --impl {shell_argument(impl_spec)}{pieces} --case {case_id}{tensor} "
            f"--dtype {dtype} --seed {seed}")


def run_case(impl, case, dtype, seed, recorded=None):
    """Every check of one case at one dtype and seed; see the module docstring.

    recorded: (inputs, expected) from the golden fixtures (reference.run.golden): the
    implementation runs on the recorded inputs and is compared with the recorded
    twin outputs (oracle "golden"), so no twin, and no torch, is needed.
    """
    spec = spec_of(case.layer)
    tensors = spec.case_tensors(case)
    dtype = np.dtype(dtype).name
    run = CaseRun(case=case, dtype=dtype, seed=seed)
    if recorded is None:
        pristine = cast(spec.inputs(case, streams.rng(seed, "layer inputs")), dtype)
        twin_oracle = "twin"
    else:
        pristine, recorded_expected = recorded
        twin_oracle = "golden"
    command = "check" if recorded is None else "golden"

    def context(tensor, oracle, call=""):
        return Context(
            layer=case.layer,
            tensor=tensor,
            oracle=oracle,
            dtype=dtype,
            seed=seed,
            case=case.id,
            reproduce=reproduce_command(impl.spec, case.id, f"{tensor} ({call})" if call else tensor, dtype, seed,
                                        command),
            inputs=pristine,
            call=call,
        )

    def not_run(tensors, oracle, reason, verdict="NOT RUN"):
        run.results.extend(NotRun(context(t, oracle), reason, verdict) for t in tensors)

    try:
        impl.require(*spec.requires)
    except MissingProtocol as missing:
        not_run(tensors, twin_oracle, str(missing))
        return run
    own = spec.for_impl(impl)
    if own is not spec:  # the piece follows a family's form
        spec = own
        if recorded is not None:
            not_run(tensors, twin_oracle, f"{case.layer} follows the {spec.family} family's form; the golden arrays "
                    "were recorded from the textbook's twin (check compares it with its family's twin)", "SKIPPED")
            return run

    given = copy_inputs(pristine)
    raised = None
    try:
        # NaN and inf are reported by the comparator, not raised as warnings
        with calling(f"{case.layer} (forward and backward)"):
            run.impl_outputs = spec.run_impl(impl, given)
    except CheckTimeout as error:
        not_run(tensors, twin_oracle, str(error), "TIMEOUT")
        return run
    except ImplRaised as error:
        raised, run.impl_outputs = error, dict(error.outputs)
    except Exception as error:  # noqa: BLE001 - a spec without phases: the implementation raised somewhere
        where = raised_where(error)
        not_run(tensors, twin_oracle, f"raised {type(error).__name__}: {error}" + (f"\n  at {where}" if where
                                                                                          else ""), "RAISED")
        return run

    if recorded is not None:
        expected = recorded_expected
    else:  # a layer with no twin (registry.layer(twin=None)) has no twin tensors: finite differences alone
        expected = spec.run_twin(copy_inputs(pristine)) if spec.tensors else {}
    for tensor in tensors:
        if raised is not None and tensor not in run.impl_outputs:
            if isinstance(raised.error, NotInForm):  # the adapter's word: this call has no form there
                not_run([tensor], twin_oracle, f"{raised.error}", "SKIPPED")
            else:
                not_run([tensor], twin_oracle, raised.reason(), "RAISED")
            continue
        kind = spec.tolerance_kind.get(tensor, "twin")
        tol = tolerance.finite_differences(dtype) if kind == "fd" else tolerance.twin(dtype)
        candidates = [(expected[tensor], "")] + [(expected[key], what) for key, what in
                                                 spec.conventions.get(tensor, ()) if key in expected]
        result = compare_conventions(run.impl_outputs.get(tensor), candidates, tol, context(tensor, twin_oracle))
        run.results.append(result)

    for name, value in pristine.items():
        if not name.startswith("_"):  # "_index" and the like are the harness's own, never given
            run.results.append(compare(given[name], value, tolerance.EXACT, context(name, "arguments")))

    if raised is None and recorded is None and spec.stateful and spec.tensors:
        run.results.extend(_sequence(spec, impl, case, dtype, seed, pristine, context))
    fd_tensors = spec.case_fd_tensors(case)
    if dtype == "float64" and fd_tensors and case.fd != "none" and raised is not None and isinstance(raised.error,
                                                                                                  NotInForm):
        # no gradient in the form, so none to hold against finite differences: skipped as the twin's checks are
        not_run([t for t in fd_tensors if t not in run.impl_outputs], "finite differences", f"{raised.error}",
                "SKIPPED")
    if dtype == "float64" and fd_tensors and raised is None and case.fd != "none":
        try:
            impl.require(*spec.fd_requires)
            with calling(f"{case.layer} forward under finite differences"):
                numeric = _finite_differences(spec, impl, pristine, run.impl_outputs, case.fd, seed)
        except MissingProtocol as missing:
            not_run(fd_tensors, "finite differences", str(missing))
        except CheckTimeout as error:
            not_run(fd_tensors, "finite differences", str(error), "TIMEOUT")
        except Exception as error:  # noqa: BLE001
            not_run(fd_tensors, "finite differences", f"the forward raised {type(error).__name__}: {error}",
                    "RAISED")
        else:
            fd_tol = tolerance.finite_differences(dtype)
            for tensor in fd_tensors:
                actual, expected, rounding = numeric[tensor]
                run.results.append(
                    compare(actual, expected, fd_tol, context(tensor, "finite differences"), extra_atol=rounding)
                )
    return run




def _sequence(spec, impl, case, dtype, seed, pristine, context):
    """One layer instance over a sequence of calls, each against a fresh twin.

    forward(a), backward(a), then forward(b) and backward(b) on the same instance with other
    inputs (the construction arguments, W and b, kept), then backward again with another upstream
    gradient.  A layer whose result depends on an earlier call (a cached mask, an input kept from the
    first call, a dW that accumulates) fails here and only here, blamed on itself.
    """
    rng = streams.rng(seed, "sequence")
    second = cast(spec.inputs(case, rng), dtype)
    second = {k: v for k, v in second.items() if k not in spec.construction}
    second.update({k: pristine[k] for k in spec.construction if k in pristine})
    second.update(spec.carry(spec.run_twin(copy_inputs(pristine))))
    again = dict(second, dout=cast(spec.inputs(case, rng), dtype)["dout"])
    tol = tolerance.twin(dtype)
    results = []
    outputs = {}
    steps = (("second call", lambda layer: {**spec.forward(layer, second), **spec.backward(layer, second)}, second),
             ("second backward", lambda layer: spec.backward(layer, again), again))
    try:
        with calling(f"{case.layer} over a sequence of calls"):
            with phase("construction", outputs):
                layer = spec.make(impl, copy_inputs(pristine))
            with phase("first forward and backward", outputs):
                spec.forward(layer, copy_inputs(pristine))
                spec.backward(layer, copy_inputs(pristine))
            for label, call, inputs in steps:
                with phase(label, outputs):
                    got = call(layer)
                expected = spec.run_twin(copy_inputs(inputs))
                for tensor, value in got.items():
                    candidates = [(expected[tensor], "")] + [(expected[key], what) for key, what in
                                                             spec.conventions.get(tensor, ()) if key in expected]
                    results.append(compare_conventions(value, candidates, tol, context(tensor, "twin", label)))
            # backward again with the same upstream gradient: the same answer, to the bit (a backward that moves
            # state, or accumulates, differs from itself)
            with phase("backward repeated", outputs):
                repeated = spec.backward(layer, again)
            for tensor, value in repeated.items():
                before = np.asarray(got[tensor])
                if np.issubdtype(before.dtype, np.number):  # a value that was no array has been reported already
                    results.append(compare(value, before, tolerance.EXACT,
                                           context(tensor, "the same call before", "backward repeated")))
    except CheckTimeout as error:
        results.append(NotRun(context("sequence of calls", "twin"), str(error), "TIMEOUT"))
    except ImplRaised as error:
        results.append(NotRun(context("sequence of calls", "twin", error.phase), error.reason(), "RAISED"))
    return results


def _finite_differences(spec, impl, pristine, outputs, mode, seed):
    """tensor -> (what the implementation says, what finite differences say).

    "full": every element of the gradient.  "directional": the derivative along
    one random direction v (gradcheck's fast mode), against <gradient, v>.  "sampled":
    FD_SAMPLES elements drawn at random (the classic sparse gradient check), and where
    any of them disagrees, every element of that tensor, so the report names the worst.
    """
    inputs = copy_inputs(pristine)
    losses = spec.fd_losses(impl, inputs)
    triples = {}
    if mode == "full":
        for tensor, (f, point) in losses.items():
            factor = spec.fd_factor(tensor, inputs, impl)
            gradient, rounding = finite_diff.gradient(f, point)
            triples[tensor] = (outputs.get(tensor), gradient * factor, rounding * factor)
        return triples
    if mode == "sampled":
        return _sampled(spec, impl, inputs, losses, outputs, seed)
    rng = streams.rng(seed, "fd direction")
    for tensor, (f, point) in losses.items():
        direction = finite_diff.scaled_direction(rng, point)
        # the tensor is g_f * factor, so <tensor / factor, d> is what differentiating f along d gives;
        # dividing the claim (not stretching the step) keeps the step where fd_step put it
        weights = direction / spec.fd_factor(tensor, inputs, impl)
        try:
            terms = np.asarray(outputs.get(tensor), dtype=np.float64) * weights
            claimed, term_scale = np.asarray(np.sum(terms)), float(np.sum(np.abs(terms)))
        except (TypeError, ValueError) as error:
            claimed, term_scale = f"gradient unusable: {error}", 0.0
        derivative, rounding = finite_diff.directional(f, point, direction)
        allowance = rounding + tolerance.directional_allowance(term_scale)
        triples[tensor] = (claimed, np.asarray(derivative), allowance)
    return triples


# A sampled check differentiates this many elements of each tensor: a gradient wrong in a whole region (a padding
# forgotten, a stride off by one) is wrong in a share of its elements, which 16 draws all miss with a chance of
# (1 - share)^16: 1.5e-3 for a third, 1.5e-5 for a half.  A single wrong element is the small cases' business, where
# every element is differentiated.
FD_SAMPLES = 16


def _sampled(spec, impl, inputs, losses, outputs, seed):
    """FD_SAMPLES elements of each tensor by central differences; a tensor where one disagrees (or that cannot be
    indexed like its point) is differentiated in full, and that full comparison is what gets reported."""
    rng = streams.rng(seed, "fd samples")
    tol = tolerance.finite_differences("float64")
    probe = Context(layer=spec.name if hasattr(spec, "name") else "", tensor="sample", oracle="finite differences",
                    dtype="float64", seed=seed)
    triples = {}
    for tensor, (f, point) in losses.items():
        factor = np.broadcast_to(np.asarray(spec.fd_factor(tensor, inputs, impl), dtype=np.float64), np.shape(point))
        flat = np.sort(rng.choice(np.size(point), size=min(FD_SAMPLES, np.size(point)), replace=False))
        actual = outputs.get(tensor)
        try:
            claimed = np.asarray(actual, dtype=np.float64).reshape(np.shape(point)).ravel()[flat]
        except (TypeError, ValueError):
            claimed = None
        if claimed is not None and np.shape(actual) == np.shape(point):
            sampled, rounding = finite_diff.gradient(f, point, indices=flat)
            expected, allowance = sampled * factor.ravel()[flat], rounding * np.abs(factor.ravel()[flat])
            if compare(claimed, expected, tol, probe, extra_atol=allowance).passed:
                triples[tensor] = (claimed, expected, allowance)
                continue
        gradient, rounding = finite_diff.gradient(f, point)
        triples[tensor] = (actual, gradient * factor, rounding * np.abs(factor))
    return triples
