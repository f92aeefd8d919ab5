"""Affine and the losses, with the functions of the textbook's common/functions.py (sigmoid, softmax,
cross_entropy_error, numerical_gradient), CS231n's svm_loss and its first assignment's linear classifier losses
(svm_loss_naive and _vectorized, softmax_loss_naive and _vectorized: loss(W, X, y, reg) -> (loss, dW)): for each its
record, how its inputs are drawn, how the implementation is called, and its twin."""

import numpy as np

from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.lazy_torch import F, torch
from bp_parity.reference.pieces import elementwise
from bp_parity.reference.pieces.registry import Form, Magnitudes, Piece, register
from bp_parity.reference.pieces.spec import _given, _labels, _numpy, _tensor, KINK_MARGIN, LayerSpec, parts, phase, Spec, takes
from bp_parity.reference.report import deviations
from bp_parity.reference.report.deviations import Deviation, EPSILON_FREE_LOSS, HALF_L2, LOG_EPSILON


def to_torch_weight(W):
    """Textbook (D, M) weight -> torch F.linear layout (M, D)."""
    return W.transpose(0, 1)

def from_torch_weight(weight):
    """torch F.linear layout (M, D) -> textbook (D, M)."""
    return weight.transpose(0, 1)


def affine(x, W, b):
    """x W + b with x flattened to (N, D); W in the textbook layout (D, M)."""
    return F.linear(x.reshape(x.shape[0], -1), to_torch_weight(W), b)

def softmax(x):
    """exp(x_i) / sum_j exp(x_j) over the last axis."""
    return torch.softmax(x, dim=-1)

def _rows(y, t):
    if y.dim() == 1:
        y, t = y.unsqueeze(0), t.reshape(1)
    return y, t

def cross_entropy_error(y, t):
    """The textbook's -(1/N) sum_n log(y[n, t_n] + 1e-7); t as class indices."""
    y, t = _rows(y, t)
    picked = y[torch.arange(y.shape[0]), t]
    return -torch.log(picked + LOG_EPSILON).sum() / y.shape[0]

def softmax_with_loss(x, t):
    """The textbook's forward: cross_entropy_error(softmax(x), t), epsilon included."""
    return cross_entropy_error(softmax(x), t)

def softmax_cross_entropy(x, t):
    """-(1/N) sum_n log softmax(x)[n, t_n] without the epsilon: what SoftmaxWithLoss.backward differentiates."""
    x, t = _rows(x, t)
    return F.cross_entropy(x, t, reduction="mean")

def svm_loss(x, y):
    """The multiclass hinge loss in torch operations: sum over j != y_i of max(0, x_ij - x_iy + 1), the mean over the
    batch.  torch's own F.multi_margin_loss (p=1, margin=1) divides that sum by the number of classes too: a factor
    tests/test_functional.py predicts and measures; this twin is the form without it."""
    correct = x.gather(1, y[:, None])
    margins = torch.clamp(x - correct + 1, min=0).scatter(1, y[:, None], 0.0)
    return margins.sum() / x.shape[0]


def draw_affine(case, rng):
    """x standard normal (times the case's scale), W normal / sqrt(features), b normal * 0.5, dout (N, M)."""
    n, features = case.shape[0], int(np.prod(case.shape[1:]))
    return {
        "x": rng.normal(size=case.shape) * case.scale,
        "W": rng.normal(size=(features, case.out)) / np.sqrt(features),
        "b": rng.normal(size=case.out) * 0.5,
        "dout": rng.normal(size=(n, case.out)),
    }

class SoftmaxWithLossSpec(Spec):
    """SoftmaxWithLoss: forward(x, t) -> loss; backward(dout) -> dx (see reference.report.deviations).

    dout is drawn (magnitude 0.5 to 2, either sign), never 1, so a backward that ignores it is caught.  A backward
    that takes no argument at all (backward() -> d loss / dx, the form of many homework and autograd-style losses)
    cannot ignore one: the harness multiplies what it returns by dout itself, the chain rule's one product.
    """

    drawn_with_labels = True  # a drawn case of it (registry.drawn_case) draws C classes and a label form

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
    form; reference.pieces.svm_loss).  Scores are drawn with every margin x_j - x_y + 1 at least KINK_MARGIN from 0,
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

