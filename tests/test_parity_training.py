"""Training the m-head family reaches Theorem P1; evaluation under noise matches Theorem P2."""

import numpy as np
import pytest
import torch

from iclbook.linear.theory import random_orthogonal
from iclbook.parity.models import ParityAttentionFamily, kernel_predict
from iclbook.parity.monte_carlo import (
    evaluate_predictor,
    monte_carlo_parity,
    sign_correct,
)
from iclbook.parity.theory import kernel_loss, optimal_kernel, optimal_loss_curve
from iclbook.parity.training import (
    evaluate_parity_family,
    train_parity_family,
)

P = [0.4, 0.3, 0.2, 0.1]
N = 16
G = random_orthogonal(8, 1)


@pytest.fixture(scope="module")
def trained():
    return train_parity_family(P, N, seeds=(0, 1, 2), dictionary=G, n_heldout=50_000,
                               progress=False)


@pytest.mark.slow
def test_every_head_count_reaches_its_optimum(trained):
    assert trained.loss_gap.shape == (3, 4)
    assert np.all(np.abs(trained.loss_gap) < 0.02), trained.summary()
    assert np.all(trained.matrix_error < 0.03), trained.summary()
    # held-out loss of the network agrees with its exact loss L(A)
    z = (trained.heldout_loss - trained.population_loss) / trained.heldout_se
    assert np.all(np.abs(z) < 5)
    assert len(trained.rows()) == 12 and "max|A-A*|" in trained.summary()


@pytest.mark.slow
def test_trained_models_under_noise_follow_their_kernel(trained):
    ev = evaluate_parity_family(trained.model, P, N, dictionary=G, eta=0.2, rho=0.05,
                                n_prompts=30_000)
    exact = kernel_loss(trained.A, P, N, eta=0.2, rho=0.05)
    assert np.all(np.abs(ev.loss - exact) < 5 * ev.loss_se)
    assert ev.accuracy.shape == (3, 4) and np.all(ev.accuracy_se > 0)


def test_negative_start_gets_stuck_in_the_saddle():
    res = train_parity_family(P, N, head_counts=[2], seeds=(0,), dictionary=G, steps=150,
                              init="negative", n_heldout=5_000, progress=False)
    assert res.population_loss[0, 0] == pytest.approx(optimal_loss_curve(P, N)[0], abs=0.01)


def test_evaluate_predictor_on_the_optimum_and_shapes():
    A = torch.as_tensor(optimal_kernel(P, N, 2), dtype=torch.float32)
    ev = evaluate_predictor(lambda pr: kernel_predict(pr.c, A, pr.chi_query)[None], (), P, N,
                            n_prompts=20_000)
    assert ev.loss.shape == (1,)
    est = monte_carlo_parity(A.numpy(), P, N, n_prompts=20_000)
    assert abs(ev.loss[0] - est.mean) < 5 * (ev.loss_se[0] + est.se)
    with pytest.raises(ValueError, match="predict must return"):
        evaluate_predictor(lambda pr: pr.y_query[0], (2,), P, N, n_prompts=10)


def test_sign_correct_ties():
    out = sign_correct(torch.tensor([0.3, -0.2, 0.0, 1e-9]), torch.tensor([1.0, 1.0, -1.0, 1.0]))
    torch.testing.assert_close(out, torch.tensor([1.0, 0.0, 0.5, 0.5], dtype=torch.float64))


def test_bad_training_arguments():
    with pytest.raises(ValueError, match="p must"):
        train_parity_family([0.2, 0.8], N)
    with pytest.raises(ValueError, match="head_counts must"):
        train_parity_family(P, N, head_counts=[5])
    with pytest.raises(ValueError, match="seeds must"):
        train_parity_family(P, N, seeds=())
    with pytest.raises(ValueError, match="metric must"):
        monte_carlo_parity(np.zeros((28, 28)), P, N, metric="hinge")
    with pytest.raises(ValueError, match="eta must"):
        monte_carlo_parity(np.zeros((28, 28)), P, N, eta=1.2)
    with pytest.raises(ValueError, match="A must have shape"):
        monte_carlo_parity(np.zeros((6, 6)), P, N)
    with pytest.raises(ValueError, match="K = 2 tasks"):
        evaluate_parity_family(ParityAttentionFamily(8, [1], [0]), [0.6, 0.4], N)


def test_over_seeds():
    from iclbook.parity.monte_carlo import ParityEvaluation
    ev = ParityEvaluation(loss=np.array([[1.0, 2.0], [3.0, 4.0]]), loss_se=np.ones((2, 2)),
                          accuracy=np.array([[0.5, 0.7], [0.7, 0.9]]),
                          accuracy_se=np.ones((2, 2)), n_prompts=10)
    mean, se = ev.over_seeds("accuracy")
    np.testing.assert_allclose(mean, [0.6, 0.8])
    np.testing.assert_allclose(se, [0.1, 0.1])
    np.testing.assert_allclose(ev.over_seeds("loss")[0], [2.0, 3.0])
    with pytest.raises(ValueError, match="metric must"):
        ev.over_seeds("hinge")


def test_train_softmax_parity_small_run_and_bad_inputs():
    from iclbook.softmax.training import train_softmax_parity
    res = train_softmax_parity([0.6, 0.4], 4, [(1, 8), (2, 8)], seeds=(0, 1),
                               noise=[(0.0, 0.0), (0.2, 0.0)], steps=3, batch=8, n_eval=200,
                               progress=False)
    assert res.accuracy.shape == (2, 2, 2) and np.all(res.accuracy_drop[..., 0] == 0)
    assert "drop eta=0.2" in res.summary() and len(res.histories[1]) == 2
    with pytest.raises(ValueError, match="clean condition"):
        train_softmax_parity([0.6, 0.4], 4, [(1, 8)], noise=[(0.2, 0.0)], steps=1)
    with pytest.raises(ValueError, match="eta must"):
        train_softmax_parity([0.6, 0.4], 4, [(1, 8)], noise=[(0.0, 0.0), (1.5, 0.0)], steps=1)
    with pytest.raises(ValueError, match="configs must"):
        train_softmax_parity([0.6, 0.4], 4, [], steps=1)
    with pytest.raises(ValueError, match="n_heads must"):
        train_softmax_parity([0.6, 0.4], 4, [(0, 8)], steps=1)


def test_noisy_pretraining_reaches_the_matched_optimum():
    """Pretrained on noisy contexts, every head count reaches the matched-noise closed form."""
    from iclbook.parity.theory import matched_noise_loss_curve
    res = train_parity_family(P, N, seeds=(0,), dictionary=G, steps=300, n_heldout=20_000,
                              eta=0.3, progress=False)
    assert res.train_eta == 0.3
    np.testing.assert_allclose(res.optimal_loss, matched_noise_loss_curve(P, N, eta=0.3)[1:])
    assert np.all(np.abs(res.loss_gap) < 0.02)
    assert np.all(np.abs(res.heldout_loss - res.population_loss) < 5 * res.heldout_se)
    assert np.all(np.diff(res.population_loss[0]) < 0)  # more heads never hurt here
