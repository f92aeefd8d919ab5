"""The functional protocol: layers written as functions that return (out, cache) (the CS231n style), checked as
the registry's pieces through adapters.  Not a second copy of any check: each adapter is a class of the textbook's
protocol that calls the functions, so the Affine cases check affine_forward/affine_backward, and so on.  Each form is
its piece's record (registry.Form: the functions, the adapter), in the piece's family module; this module finds them.

    affine_forward(x, w, b) -> (out, cache);          affine_backward(dout, cache) -> (dx, dw, db)     as Affine
    relu_forward(x) -> (out, cache);                  relu_backward(dout, cache) -> dx                 as Relu
    sigmoid_forward(x) -> (out, cache);               sigmoid_backward(dout, cache) -> dx              as Sigmoid
    softmax_loss(x, y) -> (loss, dx)                  (y integer labels, the loss averaged)            as SoftmaxWithLoss
    conv_forward_naive(x, w, b, {"stride", "pad"}) -> (out, cache); conv_backward_naive(dout, cache)
        -> (dx, dw, db)                                                                                 as Convolution
    max_pool_forward_naive(x, {"pool_height", "pool_width", "stride"}) -> (out, cache);
        max_pool_backward_naive(dout, cache) -> dx                                                     as Pooling
    batchnorm_forward(x, gamma, beta, bn_param) -> (out, cache); batchnorm_backward(dout, cache)
        -> (dx, dgamma, dbeta)                                                                          as BatchNormalization
    batchnorm_forward / batchnorm_backward_alt (the same, its backward in closed form)                 as BatchNormalizationAlt
    spatial_batchnorm_forward(x, gamma, beta, bn_param) / spatial_batchnorm_backward                as SpatialBatchNormalization
    layernorm_forward(x, gamma, beta, ln_param) / layernorm_backward                                 as LayerNormalization
    spatial_groupnorm_forward(x, gamma, beta, G, gn_param) / spatial_groupnorm_backward              as GroupNormalization
    dropout_forward(x, {"p", "mode"}) -> (out, cache); dropout_backward(dout, cache) -> dx            as Dropout
    sgd, sgd_momentum, rmsprop, adam: rule(w, dw, config) -> (next_w, config)       as SGD, Momentum, RMSprop, Adam

What each adapter does beyond calling, and why it cannot hide a bug of the functions: SoftmaxWithLoss hands
softmax_loss integer labels (a one-hot case's argmax: the form takes labels only) and a batch (one sample given as a
vector becomes a batch of one, and its dx a vector again), and multiplies dx by the upstream gradient (the form's dx
is d loss / dx); Pooling pads with minus infinity itself where a case asks for padding (the form has none), which
never wins a window, and cuts the padding's rows off dx; BatchNormalization hands batchnorm_forward the textbook's
epsilon and momentum through bn_param (the form takes both from there: eps 1e-5 is only its default), its mode from
train_flg, the running statistics in and out of bn_param, and a 4-D input flattened to (N, C*H*W) as the textbook
does; the form has no backward after a test-mode forward, so those checks are SKIPPED (NotInForm), not failed;
Convolution and Pooling skip the cases whose windows do not tile the padded input, which the form may assume away
(spec.whole_windows); Dropout hands dropout_forward p = 1 - dropout_ratio (p is the probability of keeping a unit, as
the course's current assignment has it; where the function's docstring says "We drop each neuron output with
probability p", the older assignment's, p = dropout_ratio, and check says so) and its mode from train_flg, and no
seed: the function draws from NumPy's global generator, which the harness puts in a state of its own before every
forward, as for the textbook's Dropout; an update rule's adapter keeps one config per parameter (the rule's state:
velocity, cache, m, v, t), passes the check's hyper-parameters as the family names them (learning_rate, momentum,
decay_rate, beta1, beta2) and writes next_w into the caller's array.

The family's dropout is inverted dropout, checked against its own twin (DropoutSpec.for_impl, reference.pieces.
inverted_dropout): the mask rand(*x.shape) < p drawn from the same state (the course notes' draw; the reflected draw
u > 1 - p, which rand > 1 - p and np.random.binomial(1, p) for p <= 1/2 make, is a documented convention,
reference.report.deviations.REFLECTED_MASK; any other draw is reported as the tensor "mask"), the kept units scaled by 1/p
in training, x itself at test time. tests/test_functional.py predicts its difference from the textbook's Dropout (on
draws u the family keeps what the textbook keeps on 1 - u, and scales by 1/p, at test time too) and from torch's
F.dropout (none beyond rounding, on the mask torch drew). The course's usual mask, (rand < p) / p, is float64: with
a float32 x the output is float64, and the float32 cases report that as a dtype.

The family's update rules are checked against the family's forms (optimizer_rules.family_twin): its sgd and sgd_momentum are the
textbook's SGD and Momentum (v = momentum v - lr dw; w + v), so the textbook's twins serve; its rmsprop and adam
keep epsilon 1e-8 where the textbook has 1e-7, and its adam adds epsilon to the square root of the bias-corrected v
(the textbook: to the uncorrected one, the step scaled by lr_t).  Both are torch.optim's own RMSprop and Adam with
eps=1e-8, term for term: tests/test_functional.py predicts no difference beyond rounding between the forms written
out in NumPy and torch.optim, and measures the textbook's twin parting from them.

detect(module) names the functions found and the pieces they stand for; protocol.load binds those pieces where the
module does not define the textbook's classes itself.
"""


from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces.spec import takes

def _forms():
    return [p for p in registry.pieces() if p.form is not None]


def detect(module):
    """{piece: (function, ...)} of every functional form the module defines in full, for the pieces it does not
    define as classes, in the registry's order.  A form that names how many arguments its first function takes (an
    update rule's (w, dw, config)) must take them: a linear regression's `sgd(model, X, y, lr, ...)` is no rule."""
    found = {}
    for piece in _forms():
        names = piece.form.functions
        functions = [getattr(module, n, None) for n in names]
        if hasattr(module, piece.name) or not all(callable(f) for f in functions):
            continue
        if piece.form.takes and not takes(functions[0], piece.form.takes):
            continue
        found[piece.name] = names
    return found


def adapters(module):
    """{piece: adapter class} for detect(module)."""
    return {name: registry.piece(name).form.adapter(module) for name in detect(module)}
