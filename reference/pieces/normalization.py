"""Batch normalization and dropout (the textbook's chapter 6): for each its record, how its inputs and masks are
drawn, how the implementation is called over a sequence of calls, and its twin."""

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.lazy_torch import F
from bp_parity.reference.pieces.registry import Form, Piece, register
from bp_parity.reference.pieces.spec import _numpy, _tensor, beyond_protocol, NotInForm, parts, Spec, TEST_MODE_BACKWARD
from bp_parity.reference.report import deviations
from bp_parity.reference.report.deviations import Deviation


BATCH_NORM_EPSILON = 1e-6  # the textbook's, inside the square root (torch's default is 1e-5)

def batch_norm(x, gamma, beta, running_mean=None, running_var=None, train=True):
    """The textbook's BatchNormalization forward: x flattened to (N, D), normalised per element by the batch's
    mean and biased variance (train) or by the running statistics (test), then gamma * xn + beta."""
    rows = x.reshape(x.shape[0], -1)
    if train:
        y = F.batch_norm(rows, None, None, gamma, beta, training=True, eps=BATCH_NORM_EPSILON)
    else:
        y = F.batch_norm(rows, running_mean, running_var, gamma, beta, training=False, eps=BATCH_NORM_EPSILON)
    return y.reshape(x.shape)

def batch_norm_running(x, running_mean, running_var, momentum):
    """The textbook's running statistics after one training forward, written out:
    running = momentum * running + (1 - momentum) * batch, with the batch's biased variance."""
    rows = x.detach().reshape(x.shape[0], -1)
    mean = rows.mean(dim=0)
    var = ((rows - mean) ** 2).mean(dim=0)
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var

def spatial_batch_norm(x, gamma, beta, running_mean=None, running_var=None, train=True):
    """Batch normalization of images per channel (CS231n's spatial batch norm): x (N, C, H, W) normalised over N, H
    and W for each channel, the textbook's epsilon, gamma * xn + beta with gamma and beta of shape (C,).  torch's
    F.batch_norm on a 4-D input is exactly this (it normalises per channel).  In training the running statistics are
    not handed to it (it would move them by its own rule: spatial_batch_norm_running writes the textbook's)."""
    if train:
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=BATCH_NORM_EPSILON)
    return F.batch_norm(x, running_mean, running_var, gamma, beta, training=False, eps=BATCH_NORM_EPSILON)

def spatial_batch_norm_running(x, running_mean, running_var, momentum):
    """The running statistics of spatial_batch_norm after one training forward: the textbook's rule per channel."""
    channels = x.detach().transpose(0, 1).reshape(x.shape[1], -1)
    mean = channels.mean(dim=1)
    var = ((channels - mean[:, None]) ** 2).mean(dim=1)
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (1 - momentum) * var

def layer_norm(x, gamma, beta, eps=1e-5):
    """Layer normalization: each sample of x, flattened to (N, D), normalised over its features (the biased
    variance, eps inside the square root), then gamma * xn + beta.  torch's F.layer_norm over the last axis is this
    formula term for term."""
    rows = x.reshape(x.shape[0], -1)
    return F.layer_norm(rows, (rows.shape[1],), gamma, beta, eps).reshape(x.shape)

def group_norm(x, gamma, beta, G=1, eps=1e-5):
    """Group normalization of images: x (N, C, H, W), C split into G contiguous groups, each sample's group
    normalised over its C/G * H * W values (the biased variance, eps inside the square root), then gamma * xn + beta
    per channel.  torch's F.group_norm is this formula term for term."""
    return F.group_norm(x, int(G), gamma.reshape(-1), beta.reshape(-1), eps)

def dropout(x, mask, ratio, train=True):
    """The textbook's dropout: x * mask in training (no rescaling), x * (1 - ratio) at test time."""
    return x * mask if train else x * (1.0 - ratio)

def textbook_dropout_mask(generator, shape, ratio):
    """The mask the textbook draws from NumPy's global generator: rand(*shape) > ratio, replayed from
    `generator` (a numpy RandomState put in the global generator's state before the forward)."""
    return generator.rand(*shape) > ratio

