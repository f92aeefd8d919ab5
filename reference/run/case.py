"""Run one case of the layer table on an implementation and on its oracles.

For a case, a dtype and a seed, run_case draws the inputs, runs the
implementation's forward and backward, runs the PyTorch twin on copies of the
same inputs, differentiates the implementation's own forward by central
differences (float64), checks that no argument was written into, and returns
one Comparison per tensor and oracle.

Each protocol piece has a spec below: how its inputs are drawn, how the
implementation and the twin are called, and what finite differences
differentiate.  Inputs are drawn in float64 and then cast, so the float32 run
sees the float64 run's values rounded.
"""

from dataclasses import dataclass, field

import numpy as np

from bp_parity.reference.base import streams
from bp_parity.reference.base.limits import calling, CheckTimeout
from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces.protocol import MissingProtocol
from bp_parity.reference.pieces.spec import ImplRaised, NotInForm, phase, raised_where
from bp_parity.reference.plan.checks import reproduce_command
from bp_parity.reference.report import diagnosis, tolerance
from bp_parity.reference.report.compare import (compare, compare_conventions, Context, NotRun,  # noqa: F401 - NotRun re-exported
                                      Oracle, Verdict)
from bp_parity.reference.run import finite_diff





















































def _downstream_of_forward(results):
    """Where a layer's forward already parts from the twin (in any call of the case), its gradients were taken of another function, so no
    simple signature of theirs (zero, an offset) says what is wrong with the backward: their diagnoses are dropped,
    and the forward's, where it has one, is the call's."""
    compared = [r for r in results if hasattr(r, "diagnosis")]  # comparisons, not checks that never ran
    if any(r.context.tensor == "forward" and not r.passed for r in compared):
        for r in compared:
            if r.context.tensor != "forward" and not r.passed:
                r.diagnosis.clear()


def cast(inputs, dtype):
    """Float arrays to the dtype under test; labels stay integers."""
    arrays = {k: np.asarray(v) for k, v in inputs.items()}  # rng.normal(size=()) is a Python float
    return {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for k, v in arrays.items()}


def copy_inputs(inputs):
    return {k: np.array(v, copy=True) for k, v in inputs.items()}


@dataclass
class CaseRun:
    case: object
    dtype: str
    seed: int
    impl_outputs: dict = field(default_factory=dict)
    results: list = field(default_factory=list)  # Comparison or NotRun

    def find(self, tensor, oracle):
        for result in self.results:
            if result.context.tensor == tensor and result.context.oracle == oracle and not result.context.call:
                return result
        raise KeyError(f"{self.case.id}: no {oracle} check of {tensor}")




