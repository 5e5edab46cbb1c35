"""The SymPy derivation of Theorem A (chapter 4) agrees with the NumPy closed forms."""

import numpy as np
import pytest
import sympy as sp

from iclbook.linear.symbolic import (
    B_SYM,
    G_SYM,
    LAMBDA_SYM,
    N_SYM,
    T_SYM,
    completed_square_residual,
    eigenbasis_loss_split,
    eigenvalue_symbols,
    feature_gain_exprs,
    fourth_moment_matrix,
    gaussian_expectation,
    gaussian_moment,
    isserlis_identity_residual,
    loss_quadratic_form,
    optimal_loss_expr,
    optimal_matrix_expr,
    per_direction_quadratic,
    population_loss,
    population_loss_trace_form,
    reduction_derivative,
    sample_covariance_closed_form,
    sample_covariance_moment,
    sample_covariance_moment_joint,
    second_moment_matrix,
    square_matrix_symbols,
    symmetric_matrix_symbols,
)
from iclbook.linear.theory import (
    feature_gains,
    loss_of_matrix,
    optimal_loss,
    optimal_matrix,
    random_orthogonal,
    spectral_covariance,
)

RNG_SEEDS = [0, 1, 2]


def random_spectrum(d: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0.1, 5.0, d))[::-1]


def random_covariance(d: int, seed: int) -> np.ndarray:
    return spectral_covariance(random_spectrum(d, seed), random_orthogonal(d, seed))


def zero(M: sp.Matrix) -> bool:
    return M == sp.zeros(*M.shape)


# ---- symbol helpers ---------------------------------------------------------------------

def test_symbol_helpers():
    L = symmetric_matrix_symbols("L", 3)
    assert L == L.T and len(L.free_symbols) == 6
    assert len(square_matrix_symbols("B", 3).free_symbols) == 9
    lam = eigenvalue_symbols(4)
    assert len(lam) == 4 and all(s.is_positive for s in lam)
    for bad in (0, 13, 2.5):
        with pytest.raises(ValueError, match="d must be"):
            eigenvalue_symbols(bad)
        with pytest.raises(ValueError, match="d must be"):
            symmetric_matrix_symbols("L", bad)
        with pytest.raises(ValueError, match="d must be"):
            square_matrix_symbols("B", bad)


# ---- Gaussian moments from the MGF ------------------------------------------------------

def test_gaussian_moments_one_dimensional():
    s = sp.Symbol("s", positive=True)
    cov = sp.Matrix([[s]])
    assert gaussian_moment((), cov) == 1
    assert gaussian_moment((0,), cov) == 0
    assert gaussian_moment((0, 0), cov) == s
    assert gaussian_moment((0, 0, 0), cov) == 0
    assert gaussian_moment((0,) * 4, cov) == 3 * s**2
    assert gaussian_moment((0,) * 6, cov) == 15 * s**3


def test_gaussian_moments_match_isserlis_pairings():
    L = symmetric_matrix_symbols("L", 3)
    m = gaussian_moment((0, 1, 2, 2), L)
    assert sp.expand(m - (L[0, 1] * L[2, 2] + 2 * L[0, 2] * L[1, 2])) == 0
    assert second_moment_matrix(L) == L


def test_gaussian_moment_bad_inputs():
    cov = sp.eye(2)
    with pytest.raises(ValueError, match="indices"):
        gaussian_moment((0, 2), cov)
    with pytest.raises(ValueError, match="indices"):
        gaussian_moment((0, -1), cov)
    with pytest.raises(ValueError, match=r"len\(indices\)"):
        gaussian_moment((0,) * 10, cov)
    with pytest.raises(ValueError, match="symmetric"):
        gaussian_moment((0, 1), sp.Matrix([[1, 2], [0, 1]]))
    with pytest.raises(ValueError, match="square"):
        gaussian_moment((0,), sp.Matrix([[1, 2]]))


