"""SymPy derivation of Theorem A (chapter 4): the optimal rank-r linear attention, step by step.

Every function derives one step of the route in chapter 4 and returns SymPy objects, so that
the chapter can display them and the tests can compare them with the NumPy closed forms of
:mod:`iclbook.linear.theory`.

* :func:`gaussian_moment` -- ``E[x_a x_b ...]`` for ``x ~ N(0, cov)`` by differentiating the
  moment generating function ``exp(t^T cov t / 2)`` at ``t = 0``.
* :func:`gaussian_expectation` -- the expectation of a polynomial, monomial by monomial.
* :func:`fourth_moment_matrix`, :func:`isserlis_identity_residual` -- Lemma
  ``lem-fourth-moment``: ``E[x x^T S x x^T] = 2 Lambda S Lambda + tr(S Lambda) Lambda``.
* :func:`sample_covariance_moment`, :func:`sample_covariance_moment_joint`,
  :func:`sample_covariance_closed_form` -- ``E[Lhat S Lhat] = (N+1)/N Lambda S Lambda
  + tr(S Lambda)/N Lambda`` for the context's sample covariance ``Lhat``.
* :func:`population_loss`, :func:`population_loss_trace_form` -- the loss of
  ``y_hat = x_q^T B h``: ``L(B) = tr(B^T Lambda B Lambda Gamma) - 2 tr(Lambda B Lambda)
  + tr Lambda``, derived and as stated.
* :func:`eigenbasis_loss_split`, :func:`per_direction_quadratic` -- Lemma
  ``lem-per-direction``: ``l_i(b) = lambda_i - 2 lambda_i^2 b + lambda_i^2 g_i b^2``.
* :func:`completed_square_residual` -- the whitening / completing-the-square identity
  behind the rank constraint (Eckart--Young--Mirsky).
* :func:`reduction_derivative` -- ``d/d lambda (lambda^2/g) > 0``: the top-r selection.
* :func:`feature_gain_exprs`, :func:`optimal_matrix_expr`, :func:`optimal_loss_expr` --
  Theorem A (``thm-rank-r``) in symbols ``lambda_1..lambda_d`` and ``N``.
* :func:`loss_quadratic_form` -- ``L(B)`` for a numeric covariance as a quadratic form in
  ``vec(B)``, for numerical optimisation with PyTorch.

All of this is the book's re-derivation in the paper's setting (chapter "Notes on fidelity").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sympy as sp

from ..core import symbols
from ..core.validation import check_covariance, check_int_range, check_positive_int

__all__ = [
    "N_SYM",
    "T_SYM",
    "LAMBDA_SYM",
    "G_SYM",
    "B_SYM",
    "eigenvalue_symbols",
    "symmetric_matrix_symbols",
    "square_matrix_symbols",
    "gaussian_moment",
    "gaussian_expectation",
    "second_moment_matrix",
    "fourth_moment_matrix",
    "isserlis_identity_residual",
    "sample_covariance_moment",
    "sample_covariance_moment_joint",
    "sample_covariance_closed_form",
    "population_loss",
    "population_loss_trace_form",
    "eigenbasis_loss_split",
    "per_direction_quadratic",
    "completed_square_residual",
    "reduction_derivative",
    "feature_gain_exprs",
    "curvature_expr",
    "direction_weight_expr",
    "noise_threshold_expr",
    "optimal_matrix_expr",
    "optimal_loss_expr",
    "loss_quadratic_form",
]

#: Context length ``N``, ``T = tr(Lambda)`` treated as an independent symbol, a generic
#: eigenvalue ``lambda``, a generic ``g`` (the curvature ``g_i`` of chapter 1) and a generic
#: scalar weight ``b``.
N_SYM = symbols.N
T_SYM = symbols.T
LAMBDA_SYM = symbols.LAMBDA
G_SYM = sp.Symbol("g", positive=True)
B_SYM = sp.Symbol("b", real=True)

_MAX_DIM = 12  # largest d accepted by the symbolic constructors (expressions grow fast)
_MAX_ORDER = 8  # largest moment order accepted by gaussian_moment


def eigenvalue_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Positive symbols ``lambda_1, ..., lambda_d`` for the eigenvalues of ``Lambda``."""
    d = check_int_range("d", d, 1, _MAX_DIM)
    return tuple(sp.Symbol(f"lambda_{i}", positive=True) for i in range(1, d + 1))