def run_case(impl, case, dtype, seed, recorded=None):
    """Every check of one case at one dtype and seed; see the module docstring.

    recorded: (inputs, expected) from the golden fixtures (reference.run.golden): the
    implementation runs on the recorded inputs and is compared with the recorded
    twin outputs (oracle "golden"), so no twin, and no torch, is needed.
    """
    spec = registry.spec_of(case.layer)
    tensors = spec.case_tensors(case)
    dtype = np.dtype(dtype).name
    run = CaseRun(case=case, dtype=dtype, seed=seed)
    if recorded is None:
        pristine = cast(spec.inputs(case, streams.rng(seed, "layer inputs")), dtype)
        twin_oracle = Oracle.TWIN
    else:
        pristine, recorded_expected = recorded
        twin_oracle = Oracle.GOLDEN
    command = "check" if recorded is None else "golden"

    def context(tensor, oracle, call=""):
        return Context(
            layer=case.layer,
            tensor=tensor,
            oracle=oracle,
            dtype=dtype,
            seed=seed,
            case=case.id,
            reproduce=reproduce_command(impl, case, f"{tensor} ({call})" if call else tensor, dtype, seed,
                                        command),
            inputs=pristine,
            call=call,
        )

    def not_run(tensors, oracle, reason, verdict=Verdict.NOT_RUN):
        run.results.extend(NotRun(context(t, oracle), reason, verdict) for t in tensors)

    try:
        impl.require(*spec.requires)
    except MissingProtocol as missing:
        not_run(tensors, twin_oracle, str(missing))
        return run
    own = spec.for_impl(impl)
    if own is not spec:  # the piece follows a family's form
        spec = own
        if recorded is not None:
            not_run(tensors, twin_oracle, f"{case.layer} follows the {spec.family} family's form; the golden arrays "
                    "were recorded from the textbook's twin (check compares it with its family's twin)", Verdict.SKIPPED)
            return run

    given = copy_inputs(pristine)
    raised = None
    try:
        # NaN and inf are reported by the comparator, not raised as warnings
        with calling(f"{case.layer} (forward and backward)"):
            run.impl_outputs = spec.run_impl(impl, given)
    except CheckTimeout as error:
        not_run(tensors, twin_oracle, str(error), Verdict.TIMEOUT)
        return run
    except ImplRaised as error:
        raised, run.impl_outputs = error, dict(error.outputs)
    except Exception as error:  # noqa: BLE001 - a spec without phases: the implementation raised somewhere
        where = raised_where(error)
        not_run(tensors, twin_oracle, f"raised {type(error).__name__}: {error}" + (f"\n  at {where}" if where
                                                                                          else ""), Verdict.RAISED)
        return run

    if recorded is not None:
        expected = recorded_expected
    else:  # a layer with no twin (registry.layer(twin=None)) has no twin tensors: finite differences alone
        expected = spec.run_twin(copy_inputs(pristine)) if spec.tensors else {}
    for tensor in tensors:
        if raised is not None and tensor not in run.impl_outputs:
            if isinstance(raised.error, NotInForm):  # the adapter's word: this call has no form there
                not_run([tensor], twin_oracle, f"{raised.error}", Verdict.SKIPPED)
            else:
                not_run([tensor], twin_oracle, raised.reason(), Verdict.RAISED)
            continue
        kind = spec.tolerance_kind.get(tensor, "twin")
        tol = tolerance.finite_differences(dtype) if kind == "fd" else tolerance.twin(dtype)
        candidates = [(expected[tensor], "")] + [(expected[key], what) for key, what in
                                                 spec.conventions.get(tensor, ()) if key in expected]
        result = compare_conventions(run.impl_outputs.get(tensor), candidates, tol, context(tensor, twin_oracle))
        for other in spec.tensors:  # the expected value of another tensor of the call (dx for dy)
            if other != tensor and other in expected and not result.passed:
                diagnosis.add(result, diagnosis.other_tensor(result, other, expected[other]))
        run.results.append(result)

    for name, value in pristine.items():
        if not name.startswith("_"):  # "_index" and the like are the harness's own, never given
            run.results.append(compare(given[name], value, tolerance.EXACT, context(name, Oracle.ARGUMENTS)))

    if raised is None and recorded is None and spec.stateful and spec.tensors:
        run.results.extend(_sequence(spec, impl, case, dtype, seed, pristine, context))
    _downstream_of_forward(run.results)
    fd_tensors = spec.case_fd_tensors(case)
    if dtype == "float64" and fd_tensors and case.fd != "none" and raised is not None and isinstance(raised.error,
                                                                                                  NotInForm):
        # no gradient in the form, so none to hold against finite differences: skipped as the twin's checks are
        not_run([t for t in fd_tensors if t not in run.impl_outputs], "finite differences", f"{raised.error}",
                Verdict.SKIPPED)
    if dtype == "float64" and fd_tensors and raised is None and case.fd != "none":
        try:
            impl.require(*spec.fd_requires)
            with calling(f"{case.layer} forward under finite differences"):
                numeric = _finite_differences(spec, impl, pristine, run.impl_outputs, case.fd, seed)
        except MissingProtocol as missing:
            not_run(fd_tensors, "finite differences", str(missing))
        except CheckTimeout as error:
            not_run(fd_tensors, "finite differences", str(error), Verdict.TIMEOUT)
        except Exception as error:  # noqa: BLE001
            not_run(fd_tensors, "finite differences", f"the forward raised {type(error).__name__}: {error}",
                    Verdict.RAISED)
        else:
            fd_tol = tolerance.finite_differences(dtype)
            for tensor in fd_tensors:
                actual, expected, rounding = numeric[tensor]
                run.results.append(
                    compare(actual, expected, fd_tol, context(tensor, Oracle.FINITE_DIFFERENCES), extra_atol=rounding)
                )
    return run




def _sequence(spec, impl, case, dtype, seed, pristine, context):
    """One layer instance over a sequence of calls, each against a fresh twin.

    forward(a), backward(a), then forward(b) and backward(b) on the same instance with other
    inputs (the construction arguments, W and b, kept), then backward again with another upstream
    gradient.  A layer whose result depends on an earlier call (a cached mask, an input kept from the
    first call, a dW that accumulates) fails here and only here, blamed on itself.
    """
    rng = streams.rng(seed, "sequence")
    second = cast(spec.inputs(case, rng), dtype)
    second = {k: v for k, v in second.items() if k not in spec.construction}
    second.update({k: pristine[k] for k in spec.construction if k in pristine})
    second.update(spec.carry(spec.run_twin(copy_inputs(pristine))))
    again = dict(second, dout=cast(spec.inputs(case, rng), dtype)["dout"])
    tol = tolerance.twin(dtype)
    results = []
    outputs = {}
    earlier = spec.run_twin(copy_inputs(pristine))  # the first call's expected values, then each step's
    steps = (("second call", lambda layer: {**spec.forward(layer, second), **spec.backward(layer, second)}, second),
             ("second backward", lambda layer: spec.backward(layer, again), again))
    try:
        with calling(f"{case.layer} over a sequence of calls"):
            with phase("construction", outputs):
                layer = spec.make(impl, copy_inputs(pristine))
            with phase("first forward and backward", outputs):
                spec.forward(layer, copy_inputs(pristine))
                spec.backward(layer, copy_inputs(pristine))
            for label, call, inputs in steps:
                with phase(label, outputs):
                    got = call(layer)
                expected = spec.run_twin(copy_inputs(inputs))
                for tensor, value in got.items():
                    candidates = [(expected[tensor], "")] + [(expected[key], what) for key, what in
                                                             spec.conventions.get(tensor, ()) if key in expected]
                    result = compare_conventions(value, candidates, tol, context(tensor, Oracle.TWIN, label))
                    if tensor in earlier and not result.passed:
                        diagnosis.add(result, diagnosis.earlier_call(result, earlier[tensor]))
                    results.append(result)
                earlier = expected
            # backward again with the same upstream gradient: the same answer, to the bit (a backward that moves
            # state, or accumulates, differs from itself)
            with phase("backward repeated", outputs):
                repeated = spec.backward(layer, again)
            for tensor, value in repeated.items():
                before = np.asarray(got[tensor])
                if np.issubdtype(before.dtype, np.number):  # a value that was no array has been reported already
                    results.append(compare(value, before, tolerance.EXACT,
                                           context(tensor, Oracle.SAME_CALL_BEFORE, "backward repeated")))
    except CheckTimeout as error:
        results.append(NotRun(context("sequence of calls", Oracle.TWIN), str(error), Verdict.TIMEOUT))
    except ImplRaised as error:
        results.append(NotRun(context("sequence of calls", Oracle.TWIN, error.phase), error.reason(), Verdict.RAISED))
    return results