def test_gaussian_expectation():
    x = sp.symbols("x0:2", real=True)
    a = sp.Symbol("a")
    cov = sp.Matrix([[2, 1], [1, 3]])
    # E[(a x0 + x1)^2] = a^2 * 2 + 2 a * 1 + 3
    assert sp.expand(gaussian_expectation((a * x[0] + x[1]) ** 2, x, cov)
                     - (2 * a**2 + 2 * a + 3)) == 0
    assert gaussian_expectation(x[0] ** 3 * x[1] + 5, x, cov) == 5 + 3 * 2 * 1
    with pytest.raises(ValueError, match="variables"):
        gaussian_expectation(x[0], x[:1], cov)
    with pytest.raises(ValueError, match="degree"):
        gaussian_expectation(x[0] ** 10, x, cov)


# ---- Lemma lem-fourth-moment --------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 3])
def test_isserlis_identity_symbolic(d):
    assert zero(isserlis_identity_residual(d))


def test_isserlis_identity_numeric_cov_and_bad_d():
    assert zero(isserlis_identity_residual(3, numeric_cov=True))
    for bad in (1, 4):
        with pytest.raises(ValueError, match="d must be an integer in 2..3"):
            isserlis_identity_residual(bad)


def test_fourth_moment_matrix_bad_shape():
    with pytest.raises(ValueError, match="S must have shape"):
        fourth_moment_matrix(sp.eye(3), sp.eye(2))


def test_sample_covariance_moment():
    L, S = symmetric_matrix_symbols("L", 2), symmetric_matrix_symbols("S", 2)
    derived = sample_covariance_moment(S, L)
    closed = sample_covariance_closed_form(S, L)
    assert zero((derived - closed).applyfunc(sp.simplify))
    # The counting argument agrees with the joint Gaussian of n concrete samples.
    for n in (1, 2):
        joint = sample_covariance_moment_joint(S, L, n)
        assert zero((joint - sample_covariance_closed_form(S, L, n)).applyfunc(sp.expand))
    assert zero((sample_covariance_moment(S, L, 5)
                 - sample_covariance_closed_form(S, L, 5)).applyfunc(sp.expand))


def test_sample_covariance_bad_inputs():
    L, S = sp.eye(2), sp.eye(2)
    with pytest.raises(ValueError, match="N must be"):
        sample_covariance_moment(S, L, 0)
    with pytest.raises(ValueError, match="N must be"):
        sample_covariance_closed_form(S, L, sp.Symbol("M", negative=True))
    with pytest.raises(ValueError, match="n must be an integer in 1..3"):
        sample_covariance_moment_joint(S, L, 4)
    with pytest.raises(ValueError, match="d must be an integer in 1..3"):
        sample_covariance_moment_joint(sp.eye(4), sp.eye(4), 2)


# ---- the population loss ----------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 3])
def test_population_loss_derivation_matches_trace_form(d):
    B, L = square_matrix_symbols("B", d), symmetric_matrix_symbols("L", d)
    derived = population_loss(B, L)
    assert sp.expand(sp.cancel(derived - population_loss_trace_form(B, L))) == 0


def test_population_loss_matches_loss_of_matrix():
    d = 3
    B, L = square_matrix_symbols("B", d), symmetric_matrix_symbols("L", d)
    derived = population_loss(B, L)
    args = list(B) + [L[i, j] for i in range(d) for j in range(i, d)] + [N_SYM]
    f = sp.lambdify(args, derived, "numpy")
    for seed in RNG_SEEDS:
        rng = np.random.default_rng(seed)
        Bn, cov = rng.standard_normal((d, d)), random_covariance(d, seed)
        N = int(rng.integers(1, 50))
        value = f(*Bn.ravel(), *[cov[i, j] for i in range(d) for j in range(i, d)], N)
        assert np.isclose(value, loss_of_matrix(Bn, cov, N), rtol=1e-10)


def test_population_loss_bad_inputs():
    L = sp.eye(2)
    with pytest.raises(ValueError, match="B must have shape"):
        population_loss(sp.eye(3), L)
    with pytest.raises(ValueError, match="Lambda must be symmetric"):
        population_loss_trace_form(sp.eye(2), sp.Matrix([[1, 1], [0, 1]]))
    with pytest.raises(ValueError, match="N must be"):
        population_loss(sp.eye(2), L, -1)


