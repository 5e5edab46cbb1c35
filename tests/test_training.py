"""The batched training engine of chapter 5: determinism, early stopping, logging, schedule."""

import math

import numpy as np
import pytest
import torch

from iclbook.core.engine import TrainingHistory, cosine_lr, train_family
from iclbook.linear.data import embed_prompts, sample_linear_prompts
from iclbook.linear.models import LinearAttentionFamily

SPECTRUM = [2.0, 1.0]
N = 8


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: one thread is as fast, and far faster on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sample(gen):
    p = sample_linear_prompts((2, 64), N, SPECTRUM, generator=gen)
    return embed_prompts(p), p.y_query[:, None, :]


def _model():
    return LinearAttentionFamily(2, [1, 2], [0, 1], init_scale=0.3)


def test_same_seed_same_run_and_different_seed_differs():
    runs = []
    for seed in (3, 3, 4):
        model = _model()
        hist = train_family(model, _sample, steps=30, lr=1e-2, seed=seed, log_every=5,
                            progress=False)
        runs.append((hist.loss_array(), model.W_kq.detach().clone()))
    assert runs[0][0].shape == (7, 2, 2)          # steps 1, 5, 10, ..., 30
    assert np.array_equal(runs[0][0], runs[1][0])
    assert torch.equal(runs[0][1], runs[1][1])
    assert not np.array_equal(runs[0][0], runs[2][0])


def test_history_fields_and_training_lowers_the_loss():
    hist = train_family(_model(), _sample, steps=100, lr=3e-2, log_every=10, progress=False)
    assert isinstance(hist, TrainingHistory)
    assert hist.steps[:3] == [1, 10, 20] and hist.steps[-1] == 100
    assert hist.stopped_at == 100 and hist.reached_target is None and hist.seconds > 0
    losses = hist.loss_array()
    assert losses[-3:].mean() < 0.7 * losses[0].mean()


def test_target_stops_early_and_reports():
    calls = []

    def target(model):
        calls.append(1)
        return len(calls) >= 2

    hist = train_family(_model(), _sample, steps=100, target=target, check_every=10,
                        progress=False)
    assert hist.stopped_at == 20 and hist.reached_target is True
    hist = train_family(_model(), _sample, steps=30, target=lambda m: False, check_every=10,
                        progress=False)
    assert hist.stopped_at == 30 and hist.reached_target is False


def test_zero_learning_rate_leaves_the_weights():
    model = _model()
    start = model.W_kq.detach().clone()
    train_family(model, _sample, steps=5, lr=0.0, lr_floor=0.0, progress=False)
    assert torch.equal(model.W_kq.detach(), start)


def test_log_mean_averages_the_window():
    every = train_family(_model(), _sample, steps=20, seed=1, log_every=1, progress=False)
    mean = train_family(_model(), _sample, steps=20, seed=1, log_every=5, log_mean=True,
                        progress=False)
    per_step = every.loss_array()
    assert mean.steps == [1, 5, 10, 15, 20]
    np.testing.assert_allclose(mean.loss_array()[0], per_step[0], rtol=1e-6)
    np.testing.assert_allclose(mean.loss_array()[1], per_step[1:5].mean(0), rtol=1e-5)
    np.testing.assert_allclose(mean.loss_array()[4], per_step[15:20].mean(0), rtol=1e-5)


