"""Where the textbook's formulas differ from PyTorch's on purpose: the constants and the record type.

Each twin in reference.pieces computes the textbook's formula.  Where that
formula is not what torch's built-in computes, the piece's record in
reference.pieces.registry lists a Deviation: what each side computes, what the twin
does, the consequence, and the test that predicts its size
(`python -m reference deviations` prints them all).
"""

from dataclasses import dataclass

# The textbook adds this inside the log of the cross-entropy so that a
# probability that underflowed to 0 gives a large finite loss, not inf.
LOG_EPSILON = 1e-7

# The other convention a SoftmaxWithLoss forward may follow, and be judged by (reference.report.compare.
# compare_conventions): the exact loss, -log softmax(x)[t], as F.cross_entropy and log-softmax code compute it.
EPSILON_FREE_LOSS = "the loss without the textbook's 1e-7 inside the log (log-softmax, as F.cross_entropy)"

# The other mask the CS231n family's dropout_forward may draw, and be judged by (its own twin draws rand(*x.shape) < p,
# the course notes' draw): the reflected draw, u > 1 - p from the same uniforms.  It is the textbook's own mask
# (rand > ratio) and the older form's natural one (p the drop probability: rand >= p), and it is what NumPy's legacy
# binomial(1, p, shape) draws for p <= 1/2 (above 1/2 binomial draws u < p, the notes' mask: tests/test_functional.py
# measures both), so every usual way of drawing the mask is one of the two.
REFLECTED_MASK = "the mask drawn as u > 1 - p (rand > 1 - p; np.random.binomial(1, p) for p <= 1/2)"

# The other regularization a CS231n classifier loss (svm_loss_naive, softmax_loss_vectorized, ...) may follow, and be
# judged by: the current skeleton adds reg * sum(W * W) to the loss (the student writes dW's 2 reg W); older skeletons
# add 0.5 * reg * sum(W * W), whose gradient is reg * W.  Finite differences of the implementation's own loss hold
# the loss and dW to the same one: a loss of one convention and a dW of the other is caught there.
HALF_L2 = "the regularization 0.5 * reg * sum(W * W), its gradient reg * W (the assignment's older skeletons)"

# The textbook's optimizers add this outside the square root of their
# accumulated squared gradients (AdaGrad, RMSprop, Adam).
OPTIMIZER_EPSILON = 1e-7


@dataclass(frozen=True)
class Deviation:
    """One documented difference from torch: each piece's record in reference.pieces.registry lists its own."""

    piece: str
    textbook: str
    torch_builtin: str
    twin: str
    consequence: str
    predicted_by: str  # "tests/<file>.py::<test>": the test that predicts the difference's size
