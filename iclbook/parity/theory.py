"""Closed forms of Setting 2: in-context sparse parity with a two-layer m-head model.

**Book's own model** (chapter 7): the paper's abstract describes parity classification with
two-layer multi-head attention; its exact data model, architecture and loss were not
available, so the book builds its own model in the same spirit, with every step in closed
form (see "Notes on fidelity").

Notation (chapters 7-8): ``d = 2K`` hidden bits ``phi`` uniform on ``{+-1}^d``; the feature
vector ``chi(phi)`` lists the ``D = d(d-1)/2`` pair products ``phi_a phi_b`` (``a < b``,
lexicographic order); task ``tau`` (0-based here, ``tau = 0..K-1``) is the parity of the
hidden pair ``(2 tau, 2 tau + 1)`` and is drawn with probability ``p_tau``
(``p_0 >= p_1 >= ...``, the importance).  The ``m``-head model predicts in kernel form
``y_hat = chi_bar^T A chi_q`` with the context vector ``chi_bar = (1/N) sum_i y_i chi_i`` and
``rank A <= m``.  ``D_p = diag(p)`` on the task pairs; ``Gamma_II = (1 - 1/N) D_p + I/N``.

* :func:`pair_list`, :func:`task_pair_indices` -- coordinates of ``chi``.
* :func:`head_curvatures` -- the curvature ``gamma_tau = p_tau + (1 - p_tau)/N`` of task ``tau``.
* :func:`task_gains` -- the gain ``p_tau^2 / gamma_tau`` of keeping task ``tau``.
* :func:`optimal_head_weights` -- ``a*_tau = p_tau / gamma_tau`` (Theorem P1).
* :func:`optimal_kernel` -- Theorem P1's ``A*`` (top-``m`` task pairs).
* :func:`optimal_loss`, :func:`optimal_loss_curve` -- ``L*_m = 1 - sum_{tau<m} p_tau^2/gamma_tau``.
* :func:`noise_factor` -- ``kappa = (1 - 2 eta)(1 - 2 rho)^2`` (Theorem P2; negative when
  ``eta > 1/2``).
* :func:`noisy_loss` -- Theorem P2, the loss of ``A*`` on a noisy context.
* :func:`kernel_loss` -- population loss of *any* ``A`` (clean or noisy context).
* :func:`sign_accuracy`, :func:`sign_accuracy_per_task` -- exact sign accuracy of ``A*``
  (chapter 8; a finite sum).
* :func:`noisy_pretrained_weights`, :func:`noisy_pretrained_kernel`,
  :func:`matched_noise_loss_curve` -- the optimum when pretraining contexts carry the same
  noise as the test context (chapter 8, "matched noise").
* :func:`best_head_count` -- the loss-minimising number of heads under noise.
* :func:`importance_profile` -- a geometric profile ``p_tau ~ exp(-beta tau)`` (widgets).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.validation import (
    check_flips,
    check_hidden_dim,
    check_importance,
    check_int_range,
    check_nonnegative,
    check_positive_int,
)

__all__ = [
    "pair_count",
    "pair_list",
    "pair_index",
    "task_pair_indices",
    "head_curvatures",
    "head_gains",
    "task_gains",
    "optimal_head_weights",
    "optimal_kernel",
    "optimal_loss",
    "optimal_loss_curve",
    "noise_factor",
    "noisy_loss",
    "noisy_loss_curve",
    "kernel_loss",
    "sign_accuracy",
    "sign_accuracy_per_task",
    "noisy_pretrained_weights",
    "noisy_pretrained_kernel",
    "matched_noise_loss_curve",
    "matched_noise_loss",
    "best_head_count",
    "importance_profile",
]

ArrayLike = Sequence[float] | np.ndarray

#: Largest number of points :func:`sign_accuracy` enumerates before refusing.
MAX_SUPPORT = 20_000_000


def _check_m(m: object, K: int) -> int:
    return check_int_range("m", m, 1, K)


def pair_count(d: int) -> int:
    """``D = d(d-1)/2``: the number of hidden pairs ``(a, b)``, ``a < b``, of ``d`` hidden bits
    (the length of :func:`pair_list` and of the feature vector ``chi``)."""
    d = check_hidden_dim("d", d)
    return d * (d - 1) // 2


def pair_list(d: int) -> list[tuple[int, int]]:
    """The ``D = d(d-1)/2`` hidden pairs ``(a, b)``, ``a < b``, in lexicographic order.

    Entry ``k`` of the feature vector ``chi`` is ``phi_a phi_b`` for the ``k``-th pair.
    """
    d = check_hidden_dim("d", d)
    return [(a, b) for a in range(d) for b in range(a + 1, d)]


def pair_index(d: int, a: int, b: int) -> int:
    """Position of the pair ``{a, b}`` (``a != b``) in :func:`pair_list`."""
    d = check_hidden_dim("d", d)
    a, b = check_int_range("a", a, 0, d - 1), check_int_range("b", b, 0, d - 1)
    if a == b:
        raise ValueError(f"a and b must differ, got a = b = {a}")
    a, b = min(a, b), max(a, b)
    return a * d - a * (a + 1) // 2 + (b - a - 1)


def task_pair_indices(d: int) -> np.ndarray:
    """Positions in ``chi`` of the ``K = d/2`` task pairs ``(0,1), (2,3), ...``, in task order."""
    d = check_hidden_dim("d", d)
    return np.array([pair_index(d, 2 * t, 2 * t + 1) for t in range(d // 2)])


def head_curvatures(p: ArrayLike, N: int) -> np.ndarray:
    """The curvature ``gamma_tau = p_tau + (1 - p_tau)/N`` of every task (Theorem P1, ch. 7).

    The diagonal entries of ``Gamma_II = (1 - 1/N) D_p + I/N`` on the task pairs: the mean
    of ``chi_bar_tau^2`` over prompts and tasks.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    return p + (1 - p) / N