def symmetric_matrix_symbols(name: str, d: int) -> sp.Matrix:
    """A symmetric ``d x d`` matrix of real symbols ``name_ij`` (``i <= j``, 1-based)."""
    d = check_int_range("d", d, 1, _MAX_DIM)
    M = sp.zeros(d, d)
    for i in range(d):
        for j in range(i, d):
            M[i, j] = M[j, i] = sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True)
    return M


def square_matrix_symbols(name: str, d: int) -> sp.Matrix:
    """A general ``d x d`` matrix of real symbols ``name_ij`` (1-based)."""
    d = check_int_range("d", d, 1, _MAX_DIM)
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", real=True))


def _check_sym_matrix(name: str, value: object) -> sp.Matrix:
    """``value`` as a square, symmetric SymPy matrix, else ``ValueError``."""
    try:
        M = sp.Matrix(value)
    except (TypeError, ValueError, sp.SympifyError):
        raise ValueError(f"{name} must be a square symmetric matrix, got {value!r}") from None
    if M.rows != M.cols or M.rows == 0:
        raise ValueError(f"{name} must be a square d x d matrix, got shape {M.shape}")
    if M.rows > _MAX_DIM:
        raise ValueError(f"{name} must have d in 1..{_MAX_DIM}, got d = {M.rows}")
    if any(sp.expand(M[i, j] - M[j, i]) != 0 for i in range(M.rows) for j in range(i)):
        raise ValueError(f"{name} must be symmetric")
    return M


def _check_square(name: str, value: object, d: int) -> sp.Matrix:
    try:
        M = sp.Matrix(value)
    except (TypeError, ValueError, sp.SympifyError):
        raise ValueError(f"{name} must be a {d} x {d} matrix, got {value!r}") from None
    if M.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}), got {M.shape}")
    return M


def _check_N(N: object) -> sp.Expr:
    """``N`` as a SymPy object: a positive integer, or a positive symbol such as ``N_SYM``."""
    if isinstance(N, sp.Symbol):
        if not N.is_positive:
            raise ValueError(f"N must be an integer >= 1 or a positive symbol, got {N!r}")
        return N
    if isinstance(N, sp.Integer):
        N = int(N)
    return sp.Integer(check_positive_int("N", N))


# --------------------------------------------------------------------------------------
# Step 1: Gaussian moments from the moment generating function
# --------------------------------------------------------------------------------------

def gaussian_moment(indices: Sequence[int], cov: object) -> sp.Expr:
    """``E[x_{a_1} ... x_{a_k}]`` for ``x ~ N(0, cov)``, from the moment generating function.

    The MGF of a centred Gaussian is ``M(t) = E exp(t^T x) = exp(t^T cov t / 2)``; the moment
    is ``d^k M / dt_{a_1} ... dt_{a_k}`` at ``t = 0`` (chapter 4, Lemma ``lem-fourth-moment``).
    ``indices`` are 0-based coordinates (repeats allowed, order ``k`` in 0..8); ``cov`` is a
    symmetric SymPy (or nested-list) matrix, symbolic or numeric.
    """
    C = _check_sym_matrix("cov", cov)
    d = C.rows
    idx = [int(a) if isinstance(a, sp.Integer) else a for a in indices]
    check_int_range("len(indices)", len(idx), 0, _MAX_ORDER)
    for a in idx:
        check_int_range("indices", a, 0, d - 1)
    t = sp.symbols(f"t_0:{d}", real=True)
    tv = sp.Matrix(t)
    f = sp.exp((tv.T * C * tv)[0, 0] / 2)
    for a in idx:
        f = sp.diff(f, t[a])
    return sp.expand(f.subs({ti: 0 for ti in t}))


