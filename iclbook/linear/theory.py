"""Closed forms of Setting 1: in-context linear regression with rank-r linear attention.

Notation (chapters 3-6): inputs ``x ~ N(0, Lambda)`` in ``R^d`` with
``Lambda = U diag(lambda) U^T``, task ``w ~ N(0, I_d)``, ``N`` context examples, the
reduced predictor ``y_hat = x_q^T B h`` with ``h = (1/N) sum_i y_i x_i``.

* :func:`feature_gains` -- ``g_i = (N+1)/N lambda_i + tr(Lambda)/N`` (chapter 4).
* :func:`optimal_matrix` -- Theorem A's minimiser ``U diag(1/g_1..1/g_r, 0..) U^T``.
* :func:`optimal_loss` -- Theorem A's ``L*_r = tr Lambda - sum_{i<=r} lambda_i^2/g_i``.
* :func:`noisy_risk` -- Theorem B, averaged over tasks (chapter 6).
* :func:`noisy_risk_fixed_task` -- Theorem B for one task ``w = U theta``.
* :func:`loss_of_matrix` -- population loss (with context noise) of any ``B``.
* :func:`best_rank` -- the risk-minimising model size ``r*(sigma, sigma_x)``.
* :func:`loss_weighted_error` -- the error of a matrix as the loss sees it (chapter 5).

All numbers here are the book's re-derivation of the paper's Setting 1 (see the chapter
"Notes on fidelity").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.validation import (
    check_basis,
    check_covariance,
    check_int_range,
    check_nonnegative,
    check_positive_int,
    check_shape,
    check_spectrum,
)

__all__ = [
    "spectral_covariance",
    "random_orthogonal",
    "feature_gains",
    "optimal_matrix",
    "optimal_loss",
    "optimal_loss_curve",
    "noisy_risk",
    "noisy_risk_fixed_task",
    "loss_of_matrix",
    "best_rank",
    "preconditioner",
    "loss_weighted_error",
]

ArrayLike = Sequence[float] | np.ndarray


def random_orthogonal(d: int, seed: int = 0) -> np.ndarray:
    """A Haar-random orthogonal ``d x d`` matrix (QR of a Gaussian matrix, signs fixed)."""
    d = check_positive_int("d", d)
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def spectral_covariance(spectrum: ArrayLike, basis: np.ndarray | None = None) -> np.ndarray:
    """``Lambda = U diag(spectrum) U^T`` (the identity basis if ``basis`` is None)."""
    lam = check_spectrum("spectrum", spectrum)
    u = check_basis("basis", basis, lam.size)
    return (u * lam) @ u.T


def feature_gains(spectrum: ArrayLike, N: int) -> np.ndarray:
    """The curvatures ``g_i = (N+1)/N * lambda_i + tr(Lambda)/N`` (Theorem A, chapter 4).

    ``g_i`` is the eigenvalue of ``Gamma`` for the feature ``u_i``: the curvature of the loss
    along that feature (the book calls ``lambda_i^2 / g_i`` the *gain* of feature ``i``; the
    function keeps its historical name).
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    return (N + 1) / N * lam + lam.sum() / N


def preconditioner(spectrum: ArrayLike, N: int) -> np.ndarray:
    """``Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I`` in the eigenbasis (a diagonal matrix).

    The full-rank optimum is ``B = Gamma^{-1}`` (Zhang, Frei & Bartlett 2023).
    """
    return np.diag(feature_gains(spectrum, N))


def optimal_matrix(spectrum: ArrayLike, N: int, r: int,
                   basis: np.ndarray | None = None) -> np.ndarray:
    """Theorem A's optimal identifiable matrix ``M* = U diag(1/g_1, .., 1/g_r, 0, ..) U^T``.

    ``M*`` is ``w22^PV W11^KQ`` (also ``B*``, it is symmetric) for the optimal rank-``r``
    linear attention; ``r`` must lie in ``1..d``.
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    g = feature_gains(lam, N)
    v = np.where(np.arange(lam.size) < r, 1.0 / g, 0.0)
    u = check_basis("basis", basis, lam.size)
    return (u * v) @ u.T


def optimal_loss(spectrum: ArrayLike, N: int, r: int) -> float:
    """Theorem A: ``L*_r = tr(Lambda) - sum_{i<=r} lambda_i^2 / g_i``, ``r`` in ``1..d``."""
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    return float(optimal_loss_curve(lam, N)[r])


def optimal_loss_curve(spectrum: ArrayLike, N: int) -> np.ndarray:
    """``[L*_0, L*_1, ..., L*_d]`` with ``L*_0 = tr(Lambda)`` (the zero predictor).

    The plateaus of gradient training sit at these values (chapter 5).
    """
    lam = check_spectrum("spectrum", spectrum)
    g = feature_gains(lam, N)
    return lam.sum() - np.concatenate([[0.0], np.cumsum(lam**2 / g)])


def noisy_risk(spectrum: ArrayLike, N: int, r: int, sigma: float = 0.0,
               sigma_x: float = 0.0) -> float:
    """Theorem B (task-averaged): risk of the rank-``r`` optimum on a noisy test context.

    ``R_r = L*_r + sigma^2/N sum_{i<=r} lambda_i^2/g_i^2
    + sigma_x^2 (tr Lambda + sigma^2)/N sum_{i<=r} lambda_i/g_i^2``,
    with label noise of standard deviation ``sigma`` and input noise ``sigma_x`` per
    coordinate on the context (the query is clean).
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    N = check_positive_int("N", N)
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    g = feature_gains(lam, N)[:r]
    top = lam[:r]
    clean = lam.sum() - np.sum(top**2 / g)
    label = s2 / N * np.sum(top**2 / g**2)
    inputs = sx2 * (lam.sum() + s2) / N * np.sum(top / g**2)
    return float(clean + label + inputs)


