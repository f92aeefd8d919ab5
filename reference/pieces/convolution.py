"""How convolution, pooling, im2col and col2im are checked: their inputs, and the harness's own window arithmetic.

Case options (reference.base.cases.LayerCase.options): filter (FH, FW) or pool (PH, PW), stride, pad; out is the
number of filters; ties (pooling) draws inputs from three values so windows tie.

Sizes: out = (H + 2 pad - FH) // stride + 1 (floor: a window that would run past the padded edge is not taken),
written here once, apart from the implementation's.  Layout of col, the textbook's: one row per window in the
order (n, y, x) of its output position, one column per element in the order (c, i, j), which is the order of
W.reshape(FN, -1).  Twins: reference.pieces.twins (unfold, fold, conv2d, max_pool2d).

Pooling inputs are drawn without ties: every element of x is distinct, at least 2 / x.size apart (a permutation
of an even grid, jittered), so a central difference (step ~6e-6 |x|) never changes which element wins a window.
The one tie case (option ties) draws from {-1, 0, 1} and is judged by the twin alone; its convention (a tied
window's gradient goes to the first maximum in row-major order, as np.argmax and torch's CPU max_pool2d do) is
stated in the piece's record and torch's side of it is checked directly in tests/test_conv.py.
"""

import numpy as np

from reference.run.case import Spec, _numpy, _tensor, phase


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