def gaussian_expectation(expr: sp.Expr, variables: Sequence[sp.Symbol], cov: object) -> sp.Expr:
    """``E[expr]`` over ``variables ~ N(0, cov)``, for ``expr`` a polynomial in ``variables``.

    Expands ``expr`` into monomials and replaces each by its moment from
    :func:`gaussian_moment` (linearity of expectation; chapter 4).  Other symbols in ``expr``
    are treated as constants.
    """
    C = _check_sym_matrix("cov", cov)
    vs = list(variables)
    if len(vs) != C.rows or not all(isinstance(v, sp.Symbol) for v in vs):
        raise ValueError(f"variables must be {C.rows} SymPy symbols (one per row of cov), "
                         f"got {vs!r}")
    poly = sp.Poly(sp.expand(expr), *vs)
    if poly.total_degree() > _MAX_ORDER:
        raise ValueError(f"expr must have degree 0..{_MAX_ORDER} in variables, got "
                         f"{poly.total_degree()}")
    cache: dict[tuple[int, ...], sp.Expr] = {}
    out = sp.Integer(0)
    for monom, coeff in poly.terms():
        key = tuple(a for a, power in enumerate(monom) for _ in range(power))
        if key not in cache:
            cache[key] = gaussian_moment(key, C)
        out += coeff * cache[key]
    return sp.expand(out)


def second_moment_matrix(cov: object) -> sp.Matrix:
    """``E[x x^T]`` for ``x ~ N(0, cov)``, entry by entry from :func:`gaussian_moment`."""
    C = _check_sym_matrix("cov", cov)
    return sp.Matrix(C.rows, C.rows, lambda i, j: gaussian_moment((i, j), C))


def fourth_moment_matrix(S: object, cov: object) -> sp.Matrix:
    """``E[x x^T S x x^T]`` for ``x ~ N(0, cov)`` (chapter 4, Lemma ``lem-fourth-moment``).

    Entry ``(i, j)`` is ``sum_{k,m} S_km E[x_i x_k x_m x_j]`` with the fourth moments from
    :func:`gaussian_moment`; ``S`` must be a ``d x d`` matrix.
    """
    C = _check_sym_matrix("cov", cov)
    d = C.rows
    S = _check_square("S", S, d)
    cache: dict[tuple[int, ...], sp.Expr] = {}

    def m4(*idx: int) -> sp.Expr:
        key = tuple(sorted(idx))
        if key not in cache:
            cache[key] = gaussian_moment(key, C)
        return cache[key]

    return sp.Matrix(d, d, lambda i, j: sp.expand(
        sum(S[k, m] * m4(i, k, m, j) for k in range(d) for m in range(d))))


def isserlis_identity_residual(d: int, numeric_cov: bool = False) -> sp.Matrix:
    """``E[x x^T S x x^T] - (2 Lambda S Lambda + tr(S Lambda) Lambda)``, expanded (chapter 4).

    ``S`` is a fully symbolic symmetric ``d x d`` matrix; ``Lambda`` is fully symbolic too, or
    with ``numeric_cov=True`` a fixed positive-definite integer matrix (cheaper).  The
    Gaussian fourth-moment identity holds iff the result is the zero matrix.  ``d`` must be
    2 or 3 (the symbolic expansion grows quickly).
    """
    d = check_int_range("d", d, 2, 3)
    if numeric_cov:
        cov = sp.Matrix(d, d, lambda i, j: 3 if i == j else 1)
    else:
        cov = symmetric_matrix_symbols("Lambda", d)
    S = symmetric_matrix_symbols("S", d)
    closed = 2 * cov * S * cov + (S * cov).trace() * cov
    return (fourth_moment_matrix(S, cov) - closed).applyfunc(sp.expand)


# --------------------------------------------------------------------------------------
# Step 2: the sample covariance of the context
# --------------------------------------------------------------------------------------

def _pair_moment(a: int, b: int, c: int, e: int, m2: sp.Matrix, C: sp.Matrix,
                 N: sp.Expr) -> sp.Expr:
    """``E[Lhat_ab Lhat_ce]`` with ``Lhat = (1/N) sum_i x_i x_i^T``, ``x_i`` i.i.d.

    ``(1/N^2) sum_{i,j} E[x_ia x_ib x_jc x_je]``: the ``N`` terms with ``i = j`` are fourth
    moments, the ``N (N - 1)`` terms with ``i != j`` factor by independence.
    """
    return (N * gaussian_moment((a, b, c, e), C) + N * (N - 1) * m2[a, b] * m2[c, e]) / N**2


