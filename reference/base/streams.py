"""Every random stream the harness draws from, named in one place.

A stream is numpy.random.default_rng([seed, number]): the seed says which run, the number which use.
No two uses share a number, so drawing more from one never shifts another.  A trap this table
avoids: default_rng(seed) is the same stream as default_rng([seed, 0]) (SeedSequence drops a
trailing zero word), so no use draws from the bare seed (tests/test_streams.py checks every pair).

Numbers 0 and 1 are also what impl/train_bp_two_neuralnet.py draws its weights and batches from, so
that `train-parity` replays the training script's run exactly; they are kept for that reason.
"""

import numpy as np

STREAMS = {
    "weights": (0, "initial weights of a network (reference.pieces.networks.initial_weights; the training script's too)"),
    "batches": (1, "training batches, indices with replacement (reference.run.training_parity; the training script's)"),
    "trace batch": (2, "the MNIST-subset batch that trace, zoo and the golden network case use"),
    "network test batch": (3, "the batch tests/test_network.py draws from the subset"),
    "small network": (4, "the small network, inputs and labels of the numerical_gradient check"),
    "optimizer problem": (5, "an optimizer check's parameters and per-step gradients"),
    "sequence": (6, "a layer's second call and second backward over a sequence of calls"),
    "hyper-parameters": (7, "an optimizer check's drawn hyper-parameters"),
    "fd direction": (8, "the random direction of a directional finite difference"),
    "layer inputs": (9, "a layer case's inputs (the case table, golden recording, Hypothesis examples)"),
    "net inputs": (10, "inputs and labels for tracing a network that is not fed MNIST (trace --net)"),
    "drawn cases": (11, "the random shapes and magnitudes of `check --drawn`"),
    "dropout masks": (12, "the state NumPy's global generator starts a deep training-parity run in"),
    "fd samples": (13, "the elements a sampled finite-difference check differentiates (case fd='sampled')"),
    "regression batches": (14, "the batch order of linear regression's side-by-side SGD (reference.run.regression_parity)"),
    "pmf orders": (15, "each epoch's rating order of PMF's side-by-side per-rating SGD (reference.run.pmf_parity)"),
    "pmf problem": (16, "the ratings and starting factors of PMF's training parity (reference.run.pmf_parity)"),
    "housing table": (17, "the drawn housing table the feature pipeline is checked on (reference.run.pipeline_checks)"),
    "regression problem": (18, "the drawn least-squares problem of the zoo's convergence check"),
    "sgd rows": (19, "the rows SGD draws with replacement in the O(1/k) check (reference.run.convergence.sgd_runs)"),
    "numerical gradient masks": (20, "the state NumPy's global generator is put in for a deep network's "
                                 "numerical_gradient (its dropout masks; reference.run.network_checks)"),
}


class GlobalGenerator:
    """NumPy's global generator (np.random, which the textbook's Dropout draws from) put in the state of `seed`
    for a block, and given back as it was after it: a layer drawing from it draws the same numbers at every
    evaluation.  The seed itself comes from a named stream."""

    def __init__(self, seed):
        self.seed = int(seed)

    def __enter__(self):
        self.kept = np.random.get_state()
        np.random.seed(self.seed)
        return self

    def __exit__(self, *exc):
        np.random.set_state(self.kept)
        return False


def replay(seed):
    """A RandomState in the state the global generator has inside GlobalGenerator(seed)."""
    return np.random.RandomState(int(seed))


def generator_in_state(state):
    """A RandomState in `state` (np.random.get_state()): it draws what the global generator drew from there."""
    generator = np.random.RandomState()
    generator.set_state(state)
    return generator


def number(name):
    """The stream number of a named use; an unknown name is a KeyError naming the known ones."""
    try:
        return STREAMS[name][0]
    except KeyError:
        raise KeyError(f"no random stream named {name!r}; known: {', '.join(STREAMS)}") from None


def rng(seed, name):
    """The generator of stream `name` at `seed`."""
    return np.random.default_rng([int(seed), number(name)])