#: Old name of :func:`head_curvatures` (it returns curvatures, not gains); kept for callers.
head_gains = head_curvatures


def task_gains(p: ArrayLike, N: int) -> np.ndarray:
    """The gain ``p_tau^2 / gamma_tau`` of every task: the loss removed by a head on it (ch. 7)."""
    p = check_importance("p", p)
    return p**2 / head_curvatures(p, N)


def optimal_head_weights(p: ArrayLike, N: int) -> np.ndarray:
    """``a*_tau = p_tau / gamma_tau`` for every task (Theorem P1, chapter 7)."""
    p = check_importance("p", p)
    return p / head_curvatures(p, N)


def _kernel_on_top_pairs(weights: np.ndarray, m: int) -> np.ndarray:
    """The ``D x D`` kernel with ``weights[tau]`` on task pair ``tau`` for ``tau < m``, else 0.

    ``weights`` has one entry per task (``K`` of them, ``d = 2K`` hidden bits, ``D = d(d-1)/2``
    pair coordinates of :func:`pair_list`).
    """
    d = 2 * len(weights)
    A = np.zeros((pair_count(d),) * 2)
    idx = task_pair_indices(d)[:m]
    A[idx, idx] = weights[:m]
    return A


def optimal_kernel(p: ArrayLike, N: int, m: int) -> np.ndarray:
    """Theorem P1's ``A*`` (``D x D``): ``a*_tau`` on the ``m`` most important task pairs.

    ``m`` must lie in ``1..K``.  ``A* = sum_{tau < m} a*_tau e_tau e_tau^T`` in the pair
    coordinates of :func:`pair_list`; it is realised by ``m`` heads, head ``j`` reading pair ``j``.
    """
    p = check_importance("p", p)
    return _kernel_on_top_pairs(optimal_head_weights(p, N), _check_m(m, p.size))


def optimal_loss_curve(p: ArrayLike, N: int) -> np.ndarray:
    """``[L*_0, L*_1, ..., L*_K]`` with ``L*_0 = 1`` (the zero predictor), Theorem P1.

    Gradient training passes near these values when heads are learned one at a time.
    """
    return 1.0 - np.concatenate([[0.0], np.cumsum(task_gains(p, N))])


