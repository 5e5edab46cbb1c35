"""Training the rank-r family reaches Theorem A; evaluation agrees with Theorem B (chapter 5)."""

import numpy as np
import pytest
import torch

from iclbook.linear.models import LinearAttentionFamily
from iclbook.linear.theory import (
    noisy_risk,
    optimal_loss,
    optimal_loss_curve,
    optimal_matrix,
    random_orthogonal,
)
from iclbook.linear.training import (
    LinearFamilyResult,
    data_seed,
    evaluate_linear_family,
    train_linear_family,
)

SPECTRUM = [3.0, 1.0, 0.3]
N = 10
LOSS_TOL = 0.03      # |held-out loss / L*_r - 1|; about 4 standard errors at 1e5 prompts
PAIRED_TOL = 0.005   # held-out loss / Theorem A's loss on the same prompts - 1
MATRIX_TOL = 0.10    # ||M_eff - M*||_F / ||M*||_F (a short run: chapter 5 reaches 5%)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: one thread is as fast, and far faster on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_grid() -> LinearFamilyResult:
    return train_linear_family(SPECTRUM, N, seeds=(0, 1), steps=400, batch=1000, lr=2e-2,
                               n_heldout=100_000, progress=False)


def test_tolerances_would_catch_a_run_stuck_on_a_plateau():
    # A rank-r model stuck on the plateau of rank r-1 has loss L*_{r-1} and M*_{r-1}.
    curve = optimal_loss_curve(SPECTRUM, N)
    for r in range(1, 4):
        assert curve[r - 1] / curve[r] - 1 > 2 * LOSS_TOL
        lower = np.zeros((3, 3)) if r == 1 else optimal_matrix(SPECTRUM, N, r - 1)
        M = optimal_matrix(SPECTRUM, N, r)
        assert np.linalg.norm(lower - M) / np.linalg.norm(M) > 4 * MATRIX_TOL


def test_every_model_reaches_theorem_A(small_grid):
    res = small_grid
    assert res.ranks == [1, 2, 3] and res.seeds == [0, 1]
    assert res.heldout_loss.shape == res.matrix_error.shape == (2, 3)
    np.testing.assert_allclose(res.optimal_loss, [optimal_loss(SPECTRUM, N, r) for r in (1, 2, 3)])
    assert np.all(np.abs(res.loss_gap) <= LOSS_TOL), res.summary()
    assert np.all(np.abs(res.loss_gap) <= 5 * res.heldout_se / res.optimal_loss + 0.005)
    assert np.all(res.paired_gap <= PAIRED_TOL), res.summary()
    assert np.all(res.matrix_error <= MATRIX_TOL), res.summary()
    assert res.passes(LOSS_TOL, MATRIX_TOL)
    assert res.verdict(LOSS_TOL, MATRIX_TOL).startswith("all 6 models within 3% of L*_r and "
                                                        "10% of M*: True")
    assert not res.passes(LOSS_TOL, 0.0)
    assert "False" in res.verdict(0.0, 0.0)


