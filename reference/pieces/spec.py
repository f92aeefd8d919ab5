"""The machinery of a piece's record: how a spec draws inputs, calls the implementation and its twin, and
what finite differences differentiate.  The generic specs live here (a layer of one input, a binary layer); a
family's own specs live in its module (reference.pieces.*).  Nothing here names a piece."""

import inspect
import traceback
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bp_parity.reference.base.limits import CheckTimeout, note


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

def parts(returned, function, names):
    """What a functional form's `function` returned, as the parts its form names ("dx, dw, db"); anything else is a
    TypeError that says what came back (a function left unfinished returns None), not the adapter's unpacking error.
    (A family's adapters, reference.pieces.functional.)"""
    count = names.count(",") + 1
    if isinstance(returned, (tuple, list)) and len(returned) == count:
        return returned
    what = "None" if returned is None else (f"{len(returned)} values" if isinstance(returned, (tuple, list))
                                            else type(returned).__name__)
    raise TypeError(f"{function} returned {what}, not ({names})")

def whole_windows(function, size, window, stride, pad):
    """A functional convolution or pooling may assume the windows tile the (padded) input exactly: H' = 1 + (H + 2 pad
    - HH) / stride is a whole number (the pooling docstring says so; the fast layers assert it).  A case where it is
    not (the textbook floors) is outside the form: NotInForm, so its checks are SKIPPED."""

    for length, extent in zip(size, window):
        if (length + 2 * pad - extent) % stride:
            raise NotInForm(f"{function} may assume whole windows, (H + 2 pad - HH) % stride == 0; this case has "
                            f"{length} + 2*{pad} - {extent} not a multiple of stride {stride} (the textbook floors)")

TEST_MODE_BACKWARD = ("a backward after a test-mode forward is beyond the textbook's protocol (its backward follows a "
                      "training forward: the book keeps xn and mask only then)")


def beyond_protocol(call, why):
    """What call() returns, for a call the textbook's protocol never makes (why: what it makes instead).  Where the
    implementation does not support it (the call raises), NotInForm: its checks are SKIPPED with the reason, the same
    way for every form (a functional form's adapter raises NotInForm itself); what it does return is judged."""
    try:
        return call()
    except (CheckTimeout, NotInForm):
        raise
    except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
        raise NotInForm(f"{why}; this implementation's raised {type(error).__name__}: {error}") from error

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

def takes(function, count, unknown=False):
    """Whether `function` can be called with `count` positional arguments; `unknown` where its signature cannot be
    read (a builtin).  How the harness tells forms apart: an update rule takes (w, dw, config), a loss's backward that
    takes no argument is d loss / dx."""
    try:
        inspect.signature(function).bind(*range(count))
    except TypeError:
        return False
    except ValueError:
        return unknown
    return True


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

    def test_twin(self, layer):
        """The twin of this layer in a network's test-mode forward (predict(x, train_flg=False)), as twin(x,
        *params): the trace's, for a layer that behaves alike in both modes (test_mode_differs False)."""
        return self.trace_twin(layer, None)

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
