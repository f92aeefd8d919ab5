"""The pieces: one module per family, each holding for each of its pieces everything the harness knows of it (its
record in the registry: protocol text, cases, magnitudes and why they stop, dtypes, documented differences with the
test predicting each; how its inputs are drawn; how the implementation is called; its twin; its finite-difference
mode; its CS231n-style form where it has one).  Importing this package registers them, family by family, in the order of the case table.

    registry       the table and the records' types (Piece, Magnitudes, Form, Optimizer, Network), register(), layer()
    spec           the generic machinery of a record (Spec, LayerSpec, BinarySpec, the forms' parts): no piece named
    elementwise    MulLayer, AddLayer, Relu, Sigmoid, Tanh
    affine         Affine, SoftmaxWithLoss, sigmoid, softmax, cross_entropy_error, svm_loss, the linear classifiers'
                   losses (svm_loss_naive, svm_loss_vectorized, softmax_loss_naive, softmax_loss_vectorized),
                   numerical_gradient
    normalization  BatchNormalization (BatchNormalizationAlt, SpatialBatchNormalization), LayerNormalization,
                   GroupNormalization, Dropout
    convolution    im2col, col2im, Convolution, Pooling
    models         LinearRegression, PMF
    networks       TwoLayerNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet
    optimizers     SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam
    functional     finds the CS231n forms (functions) the records hold, each adapted onto its piece's record
    protocol       loading an implementation and looking the protocol names up in it
"""

from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces import (  # noqa: F401 (each registers its pieces)
    elementwise, affine, normalization, convolution, models, networks, optimizers)

BUILTIN = tuple(registry.REGISTRY)  # the built-in pieces' names, before any user registers more
