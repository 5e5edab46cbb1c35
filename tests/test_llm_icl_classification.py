"""Tests of iclbook.softmax.classification (chapter 10's CPU-scale prior-vs-context task)."""

import math

import pytest
import torch

from iclbook.softmax import classification as ic


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sample_shapes_and_labels():
    p = ic.sample_prompts(50, 16, 8, generator=_gen())
    assert p.x.shape == (50, 16, 8) and p.y.shape == (50, 16)
    assert p.x_query.shape == (50, 8) and p.y_query.shape == (50,) and p.w.shape == (50, 8)
    assert torch.equal(p.y, torch.sign(torch.einsum("bnd,bd->bn", p.x, p.w)))
    assert torch.equal(p.y_query, torch.sign(p.x_query @ p.w.T).diagonal())
    assert torch.allclose(p.w[:, 0], torch.ones(50))  # s = +1 without reversal
    assert torch.allclose(p.w[:, 1:].norm(dim=-1), torch.ones(50))
    r = ic.sample_prompts(50, 16, 8, p_reverse=1.0, alpha=2.0, generator=_gen())
    assert torch.allclose(r.w[:, 0], -2 * torch.ones(50))


@pytest.mark.parametrize("flip, n", [(0.25, 4), (0.5, 8), (0.1, 2), (1.0, 16)])
def test_exact_flips_and_clean_query(flip, n):
    clean = ic.sample_prompts(30, 16, 4, generator=_gen(3))
    noisy = ic.sample_prompts(30, 16, 4, flip=flip, generator=_gen(3))
    assert torch.equal(clean.x, noisy.x) and torch.equal(clean.y_query, noisy.y_query)
    assert ((clean.y != noisy.y).sum(dim=-1) == n).all()


def test_input_noise_only_moves_context_inputs():
    clean = ic.sample_prompts(30, 16, 4, generator=_gen(3))
    noisy = ic.sample_prompts(30, 16, 4, sigma_x=0.5, generator=_gen(3))
    assert torch.equal(clean.y, noisy.y) and torch.equal(clean.x_query, noisy.x_query)
    assert not torch.equal(clean.x, noisy.x)


def test_reference_rules_match_theory():
    # The prior rule is right when sign(x_1) = sign(x_1 + <v, x>): probability 3/4 for
    # alpha = beta (angle 45 degrees); the Monte Carlo tolerance is 4 standard errors.
    p = ic.sample_prompts(20000, 4, 6, generator=_gen(1))
    acc = (ic.prior_rule(p) == p.y_query).double().mean().item()
    assert abs(acc - 0.75) < 4 * math.sqrt(0.75 * 0.25 / 20000)
    ctx = (ic.context_rule(p) == p.y_query).double().mean().item()
    flipped = ic.sample_prompts(20000, 4, 6, flip=1.0, generator=_gen(1))
    assert (ic.context_rule(flipped) == flipped.y_query).double().mean().item() == \
        pytest.approx(1 - ctx, abs=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch=0), "batch"), (dict(N=0), "N"), (dict(d=1), "d must"),
    (dict(alpha=-1), "alpha"), (dict(alpha=0, beta=0), "both"), (dict(p_reverse=2), "p_reverse"),
    (dict(flip=1.5), "flip"), (dict(sigma_x=-1), "sigma_x"),
])
def test_sample_errors(kwargs, match):
    args = dict(batch=2, N=3, d=4) | kwargs
    with pytest.raises(ValueError, match=match):
        ic.sample_prompts(args.pop("batch"), args.pop("N"), args.pop("d"), **args)


