"""The comparator: one function that compares two tensors and a report for people.

compare() checks, in this order, that the implementation's value is a numeric
array, its shape, its dtype, where it holds NaN or inf, and only then the values
under a Tolerance.  It never raises on a mismatch: it returns a Comparison that
knows whether it passed and renders the report a person reads when it did not.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bp_parity.reference.base.vocabulary import Vocabulary
from bp_parity.reference.report import diagnosis
from bp_parity.reference.report.tolerance import Tolerance, tensor_scale


class Oracle(Vocabulary):
    """What a result is judged against: the closed vocabulary of Location.oracle."""

    TWIN = "twin"  # the piece's PyTorch twin, run live
    GOLDEN = "golden"  # the twin's outputs recorded in fixtures/golden (NumPy only)
    RECORDED_TWIN = "recorded twin"  # golden drift: the recorded outputs against the live twin
    FINITE_DIFFERENCES = "finite differences"  # the implementation's own forward, differenced
    ARGUMENTS = "arguments"  # the inputs as given: a call that writes into its arguments
    SAME_CALL_BEFORE = "the same call before"  # a call repeated on one instance answers as it did
    CALLS = "calls"  # a case's checks beside its tensors (a plan's Check, not a result's)
    TWIN_TRAINING = "twin training"  # side-by-side training (reference.run.training_parity, pmf_parity)
    TWIN_100_STEPS = "twin, 100 steps"  # an optimizer's 100 steps against its twin (check's rows)
    SCHEME = "scheme"  # a fresh network's weights against its initialisation scheme's sigma
    ARCHITECTURE = "the textbook's architecture"  # a network's layers against its class's (reference.run.structure)
    DOCUMENTED_RULES = "the documented rules"  # the housing features, computed by the harness as documented
    CONVERGENCE = "convergence theorem"  # SGD on least squares against its bounds
    STEP_1_L = "the step 1/L theorem"  # gradient descent with step 1/L
    STEP_2_MU_L = "the step 2/(mu+L) theorem"  # gradient descent with step 2/(mu+L)
    HARNESS = "harness"  # the harness's own result for a unit: it ended, hung, changed global state


# the oracles whose expected value is computed (a formula, a twin, a difference quotient, an earlier answer of the
# same call): a mismatch there may have a diagnosis; beside an argument as given, "zero" or "scaled" would mean
# something else
DIAGNOSED_ORACLES = (Oracle.TWIN, Oracle.GOLDEN, Oracle.FINITE_DIFFERENCES, Oracle.SAME_CALL_BEFORE)


class Phase(Vocabulary):
    """Which call of the implementation a result comes from, where the tensor alone does not say: the closed
    vocabulary of Location.phase (the protocol's method names, and the harness's own steps around them)."""

    NONE = ""  # the tensor says it (a case's dx is its backward's)
    CONSTRUCTION = "construction"  # building the piece or network
    INIT = "init"  # a fresh network's initial weights
    FORWARD = "forward"
    BACKWARD = "backward"
    LOSS = "loss"
    PREDICT = "predict"
    ACCURACY = "accuracy"
    GRADIENT = "gradient"
    NUMERICAL_GRADIENT = "numerical_gradient"


@dataclass
class Location:
    """Where a result comes from, as fields: enough to name it, to blame it and to reproduce it.

    layer: what the row names, a piece or a position in a network ("Affine2"); piece: the protocol
    piece to blame where layer is a position; phase: the call it comes from (a Phase: forward, gradient...);
    tensor: the tensor alone (dx, dW, W1, forward); call: which call on the same instance ("second
    call", "index labels"); step: the optimizer or training step; oracle: what it is judged against
    (an Oracle).  Reports and the zoo read these fields, never parse text.
    """

    layer: str
    tensor: str
    oracle: Oracle  # a word of Oracle (a str given is made one; one outside it is a ValueError)
    dtype: str
    seed: object = None
    case: str = ""
    reproduce: str = ""
    inputs: dict = field(default_factory=dict, repr=False)
    piece: str = ""  # the protocol name to blame, where `layer` is a position ("Affine1")
    phase: Phase = Phase.NONE  # a word of Phase (a str given is made one; one outside it is a ValueError)
    step: object = None
    step_unit: str = "step"  # what `step` counts: "epoch" where a run is compared at the end of every epoch
    call: str = ""

    def __post_init__(self):
        self.oracle = Oracle(self.oracle)
        self.phase = Phase(self.phase)

    @property
    def blamed(self):
        """The protocol piece this result blames when it fails."""
        return self.piece or self.layer

    @property
    def position(self):
        """The position in a network ("Affine2"), where the row is one; else ""."""
        return self.layer if self.piece and self.piece != self.layer else ""

    @property
    def shown(self):
        """The tensor as a person reads it: "backward dW", "dx (second call)", "W1 at step 12"."""
        text = self.tensor if not self.phase or self.phase == self.tensor else f"{self.phase} {self.tensor}"
        if self.call:
            text += f" ({self.call})"
        if self.step is not None:
            text += f" at {self.step_unit} {self.step}"
        return text

    def names(self, tensor):
        """Whether this location is the tensor `tensor` of any call (or the phase of that name), or, given as
        "dx (second call)", that tensor of that call: what a blame matches.  Fields only, never the rendered text."""
        name, call = tensor_and_call(tensor)
        return (name, call) == (self.tensor, self.call) or (not call and tensor in (self.tensor, self.phase))

    def is_tensor(self, tensor):
        """Whether this location is exactly the check --tensor names: "dx" the first call's dx (at every step),
        "dx (second call)" the second call's (what a reproduce line writes: reference.plan.checks)."""
        return tensor_and_call(tensor) == (self.tensor, self.call)

    @property
    def title(self):
        name = self.case or self.layer
        return f"{name} {self.shown} ({self.oracle}, {self.dtype}, seed {self.seed})"


Context = Location  # the name most of the harness builds it by


def tensor_and_call(text):
    """(tensor, call) of a tensor as reproduce lines and --tensor write it: "dx" -> ("dx", ""),
    "dx (second call)" -> ("dx", "second call")."""
    if text.endswith(")") and " (" in text:
        tensor, call = text[:-1].split(" (", 1)
        return tensor, call
    return text, ""


class Result:
    """What every check returns: a Comparison (two tensors compared) or a NotRun (no comparison
    could be made).  passed, verdict, render() and dump(directory) on both; `compared` says which."""

    compared = False
    skipped = False

    def dump(self, directory):
        """Write both sides and the inputs to an .npz (a Comparison); a check that compared nothing
        writes nothing and returns None."""
        return None


class Verdict(Vocabulary):
    """Every verdict a check can come to: the closed vocabulary of tables, reports and the zoo."""

    OK = "ok"  # a comparison that passed
    MISMATCH = "MISMATCH"  # a comparison that failed: the one word for it, in tables and reports alike
    NOT_RUN = "NOT RUN"  # a protocol name is missing, or the unit was not waited on
    RAISED = "RAISED"
    TIMEOUT = "TIMEOUT"
    EXITED = "EXITED"
    CRASHED = "CRASHED"
    STATE_CHANGED = "STATE CHANGED"
    REBOUND = "REBOUND"
    SKIPPED = "SKIPPED"  # outside the implementation's form or protocol: neither passed nor failed
    BOUND_BROKEN = "BOUND BROKEN"


@dataclass
class NotRun(Result):
    """A check that could not run or whose implementation failed to answer, and why (never a pass).

    verdict: "NOT RUN" (a protocol name is missing), "RAISED" (the implementation raised),
    "TIMEOUT" (it did not return within reference.base.limits.CHECK_SECONDS), "EXITED" (the worker running it
    ended: sys.exit, os._exit), "CRASHED" (the worker died of a signal: a segmentation fault, out of
    memory), "STATE CHANGED" (a call left the harness's global state changed: reference.run.state),
    "REBOUND" (an optimizer replaced a parameter array), "SKIPPED" (a layer class the registry does not know, in a trace:
    neither a pass nor a failure), "BOUND BROKEN" (a theorem's bound exceeded: reference.run.convergence).
    """

    context: Location
    reason: str
    verdict: Verdict = Verdict.NOT_RUN
    passed: bool = False
    output: str = field(default="", repr=False)  # what the implementation printed during the check (its last lines)
    output_bytes: int = 0  # how much it printed in all
    # SKIPPED because the piece cannot be had in the check's dtype (a constructor without dtype=): beyond the
    # protocol, never a failure by itself, but a run whose --dtype asked for exactly that says so and exits 1
    unavailable_dtype: bool = False
    # NOT RUN because the implementation does not define these protocol names: what --only-present reports SKIPPED
    missing: list = field(default_factory=list)

    def __post_init__(self):
        self.verdict = Verdict(self.verdict)  # a word outside the vocabulary is the harness's own bug: ValueError

    @property
    def skipped(self):
        return self.verdict == Verdict.SKIPPED

    def render(self):
        c = self.context
        lines = [f"{self.verdict}: {c.layer} {c.shown} -- {c.oracle}, {c.dtype}, seed {c.seed}", f"  {self.reason}"]
        if c.reproduce:
            lines.append(f"  reproduce: {c.reproduce}")
        return "\n".join(lines) + captured(self.output, self.output_bytes)


@dataclass
class Comparison(Result):
    context: Location
    tolerance: Tolerance
    passed: bool
    problem: str = ""  # what failed first: "shape", "dtype", "nonfinite", "values", "type"
    detail: str = ""
    max_abs: float = float("nan")
    max_rel: float = float("nan")
    mismatched: int = 0
    total: int = 0
    worst_index: tuple = ()
    worst_actual: float = float("nan")
    worst_expected: float = float("nan")
    worst_abs: float = float("nan")
    worst_rel: float = float("nan")
    atol: float = float("nan")
    extra_atol: float = 0.0
    actual: object = field(default=None, repr=False)
    expected: object = field(default=None, repr=False)
    dumped_to: str = ""
    note: str = ""  # which documented convention the implementation was judged by, where there are several
    scale_of: str = ""  # where the scaled atol's scale is not the tensor's own: what it is the size of
    output: str = field(default="", repr=False)  # what the implementation printed during the check (its last lines)
    output_bytes: int = 0  # how much it printed in all
    # [name, sentence] of every hypothesis that fits the two arrays exactly (reference.report.diagnosis)
    diagnosis: list = field(default_factory=list)

    @property
    def used(self):
        """How much of its allowance the worst element used (1.0 = on the edge)."""
        if self.problem not in ("", "values") or not self.total:
            return float("nan")
        allowed = self.atol + self.tolerance.rtol * abs(self.worst_expected)
        return self.worst_abs / allowed if allowed > 0 else (0.0 if self.worst_abs == 0 else float("inf"))

    compared = True

    @property
    def verdict(self):
        return Verdict.OK if self.passed else Verdict.MISMATCH

    def render(self):
        """The report: what, where, by how much, under which tolerance, and how to rerun it."""
        c = self.context
        lines = [f"{self.verdict}: {c.layer} {c.shown} -- {c.oracle}, {c.dtype}, seed {c.seed}"]
        if c.case and c.case != c.layer:
            lines.append(f"  case: {c.case}")
        if self.note:
            lines.append(f"  convention: {self.note}")
        if self.problem in ("type", "shape", "dtype", "nonfinite"):
            lines.append(f"  {self.detail}")
        else:
            lines.append(
                f"  {self.mismatched} of {self.total} elements differ beyond tolerance"
                f" (shape {self._shape()}, {c.dtype})"
            )
            if self.worst_index is not None and self.total:
                lines.append(
                    f"  worst element {_index(self.worst_index)}: impl {self.worst_actual!r}"
                    f"  {c.oracle} {self.worst_expected!r}"
                )
                lines.append(
                    f"  abs error {self.worst_abs:.3e}, rel error {self.worst_rel:.3e}"
                    f" (largest anywhere: abs {self.max_abs:.3e}, rel {self.max_rel:.3e})"
                )
        lines.append(
            f"  tolerance: |impl - expected| <= atol + rtol*|expected|;"
            f" {self.tolerance.describe()} (atol here {self.atol:.3g})"
        )
        if self.scale_of:
            lines.append(f"    scale: that of {self.scale_of}, larger than the tensor's own")
        if self.extra_atol:
            lines.append(f"    plus the oracle's own rounding allowance, up to {self.extra_atol:.3g} (tolerance.fd_rounding)")
        lines.append(f"    why: {self.tolerance.why}")
        lines.append(f"  seed: {c.seed} (fixed seeds live in fixtures/seeds.json)")
        if c.reproduce:
            lines.append(f"  reproduce: {c.reproduce}")
        if self.dumped_to:
            lines.append(f"  both sides and the inputs: {self.dumped_to}")
        lines.extend(f"  likely cause: {text}" for _, text in self.diagnosis)
        return "\n".join(lines) + captured(self.output, self.output_bytes)

    def _shape(self):
        return tuple(np.shape(self.expected))

    def dump(self, directory):
        """Write both sides and the inputs to DIRECTORY/<case>-<tensor>-<oracle>-<dtype>-seed<seed>.npz."""
        c = self.context
        name = f"{c.case or c.layer}-{c.shown}-{c.oracle}-{c.dtype}-seed{c.seed}".replace(" ", "_")
        path = Path(directory) / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"impl": _plain(self.actual), "expected": _plain(self.expected)}
        arrays.update({f"input_{k}": _plain(v) for k, v in c.inputs.items()})
        np.savez(path, **arrays)
        self.dumped_to = str(path)
        return path


