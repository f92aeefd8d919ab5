"""What a worker sends back to the harness: results as JSON, never pickle.

The worker runs implementation code, so nothing it sends may run code where it is read: a pickle can, JSON cannot.
encode() turns a result (Comparison, NotRun, Location, Tolerance, Trace and the plain values inside them: numbers,
strings, tuples, lists, string-keyed dicts, NumPy arrays and scalars) into JSON text; decode() rebuilds only the
classes named in KINDS.  Anything else (what a broken implementation returned instead of an array) crosses as its
repr, which is all a report shows of it.
"""

import base64
import dataclasses
import json
import math

import numpy as np

from bp_parity.reference.report.compare import Comparison, Location, NotRun
from bp_parity.reference.report.tolerance import Tolerance

KINDS = {cls.__name__: cls for cls in (Comparison, Location, NotRun, Tolerance)}
# the harness's modules whose kinds register themselves on import: read where a worker sends one the harness's own
# process has not imported yet
REGISTERED_IN = {"Trace": "bp_parity.reference.run.trace", "ParityRun": "bp_parity.reference.run.training_parity",
                 "Run": "bp_parity.reference.run.convergence", "SGDRun": "bp_parity.reference.run.convergence"}


def register(cls):
    """Allow a dataclass of the harness's own to cross (reference.run.trace.Trace registers itself here)."""
    KINDS[cls.__name__] = cls
    return cls


class WireError(ValueError):
    """What came back from a worker is not what the harness sends."""


def _float(value):
    if math.isfinite(value):
        return value
    return {"float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}


def _to_plain(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, np.generic):
        return _to_plain(value.item()) if value.dtype.kind in "biuf" else {"repr": repr(value)}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biufc":
            return {"repr": repr(value)}
        array = np.ascontiguousarray(value)
        return {"array": base64.b64encode(array.tobytes()).decode("ascii"), "dtype": array.dtype.str,
                "shape": list(array.shape)}
    if isinstance(value, (list, tuple)):
        return {"tuple" if isinstance(value, tuple) else "list": [_to_plain(v) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"dict": {k: _to_plain(v) for k, v in value.items()}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and type(value).__name__ in KINDS:
        fields = {f.name: _to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        extra = {k: _to_plain(v) for k, v in vars(value).items() if k not in fields} if hasattr(value, "__dict__") \
            else {}
        return {"kind": type(value).__name__, "fields": fields, "extra": extra}
    return {"repr": repr(value)[:10_000]}


def _from_plain(value):
    if not isinstance(value, dict):
        return value
    if "float" in value:
        return float(value["float"])
    if "array" in value:
        dtype = np.dtype(value["dtype"])
        if dtype.kind not in "biufc":
            raise WireError(f"an array of dtype {dtype} crossed from a worker")
        data = base64.b64decode(value["array"])
        return np.frombuffer(data, dtype=dtype).reshape(value["shape"]).copy()
    if "tuple" in value:
        return tuple(_from_plain(v) for v in value["tuple"])
    if "list" in value:
        return [_from_plain(v) for v in value["list"]]
    if "dict" in value:
        return {k: _from_plain(v) for k, v in value["dict"].items()}
    if "repr" in value:
        return Unrepresented(value["repr"])
    if "kind" in value:
        cls = KINDS.get(value["kind"])
        if cls is None and value["kind"] in REGISTERED_IN:
            import importlib

            importlib.import_module(REGISTERED_IN[value["kind"]])
            cls = KINDS.get(value["kind"])
        if cls is None:
            raise WireError(f"{value['kind']!r} is not a kind of result the harness sends")
        made = cls(**{k: _from_plain(v) for k, v in value["fields"].items()})
        for k, v in value.get("extra", {}).items():
            object.__setattr__(made, k, _from_plain(v))
        return made
    raise WireError(f"unknown value from a worker: keys {sorted(value)}")


class Unrepresented(str):
    """Something that crossed from a worker as its repr (what the implementation returned, not an array)."""

    def __repr__(self):
        return str(self)


def encode(value):
    return json.dumps(_to_plain(value), separators=(",", ":"))


def decode(text):
    return _from_plain(json.loads(text))
