"""How a model with its own loss and gradient is checked (linear regression, PMF), and the routines around them.

A model piece is a class `name(*params, *settings)` with loss(X, y) -> a scalar and gradient(X, y) -> {param: its
gradient}.  One case draws X, y, the parameters and the settings; the loss is compared with the twin's, each
gradient with autograd's of the twin's loss and with central differences of the implementation's own loss()
(float64), and the arguments must come back unchanged.

A routine piece is a function that trains a model or prepares its data (prepare_housing, linear regression's sgd and
step_size, PMF's gd and per-rating sgd); its record (registry.Routine) names the check that runs it on a problem the
harness draws, in reference.run, and the model it steps with.
"""

import numpy as np

from bp_parity.reference.base.cases import LayerCase
from bp_parity.reference.base.lazy_torch import F, torch
from bp_parity.reference.pieces.registry import Piece, register, Routine
from bp_parity.reference.pieces.spec import _numpy, _tensor, phase, Spec


def draw_regression(case, rng):
    """X standard normal (n, d) times the case's scale, y standard normal, w normal / sqrt(d), b normal; l2 from the
    case (default 0)."""
    n, d = case.shape
    return {"X": rng.normal(size=(n, d)) * case.scale, "y": rng.normal(size=n), "w": rng.normal(size=d) / np.sqrt(d),
            "b": np.asarray(rng.normal()), "l2": np.asarray(float(case.option("l2", 0.0)))}


class ModelSpec(Spec):
    """name(*params, *settings) with loss(X, y) and gradient(X, y) -> {param: d param}.

    optional: parameters (and settings) only the cases with option `optional_option` draw (PMF's biases with its
    lam_b and mean); by_name: construct the model and call the twin by keyword, as the protocol names them."""

    def __init__(self, name, draw, twin, params=("w", "b"), settings=("l2",), optional=(), optional_option=None,
                 by_name=False):
        self.name = name
        self.requires = (name,)
        self.draw = draw
        self.twin = twin  # twin(X, y, *params, *settings) -> the loss, in torch
        self.params, self.settings = tuple(params), tuple(settings)
        self.optional, self.optional_option, self.by_name = tuple(optional), optional_option, by_name
        self.tensors = ("loss",) + tuple(f"d{p}" for p in self.params)
        self.fd_tensors = tuple(f"d{p}" for p in self.params)

    def _case_params(self, case):
        with_optional = self.optional_option is not None and case.option(self.optional_option, False)
        return [p for p in self.params if with_optional or p not in self.optional]

    def case_tensors(self, case):
        return ("loss",) + tuple(f"d{p}" for p in self._case_params(case))

    def case_fd_tensors(self, case):
        return tuple(f"d{p}" for p in self._case_params(case))

    def inputs(self, case, rng):
        return self.draw(case, rng)

    def _present(self, args):
        return [p for p in self.params if p in args], [s for s in self.settings if s in args]

    def _arguments(self, args, params):
        """(positional, keyword) arguments of the model or the twin, `params` standing for the parameters."""
        names, settings = self._present(args)
        values = dict(zip(names, params), **{s: float(args[s]) for s in settings})
        if self.by_name:
            return (), values
        return tuple(values[n] for n in names + settings), {}

    def _construct(self, impl, args):
        names, _ = self._present(args)
        positional, keywords = self._arguments(args, [args[p] for p in names])
        return impl.require(self.name)(*positional, **keywords)

    def run_impl(self, impl, inp):
        outputs = {}
        with phase("construction", outputs):
            model = self._construct(impl, inp)
        with phase("forward", outputs):
            outputs["loss"] = model.loss(inp["X"], inp["y"])
        with phase("backward", outputs):
            grads = model.gradient(inp["X"], inp["y"])
            outputs.update({f"d{p}": grads[p] for p in self._present(inp)[0]})
        return outputs

    def run_twin(self, inp):
        names, _ = self._present(inp)
        leaves = [_tensor(inp[p], True) for p in names]
        positional, keywords = self._arguments(inp, leaves)
        loss = self.twin(_tensor(inp["X"]), _tensor(inp["y"]), *positional, **keywords)
        loss.backward()
        outputs = {"loss": _numpy(loss)}
        outputs.update({f"d{p}": _numpy(leaf.grad) for p, leaf in zip(names, leaves)})
        return outputs

    def fd_losses(self, impl, inp):
        def loss_of(name):
            def f(value):
                return self._construct(impl, dict(inp, **{name: value})).loss(inp["X"], inp["y"])
            return f

        return {f"d{p}": (loss_of(p), inp[p]) for p in self._present(inp)[0]}


