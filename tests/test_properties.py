"""Hypothesis-drawn shapes and magnitudes: twin parity in both dtypes and finite differences
along a random direction (gradcheck's fast mode) in float64.

Hypothesis draws the shape, the magnitude and the seed of the input arrays; it
runs derandomized, so every run draws the same examples.  ReLU inputs are kept
KINK_MARGIN times the magnitude away from 0 by the spec.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference import layer_checks
from reference.cases import LayerCase

PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

# The magnitudes drawn per layer and dtype, as powers of ten of the inputs' scale, and why they stop there:
# - float32 matrix products at 10^0: assert_close's absolute 1e-5 is about ten ulps of unit-sized terms,
#   and a sum of larger terms that cancels keeps their rounding (a dW of 1.4 summed from terms of 30
#   was off by 2.3e-5);
# - Sigmoid at 10^2: beyond, sigmoid'(x) ~ e^-|x| is smaller than a central difference whose step
#   grows with |x| can resolve (at |x| ~ 345 the difference quotient is off by 4e-6 relative);
# - SoftmaxWithLoss at 10^0.5: with scores much wider, a true class can fall far below the textbook's
#   1e-7, where its forward is flat and finite differences cannot see the derivative.
MAGNITUDES = {
    "MulLayer": {"float64": (-3.0, 3.0), "float32": (-3.0, 3.0)},
    "AddLayer": {"float64": (-3.0, 3.0), "float32": (-3.0, 3.0)},
    "Relu": {"float64": (-3.0, 3.0), "float32": (-3.0, 3.0)},
    "Sigmoid": {"float64": (-3.0, 2.0), "float32": (-3.0, 2.0)},
    "Affine": {"float64": (-3.0, 2.0), "float32": (-3.0, 0.0)},
    "SoftmaxWithLoss": {"float64": (-3.0, 0.5), "float32": (-3.0, 0.5)},
}


@st.composite
def layer_cases(draw, layer):
    dtype = draw(st.sampled_from(["float64", "float32"]))
    batch = draw(st.integers(1, 64))
    features = draw(st.integers(1, 300))
    low, high = MAGNITUDES[layer][dtype]
    scale = 10 ** draw(st.floats(low, high))
    if layer == "Affine":
        shape, out, labels = (batch, features), draw(st.integers(1, 64)), ""
    elif layer == "SoftmaxWithLoss":
        shape, out, labels = (batch, max(features // 10, 1)), 0, draw(st.sampled_from(["index", "onehot"]))
    else:
        shape, out, labels = (batch, features), 0, ""
    case = LayerCase(f"{layer}-hypothesis", layer, shape=shape, out=out, labels=labels, scale=scale, fd="directional")
    return case, dtype, draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("layer", sorted(MAGNITUDES))
def test_drawn_shapes_and_magnitudes_match_the_twin_and_finite_differences(layer, impl_under_test, check):
    @PROPERTY_SETTINGS
    @given(drawn=layer_cases(layer))
    def run(drawn):
        case, dtype, seed = drawn
        for result in layer_checks.run_case(impl_under_test, case, dtype, seed).results:
            check(result)

    run()
