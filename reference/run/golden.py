"""Golden fixtures: what the twins said at the fixed seeds, recorded once, checked without torch.

    python -m reference record    writes fixtures/golden/ from the live twins (needs torch)
    python -m reference golden    checks an implementation against the recorded arrays (NumPy only)
    python -m reference drift     recomputes the twins and says which recorded cases moved

fixtures/golden/ holds one .npz per part and dtype (layers-float64.npz,
network-float32.npz, ...), written without pickle and byte for byte the same
on every recording from the same versions, and manifest.json: the format, the
versions and platform that made the files, each file's SHA-256 and size, and
every case with its arrays' shapes and dtypes.  Loading checks all of it first:
a missing, truncated or altered file, or a manifest of a newer format, is an
error that names the file, what is wrong, and the command that re-records it.
"""

import hashlib
import io
import json
import platform
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bp_parity.reference.base.program import program
from bp_parity.reference.base import cases, streams
from bp_parity.reference.base.limits import calling
from bp_parity.reference.pieces import registry
from bp_parity.reference.pieces.networks import (initial_weights, load_into_impl, make_impl_network, NetworkDtypeUnsupported, PARAMS)
from bp_parity.reference.pieces.protocol import MissingProtocol
from bp_parity.reference.plan.target import arguments
from bp_parity.reference.report import tolerance
from bp_parity.reference.report.compare import compare, compare_conventions, Context, Oracle, Verdict
from bp_parity.reference.report.deviations import EPSILON_FREE_LOSS
from bp_parity.reference.run import case as layer_checks
from bp_parity.reference.run.case import NotRun, raised_where
from bp_parity.reference.run.network import NetworkTwin

FORMAT = 1
GOLDEN = cases.FIXTURES / "golden"
MANIFEST = "manifest.json"
NETWORK_SIZES = (784, 50, 10)
NETWORK_BATCH = 16
SEP = "__"  # between the parts of an array's key: case, seed, role, name


class GoldenError(Exception):
    """The golden fixtures cannot be trusted; the message says why and how to re-record them."""

    def __init__(self, problem):
        super().__init__(f"golden fixtures: {problem}. Re-record them with: {program()} record")


def write_npz(path, arrays):
    """np.savez without its timestamps: sorted members, a fixed date, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.asarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def versions():
    import torch

    return {"torch": torch.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "platform": platform.platform(aliased=True, terse=True), "machine": platform.machine()}


# --- recording ---------------------------------------------------------------------------


def _layer_arrays(dtype):
    arrays, entries = {}, []
    for case in registry.cases():
        if dtype not in case.dtypes:
            continue
        spec = registry.spec_of(case.layer)
        if not spec.tensors:  # checked against finite differences alone: nothing to record
            continue
        for seed in cases.layer_seeds():
            inputs = layer_checks.cast(spec.inputs(case, streams.rng(seed, "layer inputs")), dtype)
            expected = spec.run_twin(layer_checks.copy_inputs(inputs))
            key = f"{case.id}{SEP}seed{seed}"
            for role, values in (("input", inputs), ("expected", expected)):
                for name, value in values.items():
                    arrays[f"{key}{SEP}{role}{SEP}{name}"] = np.asarray(value)
            entries.append({"part": "layers", "case": case.id, "dtype": dtype, "seed": seed, "key": key})
    return arrays, entries


def network_problem(dtype, seed):
    """The network case: a batch of the MNIST subset and the weights, as the golden check uses them."""
    from bp_parity.impl.mnist import load_mnist

    (x, t), _ = load_mnist(dtype=dtype, data_dir=cases.FIXTURES / "mnist-subset", download=False)
    index = streams.rng(seed, "trace batch").choice(len(x), size=NETWORK_BATCH, replace=False)
    weights = initial_weights(seed, *NETWORK_SIZES, weight_init_std=0.1, dtype=dtype)
    return x[index], t[index].astype(np.int64), weights


def _network_arrays(dtype):
    seed = cases.layer_seeds()[0]
    x, t, weights = network_problem(dtype, seed)
    key = f"TwoLayerNet{SEP}seed{seed}"
    arrays = {f"{key}{SEP}input{SEP}x": x, f"{key}{SEP}input{SEP}t": t}
    arrays.update({f"{key}{SEP}weight{SEP}{k}": weights[k] for k in PARAMS})
    arrays.update({f"{key}{SEP}expected{SEP}{name}": v for name, v in _network_twin(x, t, weights).items()})
    return arrays, [{"part": "network", "case": "TwoLayerNet", "dtype": dtype, "seed": seed, "key": key}]


def _network_twin(x, t, weights):
    """{loss, gradient W1 .. b2, predict} of the network's twin (needs torch)."""
    import torch

    twin = NetworkTwin.of("TwoLayerNet", weights)
    loss, grads = twin.gradient(x, t)
    with torch.no_grad():
        scores = twin.logits(torch.from_numpy(x)).numpy()
    expected = {"loss": np.asarray(loss), "predict": scores}
    expected.update({f"gradient {k}": grads[k] for k in PARAMS})
    return expected