def sample_covariance_moment(S: object, cov: object, N: object = N_SYM) -> sp.Matrix:
    """``E[Lhat S Lhat]`` for the sample covariance ``Lhat`` of ``N`` i.i.d. ``N(0, cov)``.

    Derived (chapter 4): ``(1/N^2) sum_{i,j} E[x_i x_i^T S x_j x_j^T]``; the ``N`` diagonal
    terms are :func:`fourth_moment_matrix`, the ``N (N-1)`` others are
    ``E[x x^T] S E[x x^T]`` by independence.  ``N`` may be the symbol ``N_SYM`` or an
    integer >= 1.  Compare :func:`sample_covariance_closed_form`.
    """
    C = _check_sym_matrix("cov", cov)
    S = _check_square("S", S, C.rows)
    n = _check_N(N)
    m2 = second_moment_matrix(C)
    derived = (n * fourth_moment_matrix(S, C) + n * (n - 1) * m2 * S * m2) / n**2
    return derived.applyfunc(lambda e: sp.expand(sp.cancel(e)))


def sample_covariance_moment_joint(S: object, cov: object, n: int) -> sp.Matrix:
    """``E[Lhat S Lhat]`` for a concrete ``n`` (1..3), from the joint Gaussian of all samples.

    Stacks ``x_1..x_n`` into one Gaussian vector with block-diagonal covariance (independent
    samples) and expands ``Lhat S Lhat`` monomial by monomial with
    :func:`gaussian_expectation`: an independent check of the counting argument of
    :func:`sample_covariance_moment`.
    """
    C = _check_sym_matrix("cov", cov)
    d = C.rows
    check_int_range("d", d, 1, 3)
    n = check_int_range("n", n, 1, 3)
    S = _check_square("S", S, d)
    xs = [sp.Matrix(sp.symbols(f"x_{i}_0:{d}", real=True)) for i in range(n)]
    joint = sp.diag(*[C] * n)
    lhat = sum((x * x.T for x in xs), sp.zeros(d, d)) / n
    M = lhat * S * lhat
    variables = [v for x in xs for v in x]
    return M.applyfunc(lambda e: gaussian_expectation(e, variables, joint))


def sample_covariance_closed_form(S: object, cov: object, N: object = N_SYM) -> sp.Matrix:
    """``(N+1)/N Lambda S Lambda + tr(S Lambda)/N Lambda``, expanded (chapter 4)."""
    C = _check_sym_matrix("cov", cov)
    S = _check_square("S", S, C.rows)
    n = _check_N(N)
    closed = (n + 1) / n * C * S * C + (S * C).trace() / n * C
    return closed.applyfunc(lambda e: sp.expand(sp.cancel(e)))


# --------------------------------------------------------------------------------------
# Step 3: the population loss
# --------------------------------------------------------------------------------------

def population_loss(B: object, Lambda: object, N: object = N_SYM) -> sp.Expr:
    """``L(B) = E (x_q^T B h - y_q)^2`` derived by taking the expectations one at a time.

    Chapter 4.  Given the task ``w`` and the context, ``h = Lhat w`` with ``Lhat`` the
    sample covariance, so the error is ``x_q^T (B Lhat - I) w``.  The expectation is taken
    over ``x_q ~ N(0, Lambda)`` and ``w ~ N(0, I)`` (second moments from
    :func:`gaussian_moment`), then over the context: a monomial ``Lhat_ab`` becomes
    ``E[x x^T]_ab`` and ``Lhat_ab Lhat_ce`` becomes ``E[Lhat_ab Lhat_ce]`` (``N`` fourth
    moments, ``N (N - 1)`` independent pairs).  Returns an expanded polynomial in the
    entries of ``B`` and ``Lambda`` with coefficients rational in ``N``; compare
    :func:`population_loss_trace_form`.  Symbolic ``B`` and ``Lambda`` are practical up to
    ``d = 3``.
    """
    C = _check_sym_matrix("Lambda", Lambda)
    d = C.rows
    Bm = _check_square("B", B, d)
    n = _check_N(N)
    lhat = symmetric_matrix_symbols("Lhat", d)
    A = Bm * lhat - sp.eye(d)
    # The error is x_q^T A w = sum_{a,c} x_qa A_ac w_c; its square has the monomials
    # x_qa x_qb w_c w_e.  The query and the task are independent Gaussians, so each monomial
    # averages to E[x_qa x_qb] E[w_c w_e], both from the moment generating function.
    mx = second_moment_matrix(C)
    mw = second_moment_matrix(sp.eye(d))
    after_task = sp.expand(sum(
        mx[a, b] * mw[c, e] * A[a, c] * A[b, e]
        for a in range(d) for b in range(d) for c in range(d) for e in range(d)
        if mx[a, b] != 0 and mw[c, e] != 0))
    # E over the context: a polynomial of degree <= 2 in the entries of Lhat.
    entries = {lhat[i, j]: (i, j) for i in range(d) for j in range(i, d)}
    keys = list(entries)
    out = sp.Integer(0)
    for monom, coeff in sp.Poly(after_task, *keys).terms():
        pairs = [entries[keys[k]] for k, power in enumerate(monom) for _ in range(power)]
        if len(pairs) == 0:
            moment = sp.Integer(1)
        elif len(pairs) == 1:
            moment = mx[pairs[0]]
        else:
            (a, b), (c, e) = pairs
            moment = _pair_moment(a, b, c, e, mx, C, n)
        out += coeff * moment
    return sp.expand(out)


