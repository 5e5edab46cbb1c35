"""SymPy derivations of Setting 2 (chapters 7-8): the book's own parity model, exactly.

Each function derives one step of Theorems P1 and P2 by exact enumeration or symbolic
algebra, so that a chapter can display it and a test can compare it with the NumPy closed
forms of :mod:`iclbook.parity.theory`.

* :func:`pair_feature_gram` -- ``E[chi chi^T] = I`` by enumerating all ``2^d`` bit patterns.
* :func:`label_correlation` -- ``E[y chi] = e_tau``, clean or with flips (``kappa e_tau``).
* :func:`context_moments` -- ``E[chi_bar]`` and ``E[chi_bar chi_bar^T]`` for a context of ``N``
  examples.
* :func:`symbolic_loss` -- ``E (chi_bar^T A chi_q - y_q)^2`` for a symbolic symmetric ``A``
  against ``tr(A^T A Gamma_II) - 2 kappa tr(A D_p) + 1``.
* :func:`symbolic_optimum` -- per-pair minimisation: ``a*_tau = p_tau/gamma_tau``, gains, ``L*_m``.
* :func:`symbolic_noisy_loss` -- Theorem P2 from the loss at ``A*``.
"""

from __future__ import annotations

import itertools

import sympy as sp

from ..core import symbols
from ..core.validation import check_hidden_dim, check_int_range
from .theory import pair_count, pair_list, task_pair_indices

__all__ = [
    "N_SYM",
    "ETA",
    "RHO",
    "KAPPA",
    "head_curvature_expr",
    "head_weight_expr",
    "noise_factor_expr",
    "importance_symbols",
    "pair_feature_gram",
    "label_correlation",
    "context_moments",
    "symbolic_loss",
    "symbolic_optimum",
    "symbolic_noisy_loss",
]

#: Context length, label-flip and bit-flip probabilities, attenuation, as SymPy symbols.
N_SYM = symbols.N
ETA = symbols.ETA
RHO = symbols.RHO
KAPPA = symbols.KAPPA


def head_curvature_expr(p: object = symbols.P, N: object = N_SYM) -> sp.Expr:
    """The curvature ``gamma = p + (1 - p)/N`` of the task of importance ``p`` (Theorem P1,
    chapter 7: ``E[chi_bar_tau^2]`` is 1 for its own task and ``1/N`` for any other)."""
    return p + (1 - p) / N


def head_weight_expr(p: object = symbols.P, N: object = N_SYM) -> sp.Expr:
    """The optimal head weight ``a* = p / gamma`` of the task of importance ``p`` (Theorem P1)."""
    return p / head_curvature_expr(p, N)


def noise_factor_expr(eta: object = ETA, rho: object = RHO) -> sp.Expr:
    """The attenuation ``kappa = (1 - 2 eta)(1 - 2 rho)^2`` of a noisy context (Theorem P2,
    chapter 8): one label flip and the two hidden bits of a pair."""
    return (1 - 2 * eta) * (1 - 2 * rho) ** 2


def importance_symbols(K: int) -> tuple[sp.Symbol, ...]:
    """Symbols ``p_1, ..., p_K`` (positive) for the task importances."""
    K = check_int_range("K", K, 1, 50)
    return sp.symbols(f"p_1:{K + 1}", positive=True)


def _chi(phi: tuple[int, ...] | tuple[sp.Expr, ...], d: int) -> list:
    return [phi[a] * phi[b] for a, b in pair_list(d)]


def pair_feature_gram(d: int) -> sp.Matrix:
    """``E[chi chi^T]`` for uniform ``phi`` in ``{+-1}^d``, by exact enumeration (chapter 7).

    Every entry is an exact rational; the result is the identity (pair products of uniform
    signs are orthonormal).  ``d`` must be even and at most 10.
    """
    d = check_hidden_dim("d", d)
    check_int_range("d", d, 2, 10)
    D = pair_count(d)
    G = sp.zeros(D, D)
    for phi in itertools.product((-1, 1), repeat=d):
        chi = sp.Matrix(_chi(phi, d))
        G += chi * chi.T
    return G / 2**d


