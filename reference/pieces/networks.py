"""The networks (the textbook's TwoLayerNet, MultiLayerNet, MultiLayerNetExtend, SimpleConvNet): for each its
record and how the harness builds it small; the initial weights both sides start from, and the one place that
converts the textbook's (D, M) weights to torch's (M, D)."""

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.pieces.registry import Network, Piece, register

# ---- the weights both sides start from, and the implementation's TwoLayerNet built at them

PARAMS = ("W1", "b1", "W2", "b2")


def initial_weights(seed, input_size, hidden_size, output_size, weight_init_std=0.01, dtype="float64"):
    """The textbook's initialization, drawn once here and copied to both sides."""
    rng = streams.rng(seed, "weights")
    dtype = np.dtype(dtype)
    return {
        "W1": (weight_init_std * rng.standard_normal((input_size, hidden_size))).astype(dtype),
        "b1": np.zeros(hidden_size, dtype=dtype),
        "W2": (weight_init_std * rng.standard_normal((hidden_size, output_size))).astype(dtype),
        "b2": np.zeros(output_size, dtype=dtype),
    }


def load_into_impl(network, weights):
    """Copy `weights` into an implementation's network in place (its layers hold params' arrays)."""
    for key in PARAMS:
        target = network.params[key]
        if target.shape != weights[key].shape:
            raise ValueError(f"{key}: the network has shape {target.shape}, the weights {weights[key].shape}")
        target[...] = weights[key]


class NetworkDtypeUnsupported(ValueError):
    """The implementation's network cannot be made in the dtype asked for (the textbook's has no dtype=)."""


def make_impl_network(impl, input_size, hidden_size, output_size, dtype):
    """The implementation's TwoLayerNet in `dtype` (through its dtype argument, beyond the textbook's).

    Without a dtype= argument a network is made as the textbook makes it (float64); asked for another
    dtype, that raises NetworkDtypeUnsupported, which checks report as SKIPPED with its message: a dtype the
    constructor cannot take is beyond the protocol, never a failure by itself (its float64 checks still run).
    """
    TwoLayerNet = impl.require("TwoLayerNet")
    try:
        network = TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01, dtype=dtype)
    except TypeError:
        network = TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01)
    made = np.asarray(network.params["W1"]).dtype.name
    if made != dtype:
        raise NetworkDtypeUnsupported(
            f"{impl.spec}: TwoLayerNet(...) takes no dtype= argument and makes {made} parameters, so its {dtype} "
            f"checks cannot run (the textbook's network is float64 only; its float64 checks still run)")
    return network


def _build_multi_layer_net(name, **options):
    def build(impl, input_size, dtype, **changed):
        network_class = impl.require(name)
        made = {**options, **changed}
        hidden = list(made.pop("hidden_size_list", (20, 15, 12)))
        try:
            return network_class(input_size, hidden, 10, dtype=dtype, seed=0, **made)
        except TypeError:  # the textbook's signature: no dtype=, no seed= (float64, NumPy's global generator)
            return network_class(input_size, hidden, 10, **made)

    return build

# the network whose own numerical_gradient is checked (reference.run.network_checks.check_numerical_gradient): smooth
# activations (no kink for the implementation's fixed step to straddle) and layers small enough that central
# differences in each of its some 200 parameters take a few hundredths of a second
NUMERICAL_OPTIONS = (("activation", "sigmoid"), ("weight_init_std", "xavier"), ("hidden_size_list", (6, 5, 4)))


# the sizes of the networks whose initial weights are measured (reference.run.network_checks.check_init): large
# enough that a wrong fan (sqrt(400/300)) is 30 standard errors away
INIT_SIZES = (400, (300, 200), 100)


def _init_multi_layer_net(name, **options):
    def build(impl, scheme, dtype, seed):
        network_class = impl.require(name)
        inputs, hidden, outputs = INIT_SIZES
        try:
            return network_class(inputs, list(hidden), outputs, weight_init_std=scheme, dtype=dtype, seed=seed,
                                 **options)
        except TypeError:  # the textbook's signature
            return network_class(inputs, list(hidden), outputs, weight_init_std=scheme, **options)

    return build


def _init_two_layer_net(impl, scheme, dtype, seed):
    network_class = impl.require("TwoLayerNet")
    inputs, (hidden, _), outputs = INIT_SIZES
    try:
        return network_class(inputs, hidden, outputs, weight_init_std=scheme, dtype=dtype)
    except TypeError:
        return network_class(inputs, hidden, outputs, weight_init_std=scheme)