def test_family_member_gets_the_updates_it_would_get_alone():
    # Models (seed 1, r = 2) in a family, and alone; the same data stream for both.
    def sample_for(seeds):
        def sample(gen):
            ps = [sample_linear_prompts(64, N, SPECTRUM, seed=1000 * step[0] + s)
                  for s in seeds]
            step[0] += 1
            E = torch.stack([embed_prompts(p) for p in ps])
            return E, torch.stack([p.y_query for p in ps])[:, None, :]
        step = [0]
        return sample

    family = LinearAttentionFamily(2, [1, 2], [0, 1], init_scale=0.3)
    alone = LinearAttentionFamily(2, [2], [1], init_scale=0.3)
    h_family = train_family(family, sample_for([0, 1]), steps=40, log_every=1, progress=False)
    h_alone = train_family(alone, sample_for([1]), steps=40, log_every=1, progress=False)
    np.testing.assert_allclose(h_family.loss_array()[:, 1, 1], h_alone.loss_array()[:, 0, 0],
                               rtol=1e-4)
    torch.testing.assert_close(family.W_kq[1, 1], alone.W_kq[0, 0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 0}, "steps"),
    ({"steps": 2.5}, "steps"),
    ({"lr": -1.0}, "lr"),
    ({"log_every": 0}, "log_every"),
    ({"check_every": 0}, "check_every"),
    ({"warmup": -1}, "warmup"),
    ({"lr_floor": 1.5}, "lr_floor"),
    ({"lr_floor": -0.5}, "lr_floor"),
    ({"target": 3}, "target"),
])
def test_train_family_bad_inputs(kwargs, match):
    args = {"steps": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        train_family(_model(), _sample, progress=False, **args)


def test_train_family_bad_model_and_sampler():
    with pytest.raises(ValueError, match="model"):
        train_family(lambda x: x, _sample, steps=5, progress=False)
    with pytest.raises(ValueError, match="sample_batch"):
        train_family(_model(), None, steps=5, progress=False)


def test_cosine_lr_values():
    assert cosine_lr(0, 100) == 1.0
    assert cosine_lr(100, 100) == pytest.approx(0.01)
    assert cosine_lr(50, 100) == pytest.approx(0.01 + 0.99 * 0.5)
    assert cosine_lr(500, 100) == pytest.approx(0.01)          # stays at the floor
    assert cosine_lr(25, 100, floor=0.0) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    # warm-up: linear from 1/warmup to 1, then the cosine starts at 1
    assert cosine_lr(0, 100, warmup=10) == pytest.approx(0.1)
    assert cosine_lr(9, 100, warmup=10) == pytest.approx(1.0)
    assert cosine_lr(10, 100, warmup=10) == pytest.approx(1.0)
    after = [cosine_lr(s, 100, warmup=10) for s in range(10, 101)]
    assert np.all(np.diff(after) <= 0)
    assert cosine_lr(3, 2, warmup=5) == pytest.approx(0.8)     # warm-up longer than the run


@pytest.mark.parametrize("args, match", [
    ((-1, 10), "step"),
    ((0, 0), "steps"),
    ((0, 10, -1), "warmup"),
    ((0, 10, 0, -0.1), "floor"),
    ((0, 10, 0, 1.5), "floor"),
])
def test_cosine_lr_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        cosine_lr(*args)


# --------------------------------------------------------------------------------------------
# ICLBOOK_THREADS: the one-thread (Binder) run of a chapter
# --------------------------------------------------------------------------------------------

@pytest.fixture
def _restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_setup_takes_the_thread_count_from_iclbook_threads(monkeypatch, _restore_threads):
    from iclbook.core.reproducibility import BOOK_THREADS, setup
    monkeypatch.setenv("ICLBOOK_THREADS", "1")
    setup(seed=0)
    assert torch.get_num_threads() == 1
    monkeypatch.setenv("ICLBOOK_THREADS", "3")
    setup(seed=0, threads=None)                  # the variable wins over the argument too
    assert torch.get_num_threads() == 3
    monkeypatch.delenv("ICLBOOK_THREADS")
    setup(seed=0)
    assert torch.get_num_threads() == BOOK_THREADS


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5", "1025"])
def test_setup_rejects_a_bad_iclbook_threads(monkeypatch, _restore_threads, value):
    from iclbook.core.reproducibility import setup
    monkeypatch.setenv("ICLBOOK_THREADS", value)
    with pytest.raises(ValueError, match=r"ICLBOOK_THREADS must be an integer in 1\.\.1024"):
        setup(seed=0)
