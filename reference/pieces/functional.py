"""The functional protocol: layers written as functions that return (out, cache) (the CS231n style), checked as
the registry's pieces through adapters.  Not a second copy of any check: each adapter is a class of the textbook's
protocol that calls the functions, so the Affine cases check affine_forward/affine_backward, and so on.

    affine_forward(x, w, b) -> (out, cache);          affine_backward(dout, cache) -> (dx, dw, db)     as Affine
    relu_forward(x) -> (out, cache);                  relu_backward(dout, cache) -> dx                 as Relu
    sigmoid_forward(x) -> (out, cache);               sigmoid_backward(dout, cache) -> dx              as Sigmoid
    softmax_loss(x, y) -> (loss, dx)                  (y integer labels, the loss averaged)            as SoftmaxWithLoss
    conv_forward_naive(x, w, b, {"stride", "pad"}) -> (out, cache); conv_backward_naive(dout, cache)
        -> (dx, dw, db)                                                                                 as Convolution
    max_pool_forward_naive(x, {"pool_height", "pool_width", "stride"}) -> (out, cache);
        max_pool_backward_naive(dout, cache) -> dx                                                     as Pooling
    batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); batchnorm_backward(dout, cache)
        -> (dx, dgamma, dbeta)                                                                          as BatchNormalization
    dropout_forward(x, {"p", "mode"}) -> (out, cache); dropout_backward(dout, cache) -> dx            as Dropout
    sgd, sgd_momentum, rmsprop, adam: rule(w, dw, config) -> (next_w, config)       as SGD, Momentum, RMSprop, Adam

What each adapter does beyond calling, and why it cannot hide a bug of the functions: SoftmaxWithLoss hands
softmax_loss integer labels (a one-hot case's argmax: the form takes labels only) and a batch (one sample given as a
vector becomes a batch of one, and its dx a vector again), and multiplies dx by the upstream gradient (the form's dx
is d loss / dx); Pooling pads with minus infinity itself where a case asks for padding (the form has none), which
never wins a window, and cuts the padding's rows off dx; BatchNormalization hands batchnorm_forward the textbook's
epsilon and momentum through bn_param (the form takes both from there: eps 1e-5 is only its default), its mode from
train_flg, the running statistics in and out of bn_param, and a 4-D input flattened to (N, C*H*W) as the textbook
does; the form has no backward after a test-mode forward, so those checks are SKIPPED (NotInForm), not failed;
Convolution and Pooling skip the cases whose windows do not tile the padded input, which the form may assume away
(_whole_windows); Dropout hands dropout_forward p = 1 - dropout_ratio (p is the probability of keeping a unit, as
the course's current assignment has it; where the function's docstring says "We drop each neuron output with
probability p", the older assignment's, p = dropout_ratio, and check says so) and its mode from train_flg, and no
seed: the function draws from NumPy's global generator, which the harness puts in a state of its own before every
forward, as for the textbook's Dropout; an update rule's adapter keeps one config per parameter (the rule's state:
velocity, cache, m, v, t), passes the check's hyper-parameters as the family names them (learning_rate, momentum,
decay_rate, beta1, beta2) and writes next_w into the caller's array.

The family's dropout is inverted dropout, checked against its own twin (DropoutSpec.for_impl, reference.pieces.
inverted_dropout): the mask rand(*x.shape) < p drawn from the same state (the course notes' draw; the reflected draw
u > 1 - p, which rand > 1 - p and np.random.binomial(1, p) for p <= 1/2 make, is a documented convention,
reference.report.deviations.REFLECTED_MASK; any other draw is reported as the tensor "mask"), the kept units scaled by 1/p
in training, x itself at test time. tests/test_functional.py predicts its difference from the textbook's Dropout (on
draws u the family keeps what the textbook keeps on 1 - u, and scales by 1/p, at test time too) and from torch's
F.dropout (none beyond rounding, on the mask torch drew). The course's usual mask, (rand < p) / p, is float64: with
a float32 x the output is float64, and the float32 cases report that as a dtype.

The family's update rules are checked against the family's forms (family_twin): its sgd and sgd_momentum are the
textbook's SGD and Momentum (v = momentum v - lr dw; w + v), so the textbook's twins serve; its rmsprop and adam
keep epsilon 1e-8 where the textbook has 1e-7, and its adam adds epsilon to the square root of the bias-corrected v
(the textbook: to the uncorrected one, the step scaled by lr_t).  Both are torch.optim's own RMSprop and Adam with
eps=1e-8, term for term: tests/test_functional.py predicts no difference beyond rounding between the forms written
out in NumPy and torch.optim, and measures the textbook's twin parting from them.

detect(module) names the functions found and the pieces they stand for; protocol.load binds those pieces where the
module does not define the textbook's classes itself.
"""