def record(folder=GOLDEN):
    """Write the golden files and the manifest from the live twins; returns the manifest.

    The twins run on one thread while recording: a matrix product summed in
    another order by more threads would change the last bits of float32 results.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _record(Path(folder))
    finally:
        torch.set_num_threads(threads)


def _record(folder):
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {"format": FORMAT, "made_by": versions(), "files": {}, "cases": []}
    for part, make in (("layers", _layer_arrays), ("network", _network_arrays)):
        for dtype in cases.DTYPES:
            arrays, entries = make(dtype)
            name = f"{part}-{dtype}.npz"
            write_npz(folder / name, arrays)
            manifest["files"][name] = {"sha256": sha256(folder / name), "bytes": (folder / name).stat().st_size}
            for entry in entries:
                entry["file"] = name
                prefix = entry["key"] + SEP
                entry["arrays"] = {k[len(prefix):]: {"shape": list(np.shape(v)), "dtype": np.asarray(v).dtype.name}
                                   for k, v in sorted(arrays.items()) if k.startswith(prefix)}
            manifest["cases"].extend(entries)
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return manifest


# --- loading, with every integrity check -------------------------------------------------


@dataclass
class Golden:
    folder: Path
    manifest: dict
    arrays: dict  # file name -> {key: array}

    def case_arrays(self, entry):
        """{role: {name: array}} of one manifest case."""
        found = {}
        for name, meta in entry["arrays"].items():
            array = self.arrays[entry["file"]].get(f"{entry['key']}{SEP}{name}")
            if array is None:
                raise GoldenError(f"{entry['file']} lacks {entry['key']} {name}, which the manifest lists")
            if list(array.shape) != meta["shape"] or array.dtype.name != meta["dtype"]:
                raise GoldenError(f"{entry['file']}: {entry['key']} {name} is {array.dtype.name}{list(array.shape)}, "
                                  f"the manifest says {meta['dtype']}{meta['shape']}")
            role, _, array_name = name.partition(SEP)
            found.setdefault(role, {})[array_name] = array
        return found


def load(folder=GOLDEN):
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise GoldenError(f"{path} is missing")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GoldenError(f"{path} is not readable JSON ({error})") from None
    recorded_format = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(recorded_format, int):
        raise GoldenError(f"{path} has no format number")
    if recorded_format > FORMAT:
        raise GoldenError(f"{path} was recorded by a newer manifest format ({recorded_format}) than this harness "
                          f"reads ({FORMAT}); update bp-parity, or")
    arrays = {}
    for name, meta in manifest.get("files", {}).items():
        file = folder / name
        if not file.is_file():
            raise GoldenError(f"{file} is missing")
        size = file.stat().st_size
        if size != meta["bytes"]:
            raise GoldenError(f"{file} is {size} bytes, the manifest says {meta['bytes']} (truncated or altered)")
        digest = sha256(file)
        if digest != meta["sha256"]:
            raise GoldenError(f"{file} has SHA-256 {digest}, the manifest says {meta['sha256']} (altered)")
        try:
            with np.load(file, allow_pickle=False) as data:
                arrays[name] = {key: data[key] for key in data.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise GoldenError(f"{file} cannot be read ({error})") from None
    return Golden(folder, manifest, arrays)


# --- checking an implementation ----------------------------------------------------------


def check_layers(impl, golden):
    """A CaseRun per recorded layer case, the implementation against the recorded twin outputs."""
    return [check_layer_entry(impl, golden, entry) for entry in entries(golden, "layers")]


def entries(golden, part):
    """The manifest's entries of one part ("layers" or "network"), in order."""
    return [entry for entry in golden.manifest["cases"] if entry["part"] == part]


def entry_case(entry):
    """The case of the table a recorded layer entry was made from."""
    case = registry.find_case(entry["case"])
    if case is None:
        raise GoldenError(f"the manifest lists case {entry['case']!r}, which the case table no longer has")
    return case


