"""The linear self-attention layer and its reduced form (:mod:`iclbook.linear.lsa`, chapter 3)."""

import numpy as np
import pytest
import torch

from iclbook.linear.data import embed_prompts, sample_linear_prompts
from iclbook.linear.lsa import (
    effective_matrix,
    lsa_forward,
    lsa_predict,
    optimal_lsa_weights,
    preconditioned_gd_step,
    reduced_predict,
)
from iclbook.linear.theory import optimal_matrix, random_orthogonal

LAM = [2.0, 1.0, 0.5]
D, N = 3, 6
F64 = torch.float64


def _prompts(batch=64, seed=0, **kw):
    return sample_linear_prompts(batch, N, LAM, seed=seed, dtype=F64, **kw)


def _random_weights(seed=0, batch=()):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(*batch, D + 1, D + 1, generator=g, dtype=F64),
            torch.randn(*batch, D + 1, D + 1, generator=g, dtype=F64))


def _reduced_weights(B):
    """Weights with only W11^KQ and w22^PV non-zero such that B = (w22 W11)^T."""
    W_pv = torch.zeros(D + 1, D + 1, dtype=F64)
    W_kq = torch.zeros(D + 1, D + 1, dtype=F64)
    W_pv[D, D] = 2.0
    W_kq[:D, :D] = B.T / 2.0
    return W_pv, W_kq


def test_forward_matches_the_definition_column_by_column():
    p = _prompts(batch=4)
    E = embed_prompts(p)
    W_pv, W_kq = _random_weights(1)
    out = lsa_forward(E, W_pv, W_kq)
    assert out.shape == E.shape
    for b in range(4):
        e = E[b]
        want = e.clone()
        for j in range(N + 1):  # token j attends to every token i with score e_i^T W_kq e_j
            for i in range(N + 1):
                want[:, j] += W_pv @ e[:, i] * (e[:, i] @ W_kq @ e[:, j]) / N
        torch.testing.assert_close(out[b], want)


def test_predict_is_bottom_right_entry():
    E = embed_prompts(_prompts())
    for seed in range(3):
        W_pv, W_kq = _random_weights(seed)
        pred = lsa_predict(E, W_pv, W_kq)
        assert pred.shape == (64,)
        torch.testing.assert_close(pred, lsa_forward(E, W_pv, W_kq)[..., D, N], rtol=1e-12,
                                   atol=1e-12)
    # batched weights broadcast against batched prompts
    W_pv, W_kq = _random_weights(5, batch=(2, 1))
    E2 = E[:10].expand(2, 10, D + 1, N + 1)
    torch.testing.assert_close(lsa_predict(E2, W_pv, W_kq), lsa_forward(E2, W_pv, W_kq)[..., D, N])


def test_reduced_formula_equals_full_forward():
    p = _prompts(batch=200)
    E = embed_prompts(p)
    B = torch.randn(D, D, generator=torch.Generator().manual_seed(3), dtype=F64)
    W_pv, W_kq = _reduced_weights(B)
    full = lsa_forward(E, W_pv, W_kq)[..., D, N]
    red = reduced_predict(p.h, p.x_query, B)
    assert (full - red).abs().max() < 1e-12
    # B is the transpose of w22 W11: the untransposed matrix gives other predictions
    assert (reduced_predict(p.h, p.x_query, B.T) - full).abs().max() > 1e-3
    torch.testing.assert_close(effective_matrix(W_pv, W_kq), B.T)


def test_odd_part_in_the_task_is_h_meff_xq():
    p = _prompts(batch=100)
    flipped = type(p)(x=p.x, y=-p.y, x_query=p.x_query, y_query=-p.y_query, w=-p.w)
    W_pv, W_kq = _random_weights(7)
    odd = (lsa_predict(embed_prompts(p), W_pv, W_kq)
           - lsa_predict(embed_prompts(flipped), W_pv, W_kq)) / 2
    M = effective_matrix(W_pv, W_kq)
    want = torch.einsum("bi,ij,bj->b", p.h, M, p.x_query)
    assert (odd - want).abs().max() < 1e-10
    # the even part is not zero for generic weights (it only adds variance)
    even = lsa_predict(embed_prompts(p), W_pv, W_kq) - odd
    assert even.abs().max() > 1e-3


def test_effective_matrix_blocks_and_batches():
    W_pv, W_kq = _random_weights(2)
    M = effective_matrix(W_pv, W_kq)
    want = W_pv[D, D] * W_kq[:D, :D] + torch.outer(W_pv[D, :D], W_kq[D, :D])
    torch.testing.assert_close(M, want)
    Wb_pv, Wb_kq = _random_weights(2, batch=(4, 2))
    Mb = effective_matrix(Wb_pv, Wb_kq)
    assert Mb.shape == (4, 2, D, D)
    torch.testing.assert_close(Mb[3, 1], effective_matrix(Wb_pv[3, 1], Wb_kq[3, 1]))
    with pytest.raises(ValueError, match="square"):
        effective_matrix(W_pv, W_kq[:, :D])
    with pytest.raises(ValueError, match="square"):
        effective_matrix(W_pv[:D], W_kq[:D])


