"""Theorem B on noisy contexts and its consequences (chapter 6).

* Monte Carlo agreement with Theorem B (task-averaged and fixed task) for label noise, input
  noise and both, at 10^5 prompts, within 4 standard errors -- and the same test rejects the
  formula without its input-noise term, so it has the power to fail.
* ``best_rank`` equals ``d`` on clean contexts and never grows with the noise.
* :mod:`iclbook.linear.noise` against independent computations, and its bad inputs.
* :mod:`iclbook.plots.noise` figures build (title, labels, legend) and reject bad input.
"""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from iclbook.linear.monte_carlo import monte_carlo_linear_risk
from iclbook.linear.noise import (
    best_rank_map,
    critical_label_noise,
    distraction_cost,
    feature_helps,
    fixed_task_increment,
    geometric_spectrum,
    noisy_risk_curve,
)
from iclbook.linear.theory import (
    best_rank,
    noisy_risk,
    noisy_risk_fixed_task,
    optimal_matrix,
    random_orthogonal,
)
from iclbook.plots import noise as noise_plots

LAM = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
N = 20
D = LAM.size
U = random_orthogonal(D, seed=7)
R = 4
THETA = np.array([1.0, -0.5, 0.8, 0.0, 0.6])  # does not use feature 4
N_PROMPTS = 100_000
CONDITIONS = {"label": (2.0, 0.0), "input": (0.0, 0.8), "both": (1.5, 0.6)}


# ------------------------------------------------------------------- Monte Carlo checks
@pytest.mark.parametrize("name", list(CONDITIONS))
def test_theorem_b_task_averaged_monte_carlo(name):
    s, sx = CONDITIONS[name]
    est = monte_carlo_linear_risk(optimal_matrix(LAM, N, R, U), LAM, N, basis=U, sigma=s,
                                  sigma_x=sx, n_prompts=N_PROMPTS, seed=101)
    assert est.n == N_PROMPTS
    assert est.agrees_with(noisy_risk(LAM, N, R, s, sx), z=4.0), est
    # power: ignoring the noise is rejected, and so is dropping the input-noise term
    assert not est.agrees_with(noisy_risk(LAM, N, R), z=4.0)
    if sx > 0:
        assert not est.agrees_with(noisy_risk(LAM, N, R, s, 0.0), z=4.0)


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_theorem_b_fixed_task_monte_carlo(name):
    s, sx = CONDITIONS[name]
    est = monte_carlo_linear_risk(optimal_matrix(LAM, N, R, U), LAM, N, basis=U, sigma=s,
                                  sigma_x=sx, task=U @ THETA, n_prompts=N_PROMPTS, seed=202)
    assert est.agrees_with(noisy_risk_fixed_task(LAM, N, R, THETA, s, sx), z=4.0), est
    assert not est.agrees_with(noisy_risk_fixed_task(LAM, N, R, THETA), z=4.0)
    if sx > 0:
        assert not est.agrees_with(noisy_risk_fixed_task(LAM, N, R, THETA, s, 0.0), z=4.0)


# ------------------------------------------------------------------------- best size
@pytest.mark.parametrize("spectrum, n", [(LAM, 20), (LAM, 3), ([1.0, 0.9, 0.5, 0.1], 10),
                                         (geometric_spectrum(6, 0.7, 2.0), 40)])
def test_best_rank_is_d_when_clean_and_non_increasing_in_noise(spectrum, n):
    d = len(spectrum)
    assert best_rank(spectrum, n) == d
    sig = np.linspace(0, 12, 25)
    sx = np.linspace(0, 3, 13)
    grid = np.array([[best_rank(spectrum, n, a, b) for a in sig] for b in sx])
    assert np.all(np.diff(grid, axis=1) <= 0)
    assert np.all(np.diff(grid, axis=0) <= 0)
    assert grid.min() >= 1 and grid[-1, -1] < d  # enough noise always shrinks the best size


