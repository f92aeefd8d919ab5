"""What a mismatch probably is: hypotheses that either fit the two arrays exactly or say nothing.

A wrong derivative usually has a signature the two arrays already show: a constant ratio (a mean taken where a sum
belongs, or twice), a sign, a transpose, the right values in another layout, a constant term too many, an upcast,
the right values in another shape, elements that differ only where the input sits on a kink.  Each hypothesis here
is a small function of (the implementation's array, the expected array, the comparison's tolerance, the result's
location with the case's inputs); it returns a Finding only when its transformed expected array matches the
implementation's on every element, within the very tolerance the comparison used (its atol taken for the
transformed array), and the untransformed one does not.  None fitting says nothing: never a guess.

diagnose() runs the catalogue on a failed comparison (reference.report.compare) and returns every finding that fits;
the report's last line says them (`likely cause: ...`).  The zoo measures it: every mutant's docstring names the
hypothesis that describes it (`Diagnosis: scaled`, or `Diagnosis: none`), and tests/test_mutants.py requires that
every diagnosis given on the zoo is the one declared (docs/zoo.md).
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

# the hypotheses by name, in the order they are tried; the names are what a mutant's docstring declares
NAMES = ("zero", "sign", "scaled", "offset", "transposed", "permuted", "kink", "upcast", "reshaped", "without_dout",
         "passed_through", "swapped", "accumulated", "stale")


@dataclass(frozen=True)
class Finding:
    name: str  # one of NAMES
    text: str  # the sentence of the report's `likely cause:` line


def _fits(actual, candidate, tolerance, extra_atol=0.0):
    """Every element of `actual` within the tolerance of `candidate` (the atol taken for the candidate)."""
    candidate = np.asarray(candidate, dtype=np.float64)
    allowed = tolerance.atol_for(candidate) + np.asarray(extra_atol, dtype=np.float64) \
        + tolerance.rtol * np.abs(candidate)
    return candidate.shape == actual.shape and bool(np.all(np.abs(actual - candidate) <= allowed))


def _batch(context):
    """The batch size N of the case (the first axis of its first array input), or None."""
    for value in getattr(context, "inputs", {}).values():
        shape = np.shape(value)
        if len(shape) >= 2 and shape[0] > 1:
            return int(shape[0])
    return None


def _named(factor, context):
    """The ratio in words: "1/16 (16: the batch size)", "2", "-0.5", or None where it is no simple number."""
    n = _batch(context)
    near = Fraction(factor).limit_denominator(64)
    if abs(float(near) - factor) > 1e-9 * max(1.0, abs(factor)):
        return None, None
    if n and near in (Fraction(1, n), Fraction(n)):
        return (f"1/{n}" if near < 1 else f"{n}"), f"{n}: the batch size"
    return (str(near.numerator) if near.denominator == 1 else f"{near.numerator}/{near.denominator}"), None


def _scaled(a, e, tolerance, context, extra):
    if a.size < 2:
        return None
    factor = float(np.dot(a.ravel(), e.ravel()) / np.dot(e.ravel(), e.ravel()))
    if not np.isfinite(factor) or abs(factor - 1) < 1e-6 or abs(factor) < 1e-12 or abs(factor + 1) < 1e-6:
        return None
    if not _fits(a, factor * e, tolerance, extra):
        return None
    words, why = _named(factor, context)
    tensor = context.tensor
    if words is None:  # a ratio that is no simple number is a symptom, not a cause (a scale of its own: say nothing)
        return None
    said = (f"{tensor} is {words} {'of' if abs(factor) < 1 else 'times'} the expected" + (f" ({why})" if why else "")
            + ", on every element")
    n = _batch(context)
    if n and words == f"1/{n}":
        return said + ": averaged over the batch where the expected sums (or divided by N once too often)"
    if n and words == f"{n}":
        return said + ": summed over the batch where the expected averages (or the division by N left out)"
    if words == "2" and (getattr(context, "call", "") or str(getattr(context, "oracle", "")) == "the same call before"):
        return said + ": it accumulates across calls (+= where = belongs)"
    return said


def _offset(a, e, tolerance, context, extra):
    shift = float(np.mean(a - e))
    if a.size < 2:  # one number: only a whole constant counts (any two numbers differ by some constant)
        if round(shift) == 0 or abs(round(shift) - shift) > 1e-9 * max(1.0, abs(shift)):
            return None
        shift = float(round(shift))
    if abs(shift) <= tolerance.atol_for(e) or not _fits(a, e + shift, tolerance, extra):
        return None
    return f"{context.tensor} is the expected plus {shift:.6g}, on every element: a constant term too many or too few"


def _transposed(a, e, tolerance, context, extra):
    if e.ndim != 2 or a.shape != e.T.shape or not _fits(a, e.T, tolerance, extra):
        return None
    return f"{context.tensor} equals the expected transposed, on every element"


def _permuted(a, e, tolerance, context, extra):
    if a.shape != e.shape or a.size < 4 or len(np.unique(np.round(e, 12))) < max(4, a.size // 2):
        return None  # too few distinct values: another order would say nothing
    if not _fits(np.sort(a.ravel()), np.sort(e.ravel()), tolerance, extra):
        return None
    return (f"{context.tensor} holds the expected values in another order: a reshape, transpose or flatten in the "
            "wrong order (the right numbers, the wrong layout)")


def _kink(a, e, tolerance, context, extra):
    """The elements that differ are exactly those where the layer's input x is 0 (where a ReLU or a max has a kink
    and the convention at the tie decides): only there, and at least half of them."""
    allowed = tolerance.atol_for(e) + np.asarray(extra, dtype=np.float64) + tolerance.rtol * np.abs(e)
    differ = np.abs(a - e) > allowed
    x = np.asarray(getattr(context, "inputs", {}).get("x", np.zeros(0)))
    at_zero = x == 0 if x.shape == e.shape and np.issubdtype(x.dtype, np.floating) else None
    if at_zero is None or not differ.any() or at_zero.all() or not np.all(at_zero[differ]) \
            or 2 * int(differ.sum()) < int(at_zero.sum()):
        return None
    return (f"{context.tensor} differs only where x is exactly 0 ({int(differ.sum())} of {int(at_zero.sum())} such "
            "elements): the convention at the kink (> where >= belongs, or the reverse)")


def _dout(context, e):
    """The case's upstream gradient `dout` where it is not all ones (else it would change nothing), as float64."""
    dout = getattr(context, "inputs", {}).get("dout")
    if dout is None:
        return None
    try:
        dout = np.asarray(dout, dtype=np.float64)
        np.broadcast_shapes(dout.shape, e.shape)
    except (TypeError, ValueError):
        return None
    return None if np.all(dout == 1) else dout


