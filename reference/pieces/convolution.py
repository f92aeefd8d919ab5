"""How convolution, pooling, im2col and col2im are checked: their inputs, and the harness's own window arithmetic.

Case options (reference.base.cases.LayerCase.options): filter (FH, FW) or pool (PH, PW), stride, pad; out is the
number of filters; ties (pooling) draws inputs from three values so windows tie.

Sizes: out = (H + 2 pad - FH) // stride + 1 (floor: a window that would run past the padded edge is not taken),
written here once, apart from the implementation's.  Layout of col, the textbook's: one row per window in the
order (n, y, x) of its output position, one column per element in the order (c, i, j), which is the order of
W.reshape(FN, -1).  Twins: reference.pieces (unfold, fold, conv2d, max_pool2d).

Pooling inputs are drawn without ties: every element of x is distinct, at least 2 / x.size apart (a permutation
of an even grid, jittered), so a central difference (step ~6e-6 |x|) never changes which element wins a window.
The one tie case (option ties) draws from {-1, 0, 1} and is judged by the twin alone; its convention (a tied
window's gradient goes to the first maximum in row-major order, as np.argmax and torch's CPU max_pool2d do) is
stated in the piece's record and torch's side of it is checked directly in tests/test_conv.py.
"""

import numpy as np

from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.lazy_torch import F
from bp_parity.reference.pieces.registry import Form, Piece, register
from bp_parity.reference.pieces.spec import _numpy, _tensor, LayerSpec, parts, phase, Spec, whole_windows


def output_size(size, window, stride, pad):
    return (size + 2 * pad - window) // stride + 1


def _window(case, key):
    return tuple(case.option(key, (2, 2)))


def _settings(case, key):
    fh, fw = _window(case, key)
    return fh, fw, int(case.option("stride", 1)), int(case.option("pad", 0))


def draw_convolution(case, rng):
    """x standard normal (N, C, H, W) times the case's scale, W normal / sqrt(C FH FW) of (out, C, FH, FW), b normal
    * 0.5, dout standard normal of the output's shape; stride and pad from the case."""
    fh, fw, stride, pad = _settings(case, "filter")
    n, channels, height, width = case.shape
    fan_in = channels * fh * fw
    out = (n, case.out, output_size(height, fh, stride, pad), output_size(width, fw, stride, pad))
    return {"x": rng.normal(size=case.shape) * case.scale,
            "W": rng.normal(size=(case.out, channels, fh, fw)) / np.sqrt(fan_in),
            "b": rng.normal(size=case.out) * 0.5,
            "dout": rng.normal(size=out),
            "stride": np.asarray(stride), "pad": np.asarray(pad)}


def distinct(rng, shape):
    """Values of `shape` in [-2, 2), all distinct and at least 2 / size apart: a shuffled even grid, jittered."""
    size = int(np.prod(shape))
    grid = rng.permutation(size) + rng.uniform(0.25, 0.75, size=size)
    return (grid / size * 4.0 - 2.0).reshape(shape)


def draw_pooling(case, rng):
    """x without ties (distinct(), times the case's scale) or, for the tie case, from {-1, 0, 1}; dout standard
    normal of the output's shape; the window, stride and pad from the case."""
    ph, pw, stride, pad = _settings(case, "pool")
    n, channels, height, width = case.shape
    if case.option("ties", False):
        x = rng.integers(-1, 2, size=case.shape).astype(np.float64)
    else:
        x = distinct(rng, case.shape) * case.scale
    out = (n, channels, output_size(height, ph, stride, pad), output_size(width, pw, stride, pad))
    return {"x": x, "dout": rng.normal(size=out), "pool_h": np.asarray(ph), "pool_w": np.asarray(pw),
            "stride": np.asarray(stride), "pad": np.asarray(pad)}


