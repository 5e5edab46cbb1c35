"""Consequences of Theorem B (chapter 6): when a feature helps, what a model size costs.

Theorem B itself (the risk of Theorem A's rank-``r`` optimum on a noisy test context) lives in
:mod:`iclbook.linear.theory` (:func:`~iclbook.linear.theory.noisy_risk`,
:func:`~iclbook.linear.theory.noisy_risk_fixed_task`); this module derives from it what
chapter 6 discusses:

* :func:`geometric_spectrum` -- ``lambda_i = top * decay^(i-1)`` (the explorers' spectra).
* :func:`noisy_risk_curve` -- ``[R_0, R_1, ..., R_d]``, Theorem B for every model size.
* :func:`feature_helps` -- does feature ``r`` lower the task-averaged risk?  (Theorem B's
  "helps iff" condition.)
* :func:`critical_label_noise` -- the label noise above which feature ``r`` stops helping.
* :func:`best_rank_map` -- ``r*(sigma, sigma_x)`` on a grid (the phase diagram).
* :func:`fixed_task_increment` -- ``R_r(theta) - R_{r-1}(theta)`` for one task.
* :func:`distraction_cost` -- the closed form of that increment when the task does not use
  feature ``r`` (``theta_r = 0``): ``lambda_r (lambda_r + sigma_x^2)(|theta|_D^2 + sigma^2)
  / (N g_r^2)``.
* :func:`noisy_curvatures`, :func:`matched_optimal_matrix`, :func:`matched_optimal_loss` --
  pretraining on equally noisy contexts (matched noise): Theorem A with the curvature
  ``g_i`` replaced by the noisy-context curvature
  ``g~_i = g_i + sigma^2/N + sigma_x^2 (tr Lambda + sigma^2)/(N lambda_i)``.

Everything here is the book's re-derivation (see "Notes on fidelity"), not the paper's text.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.validation import (
    check_basis,
    check_int_range,
    check_nonnegative,
    check_positive_int,
    check_probability,
    check_shape,
    check_spectrum,
)
from .theory import feature_gains, noisy_risk, noisy_risk_fixed_task

__all__ = [
    "geometric_spectrum",
    "noisy_risk_curve",
    "feature_helps",
    "critical_label_noise",
    "best_rank_map",
    "fixed_task_increment",
    "distraction_cost",
    "noisy_curvatures",
    "matched_optimal_matrix",
    "matched_optimal_loss",
]

ArrayLike = Sequence[float] | np.ndarray


def geometric_spectrum(d: int, decay: float, top: float = 1.0) -> np.ndarray:
    """The spectrum ``lambda_i = top * decay^(i-1)``, ``i = 1..d`` (chapter 6's explorers).

    ``decay`` in ``(0, 1]`` (``1``: all features equally important; small: one dominant
    feature); ``top > 0``.  Chapter 5's spectrum ``[4, 2, 1, 0.5, 0.25]`` is
    ``geometric_spectrum(5, 0.5, 4)``.
    """
    d = check_positive_int("d", d)
    decay = check_probability("decay", decay)
    if decay == 0:
        raise ValueError("decay must be a number in (0, 1], got 0")
    top = check_nonnegative("top", top)
    if top == 0:
        raise ValueError("top must be a finite number > 0, got 0")
    return top * decay ** np.arange(d, dtype=float)


def noisy_risk_curve(spectrum: ArrayLike, N: int, sigma: float = 0.0,
                     sigma_x: float = 0.0) -> np.ndarray:
    """Theorem B for every size: ``[R_0, R_1, ..., R_d]`` (chapter 6).

    ``R_0 = tr(Lambda)`` is the zero predictor (rank 0), which ignores the context and so
    does not feel its noise; ``R_r`` for ``r >= 1`` is :func:`~iclbook.linear.theory.noisy_risk`.
    """
    lam = check_spectrum("spectrum", spectrum)
    risks = [noisy_risk(lam, N, r, sigma, sigma_x) for r in range(1, lam.size + 1)]
    return np.array([lam.sum(), *risks])


def feature_helps(spectrum: ArrayLike, N: int, r: int, sigma: float = 0.0,
                  sigma_x: float = 0.0) -> bool:
    """Theorem B's condition: going from size ``r-1`` to ``r`` lowers the averaged risk.

    True iff ``lambda_r ((N+1) lambda_r + tr Lambda) > sigma^2 lambda_r
    + sigma_x^2 (tr Lambda + sigma^2)``; with label noise only, iff
    ``(N+1) lambda_r + tr Lambda > sigma^2`` (chapter 6).
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    r = check_int_range("r", r, 1, lam.size)
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    lr, tr = lam[r - 1], lam.sum()
    return bool(lr * ((N + 1) * lr + tr) > s2 * lr + sx2 * (tr + s2))


def critical_label_noise(spectrum: ArrayLike, N: int, r: int, sigma_x: float = 0.0) -> float:
    """The label noise ``sigma_c`` above which feature ``r`` stops helping (chapter 6).

    Solving :func:`feature_helps` for ``sigma``:
    ``sigma_c^2 = (lambda_r ((N+1) lambda_r + tr Lambda) - sigma_x^2 tr Lambda)
    / (lambda_r + sigma_x^2)``; feature ``r`` helps iff ``sigma < sigma_c``.  Returns ``0.0``
    when the input noise alone already makes the feature hurt.
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    r = check_int_range("r", r, 1, lam.size)
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    lr, tr = lam[r - 1], lam.sum()
    s2 = (lr * ((N + 1) * lr + tr) - sx2 * tr) / (lr + sx2)
    return float(np.sqrt(max(s2, 0.0)))


def best_rank_map(spectrum: ArrayLike, N: int, sigmas: ArrayLike,
                  sigma_xs: ArrayLike) -> np.ndarray:
    """``r*(sigma, sigma_x)`` on a grid, shape ``(len(sigma_xs), len(sigmas))`` (chapter 6).

    Row ``j``, column ``i`` is the risk-minimising size (ties: the smaller) at label noise
    ``sigmas[i]`` and input noise ``sigma_xs[j]``: the phase diagram of Theorem B.
    """
    lam = check_spectrum("spectrum", spectrum)
    s = np.asarray(sigmas, dtype=float)
    sx = np.asarray(sigma_xs, dtype=float)
    for name, arr in (("sigmas", s), ("sigma_xs", sx)):
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D sequence of noise levels >= 0")
        for v in arr:
            check_nonnegative(name, v)
    out = np.empty((sx.size, s.size), dtype=int)
    for j, b in enumerate(sx):
        for i, a in enumerate(s):
            out[j, i] = int(np.argmin(noisy_risk_curve(lam, N, a, b)[1:])) + 1
    return out


def fixed_task_increment(spectrum: ArrayLike, N: int, r: int, theta: ArrayLike,
                         sigma: float = 0.0, sigma_x: float = 0.0) -> float:
    """``R_r(theta) - R_{r-1}(theta)`` for one task ``w = U theta`` (Theorem B, chapter 6).

    ``R_0(theta) = |theta|_D^2`` (the zero predictor).  Negative: feature ``r`` helps this task.
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    th = check_shape("theta", np.asarray(theta, dtype=float), (lam.size,))
    now = noisy_risk_fixed_task(lam, N, r, th, sigma, sigma_x)
    before = (float(np.sum(lam * th**2)) if r == 1
              else noisy_risk_fixed_task(lam, N, r - 1, th, sigma, sigma_x))
    return float(now - before)


def distraction_cost(spectrum: ArrayLike, N: int, r: int, theta: ArrayLike,
                     sigma: float = 0.0, sigma_x: float = 0.0) -> float:
    """What feature ``r`` costs a task that does not use it (``theta_r = 0``), chapter 6.

    ``lambda_r (lambda_r + sigma_x^2) (|theta|_D^2 + sigma^2) / (N g_r^2)`` with
    ``|theta|_D^2 = sum_j lambda_j theta_j^2``: always > 0 unless the task is zero and the
    labels are clean, so a larger model is distracted by a direction that carries only noise.
    Raises ``ValueError`` if ``theta_r != 0``.
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    r = check_int_range("r", r, 1, lam.size)
    th = check_shape("theta", np.asarray(theta, dtype=float), (lam.size,))
    if th[r - 1] != 0:
        raise ValueError(f"theta must have theta_r = 0 (the task does not use feature r = {r}), "
                         f"got theta_{r} = {th[r - 1]!r}")
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    g = feature_gains(lam, N)[r - 1]
    lr = lam[r - 1]
    return float(lr * (lr + sx2) * (float(np.sum(lam * th**2)) + s2) / (N * g**2))


def noisy_curvatures(spectrum: ArrayLike, N: int, sigma: float = 0.0,
                     sigma_x: float = 0.0) -> np.ndarray:
    """The curvature of each feature when the context is noisy (chapter 6, matched noise).

    With label noise ``sigma`` and input noise ``sigma_x`` in the context (clean query) the
    loss of ``y_hat = x_q^T B h`` is, in the eigenbasis (``B~ = U^T B U``),
    ``sum_{i,j} B~_ij^2 lambda_i lambda_j g~_j - 2 sum_i lambda_i^2 B~_ii + tr Lambda`` with

    ``g~_i = g_i + sigma^2/N + sigma_x^2 (tr Lambda + sigma^2) / (N lambda_i)``,

    ``g_i = (N+1)/N lambda_i + tr(Lambda)/N`` the clean curvature of Theorem A.  So the
    optimum for noisy contexts is Theorem A with ``g_i`` replaced by ``g~_i``
    (:func:`matched_optimal_matrix`).  At ``sigma = sigma_x = 0``, ``g~_i = g_i``.
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    s2 = check_nonnegative("sigma", sigma) ** 2
    sx2 = check_nonnegative("sigma_x", sigma_x) ** 2
    return feature_gains(lam, N) + s2 / N + sx2 * (lam.sum() + s2) / (N * lam)


def matched_optimal_matrix(spectrum: ArrayLike, N: int, r: int, sigma: float = 0.0,
                           sigma_x: float = 0.0,
                           basis: np.ndarray | None = None) -> np.ndarray:
    """The best rank-``r`` matrix ``B`` for contexts with noise ``(sigma, sigma_x)`` (chapter 6).

    ``B~*_r = U diag(1/g~_1, .., 1/g~_r, 0, .., 0) U^T`` with the noisy-context curvatures
    :func:`noisy_curvatures`: the optimum of a model pretrained on prompts whose contexts
    carry the same noise as the test context (matched noise).  The derivation is Theorem A's
    (whitening, completing the square, Eckart-Young-Mirsky) with ``g~_i`` for ``g_i``; the
    kept features are still the top ``r`` because ``lambda^2/g~(lambda)`` increases with
    ``lambda``.  ``r`` in ``1..d``.
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    g = noisy_curvatures(lam, N, sigma, sigma_x)
    v = np.where(np.arange(lam.size) < r, 1.0 / g, 0.0)
    u = check_basis("basis", basis, lam.size)
    return (u * v) @ u.T


def matched_optimal_loss(spectrum: ArrayLike, N: int, r: int, sigma: float = 0.0,
                         sigma_x: float = 0.0) -> float:
    """Risk on noisy contexts of the rank-``r`` optimum pretrained with the same noise.

    ``tr Lambda - sum_{i<=r} lambda_i^2 / g~_i`` (chapter 6, matched noise): it falls
    strictly with ``r`` at every noise level, so with matched noise the largest model is
    always best.  ``r`` in ``1..d``.
    """
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    g = noisy_curvatures(lam, N, sigma, sigma_x)
    return float(lam.sum() - np.sum(lam[:r] ** 2 / g[:r]))