def check_layer_entry(impl, golden, entry):
    """The CaseRun of one recorded layer entry: the implementation against the recorded twin outputs."""
    found = golden.case_arrays(entry)
    recorded = (dict(found.get("input", {})), dict(found.get("expected", {})))
    return layer_checks.run_case(impl, entry_case(entry), entry["dtype"], entry["seed"], recorded=recorded)


def check_network(impl, golden):
    """[Comparison or NotRun] of loss, every gradient and the scores of the implementation's TwoLayerNet.

    A network that cannot be made in a recorded dtype (no dtype= argument), or a method that raises, is
    reported NOT RUN or RAISED for that dtype and seed; the rest of the golden run goes on.
    """
    return [result for entry in entries(golden, "network") for result in check_network_entry(impl, golden, entry)]


def check_network_entry(impl, golden, entry):
    """[Comparison or NotRun] of one recorded network entry (check_network)."""

    results = []
    found = golden.case_arrays(entry)
    dtype, seed = entry["dtype"], entry["seed"]
    x, t = found["input"]["x"], found["input"]["t"]
    tol = tolerance.twin(dtype)
    expected = found["expected"]
    tensors = ["loss"] + [f"gradient {key}" for key in PARAMS] + ["predict"]

    def context(tensor):
        phase, _, key = tensor.rpartition(" ")  # "gradient W1": the phase gradient, the tensor W1
        return Context(layer="TwoLayerNet", tensor=key, phase=phase or key, oracle=Oracle.GOLDEN, dtype=dtype, seed=seed,
                       case="TwoLayerNet", reproduce=f"{program()} golden {arguments(impl)} "
                                                     f"--case TwoLayerNet --dtype {dtype}")

    try:
        network = make_impl_network(impl, x.shape[1], found["weight"]["W1"].shape[1], 10, dtype)
        load_into_impl(network, found["weight"])
    except NetworkDtypeUnsupported as error:  # a dtype its constructor cannot take: beyond the protocol
        results.extend(NotRun(context(tensor), str(error), Verdict.SKIPPED, unavailable_dtype=True)
                       for tensor in tensors)
        return results
    except MissingProtocol as error:
        results.extend(NotRun(context(tensor), str(error)) for tensor in tensors)
        return results
    try:
        with calling("TwoLayerNet.loss, gradient and predict"):
            loss = network.loss(x, t)
            grads = network.gradient(x, t)
            scores = network.predict(x)
    except Exception as error:  # noqa: BLE001 - the implementation under test may raise anything
        where = raised_where(error)
        results.extend(NotRun(context(tensor), f"raised {type(error).__name__}: {error}"
                              + (f"\n  at {where}" if where else ""), Verdict.RAISED) for tensor in tensors)
        return results
    # the textbook's loss as recorded, or the documented epsilon-free one (one rule wherever the loss appears)
    plain = np.asarray(_epsilon_free_loss(expected["predict"], t), dtype=dtype)
    results.append(compare_conventions(loss, [(expected["loss"], ""), (plain, EPSILON_FREE_LOSS)], tol, context("loss")))
    for key in PARAMS:
        actual = grads.get(key) if isinstance(grads, dict) else None
        results.append(compare(actual, expected[f"gradient {key}"], tol, context(f"gradient {key}")))
    results.append(compare(scores, expected["predict"], tol, context("predict")))
    return results


def _epsilon_free_loss(scores, t):
    """The loss without the textbook's 1e-7 of the twin's recorded scores, computed here in float64 (NumPy only):
    the mean over rows of log-sum-exp minus the true class's score (deviations.EPSILON_FREE_LOSS)."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(t)
    index = labels if labels.ndim == 1 else labels.argmax(axis=1)
    shifted = scores - scores.max(axis=1, keepdims=True)
    return np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(scores)), index])


def drift(golden):
    """[Comparison] of every recorded twin output against the twin run live now (needs torch)."""
    results = []
    for entry in golden.manifest["cases"]:
        found = golden.case_arrays(entry)
        dtype, seed = entry["dtype"], entry["seed"]
        tol = tolerance.twin(dtype)
        if entry["part"] == "layers":
            spec = registry.spec_of(registry.case(entry["case"]).layer)
            live = spec.run_twin(layer_checks.copy_inputs(found["input"]))
        else:
            live = _network_twin(found["input"]["x"], found["input"]["t"], found["weight"])
        for name, recorded in found["expected"].items():
            context = Context(layer=entry["case"], tensor=name, oracle=Oracle.RECORDED_TWIN, dtype=dtype, seed=seed,
                              case=entry["case"], reproduce=f"{program()} drift")
            results.append(compare(np.asarray(live[name]), recorded, tol, context))
    return results
