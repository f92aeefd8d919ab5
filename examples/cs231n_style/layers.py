"""A CS231n-style implementation, written here: layers as pairs of functions, forward returning (out, cache) and
backward taking (dout, cache).  The harness recognises the form and checks it with no adapter:

    python -m reference check --impl examples/cs231n_style/layers.py --only-present
"""

import numpy as np


def affine_forward(x, w, b):
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    flat = x.reshape(x.shape[0], -1)
    return (dout @ w.T).reshape(x.shape), flat.T @ dout, dout.sum(axis=0)


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)


def sigmoid_forward(x):
    out = np.exp(-np.logaddexp(0, -x))
    return out, out


def sigmoid_backward(dout, cache):
    return dout * cache * (1 - cache)


def softmax_loss(x, y):
    """Mean cross-entropy of softmax(x) against integer labels y, and its gradient with respect to x."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    rows = np.arange(n)
    loss = -log_probs[rows, y].sum() / n
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return loss, dx / n


def svm_loss(x, y):
    """Mean multiclass hinge loss (margin 1) against integer labels y, and its gradient with respect to x."""
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    return loss, dx / n


def _windows(x, height, width, stride):
    """(N, C, out_h, out_w, height, width) strided view of x."""
    view = np.lib.stride_tricks.sliding_window_view(x, (height, width), axis=(2, 3))
    return view[:, :, ::stride, ::stride]


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = _windows(padded, w.shape[2], w.shape[3], stride)
    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
    return out, (x, w, conv_param)


def conv_backward_naive(dout, cache):
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = _windows(padded, w.shape[2], w.shape[3], stride)
    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)
    db = dout.sum(axis=(0, 2, 3))
    dpadded = np.zeros_like(padded)
    out_h, out_w = dout.shape[2], dout.shape[3]
    for i in range(w.shape[2]):
        for j in range(w.shape[3]):
            dpadded[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += np.einsum(
                "nfhw,fc->nchw", dout, w[:, :, i, j])
    return dpadded[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]], dw, db


def max_pool_forward_naive(x, pool_param):
    height, width, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = _windows(x, height, width, stride)
    return windows.max(axis=(4, 5)), (x, pool_param)


def max_pool_backward_naive(dout, cache):
    x, pool_param = cache
    height, width, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    windows = _windows(x, height, width, stride)
    n, c, out_h, out_w = dout.shape
    flat = windows.reshape(n, c, out_h, out_w, height * width)
    first = flat.argmax(axis=4)  # the first maximum in row-major order takes the gradient
    dx = np.zeros_like(x)
    for k in range(height * width):
        i, j = divmod(k, width)
        dx[:, :, i:i + stride * out_h:stride, j:j + stride * out_w:stride] += dout * (first == k)
    return dx


def sgd(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w))
    cache = config["decay_rate"] * cache + (1 - config["decay_rate"]) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config


def adam(w, dw, config=None):
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    m = config.get("m", np.zeros_like(w))
    v = config.get("v", np.zeros_like(w))
    t = config.get("t", 0) + 1
    beta1, beta2 = config["beta1"], config["beta2"]
    m = beta1 * m + (1 - beta1) * dw
    v = beta2 * v + (1 - beta2) * dw * dw
    m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation of x (N, D): in "train" mode by the batch's mean and (biased) variance, moving the
    running statistics kept in bn_param; in "test" mode by those."""
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    if bn_param["mode"] == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        xn = (x - mean) / std
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
        return gamma * xn + beta, (xn, gamma, std)
    out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, None


def batchnorm_backward(dout, cache):
    """Through the graph, stage by stage: xn = xc * istd, xc = x - mean, istd = (var + eps) ** -0.5."""
    xn, gamma, std = cache
    n = dout.shape[0]
    dgamma = (dout * xn).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxn = dout * gamma
    xc, istd = xn * std, 1.0 / std
    distd = (dxn * xc).sum(axis=0)
    dvar = distd * -0.5 * istd ** 3
    dxc = dxn * istd + dvar * 2.0 * xc / n
    return dxc - dxc.sum(axis=0) / n, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """The same gradient in closed form."""
    xn, gamma, std = cache
    dgamma = (dout * xn).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxn = dout * gamma
    dx = (dxn - dxn.mean(axis=0) - xn * (dxn * xn).mean(axis=0)) / std
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Batch normalisation's arithmetic on x transposed: each sample normalised over its features."""
    eps = ln_param.get("eps", 1e-5)
    xt = x.T
    mean = xt.mean(axis=0)
    std = np.sqrt(xt.var(axis=0) + eps)
    xn = ((xt - mean) / std).T
    return gamma * xn + beta, (xn, gamma, std)


def layernorm_backward(dout, cache):
    xn, gamma, std = cache
    dgamma = (dout * xn).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxn = (dout * gamma).T
    xnt = xn.T
    dx = (dxn - dxn.mean(axis=0) - xnt * (dxn * xnt).mean(axis=0)) / std
    return dx.T, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """The vanilla batch norm on x (N, C, H, W) laid out as (N * H * W, C)."""
    n, c, h, w = x.shape
    out, cache = batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, c), gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Each sample's G groups of channels normalised; gamma and beta of shape (1, C, 1, 1)."""
    eps = gn_param.get("eps", 1e-5)
    n, c, h, w = x.shape
    groups = x.reshape(n * G, -1)
    mean = groups.mean(axis=1, keepdims=True)
    std = np.sqrt(groups.var(axis=1, keepdims=True) + eps)
    xn = ((groups - mean) / std).reshape(x.shape)
    return gamma * xn + beta, (xn, gamma, std, G)


def spatial_groupnorm_backward(dout, cache):
    xn, gamma, std, G = cache
    n = dout.shape[0]
    dgamma = (dout * xn).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dxn = (dout * gamma).reshape(n * G, -1)
    xng = xn.reshape(n * G, -1)
    dx = (dxn - dxn.mean(axis=1, keepdims=True) - xng * (dxn * xng).mean(axis=1, keepdims=True)) / std
    return dx.reshape(dout.shape), dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout: in "train" mode each unit kept with probability p and scaled by 1/p, so that "test" mode
    is x itself.  A "seed" in dropout_param fixes the draw."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p).astype(x.dtype) / x.dtype.type(p)  # x's dtype, not float64
        return x * mask, (dropout_param, mask)
    return x, (dropout_param, None)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    return dout * mask if dropout_param["mode"] == "train" else dout
