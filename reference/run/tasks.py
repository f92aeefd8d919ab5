"""The units of work a worker runs, and what the harness makes of each unit's Outcome.

Each task is a module-level function of (implementation, *arguments) that a Pool sends to a worker by reference;
it returns results (reference.report.compare), which cross back as JSON.  A result that passed crosses without its arrays
(only a failure's report, or its .npz dump, shows them).  results_of() turns an Outcome into the results of its
unit: the unit's own, with what the implementation printed and the global state it changed; or, where the worker
ended, hung or overstayed, one result for the whole unit that names the call it was in.
"""

import dataclasses
import importlib
import time

from bp_parity.reference.base.limits import calling, STEP_SECONDS
from bp_parity.reference.base.program import program
from bp_parity.reference.pieces import registry
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report.compare import NotRun, Oracle, Verdict
from bp_parity.reference.run import case as layer_checks, convergence, golden
from bp_parity.reference.run.worker import event, shared


def _slim(results):
    for result in results:
        if result.passed and getattr(result, "compared", False):
            result.actual = result.expected = None
            result.context = dataclasses.replace(result.context, inputs={})
    return results


def case(impl, case, dtype, seed):
    """Every check of one case of the table at one dtype and seed (reference.run.case.run_case)."""

    return _slim(layer_checks.run_case(impl, case, dtype, seed).results)


def optimizer(impl, name, dtype, seed):
    """An optimizer's 100-step checks (reference.run.optimizer_checks)."""
    from bp_parity.reference.run import optimizer_checks

    return _slim(optimizer_checks.run_optimizer(impl, name, dtype, seed).results)


def network(impl, name, dtype, seed):
    """The results of the traces `check` runs for a network piece (reference.cli.trace), each with the trace
    it belongs to as .network."""
    from bp_parity.reference.run.traces import network_traces

    results = []
    for trace in network_traces(impl, name, dtype, seed):
        for result in _slim(trace.results):
            result.network = trace.network
            results.append(result)
    return results


def routine(impl, name, dtype, seed):
    """A routine's checks on the problem the harness draws (its record's check, registry.Routine: "module:function"
    of this floor), each result as the function made it."""
    module, function = registry.piece(name).routine.check.split(":")
    check = getattr(importlib.import_module(f"bp_parity.reference.run.{module}"), function)
    reproduce = f"{program()} check {arguments(impl)} --layer {name} --dtype {dtype} --seed {seed}"
    # a training run, not one call: the limit of a training step's (a check's 5 s is a single call's)
    with calling(f"{name} on the harness's problem (its twin beside it)", seconds=STEP_SECONDS):
        return _slim(check(impl, dtype, seed, reproduce))


def traces(impl, net, seed, batch, dtype, data_dir, command):
    """The traces of `trace`: network `net` of the implementation (any depth), or without one its TwoLayerNet and
    the networks built from its layers (reference.cli.trace)."""
    from bp_parity.reference.run import traces as trace

    if net:
        found = [trace.net_trace(impl, net, seed, batch, dtype, trace.mnist_subset(dtype or "float64", data_dir),
                                 command)]
    else:
        found = trace.network_traces(impl, "TwoLayerNet", dtype or "float64", seed, batch, data_dir, command)
    for one in found:
        _slim(one.results)
    return found


def golden_layer(impl, number):
    """Every check of the `number`th recorded layer entry against the golden arrays (reference.run.golden), which the
    harness read into worker.shared["golden"] before the pool started."""

    recorded = shared["golden"]
    return _slim(golden.check_layer_entry(impl, recorded, golden.entries(recorded, "layers")[number]).results)


def golden_network(impl, number):
    """The checks of the `number`th recorded network entry against the golden arrays."""

    recorded = shared["golden"]
    return _slim(golden.check_network_entry(impl, recorded, golden.entries(recorded, "network")[number]))


def _first_divergences(traces):
    return [trace.first_divergence for trace in traces if trace.first_divergence is not None]


def zoo_traces(impl, x, t, dtype, seed):
    """The zoo's traces of the implementation's TwoLayerNet and every public method of it, and what it is made of
    (initial parameters, layers): each trace's first divergence (what follows it is inherited)."""
    from bp_parity.reference.run.traces import construction_traces, trace_all

    return _first_divergences(trace_all(impl, x, t, seed=seed, dtype=dtype)
                              + construction_traces(impl, "TwoLayerNet", dtype, seed))


def zoo_network(impl, name, dtype, seed):
    """The first divergence of each trace `check` runs for network piece `name`, on the zoo's batch of 16."""
    from bp_parity.reference.run.traces import network_traces

    return _first_divergences(network_traces(impl, name, dtype, seed, batch=16))