def inverted_dropout(x, mask, ratio, train=True):
    """The CS231n family's dropout (reference.pieces.functional): x * mask / p in training, with p = 1 - ratio the
    probability of keeping a unit; x itself at test time.  torch's F.dropout(x, ratio) is this form with its own
    draw (tests/test_functional.py predicts the two equal to rounding on the mask torch drew)."""
    return x * mask / (1.0 - ratio) if train else x

def inverted_dropout_mask(generator, shape, ratio):
    """The mask the family draws from NumPy's global generator: rand(*shape) < p, p = 1 - ratio (the course notes'
    draw), replayed from `generator` as textbook_dropout_mask is.  On the same draws u it is the textbook's mask of
    the reflected draws 1 - u (exact: 1 - u is representable for every u that rand returns)."""
    return generator.rand(*shape) < 1.0 - ratio

def reflected_dropout_mask(generator, shape, ratio):
    """The other mask the family's code draws (reference.report.deviations.REFLECTED_MASK): u > 1 - p = ratio from the same
    uniforms, which is the textbook's mask."""
    return textbook_dropout_mask(generator, shape, ratio)


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
    test_mode_differs = True  # its test-mode forward reads running statistics: a network's predict() has no twin
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
        if bool(inp["_train"]):
            dx = layer.backward(inp["dout"])
        else:  # the textbook never makes this call: judged where the implementation answers it, else SKIPPED
            dx = beyond_protocol(lambda: layer.backward(inp["dout"]), TEST_MODE_BACKWARD)
        return {"dx": dx, "dgamma": layer.dgamma, "dbeta": layer.dbeta}

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

    def test_twin(self, layer):
        """In a network's test-mode forward: the layer's running statistics as they are now (a training forward
        has set them), with its own gamma and beta."""
        mean, var = (_tensor(np.array(getattr(layer, k), copy=True)) for k in ("running_mean", "running_var"))
        return lambda x, gamma, beta: self.twin(x, gamma, beta, mean, var, False)

def _spread(groups, rng, scale, offset=1.0):
    """`groups` (G, M) redrawn so that each row, a set of values normalised together, has a mean drawn N(0, 1) times
    `offset` and a standard deviation drawn in STD_RANGE, all times `scale`: the terms of a correct dx stay unit-sized
    (STD_RANGE's premise), and a case's scale moves the variance against epsilon without moving the rounding."""
    centred = groups - groups.mean(axis=1, keepdims=True)
    spread = centred.std(axis=1, keepdims=True)
    centred = centred / np.where(spread > 0, spread, 1.0) * rng.uniform(*STD_RANGE, size=(groups.shape[0], 1))
    return (rng.normal(size=(groups.shape[0], 1)) * offset + centred) * scale


class SpatialBatchNormSpec(BatchNormSpec):
    """SpatialBatchNormalization(gamma, beta, momentum, running_mean, running_var): BatchNormalization's calls and
    options on images x (N, C, H, W), normalised per channel over N, H and W; gamma, beta and the running statistics
    of shape (C,).  Each channel's values are drawn with their spread in STD_RANGE times the case's scale."""

    def inputs(self, case, rng):
        n, c = case.shape[:2]
        x = rng.normal(size=case.shape)
        channels = _spread(np.moveaxis(x, 1, 0).reshape(c, -1), rng, case.scale)
        inputs = {"x": np.ascontiguousarray(np.moveaxis(channels.reshape((c, n) + tuple(case.shape[2:])), 0, 1)),
                  "gamma": rng.normal(size=c), "beta": rng.normal(size=c),
                  "momentum": np.asarray(case.option("momentum", rng.uniform(0.5, 0.99)))}
        running = (rng.normal(size=c), rng.uniform(0.5, 2.0, size=c))
        if self._drawn_start(case):
            inputs["running_mean"], inputs["running_var"] = running
        inputs["dout"] = rng.normal(size=case.shape)
        inputs["_train"] = np.asarray(bool(case.option("train", True)))
        return inputs

    def _running(self, inp):
        zero = np.zeros(inp["x"].shape[1], dtype=inp["x"].dtype)
        return (_tensor(inp.get("running_mean", zero)), _tensor(inp.get("running_var", zero)))


