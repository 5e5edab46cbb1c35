"""Theorems P1 and P2 (chapters 7-8): closed forms, argument checks, Monte Carlo agreement."""

import numpy as np
import pytest
import torch

from iclbook.core.validation import (
    check_hidden_dim,
    check_importance,
)
from iclbook.parity.data import sample_parity_prompts
from iclbook.parity.models import kernel_predict
from iclbook.parity.monte_carlo import monte_carlo_parity
from iclbook.parity.theory import (
    best_head_count,
    head_curvatures,
    head_gains,
    importance_profile,
    kernel_loss,
    matched_noise_loss,
    matched_noise_loss_curve,
    noise_factor,
    noisy_loss,
    noisy_loss_curve,
    noisy_pretrained_kernel,
    noisy_pretrained_weights,
    optimal_head_weights,
    optimal_kernel,
    optimal_loss,
    optimal_loss_curve,
    pair_index,
    pair_list,
    sign_accuracy,
    sign_accuracy_per_task,
    task_gains,
    task_pair_indices,
)

P = [0.4, 0.3, 0.2, 0.1]
N = 16


def test_pairs_and_task_indices():
    pairs = pair_list(8)
    assert len(pairs) == 28 and pairs[0] == (0, 1) and pairs[-1] == (6, 7)
    for k, (a, b) in enumerate(pairs):
        assert pair_index(8, a, b) == k == pair_index(8, b, a)
    assert [pairs[i] for i in task_pair_indices(8)] == [(0, 1), (2, 3), (4, 5), (6, 7)]


def test_closed_forms_values():
    h = head_gains(P, N)
    np.testing.assert_allclose(h, np.array(P) + (1 - np.array(P)) / N)
    a = optimal_head_weights(P, N)
    np.testing.assert_allclose(a, np.array(P) / h)
    # L*_1 = 1 - 0.16 / 0.4375
    assert optimal_loss(P, N, 1) == pytest.approx(1 - 0.16 / 0.4375)
    curve = optimal_loss_curve(P, N)
    assert curve[0] == 1.0 and np.all(np.diff(curve) < 0)
    for m in range(1, 5):
        A = optimal_kernel(P, N, m)
        assert np.linalg.matrix_rank(A) == m
        assert kernel_loss(A, P, N) == pytest.approx(optimal_loss(P, N, m))
        assert noisy_loss(P, N, m) == pytest.approx(optimal_loss(P, N, m))


def test_optimum_is_a_minimum_among_rank_m_kernels():
    rng = np.random.default_rng(0)
    for m in (1, 2, 3):
        A = optimal_kernel(P, N, m)
        best = kernel_loss(A, P, N)
        for _ in range(50):
            V = rng.standard_normal((28, m))
            Apert = A + 0.05 * (V @ V.T) * rng.choice([-1, 1])
            # rank of the perturbed matrix may exceed m; restrict to rank-m symmetric ones
            lam, U = np.linalg.eigh(Apert)
            keep = np.argsort(-np.abs(lam))[:m]
            Am = (U[:, keep] * lam[keep]) @ U[:, keep].T
            assert kernel_loss(Am, P, N) >= best - 1e-12
        # any other choice of m task pairs is worse
        other = np.zeros((28, 28))
        idx = task_pair_indices(8)[1:m + 1]
        other[idx, idx] = optimal_head_weights(P, N)[1:m + 1]
        assert kernel_loss(other, P, N) > best


def test_kernel_loss_batched_and_general():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((3, 2, 28, 28)) * 0.1
    out = kernel_loss(A, P, N, eta=0.1, rho=0.05)
    assert out.shape == (3, 2)
    assert out[1, 0] == pytest.approx(kernel_loss(A[1, 0], P, N, eta=0.1, rho=0.05))
    with pytest.raises(ValueError, match="A must have shape"):
        kernel_loss(np.zeros((6, 6)), P, N)