def test_optimal_weights_scale_invariance():
    U = random_orthogonal(D, seed=1)
    p = _prompts(batch=50)
    E = embed_prompts(p)
    preds = []
    for c in (1.0, -3.0, 0.01):
        W_pv, W_kq = optimal_lsa_weights(np.array(LAM), N, 2, U, c=c)
        assert W_pv.dtype == F64
        assert W_pv[D, D].item() == pytest.approx(1 / c)
        assert torch.count_nonzero(W_pv) == 1 and torch.count_nonzero(W_kq[D]) == 0
        torch.testing.assert_close(effective_matrix(W_pv, W_kq),
                                   torch.as_tensor(optimal_matrix(LAM, N, 2, U)))
        preds.append(lsa_predict(E, W_pv, W_kq))
    for q in preds[1:]:
        torch.testing.assert_close(q, preds[0])
    with pytest.raises(ValueError, match="c must be a finite non-zero number"):
        optimal_lsa_weights(np.array(LAM), N, 2, c=0.0)
    with pytest.raises(ValueError, match="c must be a finite non-zero number"):
        optimal_lsa_weights(np.array(LAM), N, 2, c=float("inf"))
    with pytest.raises(ValueError, match=r"r must be an integer in 1\.\.3"):
        optimal_lsa_weights(np.array(LAM), N, 4)


def test_gd_step_is_the_reduced_predictor():
    p = _prompts(batch=30)
    B = torch.randn(D, D, generator=torch.Generator().manual_seed(9), dtype=F64)
    w1 = preconditioned_gd_step(p.x, p.y, B)
    assert w1.shape == (30, D)
    torch.testing.assert_close(w1, p.h @ B.T)
    torch.testing.assert_close(torch.einsum("bd,bd->b", p.x_query, w1),
                               reduced_predict(p.h, p.x_query, B))


def test_gd_step_uses_the_gradient_of_the_in_context_loss():
    p = _prompts(batch=5)
    P = torch.randn(D, D, generator=torch.Generator().manual_seed(4), dtype=F64)
    w0 = torch.randn(5, D, generator=torch.Generator().manual_seed(5), dtype=F64)
    w = w0.clone().requires_grad_(True)
    loss = ((torch.einsum("bnd,bd->bn", p.x, w) - p.y) ** 2).sum(-1) / (2 * N)
    (grad,) = torch.autograd.grad(loss.sum(), w)
    torch.testing.assert_close(preconditioned_gd_step(p.x, p.y, P, w0), w0 - grad @ P.T)
    # batched preconditioners
    Pb = P.expand(5, D, D)
    torch.testing.assert_close(preconditioned_gd_step(p.x, p.y, Pb, w0), w0 - grad @ P.T)
    # a small step with a positive-definite preconditioner lowers the in-context loss
    small = 0.05 * torch.eye(D, dtype=F64)
    w1 = preconditioned_gd_step(p.x, p.y, small, w0)
    loss1 = ((torch.einsum("bnd,bd->bn", p.x, w1) - p.y) ** 2).sum(-1) / (2 * N)
    assert torch.all(loss1 < loss.detach())


def test_argument_errors():
    E = embed_prompts(_prompts(batch=2))
    W_pv, W_kq = _random_weights(0)
    with pytest.raises(ValueError, match=r"E must have shape \(\.\.\., d\+1, N\+1\)"):
        lsa_forward(E[0, 0], W_pv, W_kq)
    with pytest.raises(ValueError, match="at least one context column"):
        lsa_predict(E[..., :1], W_pv, W_kq)
    with pytest.raises(ValueError, match=r"W_pv must have shape \(\.\.\., 4, 4\)"):
        lsa_forward(E, W_pv[:D, :D], W_kq)
    with pytest.raises(ValueError, match=r"W_kq must have shape \(\.\.\., 4, 4\)"):
        lsa_predict(E, W_pv, W_kq[:D])
    h = torch.zeros(2, D, dtype=F64)
    with pytest.raises(ValueError, match="share the feature dimension"):
        reduced_predict(h, torch.zeros(2, D + 1, dtype=F64), torch.eye(D, dtype=F64))
    with pytest.raises(ValueError, match="share the feature dimension"):
        reduced_predict(h, h, torch.eye(D + 1, dtype=F64))
    x, y = torch.zeros(2, N, D), torch.zeros(2, N)
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., N, d\)"):
        preconditioned_gd_step(x, y[:, :2], torch.eye(D))
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., N, d\)"):
        preconditioned_gd_step(torch.zeros(D), torch.zeros(()), torch.eye(D))
    with pytest.raises(ValueError, match=r"P must have shape \(\.\.\., 3, 3\)"):
        preconditioned_gd_step(x, y, torch.eye(D + 1))
    with pytest.raises(ValueError, match=r"w0 must have shape \(\.\.\., 3\)"):
        preconditioned_gd_step(x, y, torch.eye(D), torch.zeros(2, D + 1))
