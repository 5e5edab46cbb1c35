"""The batched training engine against the closed forms and against plain one-model training.

What the benchmark (``benchmarks/bench_training.py``) times, checked here for correctness on
small grids, without timings: (1) the engine's families reach the closed-form optima of
Theorem A (Setting 1) and Theorem P1 (Setting 2) and stop on their own 1% check; (2) a model
trained inside a family follows the trajectory of the same model trained alone, one model at
a time, with the *full* layer (``f_LSA`` on the whole embedding, the two-layer parity network)
on the same prompts -- so the benchmark's two programs train the same models.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iclbook.core.engine import cosine_lr, train_family
from iclbook.linear.data import embed_prompts, sample_linear_prompts
from iclbook.linear.lsa import lsa_forward
from iclbook.linear.models import LinearAttentionFamily
from iclbook.linear.training import data_seed, train_linear_family
from iclbook.parity.data import embed_parity_prompts, sample_parity_prompts
from iclbook.parity.models import ParityAttentionFamily, symmetric_traceless, two_layer_forward
from iclbook.parity.theory import kernel_loss, optimal_loss
from iclbook.parity.training import train_parity_family

SPECTRUM = np.array([1.0, 0.5, 0.25, 0.125])      # gapped, d = 4
N = 16
P = np.array([0.5, 0.3, 0.2])                      # K = 3 parity tasks, d = 6


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: one thread is as fast, and far faster on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------------------------
# (1) the engine reaches the closed forms and stops on its own check
# --------------------------------------------------------------------------------------------

def test_linear_engine_stops_within_one_percent_of_theorem_A():
    # the engine settings of the benchmark (ENGINE_LINEAR there), on a smaller grid
    res = train_linear_family(SPECTRUM, N, seeds=(0,), steps=800, batch=1000, lr=0.05,
                              target_gap=0.01, check_every=50, n_heldout=50_000,
                              progress=False)
    assert res.history.reached_target is True
    assert res.history.stopped_at < 800                       # stopped early, on the target
    # fresh held-out prompts (not the check prompts): within 1% up to Monte Carlo error
    tol = 0.01 + 3 * res.paired_se / res.reference_loss
    assert np.all(res.paired_gap <= tol), res.summary()
    dev = np.abs(res.heldout_loss - res.optimal_loss[None, :])
    assert np.all(dev <= 0.01 * res.optimal_loss[None, :] + 4 * res.heldout_se), res.summary()


def test_parity_engine_stops_within_one_percent_of_theorem_P1():
    res = train_parity_family(P, 8, seeds=(0, 1), target_gap=0.01, n_heldout=2000,
                              progress=False)
    assert res.history.reached_target is True and res.history.stopped_at < 500
    gap = res.population_loss / res.optimal_loss[None, :] - 1      # exact, no sampling
    assert np.all(gap <= 0.01) and np.all(gap >= -1e-9), gap
    # a run that is cut short does not meet the target, and says so
    short = train_parity_family(P, 8, seeds=(0,), steps=25, target_gap=0.01, n_heldout=2000,
                                progress=False)
    assert short.history.reached_target is False
    assert np.any(short.population_loss / short.optimal_loss[None, :] - 1 > 0.01)


# --------------------------------------------------------------------------------------------
# (2) a family at once = every model alone, with the full layer, on the same prompts
# --------------------------------------------------------------------------------------------

def _adam_alone(params, lr, steps):
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: cosine_lr(t, steps))
    return opt, sched


def test_linear_family_equals_each_model_alone_with_the_full_layer():
    """The engine (query column only, all models in one program) against a plain loop that
    trains one model at a time on ``f_LSA(E)`` computed in full, on the same prompts."""
    ranks, seeds, steps, batch, lr = [1, 2, 4], [0, 3], 20, 64, 0.05
    dt = torch.float64
    family = LinearAttentionFamily(4, ranks, seeds, init_scale=0.3, dtype=dt)
    streams = [torch.Generator().manual_seed(data_seed(s)) for s in seeds]

    def sample(_: torch.Generator):
        ps = [sample_linear_prompts(batch, N, SPECTRUM, generator=g, dtype=dt) for g in streams]
        return (torch.stack([embed_prompts(p) for p in ps]),
                torch.stack([p.y_query for p in ps])[:, None, :])

    hist = train_family(family, sample, steps=steps, lr=lr, log_every=1, progress=False)
    family_losses = hist.loss_array()                          # (steps, n_seeds, n_ranks)
    for i, s in enumerate(seeds):
        for k, r in enumerate(ranks):
            start = LinearAttentionFamily(4, [r], [s], init_scale=0.3, dtype=dt)
            Pm = start.P[0, 0, :, :r].detach().clone().requires_grad_()
            Qm = start.Q[0, 0, :, :r].detach().clone().requires_grad_()
            W_pv = start.W_pv[0, 0].detach().clone().requires_grad_()
            opt, sched = _adam_alone([Pm, Qm, W_pv], lr, steps)
            gen = torch.Generator().manual_seed(data_seed(s))
            losses = []
            for _ in range(steps):
                p = sample_linear_prompts(batch, N, SPECTRUM, generator=gen, dtype=dt)
                out = lsa_forward(embed_prompts(p), W_pv, Pm @ Qm.T)      # the full layer
                loss = ((out[:, -1, -1] - p.y_query) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            np.testing.assert_allclose(losses, family_losses[:, i, k], rtol=1e-9)
            with torch.no_grad():
                torch.testing.assert_close(Pm @ Qm.T, family.W_kq[i, k], rtol=1e-9, atol=1e-11)
                torch.testing.assert_close(W_pv, family.W_pv[i, k], rtol=1e-9, atol=1e-11)


def test_parity_family_equals_each_model_alone_with_the_two_layer_network():
    """The engine (all models in one program, masked head slots) against a plain loop that
    trains one ``m``-head model at a time with :func:`two_layer_forward`, same prompts."""
    counts, seeds, steps, batch, lr = [1, 3], [0, 2], 15, 64, 1e-2
    family = ParityAttentionFamily(6, counts, seeds).double()
    S = len(seeds)

    def sample(gen: torch.Generator):
        pr = sample_parity_prompts((S, batch), 8, P, generator=gen)
        return embed_parity_prompts(pr).double(), pr.y_query[:, None, :].double()

    starts = {(i, k): (family.B[i, k, :m].detach().clone(), family.a[i, k, :m].detach().clone())
              for i in range(S) for k, m in enumerate(counts)}
    hist = train_family(family, sample, steps=steps, lr=lr, seed=11, log_every=1,
                        progress=False)
    gen = torch.Generator().manual_seed(11)          # the prompts the family saw, again
    batches = [sample(gen) for _ in range(steps)]
    for i in range(S):
        for k, m in enumerate(counts):
            B = starts[i, k][0].clone().requires_grad_()
            a = starts[i, k][1].clone().requires_grad_()
            opt, sched = _adam_alone([B, a], lr, steps)
            losses = []
            for E, y in batches:
                pred = two_layer_forward(E[i], symmetric_traceless(B), a)
                loss = ((pred - y[i, 0]) ** 2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                losses.append(loss.item())
            np.testing.assert_allclose(losses, hist.loss_array()[:, i, k], rtol=1e-9)
            with torch.no_grad():
                torch.testing.assert_close(symmetric_traceless(B), family.W[i, k, :m],
                                           rtol=1e-9, atol=1e-11)
                torch.testing.assert_close(a, family.head_weights[i, k, :m], rtol=1e-9,
                                           atol=1e-11)


# --------------------------------------------------------------------------------------------
# devices
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("train", [
    lambda **kw: train_linear_family(SPECTRUM, N, steps=1, progress=False, **kw),
    lambda **kw: train_parity_family(P, 8, steps=1, progress=False, **kw),
])
def test_bad_device_is_a_clear_error(train):
    with pytest.raises(ValueError, match="device"):
        train(device="no-such-device")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            train(device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_engines_run_on_cuda_and_match_the_cpu():                # pragma: no cover - GPU only
    kw = dict(ranks=[1, 2], seeds=(0,), steps=50, n_heldout=2000, progress=False)
    gpu = train_linear_family(SPECTRUM, N, device="cuda", **kw)
    cpu = train_linear_family(SPECTRUM, N, **kw)
    assert gpu.model.P.device.type == "cpu"
    np.testing.assert_allclose(gpu.M_eff, cpu.M_eff, rtol=1e-3, atol=1e-4)
    par = train_parity_family(P, 8, seeds=(0,), steps=50, n_heldout=2000, progress=False,
                              device="cuda")
    assert np.all(kernel_loss(par.A, P, 8) >= optimal_loss(P, 8, 3) - 1e-9)


# --------------------------------------------------------------------------------------------
# (3) the new engine paths (benchmark recipe v0.2): same law, same predictions, same target
# --------------------------------------------------------------------------------------------

def _gram_features(G, q, y):
    d = q.shape[-1] - 1
    x_q = q[:, :d]
    coupled = G[:, :d, d] * y[:, None] * x_q                 # E = N lambda_i^2: w shared
    return torch.cat([G.flatten(1), (G[:, d, d] ** 2)[:, None], coupled, (y**2)[:, None]], 1)


def test_gram_sampler_has_the_law_of_the_prompts_gram_matrices():
    from iclbook.linear.training import sample_linear_grams
    n, lam = 40_000, SPECTRUM
    G, q, y = sample_linear_grams(n, N, lam, generator=torch.Generator().manual_seed(5),
                                  dtype=torch.float64)
    # exact first moments: E[G] = [[(N+1) Lambda, 0], [0, N tr Lambda]]
    mean = torch.zeros(5, 5, dtype=torch.float64)
    mean[:4, :4] = torch.diag(torch.as_tensor((N + 1) * lam))
    mean[4, 4] = N * lam.sum()
    se = G.std(0) / n**0.5
    assert ((G.mean(0) - mean).abs() <= 5 * se + 1e-12).all()
    # second and coupled moments against Gram matrices of sampled prompts (two-sample z)
    p = sample_linear_prompts(n, N, lam, seed=6, dtype=torch.float64)
    E = embed_prompts(p)
    a = _gram_features(G, q, y)
    b = _gram_features(E @ E.transpose(-1, -2), E[..., -1], p.y_query)
    z = (a.mean(0) - b.mean(0)) / (a.var(0) / n + b.var(0) / n).sqrt().clamp(min=1e-12)
    assert z.abs().max() < 5, z
    assert torch.all(q[:, -1] == 0)


def test_gram_sampler_fails_on_planted_errors(monkeypatch):
    """The moment test above would catch a wrong chi-square count or a decoupled task."""
    from iclbook.linear import training as lt
    real = torch._standard_gamma
    monkeypatch.setattr(torch, "_standard_gamma", lambda a, generator: real(a - 0.5,
                                                                            generator=generator))
    G, _, _ = lt.sample_linear_grams(40_000, N, SPECTRUM, generator=torch.Generator()
                                     .manual_seed(5), dtype=torch.float64)
    se = G.std(0) / 200
    expected = (N + 1) * SPECTRUM
    assert ((G.mean(0).diagonal()[:4] - torch.as_tensor(expected)).abs() > 5 * se.diagonal()[:4]
            ).any()                                           # one degree of freedom short
    monkeypatch.undo()
    G, q, y = lt.sample_linear_grams(40_000, N, SPECTRUM, generator=torch.Generator()
                                     .manual_seed(5), dtype=torch.float64)
    y_wrong = (torch.randn(40_000, 4, dtype=torch.float64) * q[:, :4]).sum(-1)   # other task
    p = sample_linear_prompts(40_000, N, SPECTRUM, seed=6, dtype=torch.float64)
    E = embed_prompts(p)
    a = _gram_features(G, q, y_wrong)
    b = _gram_features(E @ E.transpose(-1, -2), E[..., -1], p.y_query)
    z = (a.mean(0) - b.mean(0)) / (a.var(0) / 40_000 + b.var(0) / 40_000).sqrt()
    assert z.abs().max() > 5


def test_gram_predict_is_the_family_forward():
    from iclbook.linear.training import gram_predict
    fam = LinearAttentionFamily(4, [1, 2, 4], [0, 1], init="random", dtype=torch.float64)
    E = embed_prompts(sample_linear_prompts((2, 300), N, SPECTRUM, seed=3, dtype=torch.float64))
    G = E @ E.transpose(-1, -2)
    assert torch.allclose(gram_predict(fam, G, E[..., -1], N), fam(E), rtol=0, atol=1e-12)


def test_parity_features_give_the_family_forward():
    from iclbook.parity.training import _FeatureView, parity_features
    fam = ParityAttentionFamily(6, [1, 2, 3], [0, 1], dtype=torch.float64)
    pr = sample_parity_prompts((2, 300), 8, P, eta=0.2, rho=0.1, seed=3, dtype=torch.float64)
    out = _FeatureView(fam)(parity_features(pr))
    assert torch.allclose(out, fam(embed_parity_prompts(pr)), rtol=0, atol=1e-12)


def test_new_linear_recipe_stops_within_one_percent_and_its_check_is_a_true_bound():
    res = train_linear_family(SPECTRUM, N, seeds=(0,), steps=600, batch=1000, lr=0.1,
                              check_every=10, sampler="gram", check="closed_form",
                              target_gap=0.01, n_heldout=50_000, progress=False)
    assert res.history.reached_target is True and res.history.stopped_at < 600
    tol = 0.01 + 3 * res.paired_se / res.reference_loss
    assert np.all(res.paired_gap <= tol), res.summary()
    from iclbook.linear.training import _CheckSet
    cs = _CheckSet(res.model, SPECTRUM, N, None, 20_000, 99_999)
    odd, full = cs.odd_gaps(res.model), cs.closed_form_gaps(res.model)
    assert np.all(odd <= full + 1e-9) and np.all(full <= 0.01)


def test_new_parity_recipe_stops_within_one_percent():
    res = train_parity_family(P, 8, seeds=(0, 1), steps=300, inputs="features",
                              target_gap=0.01, n_heldout=2000, progress=False)
    assert res.history.reached_target is True and res.history.stopped_at < 300
    gap = res.population_loss / res.optimal_loss[None, :] - 1
    assert np.all(gap <= 0.01) and np.all(gap >= -1e-9), gap


@pytest.mark.parametrize("kw, match", [
    (dict(sampler="grams"), "sampler must be one of"),
    (dict(check="exact"), "check must be one of"),
    (dict(sampler="gram", train_sigma=0.5), "clean contexts only"),
])
def test_linear_engine_options_are_validated(kw, match):
    with pytest.raises(ValueError, match=match):
        train_linear_family(SPECTRUM, N, seeds=(0,), steps=1, **kw)


def test_parity_inputs_are_validated():
    with pytest.raises(ValueError, match="inputs must be one of"):
        train_parity_family(P, 8, seeds=(0,), steps=1, inputs="pairs")


def test_shared_gram_evaluation_gives_the_same_losses():
    from iclbook.linear.training import _losses_on_prompts
    fam = LinearAttentionFamily(4, [1, 2, 4], [0, 1, 2], init="random")
    a = _losses_on_prompts(fam, SPECTRUM, N, None, 0.0, 0.0, 5000, 1)
    b = _losses_on_prompts(fam, SPECTRUM, N, None, 0.0, 0.0, 5000, 1, shared_gram=True)
    for x, y in zip(a, b, strict=True):
        assert np.allclose(x, y, rtol=1e-5, atol=0)
    assert not np.allclose(a[0][0], a[0][1], rtol=1e-3)      # the seeds' models differ