def _init_simple_convnet(impl, scheme, dtype, seed):
    """At the textbook's sizes (30 filters of 5x5 on 28x28, 100 hidden units): W1 has 750 weights, W2 432,000."""
    network_class = impl.require("SimpleConvNet")
    try:
        return network_class(weight_init_std=scheme, dtype=dtype, seed=seed)
    except TypeError:
        return network_class(weight_init_std=scheme)


def _drawn_parameters(network, seed):
    """Every parameter drawn by the harness (stream "weights"), in place so the layers see them: W ~ N(0, 2 / fan_in),
    biases and betas ~ 0.1 N(0, 1), gammas ~ 1 + 0.1 N(0, 1).  Nonzero biases, so that a gradient or a decay that
    mistreats them shows."""

    rng = streams.rng(seed, "weights")
    for key, value in network.params.items():
        shape = np.shape(value)
        if key.startswith("W"):  # fan-in: rows of an Affine's (D, M); C FH FW of a filter bank (FN, C, FH, FW)
            fan_in = shape[0] if len(shape) == 2 else int(np.prod(shape[1:]))
            drawn = rng.normal(size=shape) * np.sqrt(2.0 / fan_in)
        elif key.startswith("gamma"):
            drawn = 1 + 0.1 * rng.normal(size=shape)
        else:
            drawn = 0.1 * rng.normal(size=shape)
        value[...] = drawn

CONVNET_INPUT = (1, 12, 12)

def _build_simple_convnet(impl, input_size, dtype):
    """SimpleConvNet small: 4 filters of 3x3 padded by 1 on a 12x12 image (pooled to 6x6), 12 hidden units."""
    network_class = impl.require("SimpleConvNet")
    conv_param = {"filter_num": 4, "filter_size": 3, "pad": 1, "stride": 1}
    try:
        return network_class(CONVNET_INPUT, conv_param, 12, 10, dtype=dtype, seed=0)
    except TypeError:  # the textbook's signature: float64, NumPy's global generator
        return network_class(CONVNET_INPUT, conv_param, 12, 10)


def _build_simple_convnet_odd(impl, input_size, dtype):
    """SimpleConvNet at an odd convolution output: 3 filters of 4x4, no padding, on the 12x12 image: a 9x9
    convolution pooled to 4x4 (the pooling's floor drops the last row and column), 12 hidden units."""
    network_class = impl.require("SimpleConvNet")
    conv_param = {"filter_num": 3, "filter_size": 4, "pad": 0, "stride": 1}
    try:
        return network_class(CONVNET_INPUT, conv_param, 12, 10, dtype=dtype, seed=0)
    except TypeError:
        return network_class(CONVNET_INPUT, conv_param, 12, 10)


def _numerical_simple_convnet(impl, dtype):
    """SimpleConvNet small enough for central differences in every parameter: 2 filters of 3x3 padded by 1 on a 6x6
    image (pooled to 3x3), 5 hidden units: 146 parameters, some 300 evaluations of its loss."""
    network_class = impl.require("SimpleConvNet")
    conv_param = {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}
    try:
        return network_class((1, 6, 6), conv_param, 5, 10, dtype=dtype, seed=0)
    except TypeError:
        return network_class((1, 6, 6), conv_param, 5, 10)


def _build_two_layer_net(impl, input_size, dtype):
    return make_impl_network(impl, input_size, 50, 10, dtype)


# ---- the networks side-by-side training starts from (reference.run.training_parity), at MNIST's sizes

MNIST_INPUT = 784


def _trained_two_layer_net(impl, dtype, seed, hidden=50):
    """The implementation's TwoLayerNet (784 -> hidden -> 10) at the textbook's initial weights drawn here (stream
    "weights"), which the twin starts from too."""
    network = make_impl_network(impl, MNIST_INPUT, hidden, 10, dtype)
    load_into_impl(network, initial_weights(seed, MNIST_INPUT, hidden, 10, dtype=dtype))
    return network


DEEP_HIDDEN = (100, 100, 100, 100, 100)


def _trained_multi_layer_net_extend(impl, dtype, seed, hidden=DEEP_HIDDEN, weight_decay_lambda=0.1, dropout_ratio=0.2):
    """The implementation's MultiLayerNetExtend (784 -> hidden -> 10, batch norm, dropout, weight decay, He weights),
    its weights drawn reproducibly: through seed= and dtype= where it takes them, else from NumPy's global generator
    put in a state of the stream "weights" (the textbook's signature, float64)."""
    network_class = impl.require("MultiLayerNetExtend")
    options = dict(weight_decay_lambda=weight_decay_lambda, use_dropout=True, dropout_ration=dropout_ratio,
                   use_batchnorm=True)
    with streams.GlobalGenerator(streams.rng(seed, "weights").integers(2**31)):
        try:
            return network_class(MNIST_INPUT, list(hidden), 10, dtype=dtype, seed=seed, **options)
        except TypeError:
            return network_class(MNIST_INPUT, list(hidden), 10, **options)


