"""Every trace `check` and `trace` run for a network piece: the textbook's TwoLayerNet (with the networks built from
the implementation's layers, and every public method of it), any other network piece, each with its initial weights
and its layers against the textbook's architecture, and a network of the implementation named by `trace --net`; on a
batch of the MNIST subset."""

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases, streams
from bp_parity.reference.pieces import protocol, registry
from bp_parity.reference.pieces.networks import initial_weights, load_into_impl, make_impl_network, NetworkDtypeUnsupported
from bp_parity.reference.pieces.protocol import MissingProtocol
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report.compare import Context, NotRun, Oracle, Verdict
from bp_parity.reference.run.network import ComposedNetwork
from bp_parity.reference.run.network_checks import (check_init, check_methods, check_network_methods,
                                                    check_numerical_gradient)
from bp_parity.reference.run.structure import check_structure
from bp_parity.reference.run.trace import build_network, net_problem, network_dtype, NotANetwork, Trace, trace_network


def mnist_subset(dtype, data_dir=None):
    from bp_parity.impl.mnist import load_mnist  # the loader is NumPy-only and shared by both sides

    (x_train, t_train), _ = load_mnist(dtype=dtype, data_dir=data_dir or cases.FIXTURES / "mnist-subset",
                                       download=False)
    return x_train, t_train

def network_traces(impl, name, dtype, seed, batch=32, data_dir=None, reproduce=None):
    """The traces of network piece `name` at one dtype and seed (what `check` runs for a network)."""
    x_train, t_train = mnist_subset(dtype, data_dir)
    index = streams.rng(seed, "trace batch").choice(len(x_train), size=batch, replace=False)
    if registry.piece(name).network.architecture:  # its layers fixed: at the harness's weights, beside composed twins
        traces = trace_all(impl, x_train[index], t_train[index], seed=seed, dtype=dtype, reproduce=reproduce)
    else:
        traces = [net_trace(impl, name, seed, batch, dtype, (x_train, t_train), reproduce)]
        for label, build in registry.piece(name).network.also_built:  # the other sizes, each traced as the first
            traces.append(net_trace(impl, name, seed, batch, dtype, (x_train, t_train), reproduce, (label, build)))
        methods = check_network_methods(impl, name, dtype, seed, batch, (x_train, t_train))
        if methods:
            traces.append(Trace(f"{name} methods", methods))
        numerical = check_numerical_gradient(impl, name, dtype, seed)
        if numerical:
            traces.append(Trace(f"{name} numerical_gradient", numerical))
    return traces + construction_traces(impl, name, dtype, seed, reproduce)


def construction_traces(impl, name, dtype, seed, reproduce=None):
    """What network piece `name` is made of, beside its traces: its initial parameters against its schemes and its
    layers against the textbook's architecture (each a Trace, where its record states them)."""
    traces = []
    init = check_init(impl, name, dtype, seed)
    if init:
        traces.append(Trace(f"{name} initial weights", init))
    structure = check_structure(impl, name, dtype, seed, reproduce or
                                f"{program()} check {arguments(impl)} --layer {name} --dtype {dtype} --seed {seed}")
    if structure:
        traces.append(Trace(f"{name} layers", structure))
    return traces

