"""Pretraining on noisy contexts (matched noise, chapter 6) and the loss-weighted error (chapter 5).

* :func:`iclbook.linear.noise.matched_optimal_loss` agrees with a Monte Carlo estimate of the
  risk of :func:`matched_optimal_matrix` on noisy contexts (10^5 prompts, 4 standard errors),
  and the same estimate rejects Theorem B's risk of the clean optimum (power to fail).
* The matched optimum is a stationary point of ``loss_of_matrix`` with the same noise in the
  allowed directions and beats random rank-r matrices and the clean optimum.
* :func:`iclbook.linear.theory.loss_weighted_error`: its square is the excess loss of any
  matrix over the full-rank optimum (computed independently by ``loss_of_matrix``).
"""

import numpy as np
import pytest

from iclbook.linear.monte_carlo import monte_carlo_linear_risk
from iclbook.linear.noise import (
    matched_optimal_loss,
    matched_optimal_matrix,
    noisy_curvatures,
)
from iclbook.linear.theory import (
    loss_of_matrix,
    loss_weighted_error,
    noisy_risk,
    optimal_matrix,
    random_orthogonal,
    spectral_covariance,
)

LAM = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
N = 20
D = LAM.size
U = random_orthogonal(D, seed=3)
COV = spectral_covariance(LAM, U)
NOISE = {"label": (3.0, 0.0), "input": (0.0, 1.0), "both": (2.0, 0.6)}


@pytest.mark.parametrize("name", list(NOISE))
def test_matched_optimum_monte_carlo(name):
    s, sx = NOISE[name]
    r = D
    est = monte_carlo_linear_risk(matched_optimal_matrix(LAM, N, r, s, sx, U), LAM, N, basis=U,
                                  sigma=s, sigma_x=sx, n_prompts=100_000, seed=55)
    assert est.agrees_with(matched_optimal_loss(LAM, N, r, s, sx), z=4.0), est
    # power: the clean optimum's risk on the same noisy contexts (Theorem B) is rejected
    assert not est.agrees_with(noisy_risk(LAM, N, r, s, sx), z=4.0), est


@pytest.mark.parametrize("name", list(NOISE))
def test_matched_optimum_equals_loss_of_its_matrix_and_is_best(name):
    s, sx = NOISE[name]
    rng = np.random.default_rng(0)
    for r in range(1, D + 1):
        B = matched_optimal_matrix(LAM, N, r, s, sx, U)
        value = loss_of_matrix(B, COV, N, s, sx)
        assert np.isclose(value, matched_optimal_loss(LAM, N, r, s, sx), rtol=1e-12)
        # strictly better than the clean optimum on these contexts
        assert value < noisy_risk(LAM, N, r, s, sx) - 1e-6
        # stationary in the directions that keep the rank (the kept block)
        P = U[:, :r]
        for _ in range(5):
            E = P @ rng.standard_normal((r, r)) @ P.T
            up, down = (loss_of_matrix(B + t * E, COV, N, s, sx) for t in (1e-5, -1e-5))
            assert abs(up - down) / 2e-5 < 1e-6
            assert loss_of_matrix(B + 1e-2 * E, COV, N, s, sx) > value
        # no random rank-r matrix does better
        for _ in range(20):
            X = rng.standard_normal((D, r)) @ rng.standard_normal((r, D)) * 0.2
            assert loss_of_matrix(X, COV, N, s, sx) > value


def test_matched_loss_falls_with_size_and_reduces_to_theorem_a():
    for s, sx in NOISE.values():
        curve = [matched_optimal_loss(LAM, N, r, s, sx) for r in range(1, D + 1)]
        assert np.all(np.diff(curve) < 0)
    g_clean = (N + 1) / N * LAM + LAM.sum() / N
    assert np.allclose(noisy_curvatures(LAM, N), g_clean, rtol=1e-14)
    assert np.allclose(matched_optimal_matrix(LAM, N, 2, basis=U), optimal_matrix(LAM, N, 2, U))
    # the curvature formula, entry by entry, for sigma = 1, sigma_x = 0.5
    expected = g_clean + 1 / N + 0.25 * (LAM.sum() + 1) / (N * LAM)
    assert np.allclose(noisy_curvatures(LAM, N, 1.0, 0.5), expected, rtol=1e-14)


def test_matched_noise_argument_errors():
    with pytest.raises(ValueError, match="sigma"):
        noisy_curvatures(LAM, N, -1.0)
    with pytest.raises(ValueError, match="sigma_x"):
        matched_optimal_loss(LAM, N, 1, 0.0, -0.5)
    with pytest.raises(ValueError, match="r"):
        matched_optimal_matrix(LAM, N, 0)
    with pytest.raises(ValueError, match="N"):
        noisy_curvatures(LAM, 0)
    with pytest.raises(ValueError, match="basis"):
        matched_optimal_matrix(LAM, N, 2, basis=np.ones((D, D)))


def test_loss_weighted_error_is_the_excess_loss():
    B_star = optimal_matrix(LAM, N, D, U)
    norm2 = loss_weighted_error(2 * B_star, B_star, COV, N) ** 2  # = ||.B*.||^2 / ||.B*.||^2
    assert np.isclose(norm2, 1.0)
    rng = np.random.default_rng(1)
    ref_sq = (loss_of_matrix(np.zeros((D, D)), COV, N) - loss_of_matrix(B_star, COV, N))
    for _ in range(5):
        B = B_star + 0.1 * rng.standard_normal((D, D))
        excess = loss_of_matrix(B, COV, N) - loss_of_matrix(B_star, COV, N)
        # ||.B*.||_F^2 = tr(Lambda - ...) difference: the zero matrix's excess
        assert np.isclose(loss_weighted_error(B, B_star, COV, N) ** 2 * ref_sq, excess,
                          rtol=1e-10)
    # a perturbation along the least important feature: large plain error, small weighted one
    u5 = U[:, -1:]
    B = B_star + 2.0 * u5 @ u5.T
    plain = np.linalg.norm(B - B_star) / np.linalg.norm(B_star)
    assert plain > 0.9 and loss_weighted_error(B, B_star, COV, N) < plain / 5


def test_loss_weighted_error_argument_errors():
    B = np.eye(D)
    with pytest.raises(ValueError, match="B_ref"):
        loss_weighted_error(B, np.zeros((D, D)), COV, N)
    with pytest.raises(ValueError, match="B"):
        loss_weighted_error(np.eye(D + 1), B, COV, N)
    with pytest.raises(ValueError, match="N"):
        loss_weighted_error(B, B, COV, 0)
    with pytest.raises(ValueError, match="covariance"):
        loss_weighted_error(B, B, -COV, N)