class GroupedNormSpec(Spec):
    """A normalization over each sample's own values, the same in training and at test time: LayerNormalization(gamma,
    beta, eps) over a sample's features, GroupNormalization(gamma, beta, G, eps) over each of its G groups of
    channels; forward(x), backward(dout) -> dx keeping dgamma and dbeta.

    The case's options: eps (default 1e-5, CS231n's), handed to the constructor, so a layer that keeps an epsilon
    of its own is caught where the case's differs or the variance is small; G (GroupNormalization, default 1);
    offset (each group's mean drawn N(0, 1) times it, default 1: a large one is where a one-pass variance,
    E[x^2] - E[x]^2, loses its digits).  Each group's spread is drawn in STD_RANGE times the case's scale: a small
    scale is the tiny variance where epsilon weighs."""

    tensors = ("forward", "dx", "dgamma", "dbeta")
    fd_tensors = ("dx", "dgamma", "dbeta")
    stateful = True
    params = ("gamma", "beta")

    def __init__(self, name, twin, grouped):
        self.name = name
        self.requires = (name,)
        self.twin = twin
        self.grouped = grouped  # whether the constructor takes G (channels in groups) after gamma and beta
        self.construction = ("gamma", "beta") + (("G",) if grouped else ()) + ("eps",)

    def inputs(self, case, rng):
        x = rng.normal(size=case.shape)
        n = case.shape[0]
        if self.grouped:
            groups, features = int(case.option("G", 1)), case.shape[1]
            x = _spread(x.reshape(n * groups, -1), rng, case.scale, case.option("offset", 1.0)).reshape(case.shape)
        else:
            features = int(np.prod(case.shape[1:]))
            x = _spread(x.reshape(n, -1), rng, case.scale, case.option("offset", 1.0)).reshape(case.shape)
        inputs = {"x": x, "gamma": rng.normal(size=features), "beta": rng.normal(size=features),
                  "eps": np.asarray(float(case.option("eps", 1e-5)))}
        if self.grouped:
            inputs["G"] = np.asarray(int(case.option("G", 1)))
        inputs["dout"] = rng.normal(size=case.shape)
        return inputs

    def _construct(self, layer_class, args):
        grouped = (int(args["G"]),) if self.grouped else ()
        return layer_class(args["gamma"], args["beta"], *grouped, float(args["eps"]))

    def make(self, impl, inp):
        return self._construct(impl.require(self.name), inp)

    def forward(self, layer, inp):
        return {"forward": layer.forward(inp["x"])}

    def backward(self, layer, inp):
        return {"dx": layer.backward(inp["dout"]), "dgamma": layer.dgamma, "dbeta": layer.dbeta}

    def _settings(self, inp):
        return dict(({"G": int(inp["G"])} if self.grouped else {}), eps=float(inp["eps"]))

    def run_twin(self, inp):
        x, gamma, beta = (_tensor(inp[k], True) for k in ("x", "gamma", "beta"))
        y = self.twin(x, gamma, beta, **self._settings(inp))
        y.backward(_tensor(inp["dout"]))
        return {"forward": _numpy(y), "dx": _numpy(x.grad), "dgamma": _numpy(gamma.grad), "dbeta": _numpy(beta.grad)}

    def fd_losses(self, impl, inp):
        layer_class = impl.require(self.name)
        given = {k: inp[k] for k in self.construction + ("x",)}

        def loss_of(name):
            def f(value):
                args = dict(given, **{name: value})
                return np.sum(self._construct(layer_class, args).forward(args["x"]) * inp["dout"])
            return f

        return {"dx": (loss_of("x"), inp["x"]), "dgamma": (loss_of("gamma"), inp["gamma"]),
                "dbeta": (loss_of("beta"), inp["beta"])}

    def trace_twin(self, layer, generator):
        """In a network's trace: the twin with the layer's own epsilon (and groups)."""
        settings = {"eps": float(getattr(layer, "eps", 1e-5))}
        if self.grouped:
            settings["G"] = int(getattr(layer, "G", 1))
        return lambda x, gamma, beta: self.twin(x, gamma, beta, **settings)


