"""A fully connected network of any depth (textbook "common/multi_layer_net.py").

    x -> Affine1 -> Activation_function1 -> ... -> Affine{n} -> Activation_function{n} -> Affine{n+1} -> SoftmaxWithLoss

hidden_size_list gives the width of each hidden layer.  Weights start as scale * N(0, 1) with scale
sqrt(2 / n_in) for weight_init_std 'relu' or 'he', sqrt(1 / n_in) for 'sigmoid' or 'xavier', or the
number given; biases at 0.  The loss adds weight decay 0.5 * lambda * sum(W**2) over every weight
matrix, and gradient() adds its derivative lambda * W.  The layers hold the very arrays in `params`.
"""

import numpy as np

from .gradient import numerical_gradient
from .net_layer import Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss

ACTIVATIONS = {"relu": Relu, "sigmoid": Sigmoid}


def init_scale(weight_init_std, fan_in):
    """The standard deviation of a weight matrix with fan_in inputs under the named scheme (or the number)."""
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / fan_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / fan_in)
    return float(weight_init_std)


class MultiLayerNet:
    def __init__(self, input_size, hidden_size_list, output_size, activation="relu", weight_init_std="relu",
                 weight_decay_lambda=0, seed=None, rng=None, dtype=np.float64):
        self._build(input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
                    seed, rng, dtype, use_dropout=False, dropout_ratio=0.5, use_batchnorm=False)

    def _build(self, input_size, hidden_size_list, output_size, activation, weight_init_std, weight_decay_lambda,
               seed, rng, dtype, use_dropout, dropout_ratio, use_batchnorm):
        if str(activation).lower() not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        rng = np.random.default_rng(seed) if rng is None else rng
        dtype = np.dtype(dtype)
        self.input_size, self.output_size = input_size, output_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.use_dropout, self.use_batchnorm = use_dropout, use_batchnorm
        sizes = [input_size] + self.hidden_size_list + [output_size]
        self.params = {}
        for n in range(1, len(sizes)):
            scale = init_scale(weight_init_std, sizes[n - 1])
            self.params[f"W{n}"] = (scale * rng.standard_normal((sizes[n - 1], sizes[n]))).astype(dtype)
            self.params[f"b{n}"] = np.zeros(sizes[n], dtype=dtype)
        self.layers = {}  # dicts keep insertion order: this is the forward order
        for n in range(1, self.hidden_layer_num + 1):
            self.layers[f"Affine{n}"] = Affine(self.params[f"W{n}"], self.params[f"b{n}"])
            if use_batchnorm:
                self.params[f"gamma{n}"] = np.ones(sizes[n], dtype=dtype)
                self.params[f"beta{n}"] = np.zeros(sizes[n], dtype=dtype)
                self.layers[f"BatchNorm{n}"] = BatchNormalization(self.params[f"gamma{n}"], self.params[f"beta{n}"])
            self.layers[f"Activation_function{n}"] = ACTIVATIONS[str(activation).lower()]()
            if use_dropout:
                self.layers[f"Dropout{n}"] = Dropout(dropout_ratio)
        last = self.hidden_layer_num + 1
        self.layers[f"Affine{last}"] = Affine(self.params[f"W{last}"], self.params[f"b{last}"])
        self.last_layer = SoftmaxWithLoss()

    def __repr__(self):
        return (f"{type(self).__name__}(sizes={[self.input_size] + self.hidden_size_list + [self.output_size]}, "
                f"dtype={self.params['W1'].dtype})")

    def predict(self, x, train_flg=False):
        """Scores before the softmax; batch norm and dropout in training mode only when train_flg."""
        for layer in self.layers.values():
            if isinstance(layer, (BatchNormalization, Dropout)):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t, train_flg=False):
        """Mean cross-entropy plus the weight decay 0.5 * lambda * sum(W**2) over every weight matrix."""
        decay = sum(0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{n}"] ** 2)
                    for n in range(1, self.hidden_layer_num + 2))
        return self.last_layer.forward(self.predict(x, train_flg), t) + decay

    def accuracy(self, x, t):
        y = np.argmax(self.predict(x, train_flg=False), axis=1)
        t = np.asarray(t)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return float(np.mean(y == t))

    def numerical_gradient(self, x, t):
        """Central differences of loss(x, t, train_flg=True) in every parameter.

        Every evaluation sees the same dropout masks (NumPy's global generator is put back to the same state
        before each) and the running statistics are restored afterwards, so the quotient differentiates one
        function and the network is left as it was.
        """
        state = np.random.get_state()
        norms = [layer for layer in self.layers.values() if isinstance(layer, BatchNormalization)]
        kept = [(layer.running_mean, layer.running_var) for layer in norms]

        def loss(_perturbed):
            np.random.set_state(state)
            return self.loss(x, t, train_flg=True)

        try:
            return {key: numerical_gradient(loss, param) for key, param in self.params.items()}
        finally:
            for layer, (mean, var) in zip(norms, kept):
                layer.running_mean, layer.running_var = mean, var

    def gradient(self, x, t):
        """Backpropagation through every layer in reverse order; the weights' gradients include lambda * W."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        for n in range(1, self.hidden_layer_num + 2):
            affine = self.layers[f"Affine{n}"]
            grads[f"W{n}"] = affine.dW + self.weight_decay_lambda * self.params[f"W{n}"]
            grads[f"b{n}"] = affine.db
            if self.use_batchnorm and n <= self.hidden_layer_num:
                grads[f"gamma{n}"] = self.layers[f"BatchNorm{n}"].dgamma
                grads[f"beta{n}"] = self.layers[f"BatchNorm{n}"].dbeta
        return grads