def test_loss_quadratic_form_matches_loss_of_matrix():
    for seed in RNG_SEEDS:
        cov = random_covariance(3, seed)
        H, c, const = loss_quadratic_form(cov, 7)
        assert np.allclose(H, H.T) and np.isclose(const, np.trace(cov))
        Bn = np.random.default_rng(seed).standard_normal((3, 3))
        v = Bn.ravel()
        assert np.isclose(0.5 * v @ H @ v + c @ v + const, loss_of_matrix(Bn, cov, 7),
                          rtol=1e-10)
    with pytest.raises(ValueError, match="covariance must be symmetric"):
        loss_quadratic_form(np.array([[1.0, 0.5], [0.0, 1.0]]), 3)
    with pytest.raises(ValueError, match="N must be"):
        loss_quadratic_form(np.eye(2), 0)
    with pytest.raises(ValueError, match="d must be"):
        loss_quadratic_form(np.eye(9), 3)


# ---- per-direction quadratic and rank constraint ----------------------------------------

def test_per_direction_quadratic():
    q = per_direction_quadratic()
    assert sp.simplify(q["b_star"] - 1 / G_SYM) == 0
    assert sp.simplify(q["reduction"] - LAMBDA_SYM**2 / G_SYM) == 0
    assert q["curvature"].is_positive
    assert sp.simplify(q["ell"].subs(B_SYM, q["b_star"]) - q["min_value"]) == 0


def test_eigenbasis_split_and_completed_square():
    loss, split = eigenbasis_loss_split(3)
    assert sp.expand(sp.cancel(loss - split)) == 0
    assert completed_square_residual(3) == 0
    for f in (eigenbasis_loss_split, completed_square_residual):
        with pytest.raises(ValueError, match="d must be an integer in 1..4"):
            f(5)


def test_reduction_derivative_is_positive():
    out = reduction_derivative()
    assert out["residual"] == 0 and out["positive"] is True
    f = sp.lambdify((LAMBDA_SYM, N_SYM, T_SYM), out["derivative"], "numpy")
    lam = np.linspace(0.01, 10, 50)
    assert np.all(f(lam, 3, 7.0) > 0)


# ---- Theorem A against linear_theory ----------------------------------------------------

@pytest.mark.parametrize("seed", RNG_SEEDS)
def test_gains_loss_and_matrix_match_linear_theory(seed):
    d = 4
    lam_sym = eigenvalue_symbols(d)
    spec = random_spectrum(d, seed)
    N = int(np.random.default_rng(seed).integers(1, 100))
    g = sp.lambdify(list(lam_sym) + [N_SYM], feature_gain_exprs(d), "numpy")
    assert np.allclose(g(*spec, N), feature_gains(spec, N), rtol=1e-12)
    U = random_orthogonal(d, seed)
    for r in range(1, d + 1):
        L = sp.lambdify(list(lam_sym) + [N_SYM], optimal_loss_expr(d, r), "numpy")
        assert np.isclose(L(*spec, N), optimal_loss(spec, N, r), rtol=1e-12)
        M = sp.lambdify(list(lam_sym) + [N_SYM], optimal_matrix_expr(d, r), "numpy")
        Mn = np.asarray(M(*spec, N), dtype=float)
        assert np.allclose(Mn, optimal_matrix(spec, N, r), atol=1e-14)
        assert np.allclose(U @ Mn @ U.T, optimal_matrix(spec, N, r, U), atol=1e-12)
    # A concrete integer N gives the same expression as the symbol.
    assert sp.simplify(optimal_loss_expr(d, 2, 10) - optimal_loss_expr(d, 2).subs(N_SYM, 10)) == 0


def test_theorem_a_bad_inputs():
    for r in (0, 4, 1.5):
        with pytest.raises(ValueError, match="r must be an integer in 1..3"):
            optimal_loss_expr(3, r)
        with pytest.raises(ValueError, match="r must be an integer in 1..3"):
            optimal_matrix_expr(3, r)
    with pytest.raises(ValueError, match="d must be"):
        optimal_loss_expr(0, 1)
    with pytest.raises(ValueError, match="N must be"):
        feature_gain_exprs(3, 0)
