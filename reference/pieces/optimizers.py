"""The optimizers (the textbook's chapter 6: SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam): for each its record
(protocol text, the textbook's hyper-parameters, the documented differences from torch.optim with the test predicting
each) and its twins, the rule in torch.optim and written out (reference.pieces.optimizer_rules, imported with torch
when a twin first runs)."""

from bp_parity.reference.pieces.registry import Form, Optimizer, Piece, register
from bp_parity.reference.pieces.spec import parts
from bp_parity.reference.report.deviations import Deviation, OPTIMIZER_EPSILON

def _optimizer_twin(name):
    def make(params, **hyper):
        from bp_parity.reference.pieces import optimizer_rules  # torch, when a twin first runs

        return optimizer_rules.twin(name, params, **hyper)

    make.__name__ = f"{name}_twin"
    make.__doc__ = f"the twin of the textbook's {name} (reference.pieces.optimizer_rules.twin)"
    return make

def _written_out(name):
    def make(params, **hyper):
        from bp_parity.reference.pieces import optimizer_rules  # torch, when a twin first runs

        return optimizer_rules.WRITTEN_OUT[name](params, **hyper)

    make.__name__ = f"{name}_written_out"
    return make

_OPTIMIZER_DEVIATIONS = {
    "Momentum": Deviation(
        piece="Momentum",
        textbook="v <- momentum v - lr g;  p <- p + v",
        torch_builtin="torch.optim.SGD(momentum): b <- momentum b + g;  p <- p - lr b",
        twin="torch.optim.SGD with momentum (the same rule: v = -lr b while lr is constant)",
        consequence="none beyond rounding",
        predicted_by="tests/test_optimizers.py::test_the_rule_written_out_agrees_with_torch_optim_to_rounding",
    ),
    "Nesterov": Deviation(
        piece="Nesterov",
        textbook="p <- p + momentum^2 v - (1 + momentum) lr g (v from before the step);  v <- momentum v - lr g",
        torch_builtin="torch.optim.SGD(nesterov=True): b <- momentum b + g;  p <- p - lr (g + momentum b)",
        twin="torch.optim.SGD(nesterov=True) itself (v = -lr b makes the two one rule)",
        consequence="none beyond rounding. Updating v first and stepping with the new v, the textbook's code "
        "before its authors fixed it, is another rule: it parts from the built-in by ~5e-2 in 100 steps and is "
        "a mutant in the zoo",
        predicted_by="tests/test_optimizers.py::test_the_rule_written_out_agrees_with_torch_optim_to_rounding",
    ),
    "AdaGrad": Deviation(
        piece="AdaGrad",
        textbook=f"h <- h + g^2;  p <- p - lr g / (sqrt(h) + {OPTIMIZER_EPSILON:g})",
        torch_builtin="torch.optim.Adagrad: the same rule with eps 1e-10 by default",
        twin=f"torch.optim.Adagrad(eps={OPTIMIZER_EPSILON:g})",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-10)), "
        "predicted to rounding",
        predicted_by="tests/test_optimizers.py::test_the_difference_from_torch_optim_defaults_is_the_predicted_"
        "epsilon_term",
    ),
    "RMSprop": Deviation(
        piece="RMSprop",
        textbook=f"h <- decay h + (1 - decay) g^2;  p <- p - lr g / (sqrt(h) + {OPTIMIZER_EPSILON:g})",
        torch_builtin="torch.optim.RMSprop(alpha=decay): the same rule with eps 1e-8 by default",
        twin=f"torch.optim.RMSprop(alpha=decay_rate, eps={OPTIMIZER_EPSILON:g})",
        consequence="with torch's default eps the steps differ by lr g (1/(sqrt(h) + 1e-7) - 1/(sqrt(h) + 1e-8)), "
        "predicted to rounding",
        predicted_by="tests/test_optimizers.py::test_the_difference_from_torch_optim_defaults_is_the_predicted_"
        "epsilon_term",
    ),
    "Adam": Deviation(
        piece="Adam",
        textbook="lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t);  p <- p - lr_t m / (sqrt(v) + 1e-7)",
        torch_builtin="torch.optim.Adam: p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + 1e-8)",
        twin="the textbook's rule in torch operations (reference.pieces.optimizer_rules.TextbookAdam)",
        consequence="the textbook's step is torch's with eps_torch = 1e-7 sqrt(1 - beta2^t): with both epsilons 0 "
        "the two agree to rounding, and with torch's defaults their difference is the predicted epsilon term "
        "summed over the steps",
        predicted_by="tests/test_optimizers.py::test_adam_written_out_equals_torch_adam_with_no_epsilon",
    ),
}