def net_trace(impl, name, seed, batch, dtype, mnist, reproduce=None, size=None):
    """The trace of network `name` as its record builds it, or at `size` ((label, build): one of its other sizes,
    the trace named "name (label)"; its constructor raising there is that trace's failure, blamed on the network)."""
    label = f"{name} ({size[0]})" if size else name
    try:
        if size is None:
            network = build_network(impl, name, dtype or "float64")
        else:
            try:
                network = size[1](impl, 784, dtype or "float64")
            except (MissingProtocol, NotANetwork):
                raise
            except Exception as error:  # noqa: BLE001 - the implementation's constructor: its failure is the finding
                context = Context(layer=name, tensor="construction", oracle=Oracle.TWIN, dtype=dtype or "-",
                                  seed=seed, case=label, phase="construction", piece=name)
                return Trace(label, [NotRun(context, f"{name}(...) at {size[0]} raised {type(error).__name__}: "
                                                     f"{error}", Verdict.RAISED)])
        record = registry.REGISTRY.get(name)
        if record is not None and record.network is not None and record.network.prepare is not None:
            record.network.prepare(network, seed)
        made = network_dtype(network)
        shape = record.network.input_shape if record is not None and record.network is not None else None
        x, t = net_problem(network, seed, batch, made, mnist, shape)
    except (NotANetwork, protocol.MissingProtocol) as error:
        context = Context(layer=name, tensor="construction", oracle=Oracle.TWIN, dtype=dtype or "-", seed=seed, case=name)
        return Trace(label, [NotRun(context, str(error), missing=getattr(error, "names", []))])
    if dtype and made != np.dtype(dtype).name:  # a dtype its constructor cannot take: beyond the protocol
        context = Context(layer=name, tensor="construction", oracle=Oracle.TWIN, dtype=dtype, seed=seed, case=name,
                          phase="construction")
        return Trace(label, [NotRun(context, f"{impl.spec}: {name}(...) takes no dtype= argument and makes {made} "
                                            f"parameters, so its {dtype} checks cannot run (its {made} checks still "
                                            "run)", Verdict.SKIPPED, unavailable_dtype=True)])
    command = reproduce or (f"{program()} trace {arguments(impl)} --net {name} --seed {seed} --batch {batch}"
                            + (f" --dtype {dtype}" if dtype else ""))
    return trace_network(network, x, t, seed=seed, dtype=made, impl=impl, reproduce=command, name=label)

def trace_all(impl, x, t, *, seed, dtype, reproduce=None):
    """Trace the networks the protocol allows: Affine-Relu-Affine and Affine-Sigmoid-Affine built
    from the implementation's layer classes, then the implementation's own TwoLayerNet, and every public
    method of that network (reference.run.network_checks)."""
    # 0.1, not the textbook's 0.01: scores far from uniform, so every gradient carries signal
    weights = initial_weights(seed, x.shape[1], 50, 10, weight_init_std=0.1, dtype=dtype)
    traces = []
    for activation in registry.piece("TwoLayerNet").network.composed_with:
        label = f"{activation} network"
        try:
            network = ComposedNetwork(impl, activation, {k: v.copy() for k, v in weights.items()})
        except MissingProtocol as missing:
            traces.append(Trace(label, [NotRun(_bare_context(label, seed, dtype), str(missing),
                                               missing=missing.names)]))
            continue
        traces.append(trace_network(network, x, t, seed=seed, dtype=dtype, impl=impl, reproduce=reproduce,
                                    name=label, end_to_end=False))
    try:
        network = make_impl_network(impl, x.shape[1], 50, 10, dtype)
        load_into_impl(network, weights)
    except NetworkDtypeUnsupported as error:  # a dtype its constructor cannot take: beyond the protocol
        traces.append(Trace("TwoLayerNet", [NotRun(_bare_context("TwoLayerNet", seed, dtype), str(error),
                                                   Verdict.SKIPPED, unavailable_dtype=True)]))
        return traces
    except (MissingProtocol, ValueError, TypeError) as error:
        traces.append(Trace("TwoLayerNet", [NotRun(_bare_context("TwoLayerNet", seed, dtype), str(error),
                                                   missing=getattr(error, "names", []))]))
        return traces
    traces.append(trace_network(network, x, t, seed=seed, dtype=dtype, impl=impl, reproduce=reproduce,
                                name="TwoLayerNet"))
    traces.append(Trace("TwoLayerNet methods", check_methods(impl, x, t, seed=seed, dtype=dtype)))
    return traces

def _bare_context(label, seed, dtype):
    return Context(layer=label, tensor="construction", oracle=Oracle.TWIN, dtype=dtype, seed=seed, case=label,
                   phase="construction")
