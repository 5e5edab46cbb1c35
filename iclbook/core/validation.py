"""Argument checks shared by every public function of :mod:`iclbook`.

Each check raises :class:`ValueError` naming the argument and the allowed range, so a
reader who passes a bad value learns at once what to change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray

__all__ = [
    "check_positive_int",
    "check_int_range",
    "check_nonnegative",
    "check_probability",
    "check_fractions",
    "check_spectrum",
    "check_covariance",
    "check_shape",
    "check_basis",
    "check_flips",
    "check_importance",
    "check_hidden_dim",
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


def check_fractions(name: str, values: Sequence[float]) -> list[float]:
    """Return a non-empty list of fractions, each in ``[0, 1]`` (flip or noise levels)."""
    vals = [check_probability(name, v) for v in values]
    if not vals:
        raise ValueError(f"{name} must list at least one fraction in [0, 1]")
    return vals


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


def check_basis(name: str, value: np.ndarray | None, d: int) -> np.ndarray:
    """Return an orthogonal ``d x d`` basis ``U`` (``U^T U = I``); ``None`` gives the identity."""
    if value is None:
        return np.eye(d)
    u = check_shape(name, np.asarray(value, dtype=float), (d, d))
    if not np.allclose(u.T @ u, np.eye(d), atol=1e-8):
        raise ValueError(f"{name} must be an orthogonal {d} x {d} matrix (U^T U = I)")
    return u


def check_flips(eta: object, rho: object) -> tuple[float, float]:
    """Setting 2's context noise: label flips ``eta`` in ``[0, 1]`` (above 1/2 the labels
    mostly lie: ``kappa < 0``) and hidden-bit flips ``rho`` in ``[0, 1/2]``."""
    return check_probability("eta", eta, high=1.0), check_probability("rho", rho, high=0.5)


def check_importance(name: str, value: ArrayLike) -> np.ndarray:
    """Return a task-importance profile ``p`` as a 1-D float array.

    ``p`` must be a probability vector (entries ``>= 0``, sum 1 within ``1e-9``) sorted in
    non-increasing order ``p_0 >= p_1 >= ...`` (task 0 is the most important); otherwise
    ``ValueError`` names the argument and the rule broken.
    """
    p = np.asarray(value, dtype=float)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D probability vector, got shape "
                         f"{p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name} must have finite entries >= 0, got {p.tolist()}")
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"{name} must sum to 1 (a probability vector), got sum {p.sum():.6g}")
    if np.any(np.diff(p) > 0):
        raise ValueError(f"{name} must be sorted in non-increasing order "
                         f"(p_1 >= p_2 >= ...), got {p.tolist()}")
    return p


def check_hidden_dim(name: str, value: object) -> int:
    """Return ``d`` if it is an even integer ``>= 2`` (``d = 2K`` hidden bits), else raise."""
    d = check_positive_int(name, value)
    if d < 2 or d % 2:
        raise ValueError(f"{name} must be an even integer >= 2 (d = 2K hidden bits), got {d}")
    return d
