"""Closed forms of Setting 1 (:mod:`iclbook.linear.theory`, Theorems A and B, chapters 3-6).

Each closed form is checked against an independent computation (the population loss of a
matrix, finite differences, random competitors, the exact task average), so that a wrong
formula makes a test fail.  Monte Carlo checks live in ``test_monte_carlo.py``.
"""

import numpy as np
import pytest

from iclbook.linear.theory import (
    best_rank,
    feature_gains,
    loss_of_matrix,
    noisy_risk,
    noisy_risk_fixed_task,
    optimal_loss,
    optimal_loss_curve,
    optimal_matrix,
    preconditioner,
    random_orthogonal,
    spectral_covariance,
)

LAM = np.array([4.0, 2.0, 1.0, 0.5])
N = 10
D = LAM.size
U = random_orthogonal(D, seed=3)
COV = spectral_covariance(LAM, U)


# --------------------------------------------------------------------------- basic objects
def test_random_orthogonal_is_orthogonal_and_seeded():
    for d in (1, 3, 6):
        q = random_orthogonal(d, seed=1)
        np.testing.assert_allclose(q.T @ q, np.eye(d), atol=1e-12)
    np.testing.assert_array_equal(random_orthogonal(4, seed=5), random_orthogonal(4, seed=5))
    assert not np.allclose(random_orthogonal(4, seed=5), random_orthogonal(4, seed=6))
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="d must be an integer >= 1"):
            random_orthogonal(bad)


def test_spectral_covariance():
    np.testing.assert_allclose(spectral_covariance(LAM), np.diag(LAM))
    np.testing.assert_allclose(COV, COV.T, atol=1e-14)
    np.testing.assert_allclose(np.linalg.eigvalsh(COV)[::-1], LAM, atol=1e-12)
    # the i-th column of U is the eigenvector of lambda_i
    for i in range(D):
        np.testing.assert_allclose(COV @ U[:, i], LAM[i] * U[:, i], atol=1e-12)
    with pytest.raises(ValueError, match="spectrum"):
        spectral_covariance([1.0, 2.0])
    with pytest.raises(ValueError, match="orthogonal"):
        spectral_covariance(LAM, 2 * np.eye(D))
    with pytest.raises(ValueError, match=r"basis must have shape \(4, 4\)"):
        spectral_covariance(LAM, np.eye(3))


def test_feature_gains_and_preconditioner():
    g = feature_gains(LAM, N)
    tr = LAM.sum()
    np.testing.assert_allclose(g, [(N + 1) / N * lam + tr / N for lam in LAM])
    gamma = (1 + 1 / N) * np.diag(LAM) + tr / N * np.eye(D)
    np.testing.assert_allclose(preconditioner(LAM, N), gamma)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="N must be an integer >= 1"):
            feature_gains(LAM, bad)
        with pytest.raises(ValueError, match="N must be an integer >= 1"):
            preconditioner(LAM, bad)
    with pytest.raises(ValueError, match="non-increasing"):
        feature_gains([1.0, 3.0], N)
    with pytest.raises(ValueError, match="> 0"):
        preconditioner([1.0, 0.0], N)


# --------------------------------------------------------------------------- Theorem A
def test_optimal_matrix_structure():
    for r in range(1, D + 1):
        M = optimal_matrix(LAM, N, r, U)
        np.testing.assert_allclose(M, M.T, atol=1e-14)
        assert np.linalg.matrix_rank(M) == r
        # it acts on the top-r eigenvectors by 1/g_i and kills the others
        g = feature_gains(LAM, N)
        for i in range(D):
            want = U[:, i] / g[i] if i < r else np.zeros(D)
            np.testing.assert_allclose(M @ U[:, i], want, atol=1e-12)


def test_full_rank_optimum_is_gamma_inverse():
    tr = np.trace(COV)
    gamma = (1 + 1 / N) * COV + tr / N * np.eye(D)
    np.testing.assert_allclose(optimal_matrix(LAM, N, D, U), np.linalg.inv(gamma), atol=1e-12)
    np.testing.assert_allclose(optimal_matrix(LAM, N, D), np.linalg.inv(preconditioner(LAM, N)))