def classifier_svm_loss(W, X, y, reg, half=False):
    """Assignment 1's linear SVM loss of the weights: svm_loss of the scores X W, plus reg * sum(W * W) (the current
    skeleton; half=True: 0.5 * reg * sum(W * W), the older one, reference.report.deviations.HALF_L2)."""
    return svm_loss(X @ W, y) + (0.5 if half else 1.0) * reg * (W * W).sum()

def classifier_softmax_loss(W, X, y, reg, half=False):
    """Assignment 1's softmax loss of the weights: the mean cross-entropy of softmax(X W) (F.cross_entropy, no
    epsilon), plus reg * sum(W * W) (half=True: the older skeleton's 0.5 * reg * sum(W * W))."""
    return F.cross_entropy(X @ W, y, reduction="mean") + (0.5 if half else 1.0) * reg * (W * W).sum()


class ClassifierLossSpec(Spec):
    """CS231n assignment 1's loss(W, X, y, reg) -> (loss, dW) of a linear classifier (svm_loss_naive and _vectorized,
    softmax_loss_naive and _vectorized), the loss averaged over the batch plus the regularization.

    The case's shape is X's (N, D) and its `out` the number of classes; W is drawn N(0, 1) / sqrt(D) times the case's
    scale, so the scores are about the scale.  For the hinge loss (hinge=True) each sample's row of X is scaled by the
    first factor in [1, 2], then [0.5, 1), that keeps every margin s_j - s_y + 1 at least KINK_MARGIN from 0, where
    the hinge's derivative jumps.  Option reg (default 0.1).  The regularization may follow either skeleton (conventions:
    reference.report.deviations.HALF_L2); finite differences differentiate the returned loss in W."""

    tensors = ("forward", "dW")
    fd_tensors = ("dW",)
    conventions = {"forward": (("forward (0.5 reg)", HALF_L2),), "dW": (("dW (0.5 reg)", HALF_L2),)}

    def __init__(self, name, twin, hinge):
        self.name = name
        self.requires = (name,)
        self.twin = twin
        self.hinge = hinge

    def inputs(self, case, rng):
        n, features = case.shape
        X = rng.normal(size=(n, features))
        W = rng.normal(size=(features, case.out)) / np.sqrt(features) * case.scale
        y = rng.integers(0, case.out, size=n)
        if self.hinge:
            factors = np.concatenate([np.linspace(1.0, 2.0, 101), np.linspace(0.5, 1.0, 50, endpoint=False)])
            for i in range(n):
                gaps = np.delete(X[i] @ W - X[i] @ W[:, y[i]], y[i])
                X[i] *= next((a for a in factors if np.all(np.abs(a * gaps + 1) >= KINK_MARGIN)), 1.0)
        return {"W": W, "X": X, "y": y, "reg": np.asarray(float(case.option("reg", 0.1)))}

    def _call(self, impl, inp, W):
        return impl.require(self.name)(W, inp["X"], inp["y"], float(inp["reg"]))

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("call", outputs):
            returned = parts(self._call(impl, inp, inp["W"]), self.name, "loss, dW")
            outputs["forward"], outputs["dW"] = returned
        return outputs

    def run_twin(self, inp):
        outputs = {}
        for half, suffix in ((False, ""), (True, " (0.5 reg)")):
            W = _tensor(inp["W"], True)
            loss = self.twin(W, _tensor(inp["X"]), _tensor(inp["y"]), float(inp["reg"]), half)
            loss.backward()
            outputs[f"forward{suffix}"], outputs[f"dW{suffix}"] = _numpy(loss), _numpy(W.grad)
        return outputs

    def fd_losses(self, impl, inp):
        return {"dW": (lambda value: self._call(impl, inp, value)[0], inp["W"])}


