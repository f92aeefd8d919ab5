"""MultiLayerNet with dropout and batch normalization (textbook "common/multi_layer_net_extend.py").

    Affine{n} -> BatchNorm{n} (use_batchnorm) -> Activation_function{n} -> Dropout{n} (use_dropout)

gamma{n} (ones) and beta{n} (zeros) join params for each hidden layer under batch normalization.
`dropout_ration` is the textbook's own spelling of the keyword, kept so its callers work unchanged.
"""

import numpy as np

from .multi_layer_net import MultiLayerNet


class MultiLayerNetExtend(MultiLayerNet):
    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, use_dropout=False, dropout_ration=0.5, use_batchnorm=False, seed=None,
                 rng=None, dtype=np.float64):
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
                    seed, rng, dtype, use_dropout=use_dropout, dropout_ratio=dropout_ration,
                    use_batchnorm=use_batchnorm)