class DropoutSpec(Spec):
    """Dropout(dropout_ratio): forward(x, train_flg), backward(dout).

    The mask is the textbook's: NumPy's global generator, rand(*x.shape) > ratio.  The harness puts the
    global generator in a state of its own before every forward (and gives it back afterwards), so the
    twin replays the same mask from the same state, and finite differences, which evaluate a fresh layer
    at every point, see one mask throughout, never a new draw.  The mask the implementation used is read
    from its output (x is never 0) and compared with the textbook's draw as the tensor "mask".
    Options: ratio (default 0.5), train (default True).

    A piece whose class has family "cs231n" (the adapter of dropout_forward/dropout_backward, _dropout_form)
    is checked against that family's form instead (for_impl): inverted dropout, the mask rand(*x.shape) < p drawn
    from the same state, kept units scaled by 1/p, p = 1 - ratio; x itself at test time.
    """

    family = None  # FamilyDropoutSpec names its family

    tensors = ("forward", "mask", "dx")
    fd_tensors = ("dx",)
    test_mode_differs = True  # its test-mode forward scales where training masks: predict() has no twin
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
        return FamilyDropoutSpec(self.name, inverted_dropout, inverted_dropout_mask)

    def forward(self, layer, inp):
        train = bool(inp["_train"])
        with streams.GlobalGenerator(inp["_seed"]):
            y = layer.forward(inp["x"], train)
        outputs = {"forward": y}
        if train:
            outputs["mask"] = np.asarray(np.asarray(y) != 0)
        return outputs

    def backward(self, layer, inp):
        if bool(inp["_train"]):
            return {"dx": layer.backward(inp["dout"])}
        # the textbook never makes this call: judged where the implementation answers it, else SKIPPED
        return {"dx": beyond_protocol(lambda: layer.backward(inp["dout"]), TEST_MODE_BACKWARD)}

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

    def test_twin(self, layer):
        """In a network's test-mode forward: no mask, the form's test-time scaling, with the layer's own ratio."""
        ratio = float(getattr(layer, "dropout_ratio", 0.5))
        return lambda x: self.twin(x, None, ratio, False)

class FamilyDropoutSpec(DropoutSpec):
    """The CS231n family's dropout (DropoutSpec.for_impl): its twin draws the course notes' mask, rand(*x.shape) < p;
    the reflected draw from the same uniforms, u > 1 - p, is the other documented convention
    (reference.report.deviations.REFLECTED_MASK), with forward and dx computed on it."""

    family = "cs231n"
    conventions = {t: ((f"{t} (reflected mask)", deviations.REFLECTED_MASK),) for t in ("forward", "mask", "dx")}

    def run_twin(self, inp):
        outputs = super().run_twin(inp)
        if bool(inp["_train"]):
            other = DropoutSpec(self.name, self.twin, reflected_dropout_mask).run_twin(inp)
            outputs.update({f"{k} (reflected mask)": v for k, v in other.items()})
        return outputs


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
        twin="the textbook's rule written out (reference.pieces.batch_norm_running)",
        consequence="with m_t = 1 - momentum the means agree and torch's running variance is larger by "
        "(1 - momentum) var / (N - 1)",
        predicted_by="tests/test_deviations.py::test_torch_running_statistics_differ_from_the_textbooks_by_the_"
        "predicted_terms",
    ),
)


def _batch_norm_form(m, forward="batchnorm_forward", backward="batchnorm_backward", flatten=True):
    class BatchNormalization:
        """batchnorm_forward / batchnorm_backward as the textbook's BatchNormalization: the textbook's epsilon and
        momentum through bn_param (the form takes both from there: eps 1e-5 is only its default), its mode from
        train_flg, the running statistics in and out of bn_param, a 4-D input flattened to (N, C*H*W) as the textbook
        does; the form has no backward after a test-mode forward, so those checks are SKIPPED (NotInForm)."""

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
            given = np.reshape(x, (self.shape[0], -1)) if flatten else x
            out, self.cache = parts(getattr(m, forward)(given, self.gamma, self.beta, self.bn_param), forward,
                                    "out, cache")
            return np.reshape(out, self.shape)

        def backward(self, dout):
            if not self.train:
                raise NotInForm(f"{backward} has no form after a test-mode forward (CS231n's differentiates "
                                "the batch statistics); the textbook's test-mode backward is not checked")
            returned = getattr(m, backward)(np.reshape(dout, (self.shape[0], -1)) if flatten else dout, self.cache)
            dx, self.dgamma, self.dbeta = parts(returned, backward, "dx, dgamma, dbeta")
            return np.reshape(dx, self.shape)

    return BatchNormalization


def _batch_norm_alt_form(m):
    """batchnorm_forward / batchnorm_backward_alt as BatchNormalizationAlt: the batch norm form with the closed-form
    backward."""
    return _batch_norm_form(m, backward="batchnorm_backward_alt")