def label_correlation(d: int, task: int, noisy: bool = False) -> sp.Matrix:
    """``E[y chi]`` for task ``task`` (0-based), by exact enumeration (chapters 7-8).

    Clean: ``e_task``.  With ``noisy=True`` the label is flipped with probability ``ETA`` and
    every bit of the input the model sees with probability ``RHO`` (labels from clean bits);
    the result is ``(1 - 2 eta)(1 - 2 rho)^2 e_task``.  Enumerates ``2^(2d+1)`` cases, so the
    noisy version needs ``d <= 6``.
    """
    d = check_hidden_dim("d", d)
    t = check_int_range("task", task, 0, d // 2 - 1)
    if noisy:
        check_int_range("d", d, 2, 6)
    else:
        check_int_range("d", d, 2, 10)
    D = pair_count(d)
    out = sp.zeros(D, 1)
    flip_label = ((1, 1 - ETA), (-1, ETA)) if noisy else ((1, sp.Integer(1)),)
    flip_bit = ((1, 1 - RHO), (-1, RHO)) if noisy else ((1, sp.Integer(1)),)
    for phi in itertools.product((-1, 1), repeat=d):
        y = phi[2 * t] * phi[2 * t + 1]
        for eps, w_eps in flip_label:
            for xi in itertools.product(flip_bit, repeat=d):
                weight = w_eps * sp.prod([w for _, w in xi])
                seen = tuple(phi[a] * xi[a][0] for a in range(d))
                out += (weight * eps * y) * sp.Matrix(_chi(seen, d))
    return sp.expand(out / 2**d)


def context_moments(d: int, task: int, kappa: sp.Expr | int = 1
                    ) -> tuple[sp.Matrix, sp.Matrix]:
    """``E[chi_bar]``, ``E[chi_bar chi_bar^T]`` given the task (chapter 7).

    ``chi_bar = (1/N) sum_i y_i chi_i`` over ``N`` independent examples: ``E[chi_bar] = m`` and
    ``E[chi_bar chi_bar^T] = M/N + (1 - 1/N) m m^T`` with
    ``m = E[y chi] = kappa e_task`` and ``M = E[y^2 chi chi^T] = E[chi chi^T]`` (``y^2 = 1``,
    flips keep every sign +-1) from :func:`pair_feature_gram`.
    """
    d = check_hidden_dim("d", d)
    t = check_int_range("task", task, 0, d // 2 - 1)
    m = sp.sympify(kappa) * label_correlation(d, t)
    M = pair_feature_gram(d)
    return m, M / N_SYM + (1 - 1 / N_SYM) * m * m.T


def _symmetric_matrix(D: int) -> sp.Matrix:
    A = sp.zeros(D, D)
    for i in range(D):
        for j in range(i, D):
            A[i, j] = A[j, i] = sp.Symbol(f"A_{i}_{j}", real=True)
    return A


def symbolic_loss(K: int = 2, kappa: sp.Expr = KAPPA) -> tuple[sp.Expr, sp.Expr, sp.Matrix]:
    """The loss of ``chi_bar^T A chi_q`` for a symbolic symmetric ``A``, two ways (chapters 7-8).

    Returns ``(derived, closed, A)``: ``derived = sum_tau p_tau E||A^T chi_bar - e_tau||^2`` from
    :func:`context_moments` (the query is clean, ``E[chi_q chi_q^T] = I``), and
    ``closed = tr(A^T A Gamma_kappa) - 2 kappa tr(A D_p) + 1`` with
    ``Gamma_kappa = (1 - 1/N) kappa^2 D_p + I/N`` (``D_p = diag(p)`` on the task pairs).
    Both are expanded polynomials with ``p_K = 1 - p_1 - ... - p_{K-1}`` substituted;
    ``K`` (number of tasks) must be 1..3.
    """
    K = check_int_range("K", K, 1, 3)
    d = 2 * K
    D = pair_count(d)
    p = importance_symbols(K)
    A = _symmetric_matrix(D)
    derived = sp.Integer(0)
    for t in range(K):
        m, C = context_moments(d, t, kappa)
        e = sp.zeros(D, 1)
        e[int(task_pair_indices(d)[t])] = 1
        term = (A.T * C * A).trace() - 2 * (e.T * A.T * m)[0, 0] + 1
        derived += p[t] * term
    P = sp.zeros(D, D)
    for t, i in enumerate(task_pair_indices(d)):
        P[int(i), int(i)] = p[t]
    H = (1 - 1 / N_SYM) * kappa**2 * P + sp.eye(D) / N_SYM
    closed = (A.T * A * H).trace() - 2 * kappa * (A * P).trace() + 1
    last = {p[-1]: 1 - sum(p[:-1])}
    return sp.expand(derived.subs(last)), sp.expand(closed.subs(last)), A


def symbolic_optimum(K: int, m: int) -> dict[str, object]:
    """Theorem P1 by per-pair minimisation (chapter 7), with symbols ``p_1..p_K`` and ``N``.

    On a diagonal ``A`` the clean loss splits into ``1 + sum_tau (gamma_tau a_tau^2
    - 2 p_tau a_tau)``, with the curvature ``gamma_tau = p_tau + (1 - p_tau)/N``.  Returns a
    dict with ``gamma`` (also under its old key ``h``), ``a_star`` (minimisers ``p/gamma``),
    ``gain`` (``p^2/gamma``, the loss each head removes), ``L_star``
    (``1 - sum_{tau <= m} gain`` with ``sum p = 1``), ``gain_derivative`` (``d gain/d p`` for a
    generic ``p``, positive: hence top-``m``) and ``p_generic`` (that ``p``).
    """
    K = check_int_range("K", K, 1, 50)
    m = check_int_range("m", m, 1, K)
    p = importance_symbols(K)
    a = sp.Symbol("a", real=True)
    h, a_star, gain = [], [], []
    for t in range(K):
        ht = head_curvature_expr(p[t], N_SYM)
        ell = ht * a**2 - 2 * p[t] * a
        sol = sp.solve(sp.diff(ell, a), a)[0]
        h.append(sp.simplify(ht))
        a_star.append(sp.simplify(sol))
        gain.append(sp.simplify(-ell.subs(a, sol)))
    q = symbols.P
    g = q**2 / head_curvature_expr(q, N_SYM)
    return {"gamma": h, "h": h, "a_star": a_star, "gain": gain,
            "L_star": sp.simplify(1 - sum(gain[:m])),
            "gain_derivative": sp.factor(sp.diff(g, q)), "p_generic": q}


def symbolic_noisy_loss(K: int, m: int, kappa: sp.Expr = KAPPA) -> tuple[sp.Expr, sp.Expr]:
    """Theorem P2 (chapter 8): the noisy loss at ``A*``, derived and as stated.

    Returns ``(derived, stated)``: ``derived`` evaluates ``tr(A^T A H_kappa)
    - 2 kappa tr(A D_p) + 1`` at ``A* = diag(a*_1..a*_m, 0..)`` on the task pairs;
    ``stated = 1 - P_m + sum_{tau <= m} [p_tau (1 - a*_tau kappa)^2
    + (a*_tau)^2 (1 - p_tau kappa^2)/N]``, each as one rational function.
    """
    K = check_int_range("K", K, 1, 50)
    m = check_int_range("m", m, 1, K)
    p = importance_symbols(K)
    opt = symbolic_optimum(K, m)
    a_star = opt["a_star"]
    assert isinstance(a_star, list)
    derived = sp.Integer(1)
    stated = 1 - sum(p[:m])
    for t in range(m):
        h_kappa = (1 - 1 / N_SYM) * kappa**2 * p[t] + 1 / N_SYM
        derived += h_kappa * a_star[t] ** 2 - 2 * kappa * p[t] * a_star[t]
        stated += p[t] * (1 - a_star[t] * kappa) ** 2 + a_star[t] ** 2 * (1 - p[t] * kappa**2) \
            / N_SYM
    return sp.cancel(sp.together(derived)), sp.cancel(sp.together(stated))
