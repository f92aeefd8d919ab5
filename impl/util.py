"""im2col and col2im: convolution as one matrix product (textbook "common/util.py").

Layouts, shared by Convolution and Pooling:
    input  (N, C, H, W)
    col    (N * out_h * out_w, C * filter_h * filter_w): one row per window, rows in the order (n, y, x) of the
           window's output position, columns in the order (c, i, j) of the element inside the window, which is
           the order of W.reshape(FN, -1) for a filter bank W of shape (FN, C, filter_h, filter_w).
    out_h = (H + 2 pad - filter_h) // stride + 1, and out_w likewise (floor: windows that would run past the
           padded edge are not taken).

im2col pads with zeros (what a convolution sees beyond the edge).  col2im is its adjoint: every column entry is
added back to the input element it was copied from, so an element covered by several windows (stride smaller
than the filter) receives the sum; the padding's share is dropped.
"""

import numpy as np


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """How many windows of filter_size fit along an axis of input_size padded by pad on both sides: the floor of
    (input_size + 2 pad - filter_size) / stride, plus 1.  ValueError where none fits."""
    if stride < 1 or pad < 0 or filter_size < 1:
        raise ValueError(f"stride and filter size must be at least 1 and pad at least 0 (got stride {stride}, "
                         f"filter {filter_size}, pad {pad})")
    span = input_size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(f"a filter of {filter_size} does not fit an input of {input_size} padded by {pad}")
    return span // stride + 1


def _check_4d(shape, what):
    if len(shape) != 4:
        raise ValueError(f"{what} expects input of shape (N, C, H, W), got shape {tuple(shape)}")


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """The windows of input_data (N, C, H, W) as the rows of a 2-D array (see the module docstring)."""
    x = np.asarray(input_data)
    _check_4d(x.shape, "im2col")
    N, C, H, W = x.shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    # (N, C, positions_y, positions_x, filter_h, filter_w), a view; every stride-th position is a window
    windows = np.lib.stride_tricks.sliding_window_view(x, (filter_h, filter_w), axis=(2, 3))
    windows = windows[:, :, : stride * (out_h - 1) + 1 : stride, : stride * (out_w - 1) + 1 : stride]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(N * out_h * out_w, C * filter_h * filter_w)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """The adjoint of im2col: each entry of col added to the input element it came from; shape input_shape."""
    _check_4d(input_shape, "col2im")
    N, C, H, W = input_shape
    out_h = conv_output_size(H, filter_h, stride, pad)
    out_w = conv_output_size(W, filter_w, stride, pad)
    col = np.asarray(col)
    expected = (N * out_h * out_w, C * filter_h * filter_w)
    if col.shape != expected:
        raise ValueError(f"col2im: col of shape {col.shape} does not match input {tuple(input_shape)} with a "
                         f"{filter_h}x{filter_w} filter, stride {stride}, pad {pad} (expects {expected})")
    # (N, C, filter_h, filter_w, out_h, out_w): one (out_h, out_w) plane per offset inside the window
    planes = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=col.dtype)
    for i in range(filter_h):  # a loop over the filter's offsets, never over samples or pixels
        rows = slice(i, i + stride * (out_h - 1) + 1, stride)
        for j in range(filter_w):
            img[:, :, rows, j : j + stride * (out_w - 1) + 1 : stride] += planes[:, :, i, j]
    return img[:, :, pad : pad + H, pad : pad + W]
