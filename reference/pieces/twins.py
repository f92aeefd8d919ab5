"""PyTorch autograd twins of the protocol's pieces, written from the mathematics.

Each twin takes torch tensors (in the dtype under test) and returns the
forward value; autograd gives the backward.  None of them calls the
implementation.  Where torch has the same formula built in, the twin uses it
(tests/test_deviations.py shows the formula); where the textbook differs, the twin
writes the textbook's formula (reference.report.deviations).

Layouts: the textbook's Affine keeps W as (D, M) and computes x W + b; torch's
F.linear takes its weight as (M, D).  to_torch_weight / from_torch_weight are
the one place that converts.

The module imports without torch (reference.base.lazy_torch): the registry names these callables
and the NumPy-only golden check reads the registry.
"""

from reference.report.deviations import LOG_EPSILON
from reference.base.lazy_torch import F, torch


def to_torch_weight(W):
    """Textbook (D, M) weight -> torch F.linear layout (M, D)."""
    return W.transpose(0, 1)


def from_torch_weight(weight):
    """torch F.linear layout (M, D) -> textbook (D, M)."""
    return weight.transpose(0, 1)


def mul(x, y):
    """z = x * y."""
    return x * y


def add(x, y):
    """z = x + y."""
    return x + y


def relu(x):
    """max(0, x); torch's derivative at 0 is 0, as the textbook's mask x <= 0."""
    return torch.relu(x)


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return torch.sigmoid(x)


def softmax(x):
    """exp(x_i) / sum_j exp(x_j) over the last axis."""
    return torch.softmax(x, dim=-1)


def affine(x, W, b):
    """x W + b with x flattened to (N, D); W in the textbook layout (D, M)."""
    return F.linear(x.reshape(x.shape[0], -1), to_torch_weight(W), b)


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


# --- convolution and pooling (layouts: reference.pieces.convolution) ---------------------------------------------------

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


def svm_loss(x, y):
    """The multiclass hinge loss in torch operations: sum over j != y_i of max(0, x_ij - x_iy + 1), the mean over the
    batch.  torch's own F.multi_margin_loss (p=1, margin=1) divides that sum by the number of classes too: a factor
    tests/test_functional.py predicts and measures; this twin is the form without it."""
    correct = x.gather(1, y[:, None])
    margins = torch.clamp(x - correct + 1, min=0).scatter(1, y[:, None], 0.0)
    return margins.sum() / x.shape[0]


# --- models with their own loss (reference.pieces.models) -----------------------------------------------------------

def linear_regression_loss(X, y, w, b, l2=0.0):
    """(1/2) mean squared error of X w + b against y (torch's mse_loss), plus (l2/2) ||w||^2; the bias unregularised."""
    prediction = F.linear(X, w.unsqueeze(0), b.reshape(1)).squeeze(1)
    return 0.5 * F.mse_loss(prediction, y, reduction="mean") + 0.5 * l2 * (w * w).sum()


def pmf_loss(X, y, U, V, lam_u=0.0, lam_v=0.0, bu=None, bi=None, lam_b=0.0, mean=0.0):
    """PMF's objective: half the sum of squared errors of U[user] . V[item] (plus mean + bu[user] + bi[item] when
    biased) over the rated pairs, plus the Gaussian priors' (lam/2) ||U||^2, (lam/2) ||V||^2 and (lam_b/2) of the
    biases' squares (torch's mse_loss with reduction "sum" for the data term)."""
    prediction = (U[X[:, 0]] * V[X[:, 1]]).sum(dim=1)
    prior = 0.5 * lam_u * (U * U).sum() + 0.5 * lam_v * (V * V).sum()
    if bu is not None:
        prediction = prediction + mean + bu[X[:, 0]] + bi[X[:, 1]]
        prior = prior + 0.5 * lam_b * ((bu * bu).sum() + (bi * bi).sum())
    return 0.5 * F.mse_loss(prediction, y, reduction="sum") + prior


def pmf_rating_loss(r, u, v, lam_u, lam_v, bu=None, bi=None, lam_b=0.0, mean=0.0):
    """One rating's own term of per-rating SGD: (1/2) (r - r_hat)^2 + (lam_u/2) ||u||^2 + (lam_v/2) ||v||^2 (+
    (lam_b/2) (bu^2 + bi^2)), u and v the rating's user and item rows (torch.dot for the product)."""
    prediction = torch.dot(u, v)
    prior = 0.5 * lam_u * torch.dot(u, u) + 0.5 * lam_v * torch.dot(v, v)
    if bu is not None:
        prediction = prediction + mean + bu + bi
        prior = prior + 0.5 * lam_b * (bu * bu + bi * bi)
    return 0.5 * (r - prediction) ** 2 + prior