def gather_windows(x, fh, fw, stride, pad):
    """The textbook's col of x, by the harness's own fancy indexing (not im2col, not unfold): what col2im's finite
    differences differentiate."""
    n, channels, height, width = x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out_h, out_w = output_size(height, fh, stride, pad), output_size(width, fw, stride, pad)
    rows = (np.arange(out_h) * stride)[:, None] + np.arange(fh)[None, :]  # (out_h, fh)
    cols = (np.arange(out_w) * stride)[:, None] + np.arange(fw)[None, :]  # (out_w, fw)
    picked = padded[:, :, rows[:, None, :, None], cols[None, :, None, :]]  # (N, C, out_h, out_w, fh, fw)
    return picked.transpose(0, 2, 3, 1, 4, 5).reshape(n * out_h * out_w, channels * fh * fw)


class Im2colSpec(Spec):
    """im2col(input_data, filter_h, filter_w, stride, pad) -> col: against torch's unfold (the same numbers laid
    out one row per window).  A copy of x's elements: no gradient of its own (col2im is its adjoint)."""

    name = "im2col"
    requires = ("im2col",)
    tensors = ("forward",)

    def __init__(self, twin):
        self.twin = twin

    def inputs(self, case, rng):
        fh, fw, stride, pad = _settings(case, "filter")
        return {"x": rng.normal(size=case.shape) * case.scale, "filter_h": np.asarray(fh),
                "filter_w": np.asarray(fw), "stride": np.asarray(stride), "pad": np.asarray(pad)}

    @staticmethod
    def _settings(inp):
        return tuple(int(inp[k]) for k in ("filter_h", "filter_w", "stride", "pad"))

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("call", outputs):
            outputs["forward"] = impl.require("im2col")(inp["x"], *self._settings(inp))
        return outputs

    def run_twin(self, inp):
        return {"forward": _numpy(self.twin(_tensor(inp["x"]), *self._settings(inp)))}


class Col2imSpec(Im2colSpec):
    """col2im(col, input_shape, filter_h, filter_w, stride, pad) -> an image of input_shape: against torch's fold,
    and against finite differences of <gather_windows(x), col> in x (col2im is the derivative of that inner
    product: the adjoint of taking windows), computed with the harness's own indexing."""

    name = "col2im"
    requires = ("col2im",)
    fd_tensors = ("forward",)

    def inputs(self, case, rng):
        fh, fw, stride, pad = _settings(case, "filter")
        n, channels, height, width = case.shape
        rows = n * output_size(height, fh, stride, pad) * output_size(width, fw, stride, pad)
        return {"col": rng.normal(size=(rows, channels * fh * fw)) * case.scale,
                "input_shape": np.asarray(case.shape), "filter_h": np.asarray(fh), "filter_w": np.asarray(fw),
                "stride": np.asarray(stride), "pad": np.asarray(pad), "_point": rng.normal(size=case.shape)}

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("call", outputs):
            outputs["forward"] = impl.require("col2im")(inp["col"], tuple(int(k) for k in inp["input_shape"]),
                                                         *self._settings(inp))
        return outputs

    def run_twin(self, inp):
        shape = tuple(int(k) for k in inp["input_shape"])
        return {"forward": _numpy(self.twin(_tensor(inp["col"]), shape, *self._settings(inp)))}

    def fd_losses(self, impl, inp):
        col, settings = np.asarray(inp["col"], dtype=np.float64), self._settings(inp)
        return {"forward": (lambda x: np.sum(gather_windows(x, *settings) * col), inp["_point"])}


def im2col(x, filter_h, filter_w, stride=1, pad=0):
    """The textbook's col (N out_h out_w, C filter_h filter_w) from torch's unfold (N, C filter_h filter_w, L):
    the same numbers, one row per window position instead of one column."""
    cols = F.unfold(x, (filter_h, filter_w), padding=pad, stride=stride)
    return cols.transpose(1, 2).reshape(-1, cols.shape[1])

def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """torch's fold, the adjoint of unfold (overlapping entries summed), on the textbook's col layout."""
    n, channels, height, width = input_shape
    cols = col.reshape(n, -1, channels * filter_h * filter_w).transpose(1, 2)
    return F.fold(cols, (height, width), (filter_h, filter_w), padding=pad, stride=stride)

def convolution(x, W, b, stride=1, pad=0):
    """conv2d (a cross-correlation) with the textbook's W (FN, C, FH, FW), which is also torch's layout."""
    return F.conv2d(x, W, b, stride=stride, padding=pad)