@pytest.mark.slow
def test_tiny_demo_pipeline(tmp_path):
    cfg = {"sizes": [[1, 1, 4], [1, 2, 8]], "seeds": [0, 1], "steps": 3, "batch": 8,
           "n_eval": 50, "flips": [0.0, 1.0], "sigmas": [0.0, 1.0], "warmup": 0}
    res = ic.run_demo(cfg, progress=False)
    assert set(res["n_parameters"]) == {"L1 H1 W4", "L1 H2 W8"}
    assert len(res["rows"]) == (2 * 2 + 2) * 2 * 2
    again = ic.run_demo(cfg, progress=False)
    assert again["rows"] == res["rows"]  # deterministic
    summ = ic.summarize(res["rows"])
    one = next(r for r in summ if r["size"] == "L1 H1 W4" and r["flip"] == 1.0
               and r["sigma_x"] == 0.0)
    accs = [r["accuracy"] for r in res["rows"] if r["size"] == "L1 H1 W4"
            and r["flip"] == 1.0 and r["sigma_x"] == 0.0]
    assert one["accuracy"] == pytest.approx(sum(accs) / 2) and one["n_seeds"] == 2
    sens = ic.flip_sensitivity(res["rows"])
    prior = next(r for r in sens if r["size"] == "prior rule")
    assert prior["drop"] == 0 and prior["drop_se"] == 0
    ctx = next(r for r in sens if r["size"] == "context rule")
    assert ctx["drop"] > 0
    plot_rows = ic.summary_rows(res["rows"])
    assert {r["model"] for r in plot_rows} == {"L1 H1 W4", "L1 H2 W8", "prior rule",
                                               "context rule"}
    path = tmp_path / "r.json"
    ic.save_results(path, res)
    back = ic.load_results(path)
    assert back["rows"] == res["rows"] and back["config"]["steps"] == 3
    with pytest.raises(ValueError, match="path"):
        ic.load_results(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="unknown keys"):
        ic.run_demo({"bogus": 1})
    with pytest.raises(ValueError, match="distinct"):
        ic.run_demo({"sizes": [[1, 1, 4], [1, 1, 4]]})
    with pytest.raises(ValueError, match="no pair"):
        ic.flip_sensitivity(res["rows"], high=0.5)


def test_train_and_sweep_errors():
    with pytest.raises(ValueError, match="sizes and seeds"):
        ic.train_models([], [0])
    with pytest.raises(ValueError, match="steps"):
        ic.train_models([ic.ModelSize(1, 1, 4)], [0], steps=0)
    with pytest.raises(ValueError, match="n_eval"):
        ic.flip_sweep({}, [0.0], n_eval=0)
    with pytest.raises(ValueError, match="flip"):
        ic.flip_sweep({}, [2.0])
    assert ic.ModelSize(2, 4, 32).label == "L2 H4 W32"


def test_shipped_full_run_is_readable():
    res = ic.load_results()
    assert res["config"]["sizes"] == ic.FULL_CONFIG["sizes"]
    n_models = len(res["config"]["sizes"]) * len(res["config"]["seeds"]) + 2
    assert len(res["rows"]) == n_models * len(res["config"]["flips"]) * len(
        res["config"]["sigmas"])


def test_noise_sensitivity_and_report():
    rows = []
    for size, base, fl, nz in (("a", 0.8, 0.1, 0.02), ("b", 0.9, 0.5, 0.1)):
        for seed in (0, 1):
            for f in (0.0, 1.0):
                for sx in (0.0, 1.0):
                    acc = base - fl * f - nz * sx + 0.01 * seed
                    rows.append({"size": size, "seed": seed, "flip": f, "sigma_x": sx,
                                 "accuracy": acc})
    noise = {r["size"]: r for r in ic.noise_sensitivity(rows)}
    assert noise["a"]["drop"] == pytest.approx(0.02) and noise["b"]["drop"] == pytest.approx(0.1)
    assert noise["a"]["drop_se"] == pytest.approx(0.0, abs=1e-12)
    flips = {r["size"]: r for r in ic.flip_sensitivity(rows, sigma_x=1.0)}
    assert flips["b"]["drop"] == pytest.approx(0.5)
    text = ic.format_report({"rows": rows})
    assert "flip drop: largest minus smallest = 0.400" in text
    assert "noise loss: largest minus smallest = 0.080" in text
    assert text.count("grows with every step in size: True") == 2