def draw_ratings(case, rng):
    """case.shape = (users, items, k), option ratings (how many pairs are rated; default every third pair), option
    lam (the priors' weight, both; default 0.1): distinct (user, item) pairs drawn without replacement, ratings
    uniform on {1..5}, U and V normal * 0.5; option biased adds the biases.  Users and items with several ratings are the point: their gradients
    collect a term from each."""
    users, items, k = case.shape
    pairs = users * items
    count = int(case.option("ratings", max(pairs // 3, 1)))
    chosen = rng.choice(pairs, size=count, replace=False)
    X = np.stack([chosen // items, chosen % items], axis=1).astype(np.int64)
    lam = float(case.option("lam", 0.1))
    drawn = {"X": X, "y": rng.integers(1, 6, size=count).astype(np.float64), "U": rng.normal(size=(users, k)) * 0.5,
             "V": rng.normal(size=(items, k)) * 0.5, "lam_u": np.asarray(lam), "lam_v": np.asarray(lam * 1.5)}
    if case.option("biased", False):  # option biased: biases normal * 0.3 around the ratings' mean, lam_b = lam / 2
        drawn.update(bu=rng.normal(size=users) * 0.3, bi=rng.normal(size=items) * 0.3, lam_b=np.asarray(lam * 0.5),
                     mean=np.asarray(float(drawn["y"].mean())))
    return drawn


def linear_regression_loss(X, y, w, b, l2=0.0):
    """(1/2) mean squared error of X w + b against y (torch's mse_loss), plus (l2/2) ||w||^2; the bias unregularised."""
    prediction = F.linear(X, w.unsqueeze(0), b.reshape(1)).squeeze(1)
    return 0.5 * F.mse_loss(prediction, y, reduction="mean") + 0.5 * l2 * (w * w).sum()

def pmf_loss(X, y, U, V, lam_u=0.0, lam_v=0.0, bu=None, bi=None, lam_b=0.0, mean=0.0):
    """PMF's objective: half the sum of squared errors of U[user] . V[item] (plus mean + bu[user] + bi[item] when
    biased) over the rated pairs, plus the Gaussian priors' (lam/2) ||U||^2, (lam/2) ||V||^2 and (lam_b/2) of the
    biases' squares (torch's mse_loss with reduction "sum" for the data term)."""
    prediction = (U[X[:, 0]] * V[X[:, 1]]).sum(dim=1)
    prior = 0.5 * lam_u * (U * U).sum() + 0.5 * lam_v * (V * V).sum()
    if bu is not None:
        prediction = prediction + mean + bu[X[:, 0]] + bi[X[:, 1]]
        prior = prior + 0.5 * lam_b * ((bu * bu).sum() + (bi * bi).sum())
    return 0.5 * F.mse_loss(prediction, y, reduction="sum") + prior

def pmf_rating_loss(r, u, v, lam_u, lam_v, bu=None, bi=None, lam_b=0.0, mean=0.0):
    """One rating's own term of per-rating SGD: (1/2) (r - r_hat)^2 + (lam_u/2) ||u||^2 + (lam_v/2) ||v||^2 (+
    (lam_b/2) (bu^2 + bi^2)), u and v the rating's user and item rows (torch.dot for the product)."""
    prediction = torch.dot(u, v)
    prior = 0.5 * lam_u * torch.dot(u, u) + 0.5 * lam_v * torch.dot(v, v)
    if bu is not None:
        prediction = prediction + mean + bu + bi
        prior = prior + 0.5 * lam_b * (bu * bu + bi * bi)
    return 0.5 * (r - prediction) ** 2 + prior


C = LayerCase
register(Piece("LinearRegression", "model", "class LinearRegression(w, b, l2=0.0): loss(X, y) = (1/2n) ||X w + "
               "b - y||^2 + (l2/2) ||w||^2; gradient(X, y) -> {'w', 'b'}",
               spec=ModelSpec("LinearRegression", draw_regression, linear_regression_loss),
               cases=(
                   C("LinearRegression-plain", "LinearRegression", shape=(20, 6)),
                   C("LinearRegression-ridge", "LinearRegression", shape=(20, 6), options=(("l2", 0.3),)),
                   C("LinearRegression-1row", "LinearRegression", shape=(1, 5), options=(("l2", 0.1),)),
                   C("LinearRegression-1feature", "LinearRegression", shape=(15, 1)),
                   # more features than rows: the data term alone has a flat direction, the ridge term not
                   C("LinearRegression-wide", "LinearRegression", shape=(4, 9), options=(("l2", 0.05),)))))

register(Piece("PMF", "model", "class PMF(U, V, lam_u=0.0, lam_v=0.0, bu=None, bi=None, lam_b=0.0, mean=0.0): "
               "loss(X, y) = (1/2) sum (r - mean - bu[user] - bi[item] - U[user] . V[item])^2 + (lam_u/2) ||U||^2 "
               "+ (lam_v/2) ||V||^2 + (lam_b/2) (||bu||^2 + ||bi||^2) over rated (user, item) rows of X; "
               "gradient(X, y) -> {'U', 'V'} (and 'bu', 'bi' when biased)",
               spec=ModelSpec("PMF", draw_ratings, pmf_loss, params=("U", "V", "bu", "bi"),
                              settings=("lam_u", "lam_v", "lam_b", "mean"), optional=("bu", "bi"),
                              optional_option="biased", by_name=True),
               cases=(
                   C("PMF-sparse", "PMF", shape=(7, 6, 3)),  # a third of the pairs: users and items rated often
                   C("PMF-dense", "PMF", shape=(4, 5, 2), options=(("ratings", 20),)),
                   C("PMF-1factor", "PMF", shape=(5, 4, 1), options=(("ratings", 9),)),
                   C("PMF-no-prior", "PMF", shape=(6, 6, 3), options=(("lam", 0.0),)),
                   C("PMF-1rating", "PMF", shape=(3, 3, 2), options=(("ratings", 1),)),
                   C("PMF-biased", "PMF", shape=(7, 6, 3), options=(("biased", True),)),
                   C("PMF-biased-dense", "PMF", shape=(4, 5, 2), options=(("ratings", 20), ("biased", True))),
                   # 1,200 users-by-items cells for 18 ratings, more than 64 a rating: the matrix is too sparse for
                   # impl's dense products, so its per-index sums run (the other cases take the dense path); 18
                   # ratings among 40 users and 30 items repeat some of each
                   C("PMF-sparse-path", "PMF", shape=(40, 30, 3), options=(("ratings", 18),)),
                   C("PMF-biased-sparse-path", "PMF", shape=(40, 30, 3), options=(("ratings", 18), ("biased", True))))))

# ---- the routines around the models: each run on a problem the harness draws, beside its twin or its rule

register(Piece("prepare_housing", "routine", "function prepare_housing(table, train, test) -> ((X, y), (X_test, "
               "y_test), names): the training rows' median fills total_bedrooms, every numeric column standardised "
               "with the training rows' mean and standard deviation (ddof 0), the categories but the first as "
               "indicators, the target over 100,000",
               routine=Routine("pipeline_checks:check_housing", ("X_train", "y_train", "X_test", "y_test"))))

register(Piece("sgd", "routine", "function sgd(model, X, y, lr, epochs, batch_size, rng, on_epoch=None) -> the batch "
               "losses: "
               "minibatch SGD on LinearRegression, each epoch's order a permutation from rng, the last batch of an "
               "epoch short where batch_size does not divide n",
               routine=Routine("regression_parity:check_sgd", ("loss", "batch losses", "w", "b"),
                               dtypes=("float64", "float32"), steps="LinearRegression")))

register(Piece("step_size", "routine", "function step_size(X, rule) -> the step of gradient descent on "
               "LinearRegression's least squares: 1/L (rule '1/L') or 2/(mu + L) (rule '2/(mu+L)'), L and mu the "
               "largest and smallest eigenvalues of A^T A / n, A = [X, 1]",
               routine=Routine("convergence:check_step_size", ("step_size(X, '1/L')", "step_size(X, '2/(mu+L)')",
                                                             "f(theta_k) - f*", "||theta_k - theta*||"),
                               steps="LinearRegression")))

register(Piece("pmf_gd", "routine", "function pmf_gd(model, X, y, lr, epochs, on_epoch=None) -> the losses: full-batch "
               "gradient descent on PMF, every parameter moved by lr times its whole gradient",
               routine=Routine("pmf_parity:check_gd", ("loss", "U", "V", "bu", "bi", "steps taken"),
                               dtypes=("float64", "float32"), steps="PMF")))

register(Piece("pmf_sgd", "routine", "function pmf_sgd(model, X, y, lr, epochs, rng, on_epoch=None) -> the sums of "
               "squared errors: per-rating SGD on PMF in a permutation from rng each epoch, the item moved with the "
               "user factor from before the step",
               routine=Routine("pmf_parity:check_sgd", ("sse", "U", "V", "bu", "bi", "epochs taken"),
                               dtypes=("float64", "float32"), steps="PMF")))
