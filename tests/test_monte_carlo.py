"""Monte Carlo estimates (:mod:`iclbook.linear.monte_carlo`) and the Monte Carlo check of Theorems A
and B: agreement within 4 standard errors at 10^5 prompts, and a wrong formula rejected by the
same tolerance."""

import math

import numpy as np
import pytest
import torch

from iclbook.core.stats import MonteCarloEstimate, mean_with_se
from iclbook.linear.monte_carlo import monte_carlo_linear_risk
from iclbook.linear.theory import (
    feature_gains,
    loss_of_matrix,
    noisy_risk,
    noisy_risk_fixed_task,
    optimal_loss,
    optimal_matrix,
    random_orthogonal,
    spectral_covariance,
)

LAM = np.array([3.0, 1.5, 0.75, 0.3])
D, N = 4, 4
U = random_orthogonal(D, seed=2)
N_PROMPTS = 100_000
Z = 4.0


# --------------------------------------------------------------------------- the estimator
def test_estimate_helpers():
    est = MonteCarloEstimate(mean=1.0, se=0.1, n=100)
    assert est.z_score(0.8) == pytest.approx(2.0)
    assert est.z_score(1.3) == pytest.approx(-3.0)
    assert est.agrees_with(1.39) and not est.agrees_with(1.41)
    assert est.agrees_with(1.25, z=3) and not est.agrees_with(1.35, z=3)
    assert str(est) == "1.00000 ± 0.10000 (n = 100)"
    exact = MonteCarloEstimate(mean=2.0, se=0.0, n=1)
    assert exact.z_score(1.0) == math.inf and exact.agrees_with(2.0)


def test_mean_with_stderr_combines_chunks_exactly():
    data = torch.arange(1, 1001, dtype=torch.float64).sqrt()
    for chunk in (1, 7, 333, 1000, 5000):
        pos = [0]

        def draw(size, gen, pos=pos):
            out = data[pos[0]:pos[0] + size]
            pos[0] += size
            return out

        est = mean_with_se(draw, 1000, chunk=chunk)
        assert est.n == 1000
        assert est.mean == pytest.approx(float(data.mean()), rel=1e-13)
        assert est.se == pytest.approx(float(data.std() / math.sqrt(1000)), rel=1e-10)


def test_mean_with_stderr_on_a_known_distribution():
    """Exponential(1): mean 1 and variance 1, so stderr = 1 / sqrt(n)."""
    n = 200_000

    def draw(size, gen):
        return -torch.log1p(-torch.rand(size, generator=gen, dtype=torch.float64))

    est = mean_with_se(draw, n, seed=3, chunk=30_000)
    assert est.agrees_with(1.0, z=Z)
    assert est.se == pytest.approx(1 / math.sqrt(n), rel=0.03)
    # deterministic for a seed, different across seeds
    assert mean_with_se(draw, 1000, seed=3).mean == mean_with_se(draw, 1000, seed=3).mean
    assert mean_with_se(draw, 1000, seed=3).mean != mean_with_se(draw, 1000, seed=4).mean
    one = mean_with_se(draw, 1)
    assert one.n == 1 and one.se == 0.0


def test_mean_with_stderr_argument_errors():
    def draw(size, gen):
        return torch.zeros(size)

    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        mean_with_se(draw, 0)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1"):
        mean_with_se(draw, 10, chunk=0)
    with pytest.raises(ValueError, match="draw must return 10 samples, got 11"):
        mean_with_se(lambda size, gen: torch.zeros(size + 1), 10)


# --------------------------------------------------------------------------- Theorems A and B
def test_theorem_a_by_monte_carlo():
    for r in (1, 2):
        est = monte_carlo_linear_risk(optimal_matrix(LAM, N, r, U), LAM, N, basis=U,
                                      n_prompts=N_PROMPTS, seed=10 + r)
        assert est.n == N_PROMPTS
        assert est.agrees_with(optimal_loss(LAM, N, r), z=Z), est.z_score(optimal_loss(LAM, N, r))


