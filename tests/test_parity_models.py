"""The two-layer m-head model and its kernel form (chapters 7-8)."""

import numpy as np
import pytest
import torch

from iclbook.linear.theory import random_orthogonal
from iclbook.parity.data import embed_parity_prompts, sample_parity_prompts
from iclbook.parity.models import (
    ParityAttentionFamily,
    head_vectors,
    heads_from_kernel,
    kernel_matrix,
    kernel_predict,
    optimal_parity_weights,
    symmetric_traceless,
    two_layer_forward,
)
from iclbook.parity.theory import optimal_kernel

P = [0.4, 0.3, 0.2, 0.1]
G = random_orthogonal(8, 1)


def _random_heads(m, seed):
    g = torch.Generator().manual_seed(seed)
    W = symmetric_traceless(torch.randn(m, 8, 8, generator=g, dtype=torch.float64))
    a = torch.randn(m, generator=g, dtype=torch.float64)
    return W, a


def test_symmetric_traceless():
    W = symmetric_traceless(torch.randn(3, 5, 5))
    torch.testing.assert_close(W, W.transpose(-1, -2))
    assert torch.allclose(torch.diagonal(W, dim1=-2, dim2=-1).sum(-1), torch.zeros(3), atol=1e-6)
    with pytest.raises(ValueError, match="B must have shape"):
        symmetric_traceless(torch.ones(3, 4))


@pytest.mark.parametrize("m", [1, 2, 4])
def test_forward_equals_kernel_form(m):
    W, a = _random_heads(m, m)
    pr = sample_parity_prompts(200, 16, P, dictionary=G, seed=m, eta=0.1, rho=0.1,
                               dtype=torch.float64)
    net = two_layer_forward(embed_parity_prompts(pr), W, a)
    A = kernel_matrix(W, a, G)
    assert np.linalg.matrix_rank(A.numpy(), tol=1e-9) <= m
    torch.testing.assert_close(net, kernel_predict(pr.c, A, pr.chi_query), rtol=1e-10,
                               atol=1e-12)


def test_scores_are_pair_features():
    W, _ = _random_heads(3, 0)
    pr = sample_parity_prompts(20, 4, P, dictionary=G, seed=0, dtype=torch.float64)
    s = torch.einsum("bnd,jde,bne->bjn", pr.x, W, pr.x)
    v = head_vectors(W, G)
    from iclbook.parity.data import pair_products
    torch.testing.assert_close(s, torch.einsum("jk,bnk->bjn", v, pair_products(pr.phi)))


def test_optimal_weights_realise_theorem_p1():
    for m in range(1, 5):
        W, a = optimal_parity_weights(P, 16, m, G)
        A = kernel_matrix(torch.as_tensor(W), torch.as_tensor(a), G).numpy()
        np.testing.assert_allclose(A, optimal_kernel(P, 16, m), atol=1e-12)
        np.testing.assert_allclose(np.trace(W, axis1=-2, axis2=-1), 0, atol=1e-12)


def test_heads_from_kernel_reconstructs_a():
    W, a = _random_heads(3, 5)
    A = kernel_matrix(W, a, G).numpy()
    W2, a2 = heads_from_kernel(A, 3, G)
    A2 = kernel_matrix(torch.as_tensor(W2), torch.as_tensor(a2), G).numpy()
    np.testing.assert_allclose(A2, A, atol=1e-10)
    v = head_vectors(torch.as_tensor(W2), G).numpy()
    np.testing.assert_allclose(v @ v.T, np.eye(3), atol=1e-10)
    with pytest.raises(ValueError, match="A must be"):
        heads_from_kernel(np.zeros((5, 5)), 1)


def test_family_matches_single_models_and_masks():
    fam = ParityAttentionFamily(8, [1, 3], [0, 1], dtype=torch.float64)
    pr = sample_parity_prompts((2, 30), 16, P, dictionary=G, seed=3, dtype=torch.float64)
    E = embed_parity_prompts(pr)
    out = fam(E)
    assert out.shape == (2, 2, 30)
    W, a = fam.W.detach(), fam.head_weights.detach()
    for s in range(2):
        for k, m in enumerate([1, 3]):
            single = two_layer_forward(E[s], W[s, k, :m], a[s, k, :m])
            torch.testing.assert_close(out[s, k].detach(), single)
    assert torch.all(W[:, 0, 1:] == 0) and torch.all(a[:, 0, 1:] == 0)
    A = fam.kernel_matrices(G).detach().numpy()
    assert A.shape == (2, 2, 28, 28)
    assert np.linalg.matrix_rank(A[0, 0], tol=1e-9) == 1


def test_family_init_options_and_seed_independence():
    f1 = ParityAttentionFamily(8, [2], [5])
    f2 = ParityAttentionFamily(8, [2], [4, 5])
    torch.testing.assert_close(f1.B[0], f2.B[1])
    assert torch.all(f1.a == 1)
    assert torch.all(ParityAttentionFamily(8, [2], [0], init="negative").a == -1)
    signs = ParityAttentionFamily(8, [4], [0, 1, 2], init="random_sign").a
    assert set(signs.unique().tolist()) <= {-1.0, 1.0}
    with pytest.raises(ValueError, match="init must"):
        ParityAttentionFamily(8, [2], [0], init="zero")


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="d must"):
        ParityAttentionFamily(7, [1], [0])
    with pytest.raises(ValueError, match="head_counts must"):
        ParityAttentionFamily(8, [5], [0])
    with pytest.raises(ValueError, match="head_counts must"):
        ParityAttentionFamily(8, [0], [0])
    with pytest.raises(ValueError, match="non-empty"):
        ParityAttentionFamily(8, [], [0])
    fam = ParityAttentionFamily(8, [1], [0])
    with pytest.raises(ValueError, match="E must have shape"):
        fam(torch.zeros(2, 3, 9, 5))
    with pytest.raises(ValueError, match="m must"):
        optimal_parity_weights(P, 16, 5)
    with pytest.raises(ValueError, match="W must have shape"):
        two_layer_forward(torch.zeros(2, 9, 5), torch.zeros(2, 7, 7), torch.zeros(2))
    with pytest.raises(ValueError, match="a must have shape"):
        kernel_matrix(torch.zeros(2, 8, 8), torch.zeros(3))
    with pytest.raises(ValueError, match="must agree in D"):
        kernel_predict(torch.zeros(3), torch.zeros(4, 4), torch.zeros(4))