# ------------------------------------------------------------------------ noise_theory
def test_geometric_spectrum():
    np.testing.assert_allclose(geometric_spectrum(5, 0.5, 4.0), LAM)
    np.testing.assert_allclose(geometric_spectrum(3, 1.0), [1.0, 1.0, 1.0])
    for bad in (0, -0.5, 1.5, np.nan):
        with pytest.raises(ValueError, match="decay"):
            geometric_spectrum(3, bad)
    with pytest.raises(ValueError, match="d must be an integer >= 1"):
        geometric_spectrum(0, 0.5)
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="top"):
            geometric_spectrum(3, 0.5, bad)


def test_noisy_risk_curve():
    for s, sx in [(0, 0), (2, 0), (0, 1), (1.5, 0.6)]:
        curve = noisy_risk_curve(LAM, N, s, sx)
        assert curve.shape == (D + 1,)
        assert curve[0] == LAM.sum()
        np.testing.assert_allclose(curve[1:], [noisy_risk(LAM, N, r, s, sx)
                                               for r in range(1, D + 1)])
    with pytest.raises(ValueError, match="spectrum"):
        noisy_risk_curve([1.0, 2.0], N)
    with pytest.raises(ValueError, match="sigma"):
        noisy_risk_curve(LAM, N, -1.0)
    with pytest.raises(ValueError, match="N must be"):
        noisy_risk_curve(LAM, 0)


def test_feature_helps_is_the_sign_of_the_risk_change():
    for s in np.linspace(0, 10, 21):
        for sx in np.linspace(0, 3, 13):
            diff = np.diff(noisy_risk_curve(LAM, N, s, sx))
            for r in range(1, D + 1):
                if abs(diff[r - 1]) > 1e-12:
                    assert feature_helps(LAM, N, r, s, sx) == (diff[r - 1] < 0), (r, s, sx)
    # label noise only: helps iff (N+1) lambda_r + tr Lambda > sigma^2
    for r in range(1, D + 1):
        edge = np.sqrt((N + 1) * LAM[r - 1] + LAM.sum())
        assert feature_helps(LAM, N, r, edge * 0.999)
        assert not feature_helps(LAM, N, r, edge * 1.001)
    with pytest.raises(ValueError, match=r"r must be an integer in 1..5"):
        feature_helps(LAM, N, 0)
    with pytest.raises(ValueError, match="sigma_x"):
        feature_helps(LAM, N, 1, 0.0, -0.1)


def test_critical_label_noise():
    for sx in (0.0, 0.3, 0.8):
        for r in range(1, D + 1):
            c = critical_label_noise(LAM, N, r, sx)
            if c > 0:
                assert feature_helps(LAM, N, r, 0.999 * c, sx)
                assert not feature_helps(LAM, N, r, 1.001 * c, sx)
            else:
                assert not feature_helps(LAM, N, r, 0.0, sx)
    assert critical_label_noise(LAM, N, 5) == pytest.approx(np.sqrt(21 * 0.25 + 7.75))
    assert critical_label_noise(LAM, N, 5, 5.0) == 0.0  # input noise alone makes it hurt
    with pytest.raises(ValueError, match="r must be"):
        critical_label_noise(LAM, N, 6)
    with pytest.raises(ValueError, match="sigma_x"):
        critical_label_noise(LAM, N, 1, np.inf)


def test_best_rank_map_matches_best_rank_and_the_corollary():
    sig, sx = np.linspace(0, 10, 11), np.linspace(0, 3, 7)
    grid = best_rank_map(LAM, N, sig, sx)
    assert grid.shape == (7, 11)
    for j, b in enumerate(sx):
        for i, a in enumerate(sig):
            assert grid[j, i] == best_rank(LAM, N, a, b)
            helpful = sum(feature_helps(LAM, N, r, a, b) for r in range(1, D + 1))
            assert grid[j, i] == max(1, helpful)
    for bad in ([], [[0.0]], [-1.0], [np.nan]):
        with pytest.raises(ValueError, match="sigmas"):
            best_rank_map(LAM, N, bad, [0.0])
    with pytest.raises(ValueError, match="sigma_xs"):
        best_rank_map(LAM, N, [0.0], [-0.5])