def _spatial_batch_norm_form(m):
    """spatial_batchnorm_forward / spatial_batchnorm_backward as SpatialBatchNormalization: the batch norm form on
    (N, C, H, W) as given, gamma, beta and the running statistics of shape (C,)."""
    return _batch_norm_form(m, "spatial_batchnorm_forward", "spatial_batchnorm_backward", flatten=False)


def _grouped_form(m, forward, backward, grouped):
    class Normalization:
        """layernorm_forward(x, gamma, beta, ln_param) / layernorm_backward(dout, cache) as LayerNormalization(gamma,
        beta, eps), or spatial_groupnorm_forward(x, gamma, beta, G, gn_param) / spatial_groupnorm_backward as
        GroupNormalization(gamma, beta, G, eps): the case's epsilon through the parameter dict (eps is the only key
        the forms read); a layer norm's input flattened to (N, D), as the form takes it; a group norm's gamma and
        beta handed over as (1, C, 1, 1), the shape the assignment's notebook passes (2020 to 2022, also where the
        docstring of 2020 says (C,)), and its dgamma and dbeta read back as C values, any other size a TypeError; an
        output or dx of another shape than its input is a TypeError that says so."""

        def __init__(self, gamma, beta, *rest):
            self.gamma, self.beta = gamma, beta
            self.G, self.eps = (int(rest[0]), float(rest[1])) if grouped else (None, float(rest[0]))
            self.dgamma = self.dbeta = None

        def _given(self, value):
            return np.reshape(value, (1, -1, 1, 1)) if grouped else value

        def _shaped(self, value, function, name, shape):
            if np.shape(value) != tuple(shape):
                raise TypeError(f"{function} returned {name} of shape {np.shape(value)}, not {tuple(shape)}")
            return value

        def forward(self, x):
            self.shape = np.shape(x)
            given = x if grouped else np.reshape(x, (self.shape[0], -1))
            arguments = (self.G,) if grouped else ()
            out, self.cache = parts(getattr(m, forward)(given, self._given(self.gamma), self._given(self.beta),
                                                        *arguments, {"eps": self.eps}), forward, "out, cache")
            return np.reshape(self._shaped(out, forward, "out", np.shape(given)), self.shape)

        def backward(self, dout):
            given = dout if grouped else np.reshape(dout, (self.shape[0], -1))
            dx, dgamma, dbeta = parts(getattr(m, backward)(given, self.cache), backward, "dx, dgamma, dbeta")
            for name, value in (("dgamma", dgamma), ("dbeta", dbeta)):
                if grouped and np.size(value) != np.size(self.gamma):
                    raise TypeError(f"{backward} returned {name} of shape {np.shape(value)}, not C = "
                                    f"{np.size(self.gamma)} values")
                setattr(self, name, np.reshape(value, np.shape(self.gamma)) if grouped else value)
            return np.reshape(self._shaped(dx, backward, "dx", np.shape(given)), self.shape)

    return Normalization


def _layer_norm_form(m):
    return _grouped_form(m, "layernorm_forward", "layernorm_backward", grouped=False)


def _group_norm_form(m):
    return _grouped_form(m, "spatial_groupnorm_forward", "spatial_groupnorm_backward", grouped=True)


OLD_DROPOUT_P = "we drop each neuron output with probability p"  # the older assignment's docstring (2017 and before)


def _p_drops(function):
    """Whether `function`'s docstring says p is the probability of dropping a unit (the older form), not of keeping."""
    return OLD_DROPOUT_P in " ".join((function.__doc__ or "").split()).lower()


def _dropout_form(m):
    drops = _p_drops(m.dropout_forward)

    class Dropout:
        """dropout_forward / dropout_backward as the textbook's Dropout(dropout_ratio): p = 1 - dropout_ratio, or
        dropout_ratio itself where the function's docstring says p is the probability of dropping (the older form);
        its mode from train_flg, and no seed: the function draws from NumPy's global generator, which the harness
        puts in a state of its own before every forward, as for the textbook's Dropout."""

        family = "cs231n"  # DropoutSpec.for_impl takes the family's twin (inverted dropout)
        note = "p the drop probability, as its docstring says" if drops else ""

        def __init__(self, dropout_ratio=0.5):
            self.dropout_ratio = dropout_ratio

        def forward(self, x, train_flg=True):
            p = self.dropout_ratio if drops else 1.0 - self.dropout_ratio
            out, self.cache = parts(m.dropout_forward(x, {"p": p, "mode": "train" if train_flg else "test"}),
                                    "dropout_forward", "out, cache")
            return out

        def backward(self, dout):
            return m.dropout_backward(dout, self.cache)

    return Dropout


