"""Tests of iclbook.softmax.transformer: shapes, determinism, invariance, errors, training."""

import pytest
import torch

from iclbook.softmax.transformer import SoftmaxICLTransformer, train_in_context


def _prompt(B=5, N=7, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, N, d, generator=g)
    y = torch.randint(0, 2, (B, N), generator=g).float() * 2 - 1
    xq = torch.randn(B, d, generator=g)
    return x, y, xq


def test_shapes_and_tokens():
    m = SoftmaxICLTransformer(3, n_layers=2, n_heads=2, width=8).eval()
    x, y, xq = _prompt()
    out = m(x, y, xq)
    assert out.shape == (5,)
    t = m.tokens(x, y, xq)
    assert t.shape == (5, 8, 5)
    assert torch.equal(t[:, :7, 3], y) and torch.all(t[:, :7, 4] == 0)
    assert torch.all(t[:, 7, 3] == 0) and torch.all(t[:, 7, 4] == 1)
    assert torch.equal(t[:, 7, :3], xq)
    assert m.n_parameters() > 0
    assert "width=8" in repr(m)


def test_deterministic_given_seed_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = SoftmaxICLTransformer(3, seed=4)
    after = torch.rand(1)
    assert torch.equal(before, after)  # constructor does not consume the global RNG
    b = SoftmaxICLTransformer(3, seed=4)
    c = SoftmaxICLTransformer(3, seed=5)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    pairs = zip(a.parameters(), c.parameters(), strict=True)
    assert not all(torch.equal(pa, pc) for pa, pc in pairs)


@pytest.mark.parametrize("n_layers,positional", [(1, False), (2, False), (3, True)])
def test_query_only_last_block_equals_the_full_encoder(n_layers, positional):
    # forward() computes the last block at the query token only; it must equal running every
    # nn.TransformerEncoderLayer on every token and reading the query token, with gradients.
    m = SoftmaxICLTransformer(3, n_layers=n_layers, n_heads=2, width=8, positional=positional,
                              seed=3)
    x, y, xq = _prompt(N=6)

    def full(model):
        h = model.embed(model.tokens(x, y, xq))
        if model.pos is not None:
            h = h + model.pos[torch.cat([torch.arange(6), torch.tensor([model.max_context])])]
        for layer in model.layers:
            h = layer(h)
        return model.head(model.norm(h[:, -1, :])).squeeze(-1)

    fast, ref = m(x, y, xq), full(m)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-6)
    g_fast = torch.autograd.grad(fast.square().sum(), list(m.parameters()))
    g_ref = torch.autograd.grad(ref.square().sum(), list(m.parameters()))
    for a, b in zip(g_fast, g_ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_permutation_invariance_without_positions():
    m = SoftmaxICLTransformer(3, n_layers=3, n_heads=4, width=16).eval()
    x, y, xq = _prompt(N=9)
    perm = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a = m(x, y, xq)
        b = m(x[:, perm], y[:, perm], xq)
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    p = SoftmaxICLTransformer(3, positional=True, max_context=16).eval()
    with torch.no_grad():
        assert not torch.allclose(p(x, y, xq), p(x[:, perm], y[:, perm], xq), atol=1e-4)


def test_batch_independence():
    m = SoftmaxICLTransformer(3, width=8).eval()
    x, y, xq = _prompt(B=4)
    with torch.no_grad():
        full = m(x, y, xq)
        one = torch.cat([m(x[i:i + 1], y[i:i + 1], xq[i:i + 1]) for i in range(4)])
    torch.testing.assert_close(full, one, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(d_x=0), "d_x"),
    (dict(d_x=3, n_layers=0), "n_layers"),
    (dict(d_x=3, n_heads=0), "n_heads"),
    (dict(d_x=3, width=10, n_heads=4), "multiple of n_heads"),
    (dict(d_x=3, mlp_ratio=0), "mlp_ratio"),
    (dict(d_x=3, positional=1), "positional"),
    (dict(d_x=3, max_context=0), "max_context"),
    (dict(d_x=2.5), "d_x"),
])
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxICLTransformer(**kwargs)


def test_bad_inputs():
    m = SoftmaxICLTransformer(3, positional=True, max_context=4)
    x, y, xq = _prompt(N=3)
    with pytest.raises(ValueError, match="x must"):
        m(x[..., :2], y, xq)
    with pytest.raises(ValueError, match="y must"):
        m(x, y[:, :2], xq)
    with pytest.raises(ValueError, match="x_q must"):
        m(x, y, xq[:, :2])
    with pytest.raises(ValueError, match="N >= 1"):
        m(x[:, :0], y[:, :0], xq)
    x5, y5, xq5 = _prompt(N=5)
    with pytest.raises(ValueError, match="max_context"):
        m(x5, y5, xq5)
    with pytest.raises(ValueError, match="steps"):
        train_in_context(m, lambda g: None, steps=0)
    with pytest.raises(ValueError, match="lr"):
        train_in_context(m, lambda g: None, steps=1, lr=-1.0)
    with pytest.raises(ValueError, match="model"):
        train_in_context("not a model", lambda g: None, steps=1)


def test_learns_a_trivial_in_context_task():
    # The query's label is the label of the (unique) context pair whose input equals the
    # query: a copy task that needs the context.  Chance level gives squared error ~ 1.
    d, N, B = 4, 4, 32

    def sample(g):
        x = torch.randn(B, N, d, generator=g)
        y = torch.randint(0, 2, (B, N), generator=g).float() * 2 - 1
        j = torch.randint(0, N, (B,), generator=g)
        xq = x[torch.arange(B), j]
        return (x, y, xq), y[torch.arange(B), j]

    torch.manual_seed(0)
    m = SoftmaxICLTransformer(d, n_layers=2, n_heads=2, width=16, seed=0)
    hist = train_in_context(m, sample, steps=200, lr=3e-3, seed=0, progress=False)
    assert not m.training
    (x, y, xq), yq = sample(torch.Generator().manual_seed(99))
    with torch.no_grad():
        acc = (torch.sign(m(x, y, xq)) == yq).float().mean().item()
    assert acc > 0.9
    assert hist.loss_array()[-1] < 0.5 * hist.loss_array()[0]


def test_training_is_deterministic():
    def sample(g):
        x = torch.randn(8, 3, 2, generator=g)
        y = torch.sign(x[..., 0])
        return (x, y, x[:, 0]), y[:, 0]

    outs = []
    for _ in range(2):
        m = SoftmaxICLTransformer(2, width=8, seed=1)
        h = train_in_context(m, sample, steps=5, seed=3, progress=False, log_every=1)
        outs.append(h.loss_array())
    assert (outs[0] == outs[1]).all()


def test_torch_threads_restores():
    from iclbook.core.reproducibility import torch_threads

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="threads"), torch_threads(0):
        pass