def optimal_loss(p: ArrayLike, N: int, m: int) -> float:
    """Theorem P1: ``L*_m = 1 - sum_{tau < m} p_tau^2 / gamma_tau``, ``m`` in ``1..K``."""
    p = check_importance("p", p)
    m = _check_m(m, p.size)
    return float(optimal_loss_curve(p, N)[m])


def noise_factor(eta: float = 0.0, rho: float = 0.0) -> float:
    """``kappa = (1 - 2 eta)(1 - 2 rho)^2``: attenuation of ``E[chi_bar]`` by context noise (P2).

    ``eta``: probability that a context label is flipped, in ``[0, 1]`` (``kappa < 0`` when
    ``eta > 1/2``: the labels are anti-correlated with the task); ``rho``: probability that
    each hidden bit of a context input is flipped, in ``[0, 1/2]``.
    """
    eta, rho = check_flips(eta, rho)
    return (1 - 2 * eta) * (1 - 2 * rho) ** 2


def noisy_loss_curve(p: ArrayLike, N: int, eta: float = 0.0, rho: float = 0.0) -> np.ndarray:
    """Theorem P2 for every ``m``: ``[L_0(kappa), L_1(kappa), ..., L_K(kappa)]``, ``L_0 = 1``.

    ``L_m(kappa) = 1 - Pi_m + sum_{tau < m} [p_tau (1 - a*_tau kappa)^2
    + (a*_tau)^2 (1 - p_tau kappa^2)/N]`` with ``Pi_m = sum_{tau < m} p_tau``.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    kappa = noise_factor(eta, rho)
    a = optimal_head_weights(p, N)
    term = p * (1 - a * kappa) ** 2 + a**2 * (1 - p * kappa**2) / N - p
    return 1.0 + np.concatenate([[0.0], np.cumsum(term)])


def noisy_loss(p: ArrayLike, N: int, m: int, eta: float = 0.0, rho: float = 0.0) -> float:
    """Theorem P2: loss of the clean-trained ``m``-head optimum on a noisy test context.

    Context labels flipped with probability ``eta``, hidden bits of context inputs flipped
    with probability ``rho``; the query is clean.  Equals :func:`optimal_loss` at
    ``eta = rho = 0`` (chapter 8).
    """
    p = check_importance("p", p)
    m = _check_m(m, p.size)
    return float(noisy_loss_curve(p, N, eta, rho)[m])


def kernel_loss(A: np.ndarray, p: ArrayLike, N: int, eta: float = 0.0,
                rho: float = 0.0) -> np.ndarray | float:
    """Population loss of the kernel predictor ``chi_bar^T A chi_q`` for any ``A`` (ch. 7-8).

    ``L(A) = tr(A^T Gamma_kappa A) - 2 kappa tr(A D_p) + 1`` with
    ``Gamma_kappa = (1 - 1/N) kappa^2 D_p + I/N``, ``D_p = diag(p)`` on the task pairs.  For
    a symmetric ``A`` (every ``m``-head model) ``tr(A^T Gamma A) = tr(A^T A Gamma)``, the form
    chapter 7 derives.
    ``A`` may carry leading batch dimensions ``(..., D, D)``; the result then has shape
    ``(...)``.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    kappa = noise_factor(eta, rho)
    d = 2 * p.size
    D = pair_count(d)
    A = np.asarray(A, dtype=float)
    if A.ndim < 2 or A.shape[-2:] != (D, D):
        raise ValueError(f"A must have shape (..., {D}, {D}) for K = {p.size} tasks, "
                         f"got {A.shape}")
    hdiag = np.full(D, 1.0 / N)
    pdiag = np.zeros(D)
    idx = task_pair_indices(d)
    hdiag[idx] += (1 - 1 / N) * kappa**2 * p
    pdiag[idx] = p
    quad = np.einsum("...ij,i,...ij->...", A, hdiag, A)
    lin = np.einsum("...ii,i->...", A, pdiag)
    out = quad - 2 * kappa * lin + 1.0
    return float(out) if out.ndim == 0 else out