C = LayerCase
register(Piece("BatchNormalization", "layer",
               "class BatchNormalization(gamma, beta, momentum=0.9, running_mean=None, running_var=None): "
               "forward(x, train_flg=True); backward(dout) -> dx; keeps dgamma, dbeta, running_mean, running_var",
               spec=BatchNormSpec("BatchNormalization", batch_norm, batch_norm_running),
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
                   C("BatchNormalization-1feature", "BatchNormalization", shape=(9, 1))),
               form=Form(("batchnorm_forward", "batchnorm_backward"), _batch_norm_form)))

register(Piece("BatchNormalizationAlt", "layer",
               "class BatchNormalizationAlt(gamma, beta, momentum=0.9, running_mean=None, running_var=None): "
               "BatchNormalization's calls and conventions, its backward in closed form (CS231n's "
               "batchnorm_backward_alt)",
               spec=BatchNormSpec("BatchNormalizationAlt", batch_norm, batch_norm_running),
               deviations=(),
               cases=(
                   C("BatchNormalizationAlt-2d", "BatchNormalizationAlt", shape=(8, 6)),
                   C("BatchNormalizationAlt-4d", "BatchNormalizationAlt", shape=(4, 2, 2, 3)),
                   C("BatchNormalizationAlt-3samples", "BatchNormalizationAlt", shape=(3, 5)),
                   C("BatchNormalizationAlt-small-spread", "BatchNormalizationAlt", shape=(7, 4), scale=1e-2,
                     dtypes=("float64",)),
                   C("BatchNormalizationAlt-test", "BatchNormalizationAlt", shape=(6, 4),
                     options=(("train", False),))),
               form=Form(("batchnorm_forward", "batchnorm_backward_alt"), _batch_norm_alt_form)))

register(Piece("SpatialBatchNormalization", "layer",
               "class SpatialBatchNormalization(gamma, beta, momentum=0.9, running_mean=None, running_var=None): "
               "forward(x, train_flg=True) on x (N, C, H, W), normalised per channel; backward(dout) -> dx; keeps "
               "dgamma, dbeta, running_mean, running_var of shape (C,)",
               spec=SpatialBatchNormSpec("SpatialBatchNormalization", spatial_batch_norm, spatial_batch_norm_running),
               cases=(
                   C("SpatialBatchNormalization-4d", "SpatialBatchNormalization", shape=(4, 3, 3, 3)),
                   # one sample: each channel's statistics still come from its H * W values
                   C("SpatialBatchNormalization-1sample", "SpatialBatchNormalization", shape=(1, 2, 3, 4)),
                   C("SpatialBatchNormalization-1channel", "SpatialBatchNormalization", shape=(3, 1, 2, 5)),
                   C("SpatialBatchNormalization-small-spread", "SpatialBatchNormalization", shape=(2, 3, 3, 2),
                     scale=1e-2, dtypes=("float64",)),
                   C("SpatialBatchNormalization-zero-start", "SpatialBatchNormalization", shape=(3, 2, 2, 2),
                     options=(("start", "zero"),)),
                   C("SpatialBatchNormalization-test", "SpatialBatchNormalization", shape=(3, 4, 2, 2),
                     options=(("train", False),))),
               form=Form(("spatial_batchnorm_forward", "spatial_batchnorm_backward"), _spatial_batch_norm_form)))

