"""The tolerance policy stays within the bounds the project promises."""

import numpy as np

from bp_parity.reference.report import tolerance


def test_float64_twin_parity_is_no_looser_than_1e_10():
    tol = tolerance.twin("float64")
    assert tol.rtol <= 1e-10 and tol.atol_unit <= 1e-10


def test_float32_twin_parity_is_no_looser_than_assert_close_defaults():
    tol = tolerance.twin("float32")
    assert tol.rtol <= 1.3e-6 and tol.atol_unit <= 1e-5 and not tol.scaled


def test_finite_differences_are_no_looser_than_1e_6_relative():
    tol = tolerance.finite_differences("float64")
    assert tol.rtol <= 1e-6 and tol.atol_unit <= 1e-6


def test_every_tolerance_says_why():
    """Each dtype's tolerance names its dtype and the figure it rests on; the exact one says it is bit for bit."""
    for table in (tolerance.TWIN, tolerance.FINITE_DIFFERENCES):
        for dtype, tol in table.items():
            assert dtype in tol.why or "eps" in tol.why, (dtype, tol.why)
            assert any(ch.isdigit() for ch in tol.why), (dtype, tol.why)
    assert "bit for bit" in tolerance.EXACT.why


def test_unknown_dtype_is_a_clear_error():
    try:
        tolerance.twin("float16")
    except ValueError as error:
        assert "float16" in str(error) and "float64" in str(error)
    else:
        raise AssertionError("float16 has no twin tolerance and must say so")


def test_fd_step_grows_with_the_value():
    h = tolerance.fd_step(np.array([0.0, 1.0, 1e3]))
    assert h[0] == h[1] and h[2] == 1e3 * h[1]