class NumericalGradientSpec(Spec):
    """numerical_gradient(f, x) on f(x) = sum(c sin x), against autograd's c cos x."""

    requires = ("numerical_gradient",)
    differences_itself = True  # the piece is a difference quotient: no finite differences of it (Piece.fd)
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


def _affine_twin(x, W, b):
    return affine(x, W, b)

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


def _affine_form(m):
    class Affine:
        """affine_forward / affine_backward as the textbook's Affine (dW and db kept)."""

        def __init__(self, W, b):
            self.W, self.b = W, b
            self.dW = self.db = None

        def forward(self, x):
            out, self.cache = parts(m.affine_forward(x, self.W, self.b), "affine_forward", "out, cache")
            return out

        def backward(self, dout):
            dx, self.dW, self.db = parts(m.affine_backward(dout, self.cache), "affine_backward", "dx, dw, db")
            return dx

    return Affine


def _softmax_loss_form(m):
    class SoftmaxWithLoss:
        """softmax_loss as the textbook's SoftmaxWithLoss: integer labels (a one-hot case's argmax: the form takes
        labels only), a batch (one sample given as a vector becomes a batch of one, and its dx a vector again), and dx
        multiplied by the upstream gradient (the form's dx is d loss / dx)."""

        def forward(self, x, t):
            self.shape = np.shape(x)
            batch = np.reshape(x, (-1, self.shape[-1]))
            t = np.asarray(t)
            labels = t.reshape(batch.shape).argmax(axis=1) if t.size == batch.size else t.reshape(-1)
            loss, self.dx = parts(m.softmax_loss(batch, labels), "softmax_loss", "loss, dx")
            return loss

        def backward(self, dout=1):
            return np.reshape(self.dx * dout, self.shape)

    return SoftmaxWithLoss


C = LayerCase
register(Piece("Affine", "layer", "class Affine(W, b): forward(x); backward(dout) -> dx; keeps dW, db",
               spec=LayerSpec("Affine", draw_affine, _affine_twin, params=("W", "b")),
               magnitudes=Magnitudes((-3.0, 2.0), (-3.0, 0.0), _FLOAT32_PRODUCTS),
               cases=(
                   C("Affine-2d", "Affine", shape=(8, 12), out=5),
                   C("Affine-4d", "Affine", shape=(5, 2, 3, 2), out=4),
                   C("Affine-square", "Affine", shape=(6, 6), out=6),
                   C("Affine-1sample", "Affine", shape=(1, 9), out=3),
                   C("Affine-1out", "Affine", shape=(7, 5), out=1)),  # one output unit: db sums a column
               form=Form(("affine_forward", "affine_backward"), _affine_form)))

register(Piece("SoftmaxWithLoss", "loss", "class: forward(x, t) -> loss; backward(dout=1) -> dx",
               spec=SoftmaxWithLossSpec(softmax_with_loss, softmax_cross_entropy),
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
                   C("SoftmaxWithLoss-1sample-onehot", "SoftmaxWithLoss", shape=(10,), labels="onehot"),
                   # scores in the hundreds, where the formulas break: exp overflows unshifted (float32 past 88,
                   # float64 past 709: an inf loss and NaN dx), and most true classes fall so far below the best
                   # (past ~745 in float64) that their probability underflows to 0, whose log is -inf where the
                   # textbook's 1e-7 is left out of a softmax-then-log; judged by the twin alone (the textbook's
                   # forward is flat there, its 1e-7 dominating: finite differences cannot see the derivative)
                   C("SoftmaxWithLoss-large", "SoftmaxWithLoss", shape=(8, 10), labels="index", scale=200.0,
                     fd="none"),
                   C("SoftmaxWithLoss-large-onehot", "SoftmaxWithLoss", shape=(8, 10), labels="onehot", scale=200.0,
                     fd="none")),
               form=Form(("softmax_loss",), _softmax_loss_form)))

register(Piece("sigmoid", "function", "function sigmoid(x)",
               spec=FunctionSpec("sigmoid", elementwise.sigmoid, 3.0), cases=(
                   C("sigmoid-fn", "sigmoid", shape=(5, 6)),)))

