"""Where an engine step spends its time (recipe v0.2 of ``bench_training.py``), phase by phase.

Usage::

    python benchmarks/profile_engine.py              # 2 threads, CPU
    python benchmarks/profile_engine.py --threads 1

Runs the training loop of :func:`iclbook.linear.training.train_linear_family` (Setting 1,
``sampler="gram"``) and :func:`iclbook.parity.training.train_parity_family` (Setting 2,
``inputs="features"``) on the benchmark grids, step by step with the same calls, and times
each phase with ``time.perf_counter`` (CPU: every op is synchronous): drawing the data,
forward, backward, the Adam step, and one target check.  It also times two floors: the
random numbers of one step alone (``torch.randn`` / ``torch._standard_gamma`` /
``torch.randint`` of the same sizes) and the step's matrix products at the matmul peak
(its FLOPs divided by a large ``torch.matmul``'s rate), and counts the aten operators of
one step (``torch.profiler``), whose fixed per-call cost is the small-kernel overhead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_training as bt  # noqa: E402

from iclbook.core.engine import cosine_lr  # noqa: E402
from iclbook.linear import training as lt  # noqa: E402
from iclbook.parity import training as pt  # noqa: E402


def _phases(view, sample, params, steps: int, lr: float, horizon: int, check=None):
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, horizon))
    t = dict(sample=0.0, forward=0.0, backward=0.0, adam=0.0)
    for step in range(steps + 20):
        t0 = time.perf_counter()
        inputs, targets = sample()
        t1 = time.perf_counter()
        loss = ((view(inputs) - targets) ** 2).mean(-1).sum()
        t2 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t3 = time.perf_counter()
        opt.step()
        sched.step()
        t4 = time.perf_counter()
        if step >= 20:                                   # the first 20 steps: warm-up
            for k, a, b in (("sample", t0, t1), ("forward", t1, t2), ("backward", t2, t3),
                            ("adam", t3, t4)):
                t[k] += b - a
    out = {k: v / steps * 1e3 for k, v in t.items()}
    if check is not None:
        check()
        t0 = time.perf_counter()
        for _ in range(5):
            check()
        out["one check"] = (time.perf_counter() - t0) / 5 * 1e3
    return out


def _count_ops(view, sample) -> int:
    from torch.profiler import ProfilerActivity, profile
    inputs, targets = sample()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        inputs, targets = sample()
        loss = ((view(inputs) - targets) ** 2).mean(-1).sum()
        loss.backward()
    return sum(e.count for e in prof.key_averages() if e.key.startswith("aten::"))


def _floor_rng_linear(S: int, batch: int, d: int, N: int) -> float:
    g = torch.Generator().manual_seed(0)
    dof = (N - torch.arange(d, dtype=torch.float32)).expand(batch, d) / 2
    t0 = time.perf_counter()
    for _ in range(50):
        for _ in range(S):
            torch.randn(batch, d * d + 2 * d, generator=g)
            torch._standard_gamma(dof, generator=g)
    return (time.perf_counter() - t0) / 50 * 1e3


def _floor_rng_parity(S: int, batch: int, d: int, N: int) -> float:
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for _ in range(50):
        torch.randint(0, 2, (S, batch, N + 1, d), generator=g, dtype=torch.int8)
        torch.multinomial(torch.ones(4, dtype=torch.float64), S * batch, replacement=True,
                          generator=g)
    return (time.perf_counter() - t0) / 50 * 1e3


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200, help="timed steps per setting")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    peak = bt.matmul_peak(torch.device("cpu"), quick=False)
    print(f"profile_engine: torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"matmul peak {peak / 1e9:.1f} GFLOP/s")

    # Setting 1, recipe v0.2
    prob = bt.LinearProblem()
    kw = bt.RECIPE_V02.linear_kw
    lam, N, S, K, batch = prob.spectrum, prob.N, len(prob.seeds), len(prob.ranks), kw["batch"]
    model = lt.LinearAttentionFamily(prob.d, prob.ranks, prob.seeds, init_scale=0.3)
    streams = [torch.Generator().manual_seed(lt.data_seed(s)) for s in prob.seeds]
    root = torch.as_tensor(np.linalg.cholesky(np.diag(lam)), dtype=torch.float32)

    def sample1():
        G, q, y = lt._gram_draw_streams(batch, N, root, streams)
        return (G, q), y[:, None, :]

    view = lt._GramView(model, N)
    cs = lt._CheckSet(model, lam, N, None, 20_000, 99_999)
    ph = _phases(view, sample1, list(model.parameters()), args.steps, kw["lr"], kw["steps"],
                 check=lambda: cs.closed_form_gaps(model))
    t0 = time.perf_counter()
    for _ in range(20):
        cs.odd_gaps(model)
    ph["odd-part pre-check"] = (time.perf_counter() - t0) / 20 * 1e3
    flops = bt.engine_linear_gram_flops(prob.d, S * K, S, batch)
    _report("Setting 1 (d = 8, N = 32, 24 models), recipe v0.2, per step", ph,
            _floor_rng_linear(S, batch, prob.d, N), flops / peak * 1e3, _count_ops(view, sample1))

    # Setting 2, recipe v0.2
    prob2 = bt.ParityProblem()
    kw2 = bt.RECIPE_V02.parity_kw
    pv = np.array(prob2.p)
    fam = pt.ParityAttentionFamily(prob2.d, prob2.head_counts, prob2.seeds)
    gen = torch.Generator().manual_seed(prob2.seeds[0] + 2_000_003)
    S2 = len(prob2.seeds)

    def sample2():
        pr = pt.sample_parity_prompts((S2, kw2["batch"]), prob2.N, pv, generator=gen)
        return pt.parity_features(pr), pr.y_query[:, None, :]

    view2 = pt._FeatureView(fam)
    judge = bt.ParityJudge(prob2)
    ph2 = _phases(view2, sample2, list(fam.parameters()), args.steps, kw2["lr"], kw2["steps"],
                  check=lambda: [judge.gap(c, fam.W[0, k], fam.head_weights[0, k])
                                 for k, c in enumerate(prob2.head_counts)])
    n_slots = len(prob2.head_counts) * max(prob2.head_counts)
    flops2 = bt.engine_parity_feature_flops(prob2.d, prob2.N, n_slots, S2, kw2["batch"])
    _report("Setting 2 (K = 4, N = 16, 12 models), recipe v0.2, per step", ph2,
            _floor_rng_parity(S2, kw2["batch"], prob2.d, prob2.N), flops2 / peak * 1e3,
            _count_ops(view2, sample2))
    return 0


def _report(title: str, ph: dict, rng_ms: float, matmul_ms: float, n_ops: int) -> None:
    step = sum(ph[k] for k in ("sample", "forward", "backward", "adam"))
    print(f"\n{title}: {step:.2f} ms")
    for k, v in ph.items():
        share = f"{100 * v / step:5.1f}%" if k in ("sample", "forward", "backward", "adam") \
            else "     "
        print(f"  {k:<22} {v:8.3f} ms {share}")
    print(f"  floor: random numbers of one step alone        {rng_ms:8.3f} ms")
    print(f"  floor: the step's FLOPs at the matmul peak      {matmul_ms:8.3f} ms")
    print(f"  aten operators per step (sampling, forward, backward): {n_ops}")


if __name__ == "__main__":
    raise SystemExit(main())