def _trained_simple_convnet(impl, dtype, seed):
    """The implementation's SimpleConvNet with the textbook's sizes (30 filters of 5x5, 100 hidden units, weights
    0.01 N(0, 1)), its weights drawn reproducibly as MultiLayerNetExtend's are."""
    network_class = impl.require("SimpleConvNet")
    with streams.GlobalGenerator(streams.rng(seed, "weights").integers(2**31)):
        try:
            return network_class(dtype=dtype, seed=seed)
        except TypeError:
            return network_class()


register(Piece("TwoLayerNet", "network",
               "class TwoLayerNet(input_size, hidden_size, output_size, weight_init_std=0.01) with params, "
               "layers, lastLayer, predict, loss, accuracy, gradient, numerical_gradient",
               network=Network(build=_build_two_layer_net, init_schemes=(0.01, 0.5), init_build=_init_two_layer_net,
                               architecture=(("Affine", "W1", "b1"), ("Relu",), ("Affine", "W2", "b2")),
                               composed_with=("Relu", "Sigmoid"),  # TwoLayerNet has no Sigmoid
                               trained=_trained_two_layer_net)))

register(Piece("MultiLayerNet", "network",
               "class MultiLayerNet(input_size, hidden_size_list, output_size, activation='relu', "
               "weight_init_std='relu', weight_decay_lambda=0) with params W1..Wn b1..bn, layers, last_layer, "
               "predict, loss (plus 0.5 lambda sum W^2), accuracy, gradient, numerical_gradient",
               network=Network(build=_build_multi_layer_net("MultiLayerNet", activation="sigmoid",
                                                            weight_init_std="xavier", weight_decay_lambda=0.1),
                               init_schemes=("relu", "he", "sigmoid", "xavier", 0.05),
                               init_build=_init_multi_layer_net("MultiLayerNet"), prepare=_drawn_parameters,
                               layout=("Affine", "Sigmoid") * 3 + ("Affine",),  # build(): three hidden, sigmoid
                               numerical_options=NUMERICAL_OPTIONS)))

register(Piece("MultiLayerNetExtend", "network",
               "class MultiLayerNetExtend(..., use_dropout=False, dropout_ration=0.5, use_batchnorm=False): "
               "MultiLayerNet with BatchNorm{n} (gamma{n}, beta{n}) and Dropout{n} per hidden layer",
               network=Network(build=_build_multi_layer_net("MultiLayerNetExtend", weight_decay_lambda=0.05,
                                                            use_dropout=True, dropout_ration=0.2,
                                                            use_batchnorm=True),
                               init_schemes=("he", "xavier"),
                               init_build=_init_multi_layer_net("MultiLayerNetExtend", use_batchnorm=True),
                               prepare=_drawn_parameters,
                               # build(): three hidden layers, ReLU, batch norm and dropout
                               layout=("Affine", "BatchNormalization", "Relu", "Dropout") * 3 + ("Affine",),
                               trained=_trained_multi_layer_net_extend, lr=0.01,
                               numerical_options=NUMERICAL_OPTIONS)))

register(Piece("SimpleConvNet", "network",
               "class SimpleConvNet(input_dim=(1, 28, 28), conv_param={'filter_num': 30, 'filter_size': 5, "
               "'pad': 0, 'stride': 1}, hidden_size=100, output_size=10, weight_init_std=0.01): Conv1 Relu1 Pool1 "
               "Affine1 Relu2 Affine2, last_layer; params W1 b1 W2 b2 W3 b3",
               network=Network(build=_build_simple_convnet, input_shape=CONVNET_INPUT,
                               init_schemes=(0.01, 0.1), init_build=_init_simple_convnet,
                               layout=("Convolution", "Relu", "Pooling", "Affine", "Relu", "Affine"),
                               prepare=_drawn_parameters, trained=_trained_simple_convnet, trained_shape=(1, 28, 28),
                               numerical_build=_numerical_simple_convnet, numerical_input=(1, 6, 6),
                               also_built=(("odd sizes: 3 filters of 4x4 unpadded on 12x12, a 9x9 convolution "
                                            "pooled to 4x4", _build_simple_convnet_odd),))))