def _finite_differences(spec, impl, pristine, outputs, mode, seed):
    """tensor -> (what the implementation says, what finite differences say).

    "full": every element of the gradient.  "directional": the derivative along
    one random direction v (gradcheck's fast mode), against <gradient, v>.  "sampled":
    FD_SAMPLES elements drawn at random (the classic sparse gradient check), and where
    any of them disagrees, every element of that tensor, so the report names the worst.
    """
    inputs = copy_inputs(pristine)
    losses = spec.fd_losses(impl, inputs)
    triples = {}
    if mode == "full":
        for tensor, (f, point) in losses.items():
            factor = spec.fd_factor(tensor, inputs, impl)
            gradient, rounding = finite_diff.gradient(f, point)
            triples[tensor] = (outputs.get(tensor), gradient * factor, rounding * factor)
        return triples
    if mode == "sampled":
        return _sampled(spec, impl, inputs, losses, outputs, seed)
    rng = streams.rng(seed, "fd direction")
    for tensor, (f, point) in losses.items():
        direction = finite_diff.scaled_direction(rng, point)
        # the tensor is g_f * factor, so <tensor / factor, d> is what differentiating f along d gives;
        # dividing the claim (not stretching the step) keeps the step where fd_step put it
        weights = direction / spec.fd_factor(tensor, inputs, impl)
        try:
            terms = np.asarray(outputs.get(tensor), dtype=np.float64) * weights
            claimed, term_scale = np.asarray(np.sum(terms)), float(np.sum(np.abs(terms)))
        except (TypeError, ValueError) as error:
            claimed, term_scale = f"gradient unusable: {error}", 0.0
        derivative, rounding = finite_diff.directional(f, point, direction)
        allowance = rounding + tolerance.directional_allowance(term_scale)
        triples[tensor] = (claimed, np.asarray(derivative), allowance)
    return triples


# A sampled check differentiates this many elements of each tensor: a gradient wrong in a whole region (a padding
# forgotten, a stride off by one) is wrong in a share of its elements, which 16 draws all miss with a chance of
# (1 - share)^16: 1.5e-3 for a third, 1.5e-5 for a half.  A single wrong element is the small cases' business, where
# every element is differentiated.
FD_SAMPLES = 16


def _sampled(spec, impl, inputs, losses, outputs, seed):
    """FD_SAMPLES elements of each tensor by central differences; a tensor where one disagrees (or that cannot be
    indexed like its point) is differentiated in full, and that full comparison is what gets reported."""
    rng = streams.rng(seed, "fd samples")
    tol = tolerance.finite_differences("float64")
    probe = Context(layer=spec.name if hasattr(spec, "name") else "", tensor="sample", oracle=Oracle.FINITE_DIFFERENCES,
                    dtype="float64", seed=seed)
    triples = {}
    for tensor, (f, point) in losses.items():
        factor = np.broadcast_to(np.asarray(spec.fd_factor(tensor, inputs, impl), dtype=np.float64), np.shape(point))
        flat = np.sort(rng.choice(np.size(point), size=min(FD_SAMPLES, np.size(point)), replace=False))
        actual = outputs.get(tensor)
        try:
            claimed = np.asarray(actual, dtype=np.float64).reshape(np.shape(point)).ravel()[flat]
        except (TypeError, ValueError):
            claimed = None
        if claimed is not None and np.shape(actual) == np.shape(point):
            sampled, rounding = finite_diff.gradient(f, point, indices=flat)
            expected, allowance = sampled * factor.ravel()[flat], rounding * np.abs(factor.ravel()[flat])
            if compare(claimed, expected, tol, probe, extra_atol=allowance).passed:
                triples[tensor] = (claimed, expected, allowance)
                continue
        gradient, rounding = finite_diff.gradient(f, point)
        triples[tensor] = (actual, gradient * factor, rounding * np.abs(factor))
    return triples