def population_loss_trace_form(B: object, Lambda: object, N: object = N_SYM) -> sp.Expr:
    """``tr(B^T Lambda B Lambda Gamma) - 2 tr(Lambda B Lambda) + tr Lambda`` (chapter 4).

    ``Gamma = (1 + 1/N) Lambda + tr(Lambda)/N I``, expanded.
    """
    C = _check_sym_matrix("Lambda", Lambda)
    d = C.rows
    Bm = _check_square("B", B, d)
    n = _check_N(N)
    gamma = (1 + 1 / n) * C + C.trace() / n * sp.eye(d)
    # tr(B^T Lambda B Lambda Gamma) = sum_ij B_ij P_ij with P = Lambda B (Lambda Gamma): the
    # factor without B first keeps the intermediate expressions linear in B.
    P = (C * Bm).applyfunc(sp.expand) * (C * gamma).applyfunc(sp.expand)
    quad = sum(Bm[i, j] * P[i, j] for i in range(d) for j in range(d))
    return sp.expand(quad - 2 * (C * Bm * C).trace() + C.trace())


# --------------------------------------------------------------------------------------
# Step 4: the eigenbasis, the per-direction quadratic and the rank constraint
# --------------------------------------------------------------------------------------

def feature_gain_exprs(d: int, N: object = N_SYM) -> list[sp.Expr]:
    """The curvatures ``g_i = (N+1)/N lambda_i + (lambda_1 + ... + lambda_d)/N``, ``i = 1..d``.

    Theorem A (chapter 4); ``lambda_i^2/g_i`` is the gain of feature ``i``.  (The function keeps
    its historical name.)
    """
    lam = eigenvalue_symbols(d)
    n = _check_N(N)
    T = sum(lam)
    return [curvature_expr(li, T, n) for li in lam]


def curvature_expr(lam: object = LAMBDA_SYM, T: object = T_SYM, N: object = N_SYM) -> sp.Expr:
    """The curvature ``g = (N+1)/N lambda + T/N`` of one eigen-direction (Theorem A, chapter 4).

    ``lam`` is its eigenvalue and ``T = tr(Lambda)``; the optimal weight is ``1/g``
    (:func:`direction_weight_expr`) and the feature's gain ``lambda^2/g``.
    """
    n = _check_N(N)
    return (n + 1) / n * lam + T / n


def direction_weight_expr(lam: object = LAMBDA_SYM, T: object = T_SYM,
                          N: object = N_SYM) -> sp.Expr:
    """The optimal weight ``b* = 1/g = N / ((N+1) lambda + T)`` of one eigen-direction
    (chapter 4, the root of :func:`per_direction_quadratic`'s ``l'``)."""
    return sp.simplify(1 / curvature_expr(lam, T, N))


def noise_threshold_expr(lam: object = LAMBDA_SYM, T: object = T_SYM,
                         N: object = N_SYM) -> sp.Expr:
    """``N g = (N+1) lambda + T``: the label-noise variance ``sigma^2`` below which keeping
    the feature of eigenvalue ``lambda`` lowers the noisy risk (chapters 2 and 6; the square
    of :func:`iclbook.linear.noise.critical_label_noise`)."""
    return sp.expand(_check_N(N) * curvature_expr(lam, T, N))