import numpy as np

from reference.pieces.normalization import BATCH_NORM_EPSILON
from reference.pieces.spec import NotInForm, takes

RULES = {"SGD": ("sgd", {"lr": "learning_rate"}), "Momentum": ("sgd_momentum", {"lr": "learning_rate", "momentum":
                                                                                "momentum"}),
         "RMSprop": ("rmsprop", {"lr": "learning_rate", "decay_rate": "decay_rate"}),
         "Adam": ("adam", {"lr": "learning_rate", "beta1": "beta1", "beta2": "beta2"})}
EPSILON = 1e-8  # the family's epsilon of rmsprop and adam

FORMS = {  # piece -> the functions that make it (all of them needed)
    "Affine": ("affine_forward", "affine_backward"),
    "Relu": ("relu_forward", "relu_backward"),
    "Sigmoid": ("sigmoid_forward", "sigmoid_backward"),
    "SoftmaxWithLoss": ("softmax_loss",),
    "Convolution": ("conv_forward_naive", "conv_backward_naive"),
    "Pooling": ("max_pool_forward_naive", "max_pool_backward_naive"),
    "BatchNormalization": ("batchnorm_forward", "batchnorm_backward"),
    "Dropout": ("dropout_forward", "dropout_backward"),
    **{piece: (rule,) for piece, (rule, _) in RULES.items()},
}


def family_twin(name, params, **hyper):
    """The twin of the family's update rule `name` in torch (None where the textbook's twin is the family's form)."""
    import torch

    if name == "RMSprop":
        return torch.optim.RMSprop(params, lr=hyper["lr"], alpha=hyper["decay_rate"], eps=EPSILON)
    if name == "Adam":
        return torch.optim.Adam(params, lr=hyper["lr"], betas=(hyper["beta1"], hyper["beta2"]), eps=EPSILON)
    return None


def detect(module):
    """{piece: (function, ...)} of every functional form the module defines in full, for the pieces it does not
    define as classes.  An update rule must take (w, dw, config): a linear regression's `sgd(model, X, y, lr, ...)`
    is no rule."""
    found = {}
    for piece, names in FORMS.items():
        functions = [getattr(module, n, None) for n in names]
        if hasattr(module, piece) or not all(callable(f) for f in functions):
            continue
        if piece in RULES and not takes(functions[0], 3):
            continue
        found[piece] = names
    return found


def adapters(module):
    """{piece: adapter class} for detect(module)."""
    makers = {"Affine": _affine, "Relu": _elementwise("relu"), "Sigmoid": _elementwise("sigmoid"),
              "SoftmaxWithLoss": _softmax_loss, "Convolution": _convolution, "Pooling": _pooling,
              "BatchNormalization": _batchnorm, "Dropout": _dropout,
              **{piece: _rule(piece) for piece in RULES}}
    return {piece: makers[piece](module) for piece in detect(module)}


def _parts(returned, function, names):
    """What `function` returned, as the parts its form names ("dx, dw, db"); anything else is a TypeError that says
    what came back (a function left unfinished returns None), not the adapter's unpacking error."""
    count = names.count(",") + 1
    if isinstance(returned, (tuple, list)) and len(returned) == count:
        return returned
    what = "None" if returned is None else (f"{len(returned)} values" if isinstance(returned, (tuple, list))
                                            else type(returned).__name__)
    raise TypeError(f"{function} returned {what}, not ({names})")