def test_optimal_loss_equals_loss_of_optimal_matrix():
    for r in range(1, D + 1):
        value = loss_of_matrix(optimal_matrix(LAM, N, r, U), COV, N)
        assert optimal_loss(LAM, N, r) == pytest.approx(value, rel=1e-12)
    # hand-computed r = 1: tr - N lambda^2 / ((N+1) lambda + tr)
    tr = LAM.sum()
    assert optimal_loss(LAM, N, 1) == pytest.approx(tr - N * 16 / ((N + 1) * 4 + tr))


def test_loss_of_matrix_known_values():
    tr = LAM.sum()
    assert loss_of_matrix(np.zeros((D, D)), COV, N) == pytest.approx(tr)
    # B = c I on the identity basis: a scalar quadratic in c
    c = 0.3
    lam = LAM
    gam = (1 + 1 / N) * lam + tr / N
    want = np.sum(c**2 * lam**2 * gam - 2 * c * lam**2 + lam)
    assert loss_of_matrix(c * np.eye(D), np.diag(LAM), N) == pytest.approx(want)


def test_optimal_loss_curve():
    curve = optimal_loss_curve(LAM, N)
    assert curve.shape == (D + 1,)
    assert curve[0] == pytest.approx(LAM.sum())
    assert np.all(np.diff(curve) < 0)
    for r in range(1, D + 1):
        assert curve[r] == pytest.approx(optimal_loss(LAM, N, r))


def _finite_difference_gradient(B, cov, n, eps=1e-5, **noise):
    grad = np.zeros_like(B)
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            step = np.zeros_like(B)
            step[i, j] = eps
            grad[i, j] = (loss_of_matrix(B + step, cov, n, **noise)
                          - loss_of_matrix(B - step, cov, n, **noise)) / (2 * eps)
    return grad


@pytest.mark.parametrize("r", [1, 2, 3, 4])
def test_optimum_is_stationary_in_the_allowed_directions(r):
    """In the eigenbasis, rank-r matrices near M* can move in every entry except the block
    that couples two discarded directions; the gradient vanishes there and only there."""
    M = optimal_matrix(LAM, N, r, U)
    grad = U.T @ _finite_difference_gradient(M, COV, N) @ U  # gradient in the eigenbasis
    allowed = np.ones((D, D), dtype=bool)
    allowed[r:, r:] = False
    np.testing.assert_allclose(grad[allowed], 0.0, atol=1e-6)
    if r < D:
        # the discarded directions would help: the constraint is active, the test can fail
        assert np.all(np.diag(grad)[r:] < -1e-3)


def test_optimum_beats_random_rank_r_matrices():
    rng = np.random.default_rng(0)
    for r in range(1, D + 1):
        best = optimal_loss(LAM, N, r)
        M = optimal_matrix(LAM, N, r, U)
        for _ in range(200):
            P = rng.standard_normal((D, r)) * rng.uniform(0.01, 0.5)
            Q = rng.standard_normal((D, r))
            assert loss_of_matrix(P @ Q.T, COV, N) > best
            # small rank-r perturbations of the optimum (factors moved a little)
            Pm, Qm = U[:, :r] / feature_gains(LAM, N)[:r], U[:, :r]
            Pm = Pm + 1e-3 * rng.standard_normal(Pm.shape)
            Qm = Qm + 1e-3 * rng.standard_normal(Qm.shape)
            assert loss_of_matrix(Pm @ Qm.T, COV, N) >= best - 1e-12
        # the rank-r optimum also beats keeping the *wrong* r directions
        if r < D:
            wrong = U[:, D - r:] @ np.diag(1 / feature_gains(LAM, N)[D - r:]) @ U[:, D - r:].T
            assert loss_of_matrix(wrong, COV, N) > best + 1e-3
        assert np.linalg.matrix_rank(M) == r