# A small spread (a standard deviation of 0.01 to 0.02, a variance 10 to 40 times epsilon 1e-5, so that epsilon moves
# xn by 1% to 5%) is float64 alone: dx's terms grow as 1 / std, to about 1e2, so float32's rounding of them is no
# longer unit-sized (the float32 tolerance's premise, STD_RANGE), and the float64 check, scaled to the tensor, is the
# sharp one there.  It stops at 0.01: finite differences step by about 6e-6 (reference.report.tolerance.fd_step, for
# |x| <= 1) whatever the spread, and their truncation error grows as (step / std)^2 (at 1e-3 they used half their
# allowance).  A large offset (each sample's mean 1e4 times its
# spread) is float64 alone and twin alone: float32 keeps 7 digits of
# the mean, which leaves 3 of the normalised value on both sides (no tolerance is principled there), and the finite
# difference's step grows with |x| (reference.report.tolerance.fd_step) to a fraction of the spread.
register(Piece("LayerNormalization", "layer",
               "class LayerNormalization(gamma, beta, eps=1e-5): forward(x) normalising each sample over its "
               "features; backward(dout) -> dx; keeps dgamma, dbeta",
               spec=GroupedNormSpec("LayerNormalization", layer_norm, grouped=False),
               cases=(
                   C("LayerNormalization-2d", "LayerNormalization", shape=(8, 6)),
                   C("LayerNormalization-1sample", "LayerNormalization", shape=(1, 9)),
                   # three features, the fewest with a dx not zero by construction: with two, xn is +-1 to within epsilon (STD_RANGE)
                   C("LayerNormalization-3features", "LayerNormalization", shape=(5, 3)),
                   C("LayerNormalization-4d", "LayerNormalization", shape=(3, 2, 2, 3)),  # flattened to (N, 12)
                   # the variance 10 to 40 times epsilon: where epsilon and its place count
                   C("LayerNormalization-small-spread", "LayerNormalization", shape=(4, 7), scale=1e-2,
                     dtypes=("float64",)),
                   # an epsilon of the case's own, large next to the variance (1 to 4): one kept by the layer is caught
                   C("LayerNormalization-eps", "LayerNormalization", shape=(4, 5), options=(("eps", 0.5),)),
                   C("LayerNormalization-offset", "LayerNormalization", shape=(4, 6), dtypes=("float64",),
                     fd="none", options=(("offset", 1e4),))),
               form=Form(("layernorm_forward", "layernorm_backward"), _layer_norm_form)))

register(Piece("GroupNormalization", "layer",
               "class GroupNormalization(gamma, beta, G, eps=1e-5): forward(x) on x (N, C, H, W), each sample's G "
               "groups of C/G channels normalised; backward(dout) -> dx; keeps dgamma, dbeta",
               spec=GroupedNormSpec("GroupNormalization", group_norm, grouped=True),
               cases=(
                   C("GroupNormalization-G2", "GroupNormalization", shape=(2, 6, 3, 3), options=(("G", 2),)),
                   C("GroupNormalization-G3", "GroupNormalization", shape=(3, 6, 2, 2), options=(("G", 3),)),
                   C("GroupNormalization-G1", "GroupNormalization", shape=(2, 4, 2, 3), options=(("G", 1),)),  # layer
                   C("GroupNormalization-GC", "GroupNormalization", shape=(2, 3, 3, 3), options=(("G", 3),)),  # instance
                   C("GroupNormalization-small-spread", "GroupNormalization", shape=(2, 4, 2, 2), scale=1e-2,
                     dtypes=("float64",), options=(("G", 2),)),
                   C("GroupNormalization-eps", "GroupNormalization", shape=(2, 4, 2, 2),
                     options=(("G", 2), ("eps", 0.5))),
                   C("GroupNormalization-offset", "GroupNormalization", shape=(2, 4, 2, 2), dtypes=("float64",),
                     fd="none", options=(("G", 2), ("offset", 1e4)))),
               form=Form(("spatial_groupnorm_forward", "spatial_groupnorm_backward"), _group_norm_form)))

register(Piece("Dropout", "layer", "class Dropout(dropout_ratio=0.5): forward(x, train_flg=True) with the mask "
               "np.random.rand(*x.shape) > dropout_ratio; backward(dout) -> dx",
               spec=DropoutSpec("Dropout", dropout, textbook_dropout_mask),
               cases=(
                   C("Dropout-2d", "Dropout", shape=(8, 10)),
                   C("Dropout-4d", "Dropout", shape=(3, 2, 4, 4), options=(("ratio", 0.3),)),
                   C("Dropout-ratio0.8", "Dropout", shape=(6, 9), options=(("ratio", 0.8),)),
                   C("Dropout-test", "Dropout", shape=(8, 10), options=(("ratio", 0.2), ("train", False)))),
               form=Form(("dropout_forward", "dropout_backward"), _dropout_form)))