def test_kept_directions(small_grid):
    kept = small_grid.kept_directions()
    assert kept.shape == (2, 3, 3)
    expected = np.array([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=float)
    np.testing.assert_allclose(kept, np.broadcast_to(expected, kept.shape), atol=0.06)


def test_history_and_table(small_grid):
    hist = small_grid.history
    losses = hist.loss_array()
    assert losses.shape == (len(hist.steps), 2, 3) and hist.steps[-1] == 400
    assert np.all(losses[0] > losses[-1])
    table = small_grid.summary()
    assert len(table.splitlines()) == 1 + 6 and "M_eff err" in table
    assert len(small_grid.rows()) == 6


def test_random_basis_and_family_independence():
    basis = random_orthogonal(3, seed=4)
    kw = dict(basis=basis, steps=60, batch=200, n_heldout=2000, progress=False)
    family = train_linear_family(SPECTRUM, N, ranks=[1, 2], seeds=(0, 1), **kw)
    alone = train_linear_family(SPECTRUM, N, ranks=[2], seeds=(1,), **kw)
    np.testing.assert_allclose(family.M_eff[1, 1], alone.M_eff[0, 0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(family.M_star[1], optimal_matrix(SPECTRUM, N, 2, basis))
    kept = family.kept_directions()                   # read in the basis U, not the identity
    assert kept.shape == (2, 2, 3) and np.all(kept[:, :, 0] > 0.5)


def test_target_gap_stops_early():
    res = train_linear_family(SPECTRUM, N, ranks=[1], seeds=(0,), steps=2000, batch=500,
                              target_gap=0.05, check_every=50, n_heldout=1000, progress=False)
    assert res.history.reached_target is True and res.history.stopped_at < 2000


def _optimal_family(ranks, basis=None):
    family = LinearAttentionFamily(3, ranks, [0, 1])
    return family.load_optimum(SPECTRUM, N, basis)


def test_load_optimum_gives_M_star():
    basis = random_orthogonal(3, seed=2)
    family = _optimal_family([1, 2, 3], basis)
    with torch.no_grad():
        M = family.effective_matrices().double().numpy()
    for k, r in enumerate([1, 2, 3]):
        np.testing.assert_allclose(M[0, k], optimal_matrix(SPECTRUM, N, r, basis), atol=1e-6)
    with pytest.raises(ValueError, match="spectrum"):
        family.load_optimum([1.0, 0.5], N)
    with pytest.raises(ValueError, match="basis"):
        family.load_optimum(SPECTRUM, N, np.ones((3, 3)))


@pytest.mark.parametrize("sigma, sigma_x, basis_seed", [
    (0.0, 0.0, None), (1.0, 0.0, None), (0.5, 0.4, 3),
])
def test_evaluate_matches_theorem_B(sigma, sigma_x, basis_seed):
    basis = None if basis_seed is None else random_orthogonal(3, seed=basis_seed)
    family = _optimal_family([1, 2, 3], basis)
    risk, se = evaluate_linear_family(family, SPECTRUM, N, basis=basis, sigma=sigma,
                                      sigma_x=sigma_x, n_prompts=100_000, with_se=True)
    assert risk.shape == se.shape == (2, 3)
    theory = np.array([noisy_risk(SPECTRUM, N, r, sigma, sigma_x) for r in (1, 2, 3)])
    assert np.all(se > 0) and np.all(se < 0.02 * theory)
    assert np.all(np.abs(risk - theory) <= 4 * se), (risk, theory, se)
    # the same prompts for every seed: identical models give identical numbers
    np.testing.assert_array_equal(risk[0], risk[1])
    assert np.array_equal(evaluate_linear_family(family, SPECTRUM, N, sigma=sigma,
                                                 sigma_x=sigma_x, basis=basis,
                                                 n_prompts=100_000), risk)


def test_evaluate_detects_a_plateau_model():
    # The rank-1 optimum evaluated as if it were the rank-2 model: far above L*_2.
    family = _optimal_family([1])
    risk, se = evaluate_linear_family(family, SPECTRUM, N, n_prompts=20_000, with_se=True)
    assert np.all(risk - optimal_loss(SPECTRUM, N, 2) > 10 * se)


@pytest.mark.parametrize("kwargs, match", [
    ({"spectrum": [1.0, 2.0]}, "spectrum"),
    ({"N": 0}, "N"),
    ({"ranks": [4]}, "ranks"),
    ({"ranks": []}, "ranks"),
    ({"seeds": ()}, "seeds"),
    ({"seeds": (-1,)}, "seeds"),
    ({"batch": 0}, "batch"),
    ({"n_heldout": 0}, "n_heldout"),
    ({"target_gap": -0.1}, "target_gap"),
    ({"init": "zeros"}, "init"),
    ({"init_scale": -1.0}, "init_scale"),
    ({"basis": np.ones((3, 3))}, "basis"),
    ({"steps": 0}, "steps"),
])
def test_train_bad_inputs(kwargs, match):
    args = {"spectrum": SPECTRUM, "N": N, "steps": 1, "batch": 4, "n_heldout": 4,
            "progress": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_linear_family(**args)


@pytest.mark.parametrize("kwargs, match", [
    ({"spectrum": [1.0, 0.5]}, "d = 2"),
    ({"N": 0}, "N"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma_x": -1.0}, "sigma_x"),
    ({"n_prompts": 0}, "n_prompts"),
    ({"basis": np.ones((3, 3))}, "basis"),
    ({"model": "not a model"}, "model"),
])
def test_evaluate_bad_inputs(kwargs, match):
    args = {"model": _optimal_family([1]), "spectrum": SPECTRUM, "N": N, "n_prompts": 10,
            **kwargs}
    model, spectrum, n = args.pop("model"), args.pop("spectrum"), args.pop("N")
    with pytest.raises(ValueError, match=match):
        evaluate_linear_family(model, spectrum, n, **args)


def test_data_seed():
    assert data_seed(0) != data_seed(1) and data_seed(3) == data_seed(3)
    with pytest.raises(ValueError, match="seed"):
        data_seed(-2)


# ---- figures of chapter 5 -------------------------------------------------------------------

def _labelled(fig):
    import matplotlib.pyplot as plt

    titles = [ax.get_title() for ax in fig.axes]
    titles.append(fig._suptitle.get_text() if fig._suptitle else "")
    ok = (any(titles) and any(ax.get_xlabel() for ax in fig.axes)
          and any(ax.get_ylabel() for ax in fig.axes)
          and any(ax.get_legend() is not None for ax in fig.axes))
    plt.close(fig)
    return ok


def test_plots(small_grid):
    from iclbook.plots.style import new_figure
    from iclbook.plots.training import (
        plot_family_learning_curves,
        plot_kept_directions,
        plot_learning_curves,
    )

    curve = optimal_loss_curve(SPECTRUM, N)
    steps = [1, 10, 20]
    fig = plot_learning_curves(steps, np.ones((3, 2, 3)), [1, 2, 3], curve, title="t")
    assert fig.axes[0].get_yscale() == "log" and _labelled(fig)
    assert len(fig.axes[0].get_legend().get_texts()) == 4        # plateaus + 3 ranks
    fig = plot_learning_curves(steps, np.ones((3, 3)), [1, 2, 3], curve, mean_over_seeds=True)
    assert _labelled(fig)
    fig, axes = new_figure("two panels", "x", "y", ncols=2)
    assert plot_learning_curves(steps, np.ones((3, 1)), [3], curve, ax=axes[1]) is fig
    assert axes[1].get_title() and _labelled(fig)
    assert _labelled(plot_family_learning_curves(small_grid))
    fig = plot_kept_directions(small_grid.kept_directions(), small_grid.ranks, SPECTRUM)
    assert "mean of 2 seeds" in fig.axes[0].get_title() and _labelled(fig)
    assert _labelled(plot_kept_directions(np.eye(3), [1, 2, 3]))


def test_plot_bad_inputs():
    from iclbook.plots.training import (
        plot_family_learning_curves,
        plot_kept_directions,
        plot_learning_curves,
    )

    curve = optimal_loss_curve(SPECTRUM, N)
    with pytest.raises(ValueError, match="losses"):
        plot_learning_curves([1, 2], np.ones((3, 1, 2)), [1, 2], curve)
    with pytest.raises(ValueError, match="losses"):
        plot_learning_curves([1, 2], np.ones((2, 1, 3)), [1, 2], curve)
    with pytest.raises(ValueError, match="plateaus"):
        plot_learning_curves([1, 2], np.ones((2, 1, 2)), [1, 2], [1.0])
    with pytest.raises(ValueError, match="result"):
        plot_family_learning_curves("not a result")
    with pytest.raises(ValueError, match="kept"):
        plot_kept_directions(np.ones((2, 3)), [1, 2, 3])
    with pytest.raises(ValueError, match="spectrum"):
        plot_kept_directions(np.ones((3, 3)), [1, 2, 3], spectrum=[1.0, 0.5])