def test_theorem_a_argument_errors():
    for bad in (0, D + 1, 1.0):
        with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.4"):
            optimal_matrix(LAM, N, bad)
        with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.4"):
            optimal_loss(LAM, N, bad)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        optimal_loss(LAM, 0, 1)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        optimal_loss_curve(LAM, -3)
    with pytest.raises(ValueError, match="non-increasing"):
        optimal_matrix([1.0, 2.0], N, 1)
    with pytest.raises(ValueError, match="> 0"):
        optimal_loss_curve([1.0, -1.0], N)
    with pytest.raises(ValueError, match="orthogonal"):
        optimal_matrix(LAM, N, 2, np.ones((D, D)))


# --------------------------------------------------------------------------- Theorem B
def test_noisy_risk_with_zero_noise_is_optimal_loss():
    for r in range(1, D + 1):
        assert noisy_risk(LAM, N, r) == pytest.approx(optimal_loss(LAM, N, r), rel=1e-13)
        assert noisy_risk(LAM, N, r, 0.0, 0.0) == pytest.approx(optimal_loss(LAM, N, r))


@pytest.mark.parametrize("sigma, sigma_x", [(0.7, 0.0), (0.0, 0.4), (1.3, 0.5)])
def test_noisy_risk_equals_loss_of_optimal_matrix(sigma, sigma_x):
    for r in range(1, D + 1):
        M = optimal_matrix(LAM, N, r, U)
        want = loss_of_matrix(M, COV, N, sigma=sigma, sigma_x=sigma_x)
        assert noisy_risk(LAM, N, r, sigma, sigma_x) == pytest.approx(want, rel=1e-12)


def test_noise_terms_increase_in_r_and_curves_cross():
    sigmas = [0.0, 1.0, 3.0, 10.0]
    for s in sigmas:
        risks = [noisy_risk(LAM, N, r, s) for r in range(1, D + 1)]
        clean = [optimal_loss(LAM, N, r) for r in range(1, D + 1)]
        extra = np.array(risks) - np.array(clean)
        assert np.all(extra >= 0) and np.all(np.diff(extra) >= 0)
    # clean: the largest model wins; very noisy: the smallest
    assert noisy_risk(LAM, N, D, 0.0) < noisy_risk(LAM, N, 1, 0.0)
    assert noisy_risk(LAM, N, D, 10.0) > noisy_risk(LAM, N, 1, 10.0)


def test_fixed_task_risk_against_direct_formula():
    rng = np.random.default_rng(1)
    g = feature_gains(LAM, N)
    for _ in range(5):
        theta = rng.standard_normal(D)
        s, sx = rng.uniform(0, 2), rng.uniform(0, 1)
        for r in range(1, D + 1):
            v = np.where(np.arange(D) < r, 1 / g, 0.0)
            energy = np.sum(LAM * theta**2)
            # E h = Lambda w;  N Cov h = (|theta|_D^2 + s^2)(Lambda + sx^2 I) + Lambda w w^T Lambda
            bias = np.sum(LAM * theta**2 * (1 - v * LAM) ** 2)
            var = np.sum(v**2 * LAM * ((energy + s**2) * (LAM + sx**2) + LAM**2 * theta**2)) / N
            got = noisy_risk_fixed_task(LAM, N, r, theta, s, sx)
            assert got == pytest.approx(bias + var, rel=1e-12)


@pytest.mark.parametrize("sigma, sigma_x", [(0.0, 0.0), (0.8, 0.0), (0.0, 0.6), (1.1, 0.3)])
def test_fixed_task_risk_averages_to_noisy_risk(sigma, sigma_x):
    """Exact average over theta ~ N(0, I): the risk is affine in (theta_1^2, .., theta_d^2),
    so E R(theta) = R(0) + sum_j (R(e_j) - R(0)); checked also by Monte Carlo over theta."""
    rng = np.random.default_rng(2)
    for r in range(1, D + 1):
        def risk(th, r=r):
            return noisy_risk_fixed_task(LAM, N, r, th, sigma, sigma_x)

        base = risk(np.zeros(D))
        unit = np.array([risk(np.eye(D)[j]) for j in range(D)])
        # affine in theta^2 (so the exact average below is valid)
        th = rng.standard_normal(D)
        assert risk(th) == pytest.approx(base + np.sum(th**2 * (unit - base)), rel=1e-12)
        exact = base + np.sum(unit - base)
        assert exact == pytest.approx(noisy_risk(LAM, N, r, sigma, sigma_x), rel=1e-12)
        # Monte Carlo over tasks
        samples = np.array([risk(t) for t in rng.standard_normal((2000, D))])
        mean, se = samples.mean(), samples.std(ddof=1) / np.sqrt(samples.size)
        assert abs(mean - noisy_risk(LAM, N, r, sigma, sigma_x)) < 4 * se