def _without_dout(a, e, tolerance, context, extra):
    """The implementation's array times dout is the expected: the local derivative, dout never multiplied in."""
    dout = _dout(context, e)
    if dout is None or np.broadcast_shapes(dout.shape, a.shape) != a.shape or not _fits(a * dout, e, tolerance, extra):
        return None
    return (f"{context.tensor} times dout is the expected, on every element: the local derivative alone, the incoming "
            "gradient dout never multiplied in")


def _passed_through(a, e, tolerance, context, extra):
    """dx is dout itself: the incoming gradient passed back unchanged, the local derivative (a mask) left out."""
    dout = _dout(context, e)
    if context.tensor != "dx" or dout is None or dout.shape != a.shape or not _fits(a, dout, tolerance, extra):
        return None
    return "dx is dout itself, on every element: the incoming gradient passed back unchanged (the mask or the local " \
           "derivative left out)"


def diagnose(actual, expected, tolerance, context, problem, extra_atol=0.0):
    """Every Finding that fits a failed comparison (problem: "values", "dtype" or "shape"; any other says nothing)."""
    try:
        a = np.asarray(actual).astype(np.float64)
        e = np.asarray(expected).astype(np.float64)
    except (TypeError, ValueError):
        return []
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(e))) or e.size == 0:
        return []
    found = []
    if problem == "dtype":
        if _fits(a, e, tolerance, extra_atol):
            found.append(Finding("upcast", f"the values are right; the dtype is {np.asarray(actual).dtype} where "
                                           f"{np.asarray(expected).dtype} belongs (an operand or constant of the "
                                           "wider dtype promotes the result: np.zeros, np.ones or an array made "
                                           "without dtype=)"))
        return found
    if problem == "shape":
        if _transposed(a, e, tolerance, context, extra_atol):
            found.append(Finding("transposed", _transposed(a, e, tolerance, context, extra_atol)))
        elif a.size == e.size and _fits(a.reshape(e.shape), e, tolerance, extra_atol):
            found.append(Finding("reshaped", f"the values are right in shape {a.shape} where {e.shape} belongs (a "
                                             "reshape, squeeze or keepdims missing or too many)"))
        return found
    if problem != "values" or a.shape != e.shape:
        return found
    scale = float(np.max(np.abs(e)))
    if scale <= tolerance.atol_for(e):
        return found  # the expected is all but zero: any small array would fit a hypothesis
    if a.size >= 2 and not np.any(a):
        found.append(Finding("zero", f"{context.tensor} is zero everywhere where the expected is not: never "
                                     "computed, or never written back"))
        return found
    if a.size >= 2 and _fits(a, -e, tolerance, extra_atol):
        found.append(Finding("sign", f"{context.tensor} is the expected negated, on every element: a sign flipped"))
        return found
    for name, hypothesis in (("scaled", _scaled), ("offset", _offset), ("transposed", _transposed),
                             ("permuted", _permuted), ("kink", _kink), ("without_dout", _without_dout),
                             ("passed_through", _passed_through)):
        if name == "permuted" and any(f.name == "transposed" for f in found):
            continue  # a transpose is another order too: the narrower finding is said
        text = hypothesis(a, e, tolerance, context, extra_atol)
        if text:
            found.append(Finding(name, text))
    return found


