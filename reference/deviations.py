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

# The other convention a SoftmaxWithLoss forward may follow, and be judged by (reference.compare.
# compare_conventions): the exact loss, -log softmax(x)[t], as F.cross_entropy and log-softmax code compute it.
EPSILON_FREE_LOSS = "the loss without the textbook's 1e-7 inside the log (log-softmax, as F.cross_entropy)"

# The textbook's optimizers add this outside the square root of their
# accumulated squared gradients (AdaGrad, RMSprop, Adam).
OPTIMIZER_EPSILON = 1e-7


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
        "differentiate the layer's own forward (epsilon included) and multiply row n by "
        "(y_t + 1e-7) / y_t, y_t from the harness's own float64 softmax",
        consequence="the backward is not the exact derivative of the forward: row n of the two "
        "differs by exactly the factor (y_t + 1e-7) / y_t, so comparing them unadjusted would "
        "report a false mismatch of about 1e-7 / y_t (and where y_t falls far below 1e-7 the "
        "forward is flat and finite differences cannot see the derivative at all)",
    ),
    Deviation(
        piece="Momentum",
        textbook="v <- momentum v - lr g;  p <- p + v",
        torch_builtin="torch.optim.SGD(momentum): b <- momentum b + g;  p <- p - lr b",
        twin="torch.optim.SGD with momentum (the same rule: v = -lr b while lr is constant)",
        consequence="none beyond rounding: tests/test_optimizers.py runs the rule written out against the "
        "built-in at every seed of the sweep",
    ),
    Deviation(
        piece="Nesterov",
        textbook="p <- p + momentum^2 v - (1 + momentum) lr g (v from before the step);  v <- momentum v - lr g",
        torch_builtin="torch.optim.SGD(nesterov=True): b <- momentum b + g;  p <- p - lr (g + momentum b)",
        twin="torch.optim.SGD(nesterov=True) itself (v = -lr b makes the two one rule)",
        consequence="none beyond rounding (tested at every seed of the sweep). Updating v first and stepping "
        "with the new v, the textbook's code before its authors fixed it, is another rule: it parts from the "
        "built-in by ~5e-2 in 100 steps and is a mutant in the zoo",
    ),
    Deviation(
        piece="AdaGrad",
        textbook="h <- h + g^2;  p <- p - lr g / (sqrt(h) + 1e-7)",
        torch_builtin="torch.optim.Adagrad: the same rule with eps 1e-10 by default",
        twin="torch.optim.Adagrad(eps=1e-7)",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-10)); "
        "tests/test_optimizers.py predicts the summed difference to rounding",
    ),
    Deviation(
        piece="RMSprop",
        textbook="h <- decay h + (1 - decay) g^2;  p <- p - lr g / (sqrt(h) + 1e-7)",
        torch_builtin="torch.optim.RMSprop(alpha=decay): the same rule with eps 1e-8 by default",
        twin="torch.optim.RMSprop(alpha=decay_rate, eps=1e-7)",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-8)); "
        "predicted to rounding as for AdaGrad",
    ),
    Deviation(
        piece="Adam",
        textbook="lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);  p <- p - lr_t m / (sqrt(v) + 1e-7)",
        torch_builtin="torch.optim.Adam: p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + 1e-8)",
        twin="the textbook's rule in torch operations (reference.optimizer_twins.TextbookAdam)",
        consequence="the textbook's step is torch's with eps_torch = 1e-7 sqrt(1 - beta2^t): with both epsilons 0 "
        "the two agree to rounding, and with torch's defaults their difference is the predicted epsilon term "
        "summed over the steps (both tested)",
    ),
)