def captured(output, size, lines=20):
    """The captured-output block of a report: what the implementation printed, its last `lines` lines and the total
    size (as pytest shows a failing test's captured output); "" where it printed nothing."""
    if not size:
        return ""
    shown = output.splitlines()[-lines:]
    return (f"\n  captured output ({_size(size)} in all; the last {len(shown)} line{'s' if len(shown) != 1 else ''}):"
            + "".join(f"\n    | {line[:200]}" for line in shown))


def _size(count):
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _plain(value):
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - anything that is not an array is dumped as its repr
        return np.asarray(repr(value))
    return array if array.dtype != object else np.asarray(repr(value))


def _index(index):
    return "[" + ", ".join(str(int(i)) for i in index) + "]" if index else "[]  (scalar)"


def compare(actual, expected, tolerance, context, extra_atol=0.0, scale=None, scale_of=""):
    """Compare the implementation's `actual` with the oracle's `expected`.

    expected is a NumPy array (or scalar) of the dtype the implementation must
    produce.  extra_atol (a number or an array of expected's shape) is an
    allowance the oracle knows of itself: the rounding of a finite difference.
    scale (with scale_of, what it is the size of): for a scaled tolerance, the size of the terms the tensor
    was summed from where that is larger than the tensor (tolerance.Tolerance.atol_for).
    Returns a Comparison; never raises on a mismatch.
    """
    expected = np.asarray(expected)
    result = Comparison(context=context, tolerance=tolerance, passed=False, actual=actual, expected=expected)
    result.total = int(expected.size)
    atol = tolerance.atol_for(expected, scale) + np.asarray(extra_atol, dtype=np.float64)
    if scale and tolerance.scaled and scale > tensor_scale(expected):
        result.scale_of = scale_of or "the terms it was summed from"
    result.atol = float(np.max(atol, initial=0.0))
    result.extra_atol = float(np.max(extra_atol, initial=0.0))

    try:
        array = np.asarray(actual)
    except Exception as error:  # noqa: BLE001 - a broken implementation may return anything
        return _fail(result, "type", f"impl returned {type(actual).__name__}, not an array: {error}")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        return _fail(result, "type", f"impl returned {type(actual).__name__} of dtype {array.dtype}, not numbers")
    if array.shape != expected.shape:
        return _fail(result, "shape", f"shape: impl {array.shape}, expected {expected.shape}")
    if array.dtype != expected.dtype:
        return _fail(result, "dtype", f"dtype: impl {array.dtype}, expected {expected.dtype}")

    a = array.astype(np.float64)
    e = expected.astype(np.float64)
    bad_a, bad_e = ~np.isfinite(a), ~np.isfinite(e)
    same_nonfinite = bad_a & bad_e & ((a == e) | (np.isnan(a) & np.isnan(e)))
    wrong = (bad_a | bad_e) & ~same_nonfinite
    if wrong.any():
        where = np.argwhere(wrong)
        shown = ", ".join(f"{_index(tuple(i))} impl {a[tuple(i)]!r} expected {e[tuple(i)]!r}" for i in where[:5])
        more = f" and {len(where) - 5} more" if len(where) > 5 else ""
        if not (wrong & bad_e).any():  # the implementation's alone: what float arithmetic makes NaN/inf of
            what = ("NaN/inf where the oracle is finite (the implementation's arithmetic overflowed, or took a log or "
                    "a division of 0)")
        elif not (wrong & bad_a).any():
            what = "finite where the oracle has NaN/inf"
        else:
            what = "NaN/inf where the oracle has none, and the reverse"
        return _fail(result, "nonfinite", f"{what}: {shown}{more}")

    finite = ~bad_e  # here also ~bad_a: the positions agree
    diff = np.abs(np.where(finite, a, 0.0) - np.where(finite, e, 0.0))
    allowed = atol + tolerance.rtol * np.abs(np.where(finite, e, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(finite & (diff > 0), diff / np.abs(e), 0.0)
    result.max_abs = float(diff.max()) if diff.size else 0.0
    # relative to a nonzero expected value only: beside an expected 0 a relative error means nothing
    # (the atol judges those elements), and one of them would show "inf" beside a pass
    nonzero = rel[np.where(finite, e, 0.0) != 0]
    result.max_rel = float(nonzero.max()) if nonzero.size else 0.0
    over = diff > allowed
    result.mismatched = int(over.sum())
    result.passed = result.mismatched == 0
    if diff.size:
        # the worst element is the one furthest beyond its allowance
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(allowed > 0, diff / allowed, np.where(diff > 0, np.inf, 0.0))
        flat = int(np.argmax(ratio))
        index = np.unravel_index(flat, e.shape) if e.ndim else ()
        result.worst_index = tuple(int(i) for i in index)
        result.worst_actual = array[index].item() if array.ndim else array.item()
        result.worst_expected = expected[index].item() if expected.ndim else expected.item()
        result.worst_abs = float(diff[index])
        result.worst_rel = float(rel[index])
    result.problem = "" if result.passed else "values"
    _diagnose(result)
    return result


def compare_conventions(actual, candidates, tolerance, context, **options):
    """compare() against the first of `candidates` ((expected, note) pairs: the textbook's formula first,
    then other documented conventions, reference.report.deviations).  The textbook's formula is the judge
    wherever it passes (in float32 the conventions are often closer together than the tolerance);
    where it fails, the first other convention that passes is, and the result says which.  A failure
    is reported against the textbook's formula.  options: compare()'s scale and scale_of, for every candidate."""
    (expected, _), *others = candidates
    result = compare(actual, expected, tolerance, context, **options)
    for other_expected, note in others:
        if result.passed:
            break
        other = compare(actual, other_expected, tolerance, context, **options)
        if other.passed:
            other.note = f"{note} (reference.report.deviations)"
            result = other
    return result


def _fail(result, problem, detail):
    result.problem = problem
    result.detail = detail
    result.passed = False
    _diagnose(result)
    return result


def _diagnose(result):
    """The hypotheses that fit a failed comparison (reference.report.diagnosis), kept on it as [name, sentence]."""
    if result.passed or result.problem not in ("values", "dtype", "shape") \
            or result.context.oracle not in DIAGNOSED_ORACLES:
        return
    result.diagnosis = [[f.name, f.text] for f in diagnosis.diagnose(result.actual, result.expected, result.tolerance,
                                                                     result.context, result.problem,
                                                                     result.extra_atol)]


class ParityError(AssertionError):
    """Raised by assert_parity with the full report as its message."""


def assert_parity(comparison):
    """Fail with the comparison's report unless it passed."""
    if not comparison.passed:
        raise ParityError("\n" + comparison.render())