# hypotheses that need more than the two arrays: another tensor's expected value, or an earlier call's (the case's
# checks, reference.run.case, offer them where they have them)

def _plain(value):
    try:
        array = np.asarray(value).astype(np.float64)
    except (TypeError, ValueError):
        return None
    return array if np.all(np.isfinite(array)) else None


def add(result, finding):
    """Add `finding` (or None) to a failed comparison's diagnosis, unless a hypothesis already fits there."""
    if finding is not None and not result.passed and not result.diagnosis:
        result.diagnosis.append([finding.name, finding.text])


def other_tensor(result, other, expected_other):
    """The implementation's tensor is the expected value of another tensor of the same call (dx for dy)."""
    a, e = _plain(result.actual), _plain(expected_other)
    if a is None or e is None or a.shape != e.shape or a.size < 2 or not np.any(e) \
            or not _fits(a, e, result.tolerance, result.extra_atol):
        return None
    tensor = result.context.tensor
    return Finding("swapped", f"{tensor} equals the expected {other}, on every element: computed with {other}'s "
                              f"formula (two gradients exchanged, or one computed as the other)")


def earlier_call(result, earlier):
    """A call after the first: the value equals the earlier call's expected one (state kept from it), or the sum of
    that and this call's (the gradient accumulated across calls)."""
    a, before, now = _plain(result.actual), _plain(earlier), _plain(result.expected)
    if a is None or before is None or now is None or a.shape != before.shape or a.shape != now.shape or a.size < 2:
        return None
    tensor = result.context.tensor
    if np.any(before) and _fits(a, before + now, result.tolerance, result.extra_atol):
        return Finding("accumulated", f"{tensor} is this call's expected plus the earlier call's, on every element: "
                                      "it accumulates across calls (+= where = belongs)")
    if _fits(a, before, result.tolerance, result.extra_atol) and not _fits(before, now, result.tolerance):
        return Finding("stale", f"{tensor} is the earlier call's expected value, on every element: state kept from "
                                "an earlier call (an input, mask or output cached once)")
    return None