def eigenbasis_loss_split(d: int) -> tuple[sp.Expr, sp.Expr]:
    """``L`` in the eigenbasis, and its split into per-direction quadratics (chapter 4).

    With ``Lambda = diag(lambda_1..lambda_d)`` (rotate ``B`` by ``U``) and a fully symbolic
    ``B``, returns ``(loss, split)`` where ``split = sum_i l_i(B_ii)
    + sum_{i != j} lambda_i lambda_j g_j B_ij^2`` and ``l_i`` is from
    :func:`per_direction_quadratic`.  They are equal (Lemma ``lem-per-direction``):
    ``loss - split`` expands to 0.  ``d`` must be 1..4.
    """
    d = check_int_range("d", d, 1, 4)
    lam = eigenvalue_symbols(d)
    g = feature_gain_exprs(d)
    B = square_matrix_symbols("B", d)
    loss = population_loss_trace_form(B, sp.diag(*lam), N_SYM)
    ell = per_direction_quadratic()["ell"]
    split = sp.Integer(0)
    for i in range(d):
        split += ell.subs({LAMBDA_SYM: lam[i], G_SYM: g[i], B_SYM: B[i, i]})
        for j in range(d):
            if j != i:
                split += lam[i] * lam[j] * g[j] * B[i, j] ** 2
    return sp.expand(loss), sp.expand(split)


def per_direction_quadratic() -> dict[str, sp.Expr]:
    """The scalar problem of one eigen-direction (chapter 4, Lemma ``lem-per-direction``).

    ``l(b) = lambda - 2 lambda^2 b + lambda^2 g b^2`` in the symbols ``LAMBDA_SYM``,
    ``G_SYM``, ``B_SYM``.  Returns a dict with ``ell``, ``curvature`` (``l''``, positive),
    ``b_star`` (the root of ``l'``, ``1/g``), ``min_value`` (``l(b_star)``) and ``reduction``
    (``l(0) - l(b_star) = lambda^2/g``, the loss reduction).
    """
    lam, g, b = LAMBDA_SYM, G_SYM, B_SYM
    ell = lam - 2 * lam**2 * b + lam**2 * g * b**2
    (b_star,) = sp.solve(sp.diff(ell, b), b)
    min_value = sp.simplify(ell.subs(b, b_star))
    return {"ell": ell, "curvature": sp.diff(ell, b, 2), "b_star": b_star,
            "min_value": min_value, "reduction": sp.simplify(ell.subs(b, 0) - min_value)}


def completed_square_residual(d: int) -> sp.Expr:
    """Whitening and completing the square, checked for a symbolic ``B`` (chapter 4).

    In the eigenbasis, with ``D = diag(lambda)``, ``G = diag(g)`` (any positive ``g_i``,
    symbols ``g_1..g_d``), ``X = D^{1/2} B (D G)^{1/2}`` and ``K = diag(lambda_i/sqrt(g_i))``:
    ``tr(B^T D B D G) - 2 tr(D B D) + tr D = ||X - K||_F^2 - ||K||_F^2 + tr D``.
    Returns left minus right, expanded: 0.  ``rank X = rank B``, so the rank-``r`` problem is
    the best rank-``r`` approximation of ``K`` (Eckart--Young--Mirsky).  ``d`` must be 1..4.
    """
    d = check_int_range("d", d, 1, 4)
    lam = eigenvalue_symbols(d)
    g = sp.symbols(f"g_1:{d + 1}", positive=True)
    B = square_matrix_symbols("B", d)
    D, G = sp.diag(*lam), sp.diag(*g)
    lhs = (B.T * D * B * D * G).trace() - 2 * (D * B * D).trace() + D.trace()
    X = sp.diag(*[sp.sqrt(li) for li in lam]) * B * sp.diag(
        *[sp.sqrt(li * gi) for li, gi in zip(lam, g, strict=True)])
    K = sp.diag(*[li / sp.sqrt(gi) for li, gi in zip(lam, g, strict=True)])
    fro2 = lambda M: sum(e**2 for e in M)  # noqa: E731
    rhs = fro2(X - K) - fro2(K) + D.trace()
    return sp.expand(lhs - rhs)


