"""Adapter: the homework in examples/homework/ under the textbook's protocol names.

    python -m reference check --impl examples/homework_adapter.py --layer Relu --layer Affine
"""

from homework.nn import Add as AddLayer  # noqa: F401 - names re-exported for the harness
from homework.nn import Linear, SoftmaxCrossEntropy
from homework.nn import Logistic as Sigmoid  # noqa: F401
from homework.nn import Multiply as MulLayer  # noqa: F401
from homework.nn import ReLU as Relu  # noqa: F401
from homework.nn import cross_entropy as cross_entropy_error  # noqa: F401
from homework.nn import finite_difference_gradient as numerical_gradient  # noqa: F401
from homework.nn import logistic as sigmoid  # noqa: F401
from homework.nn import softmax  # noqa: F401


class Affine(Linear):
    """The textbook's Affine keeps its gradients as dW and db."""

    dW = property(lambda self: self.grad_weight)
    db = property(lambda self: self.grad_bias)


class SoftmaxWithLoss(SoftmaxCrossEntropy):
    """The textbook's backward takes dout (1 by default)."""

    def backward(self, dout=1):
        return super().backward() * dout