def test_fixed_task_increment_and_distraction_cost():
    for s, sx in [(0, 0), (2, 0), (0, 0.8), (1.5, 0.6)]:
        inc = fixed_task_increment(LAM, N, R, THETA, s, sx)
        expected = (noisy_risk_fixed_task(LAM, N, R, THETA, s, sx)
                    - noisy_risk_fixed_task(LAM, N, R - 1, THETA, s, sx))
        assert inc == pytest.approx(expected, rel=1e-12)
        cost = distraction_cost(LAM, N, R, THETA, s, sx)
        assert cost > 0
        assert cost == pytest.approx(inc, rel=1e-10)
        # the unused feature hurts this task even where it helps on average
        assert feature_helps(LAM, N, R, s, sx)
    # r = 1 starts from the zero predictor, whose risk is |theta|_D^2
    first = fixed_task_increment(LAM, N, 1, THETA)
    assert first == pytest.approx(noisy_risk_fixed_task(LAM, N, 1, THETA)
                                  - np.sum(LAM * THETA**2))
    # the cost grows with both noise levels and vanishes like 1/N
    assert distraction_cost(LAM, N, R, THETA, 1.0) < distraction_cost(LAM, N, R, THETA, 2.0)
    assert distraction_cost(LAM, N, R, THETA, 0, 0.5) < distraction_cost(LAM, N, R, THETA, 0, 1)
    assert distraction_cost(LAM, 10_000, R, THETA) < 1e-3
    with pytest.raises(ValueError, match="theta_r = 0"):
        distraction_cost(LAM, N, 3, THETA)
    with pytest.raises(ValueError, match=r"theta must have shape \(5\)"):
        distraction_cost(LAM, N, R, THETA[:4])
    with pytest.raises(ValueError, match=r"theta must have shape \(5\)"):
        fixed_task_increment(LAM, N, R, THETA[:4])
    with pytest.raises(ValueError, match="sigma"):
        distraction_cost(LAM, N, R, THETA, -1.0)
    with pytest.raises(ValueError, match="r must be"):
        fixed_task_increment(LAM, N, 0, THETA)


# ------------------------------------------------------------------------------ figures
def _check_axes(fig):
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert ax.get_legend() is not None


def test_figures_build():
    figs = [
        noise_plots.risk_vs_rank(LAM, N, [(0, 0), (3, 0.5)]),
        noise_plots.phase_diagram(LAM, N, np.linspace(0, 8, 5), np.linspace(0, 2, 4),
                                  best_rank_map(LAM, N, np.linspace(0, 8, 5),
                                                np.linspace(0, 2, 4))),
        noise_plots.fixed_task_risk(LAM, N, THETA, [(0, 0), (2, 0)]),
        noise_plots.trained_vs_formula([1, 2], ["clean", "noisy"], np.ones((2, 2)),
                                       np.ones((2, 3, 2)), np.ones((2, 3, 2))),
        noise_plots.draw_noise_explorer(2.0, 0.5),
        noise_plots.draw_size_explorer(1, 0.5),
        noise_plots.draw_size_explorer(4, 0.0),
        noise_plots.draw_data_explorer(10, 0.7, r=2),
    ]
    for fig in figs:
        _check_axes(fig)
    plt.close("all")


def test_figures_reject_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        noise_plots.risk_vs_rank(LAM, N, [])
    with pytest.raises(ValueError, match="pairs"):
        noise_plots.risk_vs_rank(LAM, N, [(1.0,)])
    with pytest.raises(ValueError, match="sigma_x"):
        noise_plots.fixed_task_risk(LAM, N, THETA, [(0.0, -1.0)])
    with pytest.raises(ValueError, match="rstar must have shape"):
        noise_plots.phase_diagram(LAM, N, [0, 1], [0, 1, 2], np.ones((2, 3)))
    with pytest.raises(ValueError, match="formula"):
        noise_plots.trained_vs_formula([1, 2], ["a"], np.ones((1, 3)), np.ones((1, 3, 2)),
                                       np.ones((1, 3, 2)))
    with pytest.raises(ValueError, match="sigma"):
        noise_plots.draw_noise_explorer(-1.0, 0.0)
    with pytest.raises(ValueError, match="r must be"):
        noise_plots.draw_size_explorer(6, 0.0)
    with pytest.raises(ValueError, match="decay"):
        noise_plots.draw_data_explorer(10, 0.0)
    with pytest.raises(ValueError, match="N must be"):
        noise_plots.draw_data_explorer(0, 0.5)
    plt.close("all")
