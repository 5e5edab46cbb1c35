"""The Setting 2 prompt sampler (chapter 7): parity labels, dictionary, context flips."""

import numpy as np
import pytest
import torch

from iclbook.linear.theory import random_orthogonal
from iclbook.parity.data import embed_parity_prompts, pair_products, sample_parity_prompts
from iclbook.parity.theory import pair_list

P = [0.4, 0.3, 0.2, 0.1]


def test_shapes_labels_and_dictionary():
    G = random_orthogonal(8, 3)
    pr = sample_parity_prompts((2, 50), 16, P, dictionary=G, seed=1, dtype=torch.float64)
    assert pr.x.shape == (2, 50, 16, 8) and pr.y.shape == (2, 50, 16)
    assert pr.x_query.shape == (2, 50, 8) and pr.y_query.shape == (2, 50)
    assert set(pr.phi.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(pr.x, pr.phi @ torch.as_tensor(G).T)
    t = pr.task
    first = pr.phi.gather(-1, (2 * t)[..., None, None].expand(2, 50, 16, 1))[..., 0]
    second = pr.phi.gather(-1, (2 * t + 1)[..., None, None].expand(2, 50, 16, 1))[..., 0]
    torch.testing.assert_close(pr.y, first * second)
    q = pr.phi_query
    yq = q.gather(-1, (2 * t)[..., None]) * q.gather(-1, (2 * t + 1)[..., None])
    torch.testing.assert_close(pr.y_query, yq[..., 0])


def test_task_frequencies_and_fixed_task():
    pr = sample_parity_prompts(40_000, 4, P, seed=0)
    freq = np.bincount(pr.task.numpy(), minlength=4) / 40_000
    np.testing.assert_allclose(freq, P, atol=0.01)
    pr = sample_parity_prompts(10, 4, P, task=2, seed=0)
    assert torch.all(pr.task == 2)


def test_flip_rates_and_clean_query():
    clean = sample_parity_prompts(20_000, 8, P, seed=4)
    noisy = sample_parity_prompts(20_000, 8, P, seed=4, eta=0.2, rho=0.1)
    # same draws apart from the flips: the query and the clean label stream agree
    torch.testing.assert_close(clean.phi_query, noisy.phi_query)
    torch.testing.assert_close(clean.y_query, noisy.y_query)
    label_flip = (clean.y != noisy.y).float().mean().item()
    bit_flip = (clean.phi != noisy.phi).float().mean().item()
    assert abs(label_flip - 0.2) < 0.005 and abs(bit_flip - 0.1) < 0.005


def test_pair_products_and_c():
    phi = torch.tensor([[1.0, -1.0, 1.0, 1.0]])
    chi = pair_products(phi)
    expect = [phi[0, a] * phi[0, b] for a, b in pair_list(4)]
    torch.testing.assert_close(chi[0], torch.stack(expect))
    pr = sample_parity_prompts(3, 5, [0.6, 0.4], seed=2)
    c = (pr.y[..., None] * pair_products(pr.phi)).mean(-2)
    torch.testing.assert_close(pr.c, c)


def test_embedding_and_determinism():
    a = sample_parity_prompts(4, 6, P, seed=9)
    b = sample_parity_prompts(4, 6, P, generator=torch.Generator().manual_seed(9))
    torch.testing.assert_close(a.x, b.x)
    E = embed_parity_prompts(a)
    assert E.shape == (4, 9, 7)
    torch.testing.assert_close(E[:, :8, :6], a.x.transpose(-1, -2))
    torch.testing.assert_close(E[:, 8, :6], a.y)
    assert torch.all(E[:, 8, 6] == 0)


def test_bad_inputs():
    with pytest.raises(ValueError, match="p must"):
        sample_parity_prompts(2, 4, [0.3, 0.7])
    with pytest.raises(ValueError, match="eta must"):
        sample_parity_prompts(2, 4, P, eta=1.7)
    with pytest.raises(ValueError, match="rho must"):
        sample_parity_prompts(2, 4, P, rho=-0.1)
    with pytest.raises(ValueError, match="N must"):
        sample_parity_prompts(2, 0, P)
    with pytest.raises(ValueError, match="batch must"):
        sample_parity_prompts(0, 4, P)
    with pytest.raises(ValueError, match="task must"):
        sample_parity_prompts(2, 4, P, task=4)
    with pytest.raises(ValueError, match="dictionary must have shape"):
        sample_parity_prompts(2, 4, P, dictionary=np.eye(6))
    with pytest.raises(ValueError, match="orthonormal"):
        sample_parity_prompts(2, 4, P, dictionary=2 * np.eye(8))
    with pytest.raises(ValueError, match="d must"):
        pair_products(torch.ones(2, 5))