register(Piece("softmax", "function", "function softmax(x), batched over the last axis",
               spec=FunctionSpec("softmax", softmax, 2.0), cases=(
                   C("softmax-1d", "softmax", shape=(10,)),
                   C("softmax-2d", "softmax", shape=(7, 10)),
                   # scores in the thousands: exp overflows unshifted
                   C("softmax-large", "softmax", shape=(4, 10), scale=500.0))))

register(Piece("cross_entropy_error", "function", "function cross_entropy_error(y, t), t as indices or one-hot",
               spec=CrossEntropySpec(cross_entropy_error), deviations=_LOSS_DEVIATIONS, cases=(
                   C("cross_entropy_error-index", "cross_entropy_error", shape=(8, 10), labels="index"),
                   C("cross_entropy_error-onehot", "cross_entropy_error", shape=(8, 10), labels="onehot"),
                   C("cross_entropy_error-1sample", "cross_entropy_error", shape=(10,), labels="index"),
                   C("cross_entropy_error-1sample-onehot", "cross_entropy_error", shape=(10,),
                     labels="onehot"))))

register(Piece("svm_loss", "loss", "function svm_loss(x, y) -> (loss, dx): the multiclass hinge loss, sum over "
               "j != y of max(0, x_j - x_y + 1), averaged over the batch, and its gradient",
               spec=SvmLossSpec(svm_loss), cases=(
                   C("svm_loss-batch", "svm_loss", shape=(8, 10)),
                   C("svm_loss-1sample", "svm_loss", shape=(1, 6)),
                   C("svm_loss-2class", "svm_loss", shape=(7, 2)),
                   # scores far apart: most margins are 0 and their gradient too
                   C("svm_loss-wide", "svm_loss", shape=(6, 5), scale=4.0),
                   # scores in the hundreds: nothing in the hinge overflows, and its +1 margin stays resolved
                   C("svm_loss-large", "svm_loss", shape=(6, 5), scale=300.0))))

def _classifier_cases(name):
    rows = (C(f"{name}-batch", name, shape=(8, 6), out=4),
            C(f"{name}-1sample", name, shape=(1, 5), out=3),
            C(f"{name}-2class", name, shape=(7, 4), out=2),
            C(f"{name}-noreg", name, shape=(6, 5), out=4, options=(("reg", 0.0),)),
            C(f"{name}-strong-reg", name, shape=(6, 5), out=4, options=(("reg", 5.0),)))
    # scores in the hundreds: an unshifted exp overflows (float32 at 89, float64 at 710); the hinge has nothing to
    # overflow and its +1 stays resolved
    return rows + (C(f"{name}-large", name, shape=(5, 6), out=4, scale=300.0),)


for _name, _twin, _hinge, _what in (
        ("svm_loss_naive", classifier_svm_loss, True, "the multiclass hinge loss of X W, looping over samples"),
        ("svm_loss_vectorized", classifier_svm_loss, True, "the multiclass hinge loss of X W, without loops"),
        ("softmax_loss_naive", classifier_softmax_loss, False, "the softmax cross-entropy of X W, looping"),
        ("softmax_loss_vectorized", classifier_softmax_loss, False, "the softmax cross-entropy of X W, without "
                                                                    "loops")):
    register(Piece(_name, "loss", f"function {_name}(W, X, y, reg) -> (loss, dW): {_what}, averaged over the batch, "
                   "plus reg * sum(W * W) (CS231n assignment 1)",
                   spec=ClassifierLossSpec(_name, _twin, _hinge), cases=_classifier_cases(_name)))

register(Piece("numerical_gradient", "function", "function numerical_gradient(f, x) by central differences",
               spec=NumericalGradientSpec(), cases=(
                   C("numerical_gradient", "numerical_gradient", shape=(3, 4), dtypes=("float64",)),
                   C("numerical_gradient-1d", "numerical_gradient", shape=(6,), dtypes=("float64",)))))
