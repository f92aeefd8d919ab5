"""bp-parity's system under test: the textbook's hand-written BP, NumPy only.

Exposes the implementation protocol (see DESIGN.md) by name; the modules keep
the textbook's file names.
"""

from .functions import cross_entropy_error, sigmoid, softmax, svm_loss
from .gradient import numerical_gradient
from .linear_classifier import softmax_loss_naive, softmax_loss_vectorized, svm_loss_naive, svm_loss_vectorized
from .layer_naive import AddLayer, MulLayer
from .net_layer import (Affine, BatchNormalization, BatchNormalizationAlt, Convolution, Dropout, GroupNormalization,
                        LayerNormalization, Pooling, Relu, Sigmoid, SoftmaxWithLoss, SpatialBatchNormalization, Tanh)
from .util import col2im, im2col

__all__ = [
    "AddLayer",
    "Affine",
    "BatchNormalization",
    "BatchNormalizationAlt",
    "Convolution",
    "Dropout",
    "GroupNormalization",
    "LayerNormalization",
    "MulLayer",
    "Pooling",
    "Relu",
    "Sigmoid",
    "SoftmaxWithLoss",
    "SpatialBatchNormalization",
    "Tanh",
    "col2im",
    "cross_entropy_error",
    "im2col",
    "numerical_gradient",
    "sigmoid",
    "softmax",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "svm_loss",
    "svm_loss_naive",
    "svm_loss_vectorized",
]

from .bp_two_layer_net import TwoLayerNet  # noqa: E402
from .optimizer import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop  # noqa: E402
from .multi_layer_net import MultiLayerNet  # noqa: E402
from .multi_layer_net_extend import MultiLayerNetExtend  # noqa: E402
from .simple_convnet import SimpleConvNet  # noqa: E402
from .linear_regression import LinearRegression, sgd, step_size  # noqa: E402
from .pmf import PMF, gd as pmf_gd, sgd as pmf_sgd  # noqa: E402
from .housing import prepare as prepare_housing  # noqa: E402

__all__ += ["TwoLayerNet", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "MultiLayerNet",
            "MultiLayerNetExtend", "SimpleConvNet", "LinearRegression", "sgd", "step_size", "PMF", "pmf_gd", "pmf_sgd",
            "prepare_housing"]