def reduction_derivative() -> dict[str, object]:
    """``d/d lambda (lambda^2/g)`` with ``g = (N+1)/N lambda + T/N`` (chapter 4, top-r).

    ``T = tr(Lambda)`` is an independent positive symbol (every direction of one spectrum
    shares it).  Returns a dict with ``reduction`` (``lambda^2/g``, the loss reduction of a
    feature), ``derivative`` (factored), ``stated``
    (``N lambda ((N+1) lambda + 2T) / ((N+1) lambda + T)^2``), ``residual`` (their difference,
    simplified: 0) and ``positive`` (SymPy's verdict on the sign for positive symbols).
    """
    lam, n, T = LAMBDA_SYM, N_SYM, T_SYM
    g = (n + 1) / n * lam + T / n
    reduction = per_direction_quadratic()["reduction"].subs(G_SYM, g)
    derivative = sp.factor(sp.diff(reduction, lam))
    stated = n * lam * ((n + 1) * lam + 2 * T) / ((n + 1) * lam + T) ** 2
    return {"reduction": sp.factor(reduction), "derivative": derivative, "stated": stated,
            "residual": sp.simplify(derivative - stated),
            "positive": bool(derivative.is_positive)}


def optimal_matrix_expr(d: int, r: int, N: object = N_SYM) -> sp.Matrix:
    """Theorem A's minimiser in the eigenbasis: ``diag(b*_1..b*_r, 0..)``, ``b*_i = 1/g_i``.

    Built from the per-direction minimiser of :func:`per_direction_quadratic`; in input
    coordinates it is ``U (this) U^T``.  ``r`` must lie in ``1..d``.
    """
    d = check_int_range("d", d, 1, _MAX_DIM)
    r = check_int_range("r", r, 1, d)
    g = feature_gain_exprs(d, N)
    b_star = per_direction_quadratic()["b_star"]
    return sp.diag(*[sp.factor(b_star.subs(G_SYM, g[i])) if i < r else 0 for i in range(d)])


def optimal_loss_expr(d: int, r: int, N: object = N_SYM) -> sp.Expr:
    """Theorem A: ``L*_r = tr(Lambda) - sum_{i <= r} lambda_i^2/g_i`` in ``lambda_1..lambda_d``.

    The loss reductions ``lambda_i^2/g_i`` come from :func:`per_direction_quadratic`, ``g_i`` from
    :func:`feature_gain_exprs` (``T = lambda_1 + ... + lambda_d``).  ``r`` in ``1..d``.
    """
    d = check_int_range("d", d, 1, _MAX_DIM)
    r = check_int_range("r", r, 1, d)
    lam = eigenvalue_symbols(d)
    g = feature_gain_exprs(d, N)
    reduction = per_direction_quadratic()["reduction"]
    return sum(lam) - sum(sp.factor(reduction.subs({LAMBDA_SYM: lam[i], G_SYM: g[i]}))
                          for i in range(r))


def loss_quadratic_form(covariance: np.ndarray, N: int) -> tuple[np.ndarray, np.ndarray, float]:
    """``L(B) = 1/2 v^T H v + c^T v + L(0)`` with ``v = B.ravel()`` (row-major), chapter 4.

    SymPy builds :func:`population_loss_trace_form` for a symbolic ``B`` and the given numeric
    covariance, then reads off the Hessian ``H``, the gradient ``c`` at ``B = 0`` and the
    constant ``L(0) = tr(Lambda)``.  Lets PyTorch minimise the derived loss over factorised
    ``B = P Q^T``.  ``covariance`` must be symmetric positive definite, ``d <= 8``.
    """
    cov = check_covariance("covariance", covariance)
    cov = (cov + cov.T) / 2  # exactly symmetric (check_covariance allows rounding error)
    d = check_int_range("d", cov.shape[0], 1, 8)
    N = check_positive_int("N", N)
    # Plain symbols (no assumptions) and exact rationals keep SymPy fast here.
    B = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"B_{i + 1}{j + 1}"))
    v = list(B)
    loss = population_loss_trace_form(B, sp.Matrix(cov), N)
    H = np.zeros((d * d, d * d))
    c = np.zeros(d * d)
    const = 0.0
    for monom, coeff in sp.Poly(loss, *v).terms():
        hit = [k for k, power in enumerate(monom) for _ in range(power)]
        if len(hit) == 0:
            const = float(coeff)
        elif len(hit) == 1:
            c[hit[0]] = float(coeff)
        else:
            i, j = hit
            H[i, j] += float(coeff) if i != j else 2 * float(coeff)
            if i != j:
                H[j, i] += float(coeff)
    return H, c, const