def _whole_windows(function, size, window, stride, pad):
    """The family's convolution and pooling may assume the windows tile the (padded) input exactly: H' = 1 + (H + 2 pad
    - HH) / stride is a whole number (the pooling docstring says so; the fast layers assert it).  A case where it is
    not (the textbook floors) is outside the form: NotInForm, so its checks are SKIPPED."""

    for length, extent in zip(size, window):
        if (length + 2 * pad - extent) % stride:
            raise NotInForm(f"{function} may assume whole windows, (H + 2 pad - HH) % stride == 0; this case has "
                            f"{length} + 2*{pad} - {extent} not a multiple of stride {stride} (the textbook floors)")


def _affine(m):
    class Affine:
        """affine_forward / affine_backward as the textbook's Affine (dW and db kept)."""

        def __init__(self, W, b):
            self.W, self.b = W, b
            self.dW = self.db = None

        def forward(self, x):
            out, self.cache = _parts(m.affine_forward(x, self.W, self.b), "affine_forward", "out, cache")
            return out

        def backward(self, dout):
            dx, self.dW, self.db = _parts(m.affine_backward(dout, self.cache), "affine_backward", "dx, dw, db")
            return dx

    return Affine


def _elementwise(name):
    def make(m):
        forward, backward = getattr(m, f"{name}_forward"), getattr(m, f"{name}_backward")

        class Layer:
            __doc__ = f"{name}_forward / {name}_backward as the textbook's layer"

            def forward(self, x):
                out, self.cache = _parts(forward(x), f"{name}_forward", "out, cache")
                return out

            def backward(self, dout):
                return backward(dout, self.cache)

        Layer.__name__ = "Relu" if name == "relu" else "Sigmoid"
        return Layer

    return make


def _softmax_loss(m):
    class SoftmaxWithLoss:
        """softmax_loss as the textbook's SoftmaxWithLoss (see the module docstring for what it adds)."""

        def forward(self, x, t):
            self.shape = np.shape(x)
            batch = np.reshape(x, (-1, self.shape[-1]))
            t = np.asarray(t)
            labels = t.reshape(batch.shape).argmax(axis=1) if t.size == batch.size else t.reshape(-1)
            loss, self.dx = _parts(m.softmax_loss(batch, labels), "softmax_loss", "loss, dx")
            return loss

        def backward(self, dout=1):
            return np.reshape(self.dx * dout, self.shape)

    return SoftmaxWithLoss


def _convolution(m):
    class Convolution:
        """conv_forward_naive / conv_backward_naive as the textbook's Convolution (dW and db kept)."""

        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b, self.stride, self.pad = W, b, stride, pad
            self.dW = self.db = None

        def forward(self, x):
            _whole_windows("conv_forward_naive", np.shape(x)[2:], np.shape(self.W)[2:], self.stride, self.pad)
            out, self.cache = _parts(m.conv_forward_naive(x, self.W, self.b, {"stride": self.stride, "pad": self.pad}),
                                     "conv_forward_naive", "out, cache")
            return out

        def backward(self, dout):
            dx, self.dW, self.db = _parts(m.conv_backward_naive(dout, self.cache), "conv_backward_naive",
                                           "dx, dw, db")
            return dx

    return Convolution


def _pooling(m):
    class Pooling:
        """max_pool_forward_naive / max_pool_backward_naive as the textbook's Pooling; padding by the adapter."""

        def __init__(self, pool_h, pool_w, stride=2, pad=0):
            self.param = {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}
            self.pad = pad

        def forward(self, x):
            window = (self.param["pool_height"], self.param["pool_width"])
            _whole_windows("max_pool_forward_naive", np.shape(x)[2:], window, self.param["stride"], self.pad)
            if self.pad:
                p = self.pad
                x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
            out, self.cache = _parts(m.max_pool_forward_naive(x, self.param), "max_pool_forward_naive",
                                     "out, cache")
            return out

        def backward(self, dout):
            dx = m.max_pool_backward_naive(dout, self.cache)
            if self.pad and dx is not None:  # None is reported as what it is, not as the adapter's slicing error
                p = self.pad
                dx = dx[:, :, p:-p, p:-p]
            return dx

    return Pooling


