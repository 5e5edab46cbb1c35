"""The Setting 1 prompt sampler and the embedding ``E`` (:mod:`iclbook.linear.data`)."""

import numpy as np
import pytest
import torch

from iclbook.linear.data import LinearPrompts, embed_prompts, sample_linear_prompts
from iclbook.linear.theory import random_orthogonal, spectral_covariance

LAM = [3.0, 1.5, 0.5]
D = len(LAM)
U = random_orthogonal(D, seed=4)


def _tokens(p: LinearPrompts) -> torch.Tensor:
    """All inputs of a batch (context and query) as rows."""
    return torch.cat([p.x.reshape(-1, D), p.x_query.reshape(-1, D)])


def test_shapes_dtype_and_batch_shape():
    p = sample_linear_prompts(5, 7, LAM, seed=0)
    assert p.x.shape == (5, 7, D) and p.y.shape == (5, 7)
    assert p.x_query.shape == (5, D) and p.y_query.shape == (5,) and p.w.shape == (5, D)
    assert p.h.shape == (5, D) and p.x.dtype == torch.float32
    q = sample_linear_prompts((2, 3), 4, LAM, seed=0, dtype=torch.float64)
    assert q.x.shape == (2, 3, 4, D) and q.y_query.shape == (2, 3) and q.x.dtype == torch.float64


def test_same_seed_same_tensors_and_generator():
    a = sample_linear_prompts(4, 6, LAM, basis=U, sigma=0.3, sigma_x=0.2, seed=11)
    b = sample_linear_prompts(4, 6, LAM, basis=U, sigma=0.3, sigma_x=0.2, seed=11)
    c = sample_linear_prompts(4, 6, LAM, basis=U, sigma=0.3, sigma_x=0.2, seed=12)
    for f in ("x", "y", "x_query", "y_query", "w"):
        assert torch.equal(getattr(a, f), getattr(b, f))
    assert not torch.equal(a.x, c.x)
    g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
    d1 = sample_linear_prompts(4, 6, LAM, generator=g1)
    d2 = sample_linear_prompts(4, 6, LAM, generator=g2)
    assert torch.equal(d1.x, d2.x) and torch.equal(d1.w, d2.w)
    # a generator advances: two draws from it differ
    assert not torch.equal(d1.x, sample_linear_prompts(4, 6, LAM, generator=g1).x)
    # seed=None means seed 0
    assert torch.equal(sample_linear_prompts(2, 3, LAM).x, sample_linear_prompts(2, 3, LAM,
                                                                                 seed=0).x)


def test_clean_labels_are_inner_products_and_h():
    p = sample_linear_prompts(50, 8, LAM, basis=U, seed=1, dtype=torch.float64)
    torch.testing.assert_close(p.y, torch.einsum("bnd,bd->bn", p.x, p.w))
    torch.testing.assert_close(p.y_query, torch.einsum("bd,bd->b", p.x_query, p.w))
    h = torch.stack([sum(p.y[b, i] * p.x[b, i] for i in range(8)) / 8 for b in range(50)])
    torch.testing.assert_close(p.h, h)


def test_input_covariance_and_task_moments():
    n = 40_000
    p = sample_linear_prompts(n, 4, LAM, basis=U, seed=2, dtype=torch.float64)
    x = _tokens(p).numpy()
    cov = x.T @ x / x.shape[0]
    # entrywise standard error of a second moment is at most ~ sqrt(2) * lambda_max / sqrt(n)
    se = np.sqrt(2) * max(LAM) / np.sqrt(x.shape[0])
    np.testing.assert_allclose(cov, spectral_covariance(LAM, U), atol=5 * se)
    assert np.abs(x.mean(0)).max() < 5 * np.sqrt(max(LAM) / x.shape[0])
    w = p.w.numpy()
    np.testing.assert_allclose(w.T @ w / n, np.eye(D), atol=5 * np.sqrt(2 / n))
    # the task is drawn independently of the inputs: E[y_q^2] = tr(Lambda)
    assert float((p.y_query**2).mean()) == pytest.approx(sum(LAM), rel=0.05)


