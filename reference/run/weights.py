"""Weights shared by both sides: the textbook's initialization, drawn once, and its transfer
into an implementation's network.  NumPy only, so the golden mode runs without torch."""

import numpy as np

from reference.base import streams

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
    dtype, that raises NetworkDtypeUnsupported, which checks report as NOT RUN with its message.
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
