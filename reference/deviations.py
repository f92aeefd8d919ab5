"""Where the textbook's formulas differ from PyTorch's on purpose: the one place that says so.

Each twin in reference.twins computes the textbook's formula.  Where that
formula is not what torch's built-in computes, the difference is listed here,
the twin writes the textbook's formula in torch operations, and
tests/test_deviations.py measures the difference from the built-in.
"""

from dataclasses import dataclass

# The textbook adds this inside the log of the cross-entropy so that a
# probability that underflowed to 0 gives a large finite loss, not inf.
LOG_EPSILON = 1e-7


@dataclass(frozen=True)
class Deviation:
    piece: str
    textbook: str
    torch_builtin: str
    twin: str
    consequence: str


DEVIATIONS = (
    Deviation(
        piece="cross_entropy_error, SoftmaxWithLoss.forward",
        textbook="E = -(1/N) sum_n log(y[n, t_n] + 1e-7)",
        torch_builtin="F.cross_entropy / F.nll_loss: -(1/N) sum_n log(y[n, t_n]), no epsilon",
        twin="the textbook's formula with the epsilon, in torch operations",
        consequence="the textbook's loss is lower by (1/N) sum_n log(1 + 1e-7 / y[n, t_n]), "
        "about 1e-7 / y_t: invisible at float32, far beyond the float64 twin tolerance",
    ),
    Deviation(
        piece="SoftmaxWithLoss.backward",
        textbook="dx = (softmax(x) - onehot(t)) / N, the derivative of the loss WITHOUT the epsilon",
        torch_builtin="autograd of F.cross_entropy: the same (y - onehot(t)) / N",
        twin="autograd of F.cross_entropy (the epsilon-free loss); finite differences "
        "differentiate -(1/N) sum log(softmax(x)[n, t_n]) built on the implementation's "
        "own softmax, not its epsilon-carrying forward",
        consequence="the backward is not the exact derivative of the forward: they differ by "
        "a factor y_t / (y_t + 1e-7) per row, so differentiating the forward itself would "
        "report a false mismatch of about 1e-7 / y_t",
    ),
)