def test_noise_variances_and_clean_query():
    n, N, s, sx = 20_000, 5, 0.7, 0.4
    task = np.array([1.0, -2.0, 0.5])
    lab = sample_linear_prompts(n, N, LAM, sigma=s, task=task, seed=3, dtype=torch.float64)
    eps = (lab.y - torch.einsum("bnd,bd->bn", lab.x, lab.w)).reshape(-1).numpy()
    assert eps.var() == pytest.approx(s**2, rel=0.03) and abs(eps.mean()) < 0.02
    torch.testing.assert_close(lab.y_query, lab.x_query @ torch.as_tensor(task))
    inp = sample_linear_prompts(n, N, LAM, sigma_x=sx, task=task, seed=3, dtype=torch.float64)
    xs = inp.x.reshape(-1, D).numpy()
    np.testing.assert_allclose(np.cov(xs.T, bias=True), np.diag(LAM) + sx**2 * np.eye(D),
                               atol=0.05)
    # labels come from the clean inputs: y - <w, x_seen> = -<w, delta>, variance sx^2 |w|^2
    resid = (inp.y - torch.einsum("bnd,bd->bn", inp.x, inp.w)).reshape(-1).numpy()
    assert resid.var() == pytest.approx(sx**2 * task @ task, rel=0.03)
    # the query stays clean under input noise
    torch.testing.assert_close(inp.y_query, inp.x_query @ torch.as_tensor(task))
    both = sample_linear_prompts(n, N, LAM, sigma=s, sigma_x=sx, task=task, seed=3,
                                 dtype=torch.float64)
    resid = (both.y - torch.einsum("bnd,bd->bn", both.x, both.w)).reshape(-1).numpy()
    assert resid.var() == pytest.approx(s**2 + sx**2 * task @ task, rel=0.03)


def test_fixed_task_is_shared():
    task = [0.5, 0.0, -1.0]
    p = sample_linear_prompts((3, 2), 4, LAM, task=task, seed=0)
    assert torch.equal(p.w, torch.tensor(task).expand(3, 2, D))


def test_sampler_argument_errors():
    with pytest.raises(ValueError, match="N must be an integer >= 1"):
        sample_linear_prompts(2, 0, LAM)
    with pytest.raises(ValueError, match="batch must be an integer >= 1"):
        sample_linear_prompts(0, 3, LAM)
    with pytest.raises(ValueError, match="batch must be an integer >= 1"):
        sample_linear_prompts((2, 0), 3, LAM)
    with pytest.raises(ValueError, match="batch must be a positive count"):
        sample_linear_prompts((), 3, LAM)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        sample_linear_prompts(2, 3, LAM, sigma=-0.1)
    with pytest.raises(ValueError, match="sigma_x must be a finite number >= 0"):
        sample_linear_prompts(2, 3, LAM, sigma_x=-0.1)
    with pytest.raises(ValueError, match="non-increasing"):
        sample_linear_prompts(2, 3, [1.0, 2.0])
    with pytest.raises(ValueError, match="> 0"):
        sample_linear_prompts(2, 3, [1.0, 0.0])
    with pytest.raises(ValueError, match=r"task must have shape \(3\)"):
        sample_linear_prompts(2, 3, LAM, task=[1.0, 2.0])
    with pytest.raises(ValueError, match="orthogonal"):
        sample_linear_prompts(2, 3, LAM, basis=np.ones((D, D)))


def test_embed_prompts_layout():
    N = 4
    p = sample_linear_prompts((2, 3), N, LAM, sigma=0.2, seed=5)
    E = embed_prompts(p)
    assert E.shape == (2, 3, D + 1, N + 1)
    for i in range(N):
        assert torch.equal(E[..., :D, i], p.x[..., i, :])
        assert torch.equal(E[..., D, i], p.y[..., i])
    assert torch.equal(E[..., :D, N], p.x_query)
    assert torch.all(E[..., D, N] == 0)
    # the query label never leaks into E
    assert not torch.any(torch.isin(p.y_query, E[..., D, :]))
