"""Hypothesis-drawn shapes and magnitudes: twin parity in both dtypes and finite differences
along a random direction (gradcheck's fast mode) in float64.

Hypothesis draws the shape, the magnitude and the seed of the input arrays; it
runs derandomized, so every run draws the same examples.  ReLU inputs are kept
KINK_MARGIN times the magnitude away from 0 by the spec.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bp_parity.reference.run import case as layer_checks
from bp_parity.reference.pieces import registry

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# The magnitudes drawn per piece and dtype, and why they stop there, are each piece's record in
# reference.pieces.registry (Magnitudes); `python -m reference check --drawn N` draws the same kind of cases.
DRAWN = [p.name for p in registry.pieces() if p.magnitudes is not None]


@st.composite
def layer_cases(draw, layer):
    dtype = draw(st.sampled_from(["float64", "float32"]))
    case = registry.drawn_case(registry.piece(layer), dtype, lambda lo, hi: draw(st.integers(lo, hi)),
                               lambda lo, hi: draw(st.floats(lo, hi)), lambda options: draw(st.sampled_from(options)))
    return case, dtype, draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("layer", sorted(DRAWN))
def test_drawn_shapes_and_magnitudes_match_the_twin_and_finite_differences(layer, impl_under_test, check):
    @PROPERTY_SETTINGS
    @given(drawn=layer_cases(layer))
    def run(drawn):
        case, dtype, seed = drawn
        for result in layer_checks.run_case(impl_under_test, case, dtype, seed).results:
            check(result)

    run()