def _rule(piece):
    name, names = RULES[piece]

    def make(m):
        rule = getattr(m, name)

        class Rule:
            __doc__ = f"{name}(w, dw, config) as the textbook's {piece}: one config per parameter"
            family = "cs231n"  # optimizer_checks takes the family's twin (family_twin) where it has one

            def __init__(self, **hyper):
                self.config = {names[k]: v for k, v in hyper.items()}
                self.configs = {}

            def update(self, params, grads):
                for key in params:
                    config = self.configs.get(key)
                    next_w, self.configs[key] = _parts(rule(params[key], grads[key],
                                                            dict(self.config) if config is None else config),
                                                       name, "next_w, config")
                    params[key][...] = next_w

        Rule.__name__ = piece
        return Rule

    return make


def _batchnorm(m):

    class BatchNormalization:
        """batchnorm_forward / batchnorm_backward as the textbook's BatchNormalization (see the module docstring)."""

        def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
            self.gamma, self.beta = gamma, beta
            self.bn_param = {"eps": BATCH_NORM_EPSILON, "momentum": momentum}
            if running_mean is not None:
                self.bn_param.update(running_mean=running_mean, running_var=running_var)
            self.dgamma = self.dbeta = None

        running_mean = property(lambda self: self.bn_param.get("running_mean"))
        running_var = property(lambda self: self.bn_param.get("running_var"))

        def forward(self, x, train_flg=True):
            self.shape, self.train = np.shape(x), bool(train_flg)
            self.bn_param["mode"] = "train" if self.train else "test"
            out, self.cache = _parts(m.batchnorm_forward(np.reshape(x, (self.shape[0], -1)), self.gamma, self.beta,
                                                         self.bn_param), "batchnorm_forward", "out, cache")
            return np.reshape(out, self.shape)

        def backward(self, dout):
            if not self.train:
                raise NotInForm("batchnorm_backward has no form after a test-mode forward (CS231n's differentiates "
                                "the batch statistics); the textbook's test-mode backward is not checked")
            returned = m.batchnorm_backward(np.reshape(dout, (self.shape[0], -1)), self.cache)
            dx, self.dgamma, self.dbeta = _parts(returned, "batchnorm_backward", "dx, dgamma, dbeta")
            return np.reshape(dx, self.shape)

    return BatchNormalization


OLD_DROPOUT_P = "we drop each neuron output with probability p"  # the older assignment's docstring (2017 and before)


def _p_drops(function):
    """Whether `function`'s docstring says p is the probability of dropping a unit (the older form), not of keeping."""
    return OLD_DROPOUT_P in " ".join((function.__doc__ or "").split()).lower()


def _dropout(m):
    drops = _p_drops(m.dropout_forward)

    class Dropout:
        """dropout_forward / dropout_backward as the textbook's Dropout(dropout_ratio): p = 1 - dropout_ratio, or
        dropout_ratio itself where the function's docstring says p is the probability of dropping (the older form)."""

        family = "cs231n"  # normalization.DropoutSpec.for_impl takes the family's twin (inverted dropout)
        note = "p the drop probability, as its docstring says" if drops else ""

        def __init__(self, dropout_ratio=0.5):
            self.dropout_ratio = dropout_ratio

        def forward(self, x, train_flg=True):
            p = self.dropout_ratio if drops else 1.0 - self.dropout_ratio
            out, self.cache = _parts(m.dropout_forward(x, {"p": p, "mode": "train" if train_flg else "test"}),
                                     "dropout_forward", "out, cache")
            return out

        def backward(self, dout):
            return m.dropout_backward(dout, self.cache)

    return Dropout