_OPTIMIZERS = (
    ("SGD", "class SGD(lr=0.01) with update(params, grads) in place", {"lr": 0.01}, None),
    ("Momentum", "class Momentum(lr=0.01, momentum=0.9) with update(params, grads) in place",
     {"lr": 0.01, "momentum": 0.9}, None),
    ("Nesterov", "class Nesterov(lr=0.01, momentum=0.9) with update(params, grads) in place",
     {"lr": 0.01, "momentum": 0.9}, None),
    ("AdaGrad", "class AdaGrad(lr=0.01) with update(params, grads) in place", {"lr": 0.01}, 1e-10),
    ("RMSprop", "class RMSprop(lr=0.01, decay_rate=0.99) with update(params, grads) in place",
     {"lr": 0.01, "decay_rate": 0.99}, 1e-8),
    ("Adam", "class Adam(lr=0.001, beta1=0.9, beta2=0.999) with update(params, grads) in place",
     {"lr": 0.001, "beta1": 0.9, "beta2": 0.999}, 1e-8),
)


# the CS231n forms of four of them: rule(w, dw, config) -> (next_w, config), with the family's names of the
# hyper-parameters; checked against the family's own twins where they differ (optimizer_rules.FAMILY_TWINS)
_RULES = {"SGD": ("sgd", {"lr": "learning_rate"}),
          "Momentum": ("sgd_momentum", {"lr": "learning_rate", "momentum": "momentum"}),
          "RMSprop": ("rmsprop", {"lr": "learning_rate", "decay_rate": "decay_rate"}),
          "Adam": ("adam", {"lr": "learning_rate", "beta1": "beta1", "beta2": "beta2"})}


def _rule_form(piece):
    """The Form of the family's update rule for `piece`: an adapter that keeps one config per parameter (the rule's
    state: velocity, cache, m, v, t), passes the check's hyper-parameters as the family names them and writes next_w
    into the caller's array."""
    name, names = _RULES[piece]

    def adapter(m):
        rule = getattr(m, name)

        class Rule:
            __doc__ = f"{name}(w, dw, config) as the textbook's {piece}: one config per parameter"
            family = "cs231n"  # optimizer_checks takes the family's twin (optimizer_rules.family_twin) where it has one

            def __init__(self, **hyper):
                self.config = {names[k]: v for k, v in hyper.items()}
                self.configs = {}

            def update(self, params, grads):
                for key in params:
                    config = self.configs.get(key)
                    next_w, self.configs[key] = parts(rule(params[key], grads[key],
                                                           dict(self.config) if config is None else config),
                                                      name, "next_w, config")
                    params[key][...] = next_w

        Rule.__name__ = piece
        return Rule

    return Form((name,), adapter, takes=3)  # a linear regression's sgd(model, X, y, lr, ...) is no rule


for name, expects, hyper, torch_eps in _OPTIMIZERS:
    register(Piece(name, "optimizer", expects, deviations=(_OPTIMIZER_DEVIATIONS[name],)
                   if name in _OPTIMIZER_DEVIATIONS else (),
                   optimizer=Optimizer(hyper=hyper, twin=_optimizer_twin(name),
                                       written_out=_written_out(name) if name != "SGD" else None,
                                       torch_default_eps=torch_eps),
                   form=_rule_form(name) if name in _RULES else None))