@pytest.mark.parametrize("sigma, sigma_x", [(2.0, 0.0), (0.0, 1.0), (2.0, 1.0)])
def test_theorem_b_by_monte_carlo(sigma, sigma_x):
    for r in (1, D):
        est = monte_carlo_linear_risk(optimal_matrix(LAM, N, r, U), LAM, N, basis=U,
                                      sigma=sigma, sigma_x=sigma_x, n_prompts=N_PROMPTS, seed=r)
        theory = noisy_risk(LAM, N, r, sigma, sigma_x)
        assert est.agrees_with(theory, z=Z), est.z_score(theory)
        # a formula that ignores the context noise is rejected by the same tolerance
        assert not est.agrees_with(optimal_loss(LAM, N, r), z=Z)


def test_wrong_formula_is_rejected():
    """Theorem B without the sigma^2 inside the input-noise term (a plausible slip:
    E[y^2] = tr(Lambda) instead of tr(Lambda) + sigma^2) is rejected at 4 standard errors."""
    sigma, sigma_x, r = 2.0, 1.0, D
    est = monte_carlo_linear_risk(optimal_matrix(LAM, N, r, U), LAM, N, basis=U, sigma=sigma,
                                  sigma_x=sigma_x, n_prompts=N_PROMPTS, seed=7)
    g = feature_gains(LAM, N)
    right = noisy_risk(LAM, N, r, sigma, sigma_x)
    wrong = right - sigma_x**2 * sigma**2 / N * np.sum(LAM / g**2)
    assert est.agrees_with(right, z=Z)
    assert not est.agrees_with(wrong, z=Z)
    # the gap is twice the tolerance, so the rejection does not hang on a lucky seed
    assert abs(right - wrong) > 8 * est.se


def test_fixed_task_and_general_matrix_by_monte_carlo():
    theta = np.array([1.2, 0.0, -0.8, 0.5])  # eigenbasis coordinates; w = U theta
    sigma, sigma_x, r = 1.0, 0.5, 3
    est = monte_carlo_linear_risk(optimal_matrix(LAM, N, r, U), LAM, N, basis=U, sigma=sigma,
                                  sigma_x=sigma_x, task=U @ theta, n_prompts=N_PROMPTS, seed=5)
    theory = noisy_risk_fixed_task(LAM, N, r, theta, sigma, sigma_x)
    assert est.agrees_with(theory, z=Z), est.z_score(theory)
    # the population loss of an arbitrary, non-symmetric B with both noises
    B = 0.2 * np.random.default_rng(0).standard_normal((D, D))
    est = monte_carlo_linear_risk(B, LAM, N, basis=U, sigma=sigma, sigma_x=sigma_x,
                                  n_prompts=N_PROMPTS, seed=6)
    theory = loss_of_matrix(B, spectral_covariance(LAM, U), N, sigma=sigma, sigma_x=sigma_x)
    assert est.agrees_with(theory, z=Z), est.z_score(theory)


def test_monte_carlo_linear_risk_is_deterministic_and_checks_arguments():
    M = optimal_matrix(LAM, N, 2)
    a = monte_carlo_linear_risk(M, LAM, N, n_prompts=1000, seed=1)
    b = monte_carlo_linear_risk(torch.as_tensor(M), LAM, N, n_prompts=1000, seed=1)
    assert a == b
    assert a != monte_carlo_linear_risk(M, LAM, N, n_prompts=1000, seed=2)
    with pytest.raises(ValueError, match=r"B must have shape \(4, 4\)"):
        monte_carlo_linear_risk(np.eye(3), LAM, N)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        monte_carlo_linear_risk(M, LAM, N, n_prompts=0)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        monte_carlo_linear_risk(M, LAM, N, sigma=-1.0, n_prompts=10)
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        monte_carlo_linear_risk(M, LAM, 0, n_prompts=10)
    with pytest.raises(ValueError, match="non-increasing"):
        monte_carlo_linear_risk(M, LAM[::-1], N, n_prompts=10)