def noisy_risk_fixed_task(spectrum: ArrayLike, N: int, r: int, theta: ArrayLike,
                          sigma: float = 0.0, sigma_x: float = 0.0) -> float:
    """Theorem B for a fixed task ``w = U theta`` (coordinates in the eigenbasis).

    ``R_r(theta) = sum_{i>r} lambda_i theta_i^2 + sum_{i<=r} lambda_i theta_i^2 (1-lambda_i/g_i)^2
    + 1/N sum_{i<=r} lambda_i^3 theta_i^2/g_i^2
    + (|theta|_D^2 + sigma^2)/N sum_{i<=r} (lambda_i^2 + sigma_x^2 lambda_i)/g_i^2``.
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    N = check_positive_int("N", N)
    th = check_shape("theta", np.asarray(theta, dtype=float), (lam.size,))
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    g = feature_gains(lam, N)
    keep = np.arange(lam.size) < r
    energy = float(np.sum(lam * th**2))
    bias = np.sum(np.where(keep, lam * th**2 * (1 - lam / g) ** 2, lam * th**2))
    var_signal = np.sum(np.where(keep, lam**3 * th**2 / g**2, 0.0)) / N
    var_noise = (energy + s2) / N * np.sum(np.where(keep, (lam**2 + sx2 * lam) / g**2, 0.0))
    return float(bias + var_signal + var_noise)


def loss_of_matrix(B: np.ndarray, covariance: np.ndarray, N: int, sigma: float = 0.0,
                   sigma_x: float = 0.0) -> float:
    """Population risk of the predictor ``y_hat = x_q^T B h`` (any ``d x d`` matrix ``B``).

    ``L(B) = tr(B^T Lambda B Lambda Gamma) - 2 tr(Lambda B Lambda) + tr Lambda
    + sigma^2/N tr(B^T Lambda B Lambda) + sigma_x^2 (tr Lambda + sigma^2)/N tr(B^T Lambda B)``
    with ``Gamma = (1+1/N) Lambda + tr(Lambda)/N I`` (chapters 4 and 6).
    """
    cov = check_covariance("covariance", covariance)
    d = cov.shape[0]
    B = check_shape("B", np.asarray(B, dtype=float), (d, d))
    N = check_positive_int("N", N)
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    tr = np.trace(cov)
    gamma = (1 + 1 / N) * cov + tr / N * np.eye(d)
    blb = B.T @ cov @ B
    loss = np.trace(blb @ cov @ gamma) - 2 * np.trace(cov @ B @ cov) + tr
    loss += s2 / N * np.trace(blb @ cov) + sx2 * (tr + s2) / N * np.trace(blb)
    return float(loss)


def best_rank(spectrum: ArrayLike, N: int, sigma: float = 0.0, sigma_x: float = 0.0) -> int:
    """The model size ``r*`` in ``1..d`` with the smallest Theorem-B risk (ties: smaller r)."""
    lam = check_spectrum("spectrum", spectrum)
    risks = [noisy_risk(lam, N, r, sigma, sigma_x) for r in range(1, lam.size + 1)]
    return int(np.argmin(risks)) + 1


def loss_weighted_error(B: np.ndarray, B_ref: np.ndarray, covariance: np.ndarray,
                        N: int) -> float:
    """Relative error of ``B`` against ``B_ref`` in the norm the loss uses (chapter 5).

    ``||Lambda^{1/2} (B - B_ref) (Lambda Gamma)^{1/2}||_F
    / ||Lambda^{1/2} B_ref (Lambda Gamma)^{1/2}||_F`` with
    ``Gamma = (1+1/N) Lambda + tr(Lambda)/N I``.  Why this weighting: the clean loss
    ``L(B) = tr(B^T Lambda B Lambda Gamma) - 2 tr(Lambda B Lambda) + tr Lambda`` is quadratic
    with Hessian form ``tr(D^T Lambda D Lambda Gamma)``, which equals
    ``||Lambda^{1/2} D (Lambda Gamma)^{1/2}||_F^2`` (``Lambda`` and ``Gamma`` commute); so for
    the full-rank optimum ``B_ref = Gamma^{-1}`` the excess loss ``L(B) - L(B_ref)`` is exactly
    ``||Lambda^{1/2} (B - B_ref)(Lambda Gamma)^{1/2}||_F^2`` (for ``r < d`` a term linear in
    the dropped directions is added).
    Directions ``u_i`` with small ``lambda_i`` get small weight: there the loss is nearly flat
    and the plain error ``||B - B_ref||_F / ||B_ref||_F`` can be large at almost no cost.
    ``B`` and ``B_ref`` are ``d x d``; ``B_ref`` must not be zero in this norm.
    """
    cov = check_covariance("covariance", covariance)
    d = cov.shape[0]
    B = check_shape("B", np.asarray(B, dtype=float), (d, d))
    B_ref = check_shape("B_ref", np.asarray(B_ref, dtype=float), (d, d))
    N = check_positive_int("N", N)
    lam, u = np.linalg.eigh(cov)
    lam = np.clip(lam, 0.0, None)
    g = (1 + 1 / N) * lam + lam.sum() / N
    left = (u * np.sqrt(lam)) @ u.T
    right = (u * np.sqrt(lam * g)) @ u.T
    ref = np.linalg.norm(left @ B_ref @ right)
    if ref == 0:
        raise ValueError("B_ref must be non-zero in the loss-weighted norm (got a zero matrix)")
    return float(np.linalg.norm(left @ (B - B_ref) @ right) / ref)