def max_pooling(x, pool_h, pool_w, stride=2, pad=0):
    """max_pool2d: padding counts as minus infinity; a tied window's gradient goes to its first maximum in
    row-major order on the CPU (tests/test_conv.py checks that rule of torch's directly)."""
    return F.max_pool2d(x, (pool_h, pool_w), stride=stride, padding=pad)


def _convolution_form(m):
    class Convolution:
        """conv_forward_naive / conv_backward_naive as the textbook's Convolution (dW and db kept); a case whose
        windows do not tile the padded input is outside the form (spec.whole_windows)."""

        def __init__(self, W, b, stride=1, pad=0):
            self.W, self.b, self.stride, self.pad = W, b, stride, pad
            self.dW = self.db = None

        def forward(self, x):
            whole_windows("conv_forward_naive", np.shape(x)[2:], np.shape(self.W)[2:], self.stride, self.pad)
            out, self.cache = parts(m.conv_forward_naive(x, self.W, self.b, {"stride": self.stride, "pad": self.pad}),
                                    "conv_forward_naive", "out, cache")
            return out

        def backward(self, dout):
            dx, self.dW, self.db = parts(m.conv_backward_naive(dout, self.cache), "conv_backward_naive", "dx, dw, db")
            return dx

    return Convolution


def _pooling_form(m):
    class Pooling:
        """max_pool_forward_naive / max_pool_backward_naive as the textbook's Pooling: the adapter pads with minus
        infinity itself where a case asks for padding (the form has none), which never wins a window, and cuts the
        padding's rows off dx."""

        def __init__(self, pool_h, pool_w, stride=2, pad=0):
            self.param = {"pool_height": pool_h, "pool_width": pool_w, "stride": stride}
            self.pad = pad

        def forward(self, x):
            window = (self.param["pool_height"], self.param["pool_width"])
            whole_windows("max_pool_forward_naive", np.shape(x)[2:], window, self.param["stride"], self.pad)
            if self.pad:
                p = self.pad
                x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
            out, self.cache = parts(m.max_pool_forward_naive(x, self.param), "max_pool_forward_naive", "out, cache")
            return out

        def backward(self, dout):
            dx = m.max_pool_backward_naive(dout, self.cache)
            if self.pad and dx is not None:  # None is reported as what it is, not as the adapter's slicing error
                p = self.pad
                dx = dx[:, :, p:-p, p:-p]
            return dx

    return Pooling


C = LayerCase
register(Piece("im2col", "function", "function im2col(input_data, filter_h, filter_w, stride=1, pad=0) -> col "
               "(N out_h out_w, C filter_h filter_w): one row per window, zero padding",
               spec=Im2colSpec(im2col), cases=(
                   # stride 1 under a 3x3 filter: windows overlap; odd, non-square image
                   C("im2col-overlap", "im2col", shape=(2, 3, 5, 6), options=(("filter", (3, 3)),)),
                   C("im2col-stride2-pad1", "im2col", shape=(2, 2, 7, 6),
                     options=(("filter", (3, 2)), ("stride", 2), ("pad", 1))),
                   C("im2col-disjoint", "im2col", shape=(1, 2, 6, 6), options=(("filter", (2, 2)), ("stride", 2))),
                   C("im2col-1x1", "im2col", shape=(2, 3, 4, 4), options=(("filter", (1, 1)),)))))

register(Piece("col2im", "function", "function col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0) -> "
               "an image: im2col's adjoint, entries of overlapping windows added, the padding's dropped",
               spec=Col2imSpec(col2im), cases=(
                   # the overlapping cases are the ones where assigning instead of adding shows
                   C("col2im-overlap", "col2im", shape=(2, 3, 5, 6), options=(("filter", (3, 3)),)),
                   C("col2im-stride2-pad1", "col2im", shape=(2, 2, 7, 6),
                     options=(("filter", (3, 2)), ("stride", 2), ("pad", 1))),
                   C("col2im-disjoint", "col2im", shape=(1, 2, 6, 6), options=(("filter", (2, 2)), ("stride", 2))),
                   C("col2im-1x1", "col2im", shape=(2, 3, 4, 4), options=(("filter", (1, 1)),)))))

