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

# The magnitudes drawn per layer, as powers of ten of the inputs' scale.  The
# matrix product and the softmax are held to |x| <= 10: beyond that a float32
# sum that cancels to near zero carries an absolute rounding error above
# assert_close's absolute 1e-5 (both sides are right; the dtype is not).
MAGNITUDES = {
    "MulLayer": (-3.0, 3.0),
    "AddLayer": (-3.0, 3.0),
    "Relu": (-3.0, 3.0),
    "Sigmoid": (-3.0, 3.0),
    "Affine": (-3.0, 1.0),
    "SoftmaxWithLoss": (-3.0, 0.5),
}


@st.composite
def layer_cases(draw, layer):
    batch = draw(st.integers(1, 64))
    features = draw(st.integers(1, 300))
    low, high = MAGNITUDES[layer]
    scale = 10 ** draw(st.floats(low, high))
    if layer == "Affine":
        shape, out, labels = (batch, features), draw(st.integers(1, 64)), ""
    elif layer == "SoftmaxWithLoss":
        shape, out, labels = (batch, max(features // 10, 1)), 0, draw(st.sampled_from(["index", "onehot"]))
    else:
        shape, out, labels = (batch, features), 0, ""
    case = LayerCase(f"{layer}-hypothesis", layer, shape=shape, out=out, labels=labels, scale=scale, fd="directional")
    return case, draw(st.sampled_from(["float64", "float32"])), draw(st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("layer", sorted(MAGNITUDES))
def test_drawn_shapes_and_magnitudes_match_the_twin_and_finite_differences(layer, impl_under_test, check):
    @PROPERTY_SETTINGS
    @given(drawn=layer_cases(layer))
    def run(drawn):
        case, dtype, seed = drawn
        for result in layer_checks.run_case(impl_under_test, case, dtype, seed).results:
            check(result)

    run()