def zoo_fingerprint(impl):
    """How the implementation binds each protocol name, and impl's code and state in this worker
    (reference.run.unchanged), before any other unit."""
    from bp_parity.reference.run import unchanged

    return unchanged.fingerprint(impl)


def reading(impl, task, *args):
    """{"value": task(impl, *args), "reads": the protocol names it looked up}: the zoo's clean run on impl."""
    impl.reads = set()
    try:
        value = task(impl, *args)
    finally:
        reads, impl.reads = sorted(impl.reads), None
    return {"value": value, "reads": reads}


def optimizer_path(impl, name):
    """The implementation's optimizer `name` on the textbook's f(x, y) = x^2/20 + y^2 (reference.run.optimizer_figures)."""
    from bp_parity.reference.run import optimizer_figures

    return optimizer_figures.impl_path(impl, name)


def optimizer_mnist(impl, name, steps, dtype, seed):
    """`steps` MNIST steps of TwoLayerNet with the implementation's optimizer `name` beside its twin, on the arrays in
    worker.shared["mnist"] (reference.run.optimizer_figures.mnist_run)."""
    from bp_parity.reference.run import optimizer_figures

    run = optimizer_figures.mnist_run(impl, shared["mnist"], name, steps, dtype, seed)
    for _, comparisons in run.checkpoints:
        _slim(comparisons)
    return run


def convergence_gd(impl, X, y, constants, rule, steps):
    """Gradient descent with the implementation's gradient at step `rule` (reference.run.convergence.gradient_descent)."""

    return convergence.gradient_descent(impl, X, y, constants, rule, steps)


def convergence_sgd(impl, X, y, run, runs, seed):
    """The SGD runs with the implementation's gradient, measured into `run` (reference.run.convergence.sgd_runs)."""

    return convergence.sgd_runs(impl, X, y, run, runs=runs, seed=seed)


def train(impl, net, options):
    """A side-by-side training run of network piece `net` (reference.run.training_parity) on the MNIST arrays the
    harness put in worker.shared["mnist"]; each evaluation row, and each hundredth step's losses, goes to the
    supervisor as an event as it is made, with the step reached for its progress line.  The run's passed comparisons
    come back without their arrays."""

    from bp_parity.reference.run import training_parity

    last = [0.0]

    def on_step(step, run):
        if step % 100 == 0 or step == options["steps"] - 1:
            event({"step": step, "impl_loss": run.impl_loss[-1], "twin_loss": run.twin_loss[-1]})
            return
        now = time.monotonic()
        if now - last[0] > 0.2:
            last[0] = now
            event({"step": step})

    result = training_parity.run(impl, shared["mnist"], net=net, on_evaluate=lambda row: event({"row": row}),
                                 on_step=on_step, **options)
    _slim(result.bands)
    for _, comparisons in result.checkpoints:
        _slim(comparisons)
    return result


def harness_problems(outcome, context, alone=False):
    """What a unit brings beside its own results, in `context` (a Location): where its worker ended, hung or
    overstayed, the one result for the whole unit; else a STATE CHANGED result for the harness's global state it
    changed; [] where neither.  What the implementation printed goes with them."""
    if outcome.done and not outcome.state:
        return []
    return results_of(dataclasses.replace(outcome, value=[]) if outcome.done else outcome, context, alone)


def results_of(outcome, context, alone=False):
    """The results of one unit from its Outcome: those it made where it ran (plus a STATE CHANGED result
    for every change to the harness's global state), else one result for the unit in `context` (a Location) naming
    what happened and where (alone: the unit is the whole run, no other follows it).  What the implementation
    printed goes with every result of the unit."""
    if outcome.done:
        results = list(outcome.value)
        changed = {}  # (item, change) -> the first call that made it
        for where, item, change in outcome.state:
            changed.setdefault((item, change), where)
        if changed:
            what = "; ".join(f"{where} left {item} changed: {change}" for (item, change), where in changed.items())
            results.append(NotRun(dataclasses.replace(context, tensor="global state", oracle=Oracle.HARNESS),
                                  f"{what} (put back before the next check; the harness's own code runs under it)",
                                  Verdict.STATE_CHANGED))
    else:
        where = f" in {outcome.where}" if outcome.where else ""
        then = "" if alone else ", and a fresh worker runs the rest"
        if outcome.at is not None:  # the check the call belonged to (a layer of a trace), with the unit's reproduce
            context = dataclasses.replace(outcome.at, reproduce=outcome.at.reproduce or context.reproduce)
        results = [NotRun(context, f"{outcome.verdict}{where}: {outcome.reason}; every check of this unit is "
                          f"counted failed{then}", outcome.verdict)]
    if outcome.output_bytes:
        for result in results:
            result.output, result.output_bytes = outcome.output, outcome.output_bytes
    return results