def test_kernel_loss_of_nonsymmetric_matrix_matches_monte_carlo():
    rng = np.random.default_rng(2)
    A = optimal_kernel(P, N, 2) + 0.2 * rng.standard_normal((28, 28))
    est = monte_carlo_parity(A, P, N, n_prompts=100_000, seed=5, eta=0.1)
    assert est.agrees_with(kernel_loss(A, P, N, eta=0.1), z=4)


def test_noise_factor_and_theorem_p2_structure():
    assert noise_factor(0.1, 0.2) == pytest.approx(0.8 * 0.6**2)
    assert noise_factor(0.5, 0.0) == 0.0 and noise_factor() == 1.0
    clean = optimal_loss_curve(P, N)
    for eta in (0.1, 0.3):
        noisy = noisy_loss_curve(P, N, eta=eta)
        drop = noisy[1:] - clean[1:]
        assert np.all(drop > 0) and np.all(np.diff(drop) > 0)   # larger m, larger drop
    # kappa = 0: every extra head hurts by (a*_m)^2 / N
    a = optimal_head_weights(P, N)
    np.testing.assert_allclose(np.diff(noisy_loss_curve(P, N, eta=0.5)), a**2 / N)
    # head m helps iff (1 - 1/N) p_m kappa^2 + 1/N < 2 kappa h_m
    h = head_gains(P, N)
    for eta in np.linspace(0, 0.5, 11):
        k = noise_factor(eta)
        helps = (1 - 1 / N) * np.array(P) * k**2 + 1 / N < 2 * k * h
        np.testing.assert_array_equal(np.diff(noisy_loss_curve(P, N, eta)) < 0, helps)


def test_best_head_count_shrinks_with_noise():
    counts = [best_head_count(P, N, eta=e) for e in np.linspace(0, 0.5, 21)]
    assert counts[0] == 4 and counts[-1] == 1
    assert all(b <= a for a, b in zip(counts, counts[1:], strict=False))