register(Piece("Convolution", "layer", "class Convolution(W, b, stride=1, pad=0): W (FN, C, FH, FW); forward(x) "
               "(N, C, H, W) -> (N, FN, out_h, out_w); backward(dout) -> dx; keeps dW, db",
               spec=LayerSpec("Convolution", draw_convolution, convolution, params=("W", "b"),
                              settings=("stride", "pad")),
               cases=(
                   C("Convolution-overlap", "Convolution", shape=(2, 3, 6, 5), out=4,
                     options=(("filter", (3, 3)),)),
                   C("Convolution-stride2-pad1", "Convolution", shape=(2, 2, 7, 6), out=3,
                     options=(("filter", (3, 3)), ("stride", 2), ("pad", 1))),
                   # strided and padded with windows that tile the padded input ((7 + 2 - 3) / 2 and (9 + 2 - 3) /
                   # 2 are whole), so a CS231n form, which may assume that, is checked on a stride too
                   C("Convolution-stride2-tiles", "Convolution", shape=(2, 3, 7, 9), out=2,
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
                     options=(("filter", (5, 5)),), fd="sampled", dtypes=("float64",))),
               form=Form(("conv_forward_naive", "conv_backward_naive"), _convolution_form)))

register(Piece("Pooling", "layer", "class Pooling(pool_h, pool_w, stride=2, pad=0): max pooling; forward(x) "
               "(N, C, H, W) -> (N, C, out_h, out_w); backward(dout) -> dx routed to each window's maximum (ties: "
               "the first in row-major order; padding never wins)",
               spec=LayerSpec("Pooling", draw_pooling, max_pooling,
                              settings=("pool_h", "pool_w", "stride", "pad")),
               cases=(
                   C("Pooling-2x2", "Pooling", shape=(2, 3, 6, 8), options=(("pool", (2, 2)), ("stride", 2))),
                   C("Pooling-overlap", "Pooling", shape=(2, 2, 7, 6), options=(("pool", (3, 3)), ("stride", 1))),
                   C("Pooling-pad1", "Pooling", shape=(2, 2, 7, 7),
                     options=(("pool", (3, 3)), ("stride", 2), ("pad", 1))),
                   # odd sizes under a 2x3 window and stride 2: the floor drops the last row and column
                   C("Pooling-odd", "Pooling", shape=(1, 3, 7, 6), options=(("pool", (2, 3)), ("stride", 2))),
                   C("Pooling-1channel", "Pooling", shape=(3, 1, 5, 5), options=(("pool", (2, 2)), ("stride", 1))),
                   # a 2x3 window at stride 2 that tiles the input ((6 - 2) / 2 and (9 - 3) / 2 are whole): the
                   # non-square window a CS231n form is checked on (Pooling-odd's floor is outside that form)
                   C("Pooling-2x3-tiles", "Pooling", shape=(2, 3, 6, 9), options=(("pool", (2, 3)), ("stride", 2))),
                   # one window of 16 x 32 = 512 elements over each whole map: offsets beyond what a uint8 index
                   # holds, where half the maxima fall (eight windows: all below 256 once in 256 draws); finite
                   # differences along one random direction (every element's would cost 8,192 forwards)
                   C("Pooling-global", "Pooling", shape=(2, 4, 16, 32), fd="directional",
                     options=(("pool", (16, 32)), ("stride", 1))),
                   # ties: which maximum gets the gradient is a convention (see the record); twin only
                   C("Pooling-ties", "Pooling", shape=(2, 2, 6, 6), fd="none",
                     options=(("pool", (2, 2)), ("stride", 2), ("ties", True))),
                   C("Pooling-ties-overlap", "Pooling", shape=(2, 2, 5, 5), fd="none",
                     options=(("pool", (3, 3)), ("stride", 1), ("ties", True)))),
               form=Form(("max_pool_forward_naive", "max_pool_backward_naive"), _pooling_form)))
