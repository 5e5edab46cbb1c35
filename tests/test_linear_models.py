"""The batched family of rank-r linear-attention models (chapter 5)."""

import numpy as np
import pytest
import torch

from iclbook.linear.data import embed_prompts, sample_linear_prompts
from iclbook.linear.lsa import effective_matrix, lsa_forward
from iclbook.linear.models import LinearAttentionFamily, model_seed

SPECTRUM = [3.0, 1.0, 0.3]


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny tensors: one thread is as fast, and far faster on a busy machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _prompts(n_seeds, batch=40, N=7, seed=0):
    p = sample_linear_prompts((n_seeds, batch), N, SPECTRUM, seed=seed, dtype=torch.float64)
    return embed_prompts(p)


@pytest.mark.parametrize("init", ["random", "label"])
def test_forward_equals_the_full_layer_for_every_model(init):
    family = LinearAttentionFamily(3, [1, 2, 4], [0, 5], init_scale=1.0, init=init,
                                   dtype=torch.float64)
    E = _prompts(2)
    out = family(E)
    assert out.shape == (2, 3, 40)
    for s in range(2):
        for k in range(3):
            W_pv, W_kq = family.model_weights(s, k)
            expected = lsa_forward(E[s], W_pv, W_kq)[..., -1, -1]
            torch.testing.assert_close(out[s, k], expected, rtol=1e-10, atol=1e-10)


def test_rank_of_W_kq_is_at_most_r_and_masked_columns_stay_zero():
    family = LinearAttentionFamily(3, [1, 2, 3, 4], [0, 1], init_scale=1.0, init="random",
                                   dtype=torch.float64)
    opt = torch.optim.Adam(family.parameters(), lr=0.1)
    for _ in range(3):
        loss = family(_prompts(2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        ranks = torch.linalg.matrix_rank(family.W_kq)
        assert ranks.tolist() == [[1, 2, 3, 4]] * 2          # random weights: rank exactly r
        assert torch.all(family.P[:, 0, :, 1:] == 0) and torch.all(family.Q[:, 1, :, 2:] == 0)
        assert torch.all(torch.linalg.matrix_rank(family.effective_matrices())
                         <= torch.tensor([1, 2, 3, 3]))


def test_label_initialisation():
    family = LinearAttentionFamily(3, [1, 3], [2], init_scale=0.5)
    W_pv = family.W_pv.detach()
    expected = torch.zeros(4, 4)
    expected[-1, -1] = 1.0
    assert torch.equal(W_pv[0, 0], expected) and torch.equal(W_pv[0, 1], expected)
    assert torch.all(family.P[..., -1, :] == 0) and torch.all(family.Q[..., -1, :] == 0)
    # On this branch M_eff is the feature block of W^KQ (w22^PV = 1, w21^PV = 0).
    with torch.no_grad():
        torch.testing.assert_close(family.effective_matrices(), family.W_kq[..., :3, :3])


def test_init_scale_sets_the_spread():
    big = LinearAttentionFamily(5, [6], list(range(20)), init_scale=1.0, init="random")
    std = big.W_pv.detach().std().item()
    assert std == pytest.approx(1.0 / np.sqrt(6), rel=0.1)
    zero = LinearAttentionFamily(5, [6], [0], init_scale=0.0, init="random")
    assert torch.all(zero.W_kq == 0)


def test_a_model_does_not_depend_on_its_family():
    family = LinearAttentionFamily(3, [1, 2, 3], [0, 7], init_scale=1.0, init="random")
    alone = LinearAttentionFamily(3, [2], [7], init_scale=1.0, init="random")
    for a, b in zip(family.model_weights(1, 1), alone.model_weights(0, 0), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(family.model_weights(0, 1)[1], family.model_weights(1, 1)[1])
    assert family.family_shape == (2, 3)


def test_effective_matrices_match_lsa():
    family = LinearAttentionFamily(3, [2], [0, 1], init="random")
    with torch.no_grad():
        torch.testing.assert_close(family.effective_matrices(),
                                   effective_matrix(family.W_pv, family.W_kq))


def test_model_seed():
    assert model_seed(0, 1) == model_seed(0, 1)
    assert len({model_seed(s, r) for s in range(5) for r in range(1, 6)}) == 25
    with pytest.raises(ValueError, match="seed"):
        model_seed(-1, 1)
    with pytest.raises(ValueError, match="r"):
        model_seed(0, 0)


@pytest.mark.parametrize("kwargs, match", [
    ({"d": 0}, "d"),
    ({"ranks": []}, "ranks"),
    ({"ranks": [0]}, "ranks"),
    ({"ranks": [5]}, "ranks"),
    ({"ranks": [1.5]}, "ranks"),
    ({"seeds": []}, "seeds"),
    ({"seeds": [-1]}, "seeds"),
    ({"init_scale": -0.1}, "init_scale"),
    ({"init": "zeros"}, "init"),
])
def test_bad_inputs(kwargs, match):
    args = {"d": 3, "ranks": [1, 2], "seeds": [0], **kwargs}
    with pytest.raises(ValueError, match=match):
        LinearAttentionFamily(**args)


def test_bad_forward_input_and_index():
    family = LinearAttentionFamily(3, [1, 2], [0, 1])
    with pytest.raises(ValueError, match="E must have shape"):
        family(torch.zeros(3, 4, 4, 8))          # wrong number of seeds
    with pytest.raises(ValueError, match="E must have shape"):
        family(torch.zeros(2, 4, 5, 8))          # wrong d + 1
    with pytest.raises(ValueError, match="E must have shape"):
        family(torch.zeros(2, 4, 4, 1))          # no context column
    with pytest.raises(ValueError, match="k"):
        family.model_weights(0, 2)
    with pytest.raises(ValueError, match="s"):
        family.model_weights(-1, 0)