def test_unused_feature_hurts_for_a_fixed_task():
    theta = np.array([1.0, -0.5, 0.0, 0.0])  # uses only the two top features
    s = 0.5
    for r in (3, 4):
        hurt = noisy_risk_fixed_task(LAM, N, r, theta, s) - noisy_risk_fixed_task(
            LAM, N, r - 1, theta, s)
        g = feature_gains(LAM, N)[r - 1]
        energy = np.sum(LAM * theta**2)
        assert hurt == pytest.approx(LAM[r - 1] ** 2 / (N * g**2) * (energy + s**2))


def test_theorem_b_argument_errors():
    theta = np.ones(D)
    for bad in (0, D + 1):
        with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.4"):
            noisy_risk(LAM, N, bad)
        with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.4"):
            noisy_risk_fixed_task(LAM, N, bad, theta)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        noisy_risk(LAM, N, 1, sigma=-0.1)
    with pytest.raises(ValueError, match="sigma_x must be a finite number >= 0"):
        noisy_risk(LAM, N, 1, sigma_x=-1)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        noisy_risk_fixed_task(LAM, N, 1, theta, sigma=-0.1)
    with pytest.raises(ValueError, match="sigma_x must be a finite number >= 0"):
        noisy_risk_fixed_task(LAM, N, 1, theta, sigma_x=float("nan"))
    with pytest.raises(ValueError, match=r"theta must have shape \(4\)"):
        noisy_risk_fixed_task(LAM, N, 1, np.ones(3))
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        noisy_risk(LAM, 0, 1)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        noisy_risk_fixed_task(LAM, 0, 1, theta)
    with pytest.raises(ValueError, match="non-increasing"):
        noisy_risk([1.0, 2.0], N, 1)


def test_loss_of_matrix_argument_errors():
    B = np.eye(D)
    with pytest.raises(ValueError, match="symmetric"):
        loss_of_matrix(B, COV + np.triu(np.ones((D, D)), 1), N)
    with pytest.raises(ValueError, match="positive definite"):
        loss_of_matrix(B, -COV, N)
    with pytest.raises(ValueError, match="square"):
        loss_of_matrix(B, np.ones((D, D + 1)), N)
    with pytest.raises(ValueError, match=r"B must have shape \(4, 4\)"):
        loss_of_matrix(np.eye(3), COV, N)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        loss_of_matrix(B, COV, 0)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        loss_of_matrix(B, COV, N, sigma=-1)
    with pytest.raises(ValueError, match="sigma_x must be a finite number >= 0"):
        loss_of_matrix(B, COV, N, sigma_x=-1)


def test_best_rank():
    assert best_rank(LAM, N) == D  # clean context: the largest model
    # label noise only: feature r helps iff (N+1) lambda_r + tr > sigma^2
    tr = LAM.sum()
    thresholds = (N + 1) * LAM + tr
    for s2 in (0.0, thresholds[3] + 1, thresholds[2] + 1, thresholds[1] + 1, 1e6):
        want = max(1, int(np.sum(thresholds > s2)))
        assert best_rank(LAM, N, sigma=np.sqrt(s2)) == want
    assert best_rank(LAM, N, sigma_x=100.0) == 1
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        best_rank(LAM, N, sigma=-1)
    with pytest.raises(ValueError, match="non-increasing"):
        best_rank([1.0, 2.0], N)