def _signed_binomial(N: int, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Support and probabilities of ``Z = sum_{i<N} u_i``, ``u_i = +1`` with probability ``q``."""
    from math import comb

    k = np.arange(N + 1)
    probs = np.array([comb(N, int(j)) * q**j * (1 - q) ** (N - j) for j in k])
    return (2 * k - N).astype(float), probs


def _convolve(values: np.ndarray, probs: np.ndarray, weight: float, z: np.ndarray,
              pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of ``S + weight * Z`` (``S``, ``Z`` independent), equal values merged."""
    if values.size * z.size > MAX_SUPPORT:
        raise ValueError("sign_accuracy: the exact enumeration is too large for these K and N; "
                         "estimate the accuracy by Monte Carlo instead")
    v = (values[:, None] + weight * z[None, :]).ravel()
    w = (probs[:, None] * pz[None, :]).ravel()
    keys = np.round(v, 10)
    uniq, inv = np.unique(keys, return_inverse=True)
    return uniq, np.bincount(inv.ravel(), weights=w)


def _positive_mass(values: np.ndarray, probs: np.ndarray, weight: float, z: np.ndarray,
                   pz: np.ndarray, tol: float) -> float:
    """``P(S + weight Z > 0) + P(S + weight Z = 0) / 2`` for sorted ``values`` of ``S``."""
    cdf = np.concatenate([[0.0], np.cumsum(probs)])
    total = 0.0
    for zk, pk in zip(z, pz, strict=True):
        cut = -weight * zk
        lo = np.searchsorted(values, cut - tol, side="left")
        hi = np.searchsorted(values, cut + tol, side="right")
        above = cdf[-1] - cdf[hi]
        tie = cdf[hi] - cdf[lo]
        total += pk * (above + 0.5 * tie)
    return float(total)


def sign_accuracy_per_task(p: ArrayLike, N: int, m: int, eta: float = 0.0,
                           rho: float = 0.0) -> np.ndarray:
    """Exact sign accuracy of Theorem P1's ``m``-head optimum on prompts of each task (ch. 8).

    Entry ``tau`` is ``P(sign(y_hat) = y_q | task tau)``; ``1/2`` for an uncovered task
    (``tau >= m``).  A tie ``y_hat = 0`` counts one half.  For a covered task
    ``N y_hat y_q = a*_tau Z_0 + sum_{s<m, s!=tau} a*_s Z_s`` with independent
    ``Z_0 = sum of N signs of mean kappa`` and ``Z_s = sum of N fair signs``; the
    distributions are enumerated exactly (about ``(N+1)^(m-1)`` points per task).  Holds for
    ``kappa < 0`` too (``eta > 1/2``): then a covered task is answered *below* chance.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    m = _check_m(m, p.size)
    kappa = noise_factor(eta, rho)
    a = optimal_head_weights(p, N)[:m]
    z_fair, p_fair = _signed_binomial(N, 0.5)
    z_sig, p_sig = _signed_binomial(N, (1 + kappa) / 2)
    out = np.full(p.size, 0.5)
    tol = 1e-9 * float(a.max()) * N
    for t in range(m):
        others = [s for s in range(m) if s != t]
        values, probs = np.zeros(1), np.ones(1)
        for s in others:
            values, probs = _convolve(values, probs, float(a[s]), z_fair, p_fair)
        out[t] = _positive_mass(values, probs, float(a[t]), z_sig, p_sig, tol)
    return out


def sign_accuracy(p: ArrayLike, N: int, m: int, eta: float = 0.0, rho: float = 0.0) -> float:
    """Exact sign accuracy ``P(sign(y_hat) = y_q)`` of Theorem P1's ``m``-head optimum.

    The task-weighted mean ``sum_tau p_tau acc_tau`` of :func:`sign_accuracy_per_task`
    (chapter 8, the proposition on the sign accuracy).  ``eta`` in ``[0, 1]``: above 1/2
    (``kappa < 0``) the accuracy falls below 1/2.
    """
    p = check_importance("p", p)
    return float(np.dot(p, sign_accuracy_per_task(p, N, m, eta, rho)))


def noisy_pretrained_weights(p: ArrayLike, N: int, eta: float = 0.0,
                             rho: float = 0.0) -> np.ndarray:
    """Optimal head weights when the *pretraining* contexts carry noise ``kappa`` (chapter 8).

    Minimising ``tr(A^T Gamma_kappa A) - 2 kappa tr(A D_p) + 1`` gives, on a kept task pair,
    ``a_tau(kappa) = kappa p_tau / gamma_tau(kappa)`` with the noisy curvature
    ``gamma_tau(kappa) = (1 - 1/N) kappa^2 p_tau + 1/N``.  At ``kappa = 1`` this is
    Theorem P1's ``a*_tau``.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    kappa = noise_factor(eta, rho)
    return kappa * p / ((1 - 1 / N) * kappa**2 * p + 1 / N)


def noisy_pretrained_kernel(p: ArrayLike, N: int, m: int, eta: float = 0.0,
                            rho: float = 0.0) -> np.ndarray:
    """The optimal rank-``m`` kernel under noisy pretraining (chapter 8, matched noise).

    The gain of task ``tau`` becomes ``kappa^2 p_tau^2 / gamma_tau(kappa)``, still increasing
    in ``p_tau``, so the ``m`` most important task pairs are kept, with the weights of
    :func:`noisy_pretrained_weights` (all zero at ``kappa = 0``, where nothing is learnable).
    """
    p = check_importance("p", p)
    return _kernel_on_top_pairs(noisy_pretrained_weights(p, N, eta, rho), _check_m(m, p.size))


def matched_noise_loss_curve(p: ArrayLike, N: int, eta: float = 0.0,
                             rho: float = 0.0) -> np.ndarray:
    """``[L_0, ..., L_K]`` when pretraining and test contexts carry the same noise (ch. 8).

    ``L_m = 1 - sum_{tau < m} kappa^2 p_tau^2 / gamma_tau(kappa)``: every term is a gain
    ``>= 0``, so the loss never rises with ``m`` -- with matched noise a larger model is
    never worse.  At ``kappa = 1`` this is :func:`optimal_loss_curve`.
    """
    p = check_importance("p", p)
    N = check_positive_int("N", N)
    kappa = noise_factor(eta, rho)
    gains = kappa**2 * p**2 / ((1 - 1 / N) * kappa**2 * p + 1 / N)
    return 1.0 - np.concatenate([[0.0], np.cumsum(gains)])


def matched_noise_loss(p: ArrayLike, N: int, m: int, eta: float = 0.0,
                       rho: float = 0.0) -> float:
    """Loss of the noisy-pretrained ``m``-head optimum on contexts with the same noise."""
    p = check_importance("p", p)
    m = _check_m(m, p.size)
    return float(matched_noise_loss_curve(p, N, eta, rho)[m])


def importance_profile(K: int, beta: float) -> np.ndarray:
    """A geometric importance profile ``p_tau proportional to exp(-beta (tau - 1))`` (chapter 8).

    ``beta = 0`` gives equal importances; larger ``beta`` gives a steeper profile with clear
    gaps.  ``K >= 1`` tasks, ``beta >= 0``.
    """
    K = check_positive_int("K", K)
    beta = check_nonnegative("beta", beta)
    w = np.exp(-beta * np.arange(K))
    return w / w.sum()


def best_head_count(p: ArrayLike, N: int, eta: float = 0.0, rho: float = 0.0) -> int:
    """The head count ``m`` in ``1..K`` with the smallest Theorem-P2 loss (ties: smaller ``m``)."""
    curve = noisy_loss_curve(p, N, eta, rho)[1:]
    return int(np.argmin(curve)) + 1