def test_sign_accuracy_exact_values():
    # clean: covered tasks are (almost) always right, uncovered ones are a coin flip
    assert sign_accuracy(P, N, 1) == pytest.approx(0.4 + 0.6 / 2)
    assert sign_accuracy([0.5, 0.5], 4, 2, eta=0.5) == pytest.approx(0.5)
    # m = 1: y_hat y_q = a Z_0 / N with Z_0 a signed binomial, ties count 1/2
    from math import comb
    q = (1 + noise_factor(0.2)) / 2
    pos = sum(comb(N, k) * q**k * (1 - q) ** (N - k) for k in range(N // 2 + 1, N + 1))
    tie = comb(N, N // 2) * (q * (1 - q)) ** (N // 2)
    assert sign_accuracy(P, N, 1, eta=0.2) == pytest.approx(0.4 * (pos + tie / 2) + 0.3)
    drops = [sign_accuracy(P, N, m) - sign_accuracy(P, N, m, eta=0.2) for m in range(1, 5)]
    assert np.all(np.diff(drops) > 0)


@pytest.mark.parametrize("eta,rho", [(0.2, 0.0), (0.0, 0.1), (0.15, 0.1)])
def test_sign_accuracy_matches_monte_carlo(eta, rho):
    for m in (2, 4):
        est = monte_carlo_parity(optimal_kernel(P, N, m), P, N, metric="accuracy", eta=eta,
                                 rho=rho, n_prompts=100_000, seed=11 + m)
        assert est.agrees_with(sign_accuracy(P, N, m, eta, rho), z=4)


@pytest.mark.parametrize("eta,rho", [(0.0, 0.0), (0.2, 0.0), (0.0, 0.1), (0.15, 0.1)])
def test_theorems_p1_p2_match_monte_carlo(eta, rho):
    for m in (1, 2, 4):
        est = monte_carlo_parity(optimal_kernel(P, N, m), P, N, eta=eta, rho=rho,
                                 n_prompts=100_000, seed=100 + m)
        assert est.n >= 100_000
        assert est.agrees_with(noisy_loss(P, N, m, eta, rho), z=4), (m, est)


def test_a_wrong_formula_fails_the_monte_carlo_check():
    """kappa = (1 - 2 eta)(1 - 2 rho) (bits flipped once, not twice) is detectably wrong."""
    eta, rho, m = 0.1, 0.15, 4
    est = monte_carlo_parity(optimal_kernel(P, N, m), P, N, eta=eta, rho=rho,
                             n_prompts=100_000, seed=7)
    assert est.agrees_with(noisy_loss(P, N, m, eta, rho), z=4)
    wrong_kappa = (1 - 2 * eta) * (1 - 2 * rho)
    a = optimal_head_weights(P, N)[:m]
    p = np.array(P[:m])
    wrong = 1 - p.sum() + np.sum(p * (1 - a * wrong_kappa) ** 2
                                 + a**2 * (1 - p * wrong_kappa**2) / N)
    assert not est.agrees_with(float(wrong), z=4)
    assert abs(est.z_score(float(wrong))) > 10


def test_kernel_predict_on_samples_equals_c_a_chi():
    pr = sample_parity_prompts(5, N, P, seed=0, dtype=torch.float64)
    A = torch.as_tensor(optimal_kernel(P, N, 4))
    direct = torch.stack([pr.c[i] @ A @ pr.chi_query[i] for i in range(5)])
    torch.testing.assert_close(kernel_predict(pr.c, A, pr.chi_query), direct)


@pytest.mark.parametrize("bad", [[0.5, 0.6], [0.3, 0.7], [0.6, -0.1, 0.5], [], [[0.5, 0.5]],
                                 [np.nan, 1.0]])
def test_bad_importance_profiles(bad):
    with pytest.raises(ValueError, match="p must"):
        check_importance("p", bad)
    with pytest.raises(ValueError, match="p must"):
        optimal_loss(bad, N, 1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="sorted"):
        optimal_kernel([0.2, 0.8], N, 1)
    for m in (0, 5, 1.5, True):
        with pytest.raises(ValueError, match="m must be an integer in 1..4"):
            optimal_loss(P, N, m)
    for name, kw, high in (("eta", {"eta": 1.01}, "1"), ("eta", {"eta": -0.1}, "1"),
                           ("rho", {"rho": 0.51}, "0.5")):
        with pytest.raises(ValueError, match=rf"{name} must be a number in \[0, {high}\]"):
            noisy_loss(P, N, 2, **kw)
        with pytest.raises(ValueError, match=name):
            matched_noise_loss(P, N, 2, **kw)
        with pytest.raises(ValueError, match=name):
            noisy_pretrained_kernel(P, N, 2, **kw)
        with pytest.raises(ValueError, match=name):
            sign_accuracy(P, N, 2, **kw)
        with pytest.raises(ValueError, match=name):
            noise_factor(**kw)
    for d in (3, 7, 0, 1):
        with pytest.raises(ValueError, match="d must"):
            check_hidden_dim("d", d)
        with pytest.raises(ValueError, match="d must"):
            pair_list(d)
    with pytest.raises(ValueError, match="N must"):
        head_gains(P, 0)
    with pytest.raises(ValueError, match="a and b must differ"):
        pair_index(8, 2, 2)


def test_importance_profile():
    p = importance_profile(4, 0.5)
    assert p.sum() == pytest.approx(1) and np.all(np.diff(p) < 0)
    np.testing.assert_allclose(importance_profile(3, 0.0), np.full(3, 1 / 3))
    check_importance("p", importance_profile(5, 2.0))
    with pytest.raises(ValueError, match="beta must"):
        importance_profile(4, -1.0)
    with pytest.raises(ValueError, match="K must"):
        importance_profile(0, 1.0)


def test_sign_accuracy_with_ties_in_the_profile():
    # equal importances: equal weights, many exact ties; still a probability in [1/2, 1]
    acc = sign_accuracy([0.25] * 4, 16, 4, eta=0.1)
    est = monte_carlo_parity(optimal_kernel([0.25] * 4, 16, 4), [0.25] * 4, 16,
                             metric="accuracy", eta=0.1, n_prompts=100_000, seed=3)
    assert est.agrees_with(acc, z=4)


def test_curvature_gain_names():
    gamma = head_curvatures(P, N)
    np.testing.assert_allclose(gamma, np.array(P) + (1 - np.array(P)) / N)
    np.testing.assert_allclose(task_gains(P, N), np.array(P) ** 2 / gamma)
    assert head_gains is head_curvatures  # old name kept for existing callers


def test_negative_kappa_below_chance():
    """eta > 1/2: kappa < 0, every covered task is answered below chance (exact and MC)."""
    assert noise_factor(0.75) == pytest.approx(-0.5)
    assert noise_factor(1.0, 0.1) == pytest.approx(-(0.8**2))
    per = sign_accuracy_per_task(P, N, 3, eta=0.7)
    assert np.all(per[:3] < 0.5) and per[3] == 0.5
    assert sign_accuracy(P, N, 3, eta=0.7) == pytest.approx(float(np.dot(P, per)))
    # symmetry: flipping every label mirrors the clean accuracy about 1/2
    for m in range(1, 5):
        assert sign_accuracy(P, N, m, eta=1.0) == pytest.approx(1 - sign_accuracy(P, N, m))
    for m in (1, 4):
        est = monte_carlo_parity(optimal_kernel(P, N, m), P, N, metric="accuracy", eta=0.7,
                                 n_prompts=60_000, seed=40 + m)
        assert est.agrees_with(sign_accuracy(P, N, m, eta=0.7), z=4)
        est = monte_carlo_parity(optimal_kernel(P, N, m), P, N, eta=0.8, rho=0.05,
                                 n_prompts=60_000, seed=50 + m)
        assert est.agrees_with(noisy_loss(P, N, m, eta=0.8, rho=0.05), z=4)


def test_noisy_pretraining_closed_form():
    np.testing.assert_allclose(noisy_pretrained_weights(P, N), optimal_head_weights(P, N))
    np.testing.assert_allclose(matched_noise_loss_curve(P, N), optimal_loss_curve(P, N))
    k = noise_factor(0.2, 0.05)
    a = noisy_pretrained_weights(P, N, 0.2, 0.05)
    p = np.array(P)
    np.testing.assert_allclose(a, k * p / ((1 - 1 / N) * k**2 * p + 1 / N))
    # matched noise: the loss never rises with m; clean pretraining: it does at eta = 0.4
    for eta in (0.1, 0.3, 0.4, 0.45):
        assert np.all(np.diff(matched_noise_loss_curve(P, N, eta)) < 0)
    assert np.diff(noisy_loss_curve(P, N, eta=0.4))[-1] > 0
    # the noisy-pretrained kernel is optimal at its noise: better than A* there, and
    # a perturbation of any kept weight raises the loss
    for m in range(1, 5):
        A = noisy_pretrained_kernel(P, N, m, 0.3, 0.05)
        L = kernel_loss(A, P, N, 0.3, 0.05)
        assert L == pytest.approx(matched_noise_loss(P, N, m, 0.3, 0.05))
        assert L < kernel_loss(optimal_kernel(P, N, m), P, N, 0.3, 0.05)
        idx = task_pair_indices(8)[:m]
        for t in idx:
            for eps in (1e-3, -1e-3):
                B = A.copy()
                B[t, t] += eps
                assert kernel_loss(B, P, N, 0.3, 0.05) > L
    assert np.all(noisy_pretrained_kernel(P, N, 2, eta=0.5) == 0)


@pytest.mark.parametrize("eta, rho", [(0.2, 0.0), (0.1, 0.1), (0.7, 0.0)])
def test_noisy_pretraining_matches_monte_carlo(eta, rho):
    for m in (1, 4):
        est = monte_carlo_parity(noisy_pretrained_kernel(P, N, m, eta, rho), P, N, eta=eta,
                                 rho=rho, n_prompts=60_000, seed=int(1000 * eta) + m)
        assert est.agrees_with(matched_noise_loss(P, N, m, eta, rho), z=4)
