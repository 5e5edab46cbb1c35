"""Argument checks shared by every public function of :mod:`iclbook`.

Each check raises :class:`ValueError` naming the argument and the allowed range, so a
reader who passes a bad value learns at once what to change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_positive_int",
    "check_int_range",
    "check_nonnegative",
    "check_probability",
    "check_spectrum",
    "check_covariance",
    "check_shape",
]


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 1, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value}")
    return int(value)


def check_int_range(name: str, value: object, low: int, high: int) -> int:
    """Return ``value`` as an ``int`` if ``low <= value <= high``, else raise ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value}")
    return int(value)


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a finite ``float`` >= 0 (noise levels), else raise ``ValueError``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}") from None
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_probability(name: str, value: object, high: float = 1.0) -> float:
    """Return ``value`` as a ``float`` in ``[0, high]``, else raise ``ValueError``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, {high:g}], got {value!r}") from None
    if not (0.0 <= v <= high):
        raise ValueError(f"{name} must be a number in [0, {high:g}], got {value!r}")
    return v


def check_spectrum(name: str, value: Sequence[float] | np.ndarray) -> np.ndarray:
    """Return eigenvalues ``lambda_1 >= ... >= lambda_d > 0`` as a 1-D float array.

    Raises ``ValueError`` if the array is not 1-D and non-empty, has a non-positive or
    non-finite entry, or is not sorted in non-increasing order.
    """
    lam = np.asarray(value, dtype=float)
    if lam.ndim != 1 or lam.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D sequence of eigenvalues, got shape "
                         f"{lam.shape}")
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        raise ValueError(f"{name} must contain finite eigenvalues > 0, got {lam.tolist()}")
    if np.any(np.diff(lam) > 0):
        raise ValueError(f"{name} must be sorted in non-increasing order "
                         f"(lambda_1 >= ... >= lambda_d), got {lam.tolist()}")
    return lam


def check_covariance(name: str, value: np.ndarray) -> np.ndarray:
    """Return a symmetric positive-definite ``d x d`` matrix as a float array."""
    cov = np.asarray(value, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ValueError(f"{name} must be a square d x d matrix, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{name} must be finite")
    if not np.allclose(cov, cov.T, rtol=1e-10, atol=1e-12):
        raise ValueError(f"{name} must be symmetric")
    eig = np.linalg.eigvalsh(cov)
    if eig.min() <= 0:
        raise ValueError(f"{name} must be positive definite; smallest eigenvalue is "
                         f"{eig.min():.3g}")
    return cov


def check_shape(name: str, value: np.ndarray, shape: tuple[int | None, ...]) -> np.ndarray:
    """Check that ``value`` has ``shape`` (``None`` matches any length) and return it."""
    arr = np.asarray(value)
    ok = arr.ndim == len(shape) and all(
        s is None or s == a for s, a in zip(shape, arr.shape, strict=False))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    return arr
