"""CS231n assignment 1's linear classifiers' losses, written here in the assignment's layout (cs231n/classifiers/:
linear_svm.py and softmax.py, gathered by the package as the assignment's own __init__ gathers them).  The harness
recognises loss(W, X, y, reg) -> (loss, dW) by its names and checks it with no adapter:

    bp-parity check --impl examples/cs231n_style/classifiers --only-present
"""

from .linear_svm import svm_loss_naive, svm_loss_vectorized
from .softmax import softmax_loss_naive, softmax_loss_vectorized

__all__ = ["softmax_loss_naive", "softmax_loss_vectorized", "svm_loss_naive", "svm_loss_vectorized"]
