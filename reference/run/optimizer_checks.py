"""Check an implementation's optimizers against their twins, step by step.

Random parameters and a random gradient per step (seeded), the same on both
sides; after every step each parameter array the caller holds (as a network's
layers hold them) is compared with the twin's.  The first step where they part
is reported; an update that rebinds params[key] instead of writing into it is
reported as exactly that, since the layers would never see it.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from bp_parity.reference.base.program import program
from bp_parity.reference.base import streams
from bp_parity.reference.base.limits import calling, CheckTimeout
from bp_parity.reference.pieces.optimizer_rules import family_twin
from bp_parity.reference.pieces.protocol import MissingProtocol
from bp_parity.reference.pieces.registry import hyper as defaults, names, piece
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, Context, Oracle, Verdict
from bp_parity.reference.run.case import NotRun

OPTIMIZERS = tuple(names("optimizer"))  # the built-in ones; a user's registered later run too (optimizers())


def optimizers():
    return tuple(names("optimizer"))
SHAPES = {"W1": (6, 5), "b1": (5,), "W2": (5, 3), "b2": (3,)}




def drawn_hyper(name, seed):
    """The hyper-parameters a check at `seed` uses: drawn around the textbook's, never the defaults themselves,
    so an optimizer that ignores one (a literal 0.9 where self.momentum belongs) is caught.

    lr: the default times 10^U(-0.5, 0.5); momentum U(0.5, 0.99); decay_rate U(0.9, 0.999);
    beta1 U(0.8, 0.95); beta2 U(0.99, 0.9999).
    """
    rng = streams.rng(seed, "hyper-parameters")
    ranges = {"momentum": (0.5, 0.99), "decay_rate": (0.9, 0.999), "beta1": (0.8, 0.95), "beta2": (0.99, 0.9999)}
    hyper = {}
    for key, default in defaults(name).items():
        if key == "lr":
            hyper[key] = float(default * 10 ** rng.uniform(-0.5, 0.5))
        else:
            hyper[key] = float(rng.uniform(*ranges[key]))
    return hyper


def problem(seed, steps, dtype):
    """(initial params, [grads per step]) drawn from the stream "optimizer problem", cast to dtype."""
    rng = streams.rng(seed, "optimizer problem")
    params = {k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()}
    grads = [{k: rng.normal(size=s).astype(dtype) for k, s in SHAPES.items()} for _ in range(steps)]
    return params, grads


@dataclass
class OptimizerRun:
    name: str
    dtype: str
    seed: int
    results: list = field(default_factory=list)  # one per parameter: at the first divergence, else the last step
    trajectory: list = field(default_factory=list, repr=False)  # max |impl - twin| per step

    @property
    def passed(self):
        return all(r.passed for r in self.results)


def run_optimizer(impl, name, dtype, seed, steps=100, hyper=None):
    """`steps` updates against the twin, with drawn_hyper(name, seed) unless `hyper` is given."""
    dtype = np.dtype(dtype).name
    hyper = dict(defaults(name), **(hyper if hyper is not None else drawn_hyper(name, seed)))
    shown = ", ".join(f"{k}={v:.6g}" for k, v in hyper.items())
    run = OptimizerRun(name, dtype, seed)
    tol = tolerance.twin(dtype)
    command = f"{program()} optimizers --check {arguments(impl)} --optimizer {name} --dtype {dtype} --seed {seed}"

    def context(tensor, step=None):
        return Context(layer=name, tensor=tensor, oracle=Oracle.TWIN, dtype=dtype, seed=seed, step=step,
                       case=f"{name}({shown}), {steps} steps",
                       reproduce=command)

    try:
        optimizer = impl.require(name)(**hyper)
    except MissingProtocol as missing:
        run.results.append(NotRun(context("update"), str(missing)))
        return run
    except Exception as error:  # noqa: BLE001
        run.results.append(NotRun(context("update"), f"{name}(**{hyper}) raised {type(error).__name__}: {error}",
                                  Verdict.RAISED))
        return run
    initial, grads = problem(seed, steps, dtype)
    params = {k: v.copy() for k, v in initial.items()}
    held = dict(params)  # what a network's layers hold: the same arrays
    leaves = {k: torch.nn.Parameter(torch.from_numpy(v.copy())) for k, v in initial.items()}
    twin_optimizer = None
    if getattr(optimizer, "family", None) == "cs231n":  # a functional update rule: its family's twin
        twin_optimizer = family_twin(name, list(leaves.values()), **hyper)
    if twin_optimizer is None:
        twin_optimizer = piece(name).optimizer.twin(list(leaves.values()), **hyper)

    for step, grad in enumerate(grads):
        try:
            with calling(f"{name}.update"):
                optimizer.update(params, {k: g.copy() for k, g in grad.items()})
        except CheckTimeout as error:
            run.results.append(NotRun(context("update", step), str(error), Verdict.TIMEOUT))
            return run
        except Exception as error:  # noqa: BLE001
            run.results.append(NotRun(context("update", step), f"raised {type(error).__name__}: {error}",
                                      Verdict.RAISED))
            return run
        for k, leaf in leaves.items():
            leaf.grad = torch.from_numpy(grad[k].copy())
        twin_optimizer.step()
        rebound = [k for k in held if params.get(k) is not held[k]]
        if rebound:
            run.results.append(NotRun(context(rebound[0], step),
                                      f"update rebinds params[{rebound[0]!r}] to a new array instead of writing into "
                                      "it: a network's layers would never see the update", Verdict.REBOUND))
            return run
        comparisons = {k: compare(held[k], leaves[k].detach().numpy(), tol, context(k, step))
                       for k in held}
        run.trajectory.append(max(c.max_abs for c in comparisons.values()))
        if not all(c.passed for c in comparisons.values()) or step == len(grads) - 1:
            run.results.extend(comparisons.values())
            return run
    return run
