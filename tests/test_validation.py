"""Argument checks of :mod:`iclbook.core.validation`: good values pass through, bad ones raise."""

import math

import numpy as np
import pytest

from iclbook.core.validation import (
    check_covariance,
    check_int_range,
    check_nonnegative,
    check_positive_int,
    check_probability,
    check_shape,
    check_spectrum,
)


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.int32(1)])
def test_positive_int_accepts(value):
    out = check_positive_int("N", value)
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -2, 1.0, 2.5, "3", None, True, np.float64(2.0)])
def test_positive_int_rejects(value):
    with pytest.raises(ValueError, match=r"N must be an integer >= 1"):
        check_positive_int("N", value)


def test_int_range():
    assert check_int_range("r", 1, 1, 4) == 1
    assert check_int_range("r", np.int64(4), 1, 4) == 4
    for bad in (0, 5, -1, 2.0, True, "2"):
        with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.4"):
            check_int_range("r", bad, 1, 4)


def test_nonnegative():
    assert check_nonnegative("sigma", 0) == 0.0
    assert check_nonnegative("sigma", np.float32(0.5)) == pytest.approx(0.5)
    assert type(check_nonnegative("sigma", 2)) is float
    for bad in (-1e-9, -3, math.nan, math.inf, "a", None):
        with pytest.raises(ValueError, match=r"sigma must be a finite number >= 0"):
            check_nonnegative("sigma", bad)


def test_probability():
    assert check_probability("eta", 0) == 0.0
    assert check_probability("eta", 1) == 1.0
    assert check_probability("eta", 0.5, high=0.5) == 0.5
    for bad in (-0.1, 1.01, math.nan, "x", None):
        with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\]"):
            check_probability("eta", bad)
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 0\.5\]"):
        check_probability("eta", 0.6, high=0.5)


def test_spectrum_accepts_sorted_positive():
    lam = check_spectrum("spectrum", [3, 2, 2, 0.5])
    assert lam.dtype == float and lam.shape == (4,)
    np.testing.assert_array_equal(lam, [3.0, 2.0, 2.0, 0.5])


@pytest.mark.parametrize(
    "bad, message",
    [
        ([], "non-empty 1-D"),
        ([[1.0, 0.5]], "non-empty 1-D"),
        ([1.0, 0.0], "finite eigenvalues > 0"),
        ([1.0, -0.5], "finite eigenvalues > 0"),
        ([math.inf, 1.0], "finite eigenvalues > 0"),
        ([math.nan], "finite eigenvalues > 0"),
        ([1.0, 2.0], "non-increasing"),
    ],
)
def test_spectrum_rejects(bad, message):
    with pytest.raises(ValueError, match=message):
        check_spectrum("spectrum", bad)


def test_covariance_accepts_spd():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.testing.assert_array_equal(check_covariance("covariance", cov), cov)


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.ones(3), "square d x d"),
        (np.ones((2, 3)), "square d x d"),
        (np.zeros((0, 0)), "square d x d"),
        (np.array([[1.0, math.nan], [math.nan, 1.0]]), "finite"),
        (np.array([[1.0, 0.2], [0.0, 1.0]]), "symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
        (np.zeros((2, 2)), "positive definite"),
    ],
)
def test_covariance_rejects(bad, message):
    with pytest.raises(ValueError, match=message):
        check_covariance("covariance", bad)


def test_shape():
    a = np.zeros((3, 4))
    assert check_shape("B", a, (3, 4)) is not None
    assert check_shape("B", a, (None, 4)).shape == (3, 4)
    with pytest.raises(ValueError, match=r"B must have shape \(3, 3\), got \(3, 4\)"):
        check_shape("B", a, (3, 3))
    with pytest.raises(ValueError, match=r"B must have shape \(any, 4, 1\)"):
        check_shape("B", a, (None, 4, 1))
