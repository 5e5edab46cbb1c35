"""A CPU-scale stand-in for the flipped-label experiment: prior vs context (chapter 10).

**Book's own model** (see "Notes on fidelity"); no closed form is claimed.  It imitates the
protocol of Wei et al. (2023) with small softmax transformers
(:mod:`iclbook.softmax.transformer`) instead of language models.

**Data.** Inputs ``x ~ N(0, I_d)``.  A prompt's task is the linear classifier
``y = sign(<w, x>)`` with

    w = alpha * s * u + beta * v,

where ``u = e_1`` is the same for every task (the *semantic prior*: the label is partly
predictable from ``x`` alone, as a word's sentiment is known before any demonstration) and
``v`` is a random unit vector orthogonal to ``u``, new for every prompt (the part of the task
only the demonstrations reveal).  During pretraining the prior mapping is reversed
(``s = -1``) in a fraction ``p_reverse`` of the prompts, so that strong enough in-context
evidence *should* override the prior; otherwise ``s = +1``.  With ``alpha = beta`` the prior
alone classifies 3/4 of the inputs correctly (the angle between ``u`` and ``w`` is 45°).

**Evaluation** (after Wei et al.): ``s = +1`` (the natural mapping), exactly
``round(flip * N)`` demonstration labels flipped (:func:`iclbook.llm.noise.n_noisy`), and/or
demonstration inputs made noisy, ``x~_i = x_i + sigma_x xi_i`` (labels from the clean
``x_i``); the query is clean.  A model that uses only the prior keeps its accuracy whatever
the flips; a model that follows the demonstrations falls below chance when most labels are
flipped.

* :func:`sample_prompts` -- prompts (pretraining or evaluation).
* :func:`prior_scores`, :func:`context_scores` -- the two reference predictors (as models
  ``f(x, y, x_q)``); :func:`prior_rule`, :func:`context_rule` -- the same on a prompt batch.
* :func:`train_models` -- pretrain a family of sizes x seeds (:func:`train_in_context`).
* :func:`flip_sweep` -- accuracy of every model at every (flip, input noise).
* :func:`summarize` -- mean and standard error over seeds.
* :func:`flip_sensitivity`, :func:`noise_sensitivity` -- accuracy lost between two flip
  fractions or two input-noise levels, per size; :func:`format_report` -- the table.
* :func:`run_demo` -- the whole demonstration for a configuration (``DEFAULT_CONFIG``,
  ``FULL_CONFIG``), a :class:`ClassificationResult`; :func:`save_results` /
  :func:`load_results` cache a run as JSON.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..core.reproducibility import torch_threads
from ..core.stats import mean_over_seeds
from ..core.validation import check_nonnegative, check_positive_int, check_probability
from ..llm.noise import n_noisy
from .transformer import SoftmaxICLTransformer, train_in_context

__all__ = [
    "ClassificationPrompts",
    "ModelSize",
    "sample_prompts",
    "prior_rule",
    "context_rule",
    "prior_scores",
    "context_scores",
    "ClassificationResult",
    "train_models",
    "flip_sweep",
    "summarize",
    "flip_sensitivity",
    "noise_sensitivity",
    "format_report",
    "summary_rows",
    "run_demo",
    "DEFAULT_CONFIG",
    "FULL_CONFIG",
    "save_results",
    "load_results",
]


@dataclass(frozen=True)
class ClassificationPrompts:
    """A batch: context ``x`` (B, N, d) and labels ``y`` (B, N) as the model sees them,
    query ``x_query`` (B, d), clean query label ``y_query`` (B,), task vectors ``w`` (B, d)."""

    x: torch.Tensor
    y: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    w: torch.Tensor


@dataclass(frozen=True)
class ModelSize:
    """One model size of the family: layers, heads and width of the transformer."""

    n_layers: int
    n_heads: int
    width: int

    @property
    def label(self) -> str:
        return f"L{self.n_layers} H{self.n_heads} W{self.width}"


def _sign(t: torch.Tensor) -> torch.Tensor:
    return torch.where(t >= 0, 1.0, -1.0)


def sample_prompts(batch: int, N: int, d: int, *, alpha: float = 1.0, beta: float = 1.0,
                   p_reverse: float = 0.0, flip: float = 0.0, sigma_x: float = 0.0,
                   generator: torch.Generator | None = None) -> ClassificationPrompts:
    """Draw ``batch`` prompts of ``N`` demonstrations in ``d >= 2`` dimensions (see above).

    ``p_reverse``: probability of ``s = -1`` (pretraining); ``flip``: fraction of
    demonstration labels flipped, exactly ``round(flip N)`` per prompt at random positions;
    ``sigma_x``: standard deviation of the noise added to demonstration inputs.
    """
    batch = check_positive_int("batch", batch)
    N = check_positive_int("N", N)
    d = check_positive_int("d", d)
    if d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d}")
    alpha = check_nonnegative("alpha", alpha)
    beta = check_nonnegative("beta", beta)
    if alpha + beta == 0:
        raise ValueError("alpha and beta must not both be 0")
    p_reverse = check_probability("p_reverse", p_reverse)
    flip = check_probability("flip", flip)
    sigma_x = check_nonnegative("sigma_x", sigma_x)
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    v = torch.randn(batch, d - 1, generator=g)
    v = v / v.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    s = torch.where(torch.rand(batch, generator=g) < p_reverse, -1.0, 1.0)
    w = torch.cat([(alpha * s)[:, None], beta * v], dim=-1)
    x = torch.randn(batch, N, d, generator=g)
    xq = torch.randn(batch, d, generator=g)
    y = _sign(torch.einsum("bnd,bd->bn", x, w))
    yq = _sign(torch.einsum("bd,bd->b", xq, w))
    n_flip = n_noisy(flip, N)
    if n_flip:
        ranks = torch.rand(batch, N, generator=g).argsort(dim=-1).argsort(dim=-1)
        y = torch.where(ranks < n_flip, -y, y)
    if sigma_x > 0:
        x = x + sigma_x * torch.randn(batch, N, d, generator=g)
    return ClassificationPrompts(x, y, xq, yq, w)


def prior_scores(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
    """The prior alone, as a model ``f(x, y, x_q)``: ``sign(<u, x_q>)``, ignoring the
    demonstrations."""
    return _sign(x_query[:, 0])


def context_scores(x: torch.Tensor, y: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
    """The demonstrations alone, as a model ``f(x, y, x_q)``: ``sign(<sum_i y_i x_i, x_q>)``
    (a one-step learner)."""
    return _sign(torch.einsum("bn,bnd,bd->b", y, x, x_query))


def prior_rule(p: ClassificationPrompts) -> torch.Tensor:
    """:func:`prior_scores` on a batch of prompts."""
    return prior_scores(p.x, p.y, p.x_query)


def context_rule(p: ClassificationPrompts) -> torch.Tensor:
    """:func:`context_scores` on a batch of prompts."""
    return context_scores(p.x, p.y, p.x_query)


def _train_one(size: ModelSize, seed: int, N: int, d: int, alpha: float, beta: float,
               p_reverse: float, steps: int, batch: int, lr: float, warmup: int
               ) -> dict[str, torch.Tensor]:
    """Train model ``(size, seed)``; returns its ``state_dict`` (a job of ``run_jobs``)."""
    def sampler(gen: torch.Generator):
        p = sample_prompts(batch, N, d, alpha=alpha, beta=beta, p_reverse=p_reverse,
                           generator=gen)
        return (p.x, p.y, p.x_query), p.y_query

    m = SoftmaxICLTransformer(d, n_layers=size.n_layers, n_heads=size.n_heads,
                              width=size.width, seed=seed)
    train_in_context(m, sampler, steps=steps, lr=lr, warmup=warmup, seed=seed,
                     log_every=steps, progress=False, threads=None)
    return m.state_dict()


def train_models(sizes: Sequence[ModelSize], seeds: Sequence[int], *, N: int = 16, d: int = 8,
                 alpha: float = 1.0, beta: float = 1.0, p_reverse: float = 0.2,
                 steps: int = 600, batch: int = 128, lr: float = 3e-3, warmup: int = 50,
                 workers: int | None = None, progress: bool | None = None,
                 ) -> tuple[dict[tuple[int, int], SoftmaxICLTransformer], float]:
    """Pretrain one :class:`SoftmaxICLTransformer` per (size, seed) on clean prompts.

    Model ``(i, seed)`` is ``sizes[i]`` initialised with ``seed`` and trained on the prompt
    stream of ``seed`` (the same data for every size: sizes are compared on equal terms).
    The models are independent and train side by side on ``workers`` cores
    (:func:`iclbook.core.parallel.run_jobs`, default one per core; the same weights for any
    number of workers).  Returns the models (in ``eval`` mode) and the wall time in seconds.
    """
    from ..core.parallel import run_jobs

    if not sizes or not seeds:
        raise ValueError("sizes and seeds must each hold at least one entry")
    steps = check_positive_int("steps", steps)
    batch = check_positive_int("batch", batch)
    sample_prompts(1, N, d, alpha=alpha, beta=beta, p_reverse=p_reverse)  # validates
    keys = [(i, int(seed)) for i in range(len(sizes)) for seed in seeds]
    jobs = [(sizes[i], seed, N, d, alpha, beta, p_reverse, steps, batch, lr, warmup)
            for i, seed in keys]
    start = time.perf_counter()
    # the cost of a training step grows with layers x width^2 (the MLP and projections):
    # the largest models start first, so that none of them runs alone at the end
    costs = [sizes[i].n_layers * sizes[i].width ** 2 for i, _ in keys]
    states = run_jobs(_train_one, jobs, workers=workers, progress=progress,
                      desc=f"{len(jobs)} transformers", costs=costs)
    models = {}
    for (i, seed), state in zip(keys, states, strict=True):
        size = sizes[i]
        m = SoftmaxICLTransformer(d, n_layers=size.n_layers, n_heads=size.n_heads,
                                  width=size.width, seed=seed)
        m.load_state_dict(state)
        models[(i, seed)] = m.eval()
    return models, time.perf_counter() - start


def flip_sweep(models: dict[tuple[int, int], Callable[..., torch.Tensor]],
               flips: Sequence[float], sigmas: Sequence[float] = (0.0,), *, N: int = 16,
               d: int = 8, alpha: float = 1.0, beta: float = 1.0, n_eval: int = 2000,
               seed: int = 1000) -> list[dict[str, Any]]:
    """Accuracy on clean queries of every model at every (flip, sigma_x); one row each.

    All models see the same evaluation prompts (drawn with ``seed``; ``s = +1``).  A
    model is any callable ``f(x, y, x_q) -> scores``, e.g. :func:`prior_scores` and
    :func:`context_scores`.  Rows: ``size`` (index),
    ``seed``, ``flip``, ``sigma_x``, ``accuracy``.
    """
    n_eval = check_positive_int("n_eval", n_eval)
    flips = [check_probability("flip", f) for f in flips]
    sigmas = [check_nonnegative("sigma_x", s) for s in sigmas]
    rows = []
    with torch_threads(1):
        rows = _sweep(models, flips, sigmas, N, d, alpha, beta, n_eval, seed)
    return rows


def _sweep(models, flips, sigmas, N, d, alpha, beta, n_eval, seed):  # noqa: ANN001, ANN202
    rows = []
    for sx in sigmas:
        for f in flips:
            gen = torch.Generator().manual_seed(int(seed))
            p = sample_prompts(n_eval, N, d, alpha=alpha, beta=beta, flip=f, sigma_x=sx,
                               generator=gen)
            for (i, s), m in models.items():
                with torch.no_grad():
                    pred = _sign(m(p.x, p.y, p.x_query))
                acc = (pred == p.y_query).double().mean().item()
                rows.append({"size": i, "seed": s, "flip": f, "sigma_x": sx,
                             "accuracy": acc})
    return rows


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean accuracy and its standard error over seeds, per (size, flip, sigma_x).

    The standard error is :func:`iclbook.core.stats.mean_over_seeds`'s (0 with a single
    seed: accuracies here carry no Monte Carlo error of their own).
    """
    groups: dict[tuple[Any, float, float], list[float]] = {}
    for r in rows:
        groups.setdefault((r["size"], r["flip"], r["sigma_x"]), []).append(r["accuracy"])
    out = []
    for (i, f, sx), accs in groups.items():
        mean, se = mean_over_seeds(accs)
        out.append({"size": i, "flip": f, "sigma_x": sx, "accuracy": float(mean),
                    "accuracy_se": float(se), "n_seeds": len(accs)})
    return out


def _paired_drop(rows: Sequence[dict[str, Any]], vary: str, low: float, high: float,
                 fixed: str, at: float) -> list[dict[str, Any]]:
    acc: dict[tuple[Any, Any, float], float] = {
        (r["size"], r["seed"], r[vary]): r["accuracy"] for r in rows
        if abs(r[fixed] - at) < 1e-12}
    sizes = list(dict.fromkeys(r["size"] for r in rows))
    out = []
    for i in sizes:
        seeds = sorted({s for (j, s, v) in acc if j == i and v == low} &
                       {s for (j, s, v) in acc if j == i and v == high})
        if not seeds:
            raise ValueError(f"rows hold no pair of {vary} ({low}, {high}) for size {i!r}")
        d = np.array([acc[(i, s, low)] - acc[(i, s, high)] for s in seeds])
        mean, se = mean_over_seeds(d)
        out.append({"size": i, "drop": float(mean), "drop_se": float(se),
                    "n_seeds": len(seeds)})
    return out


def flip_sensitivity(rows: Sequence[dict[str, Any]], *, low: float = 0.0, high: float = 1.0,
                     sigma_x: float = 0.0) -> list[dict[str, Any]]:
    """Per size: accuracy at flip ``low`` minus accuracy at flip ``high`` (paired by seed).

    A model that ignores the demonstrations scores 0; one that follows them fully scores
    about ``2 * accuracy - 1``.  Returns ``size``, ``drop`` (mean over seeds), ``drop_se``.
    """
    return _paired_drop(rows, "flip", low, high, "sigma_x", sigma_x)


def noise_sensitivity(rows: Sequence[dict[str, Any]], *, low: float = 0.0,
                      high: float | None = None, flip: float = 0.0) -> list[dict[str, Any]]:
    """Per size: accuracy at ``sigma_x = low`` minus at ``high`` (default: the largest)."""
    if high is None:
        high = max(r["sigma_x"] for r in rows)
    return _paired_drop(rows, "sigma_x", low, high, "flip", flip)


def format_report(result: ClassificationResult | dict[str, Any]) -> str:
    """The chapter's table of a :func:`run_demo` result, and the two size trends.

    Columns: accuracy at no flip and at all flipped, the flip drop, the accuracy at the
    largest input noise, and the loss it causes (means +- standard errors over seeds).
    """
    rows = result["rows"]
    summ = {(r["size"], r["flip"], r["sigma_x"]): r for r in summarize(rows)}
    flips, noise = flip_sensitivity(rows), noise_sensitivity(rows)
    sx = max(r["sigma_x"] for r in rows)
    lines = [f"{'model':>13} | acc f=0      | acc f=1      | drop f=0->1  | "
             f"acc sx={sx:g}     | noise loss"]
    for fr, nr in zip(flips, noise, strict=True):
        a0, a1 = summ[(fr["size"], 0.0, 0.0)], summ[(fr["size"], 1.0, 0.0)]
        an = summ[(fr["size"], 0.0, sx)]
        lines.append(
            f"{fr['size']:>13} | {a0['accuracy']:.3f}+-{a0['accuracy_se']:.3f} | "
            f"{a1['accuracy']:.3f}+-{a1['accuracy_se']:.3f} | "
            f"{fr['drop']:.3f}+-{fr['drop_se']:.3f} | "
            f"{an['accuracy']:.3f}+-{an['accuracy_se']:.3f} | "
            f"{nr['drop']:.3f}+-{nr['drop_se']:.3f}")
    refs = ("prior rule", "context rule")
    for name, table in (("flip drop", flips), ("noise loss", noise)):
        models = [r for r in table if r["size"] not in refs]
        small, large = models[0], models[-1]
        diff = large["drop"] - small["drop"]
        se = math.hypot(large["drop_se"], small["drop_se"])
        grows = all(b["drop"] > a["drop"] for a, b in zip(models, models[1:], strict=False))
        verdict = "more" if diff > 2 * se else "not more"
        lines.append(f"{name}: largest minus smallest = {diff:.3f} +- {se:.3f} ({verdict} than "
                     f"two standard errors); grows with every step in size: {grows}")
    return "\n".join(lines)


def summary_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """:func:`summarize` in the row format of :func:`iclbook.llm.plot_flip_curves`.

    The size becomes ``model`` and ``sigma_x`` becomes ``input_noise``.
    """
    return [{"model": str(r["size"]), "flip": r["flip"], "input_noise": r["sigma_x"],
             "accuracy": r["accuracy"], "accuracy_se": r["accuracy_se"]}
            for r in summarize(rows)]


#: The chapter's default run: 3 sizes x 3 seeds, short training (about 2 minutes on a
#: laptop CPU).
DEFAULT_CONFIG: dict[str, Any] = {
    "sizes": [[1, 1, 8], [2, 2, 16], [2, 4, 32]], "seeds": [0, 1, 2], "steps": 400,
    "batch": 128, "lr": 3e-3, "warmup": 50, "N": 16, "d": 8, "alpha": 1.0, "beta": 1.0,
    "p_reverse": 0.2, "flips": [0.0, 0.25, 0.5, 0.75, 1.0], "sigmas": [0.0, 1.0],
    "n_eval": 2000, "eval_seed": 1000,
}

#: The full run cached in ``iclbook/data/icl_classification_full.json``
#: (``scripts/run_icl_classification.py``): 4 sizes x 5 seeds, longer training.
FULL_CONFIG: dict[str, Any] = {
    **DEFAULT_CONFIG, "sizes": [[1, 1, 4], [1, 1, 8], [2, 2, 16], [2, 4, 32]],
    "seeds": [0, 1, 2, 3, 4], "steps": 800, "n_eval": 4000,
    "sigmas": [0.0, 0.5, 1.0, 1.5],
}


@dataclass
class ClassificationResult:
    """A run of :func:`run_demo` (or one read by :func:`load_results`).

    ``config`` (the full configuration), ``n_parameters`` (per size label), ``sweep`` (one
    dict per model, flip and input noise: ``size``, ``seed``, ``flip``, ``sigma_x``,
    ``accuracy``) and ``seconds`` (training wall time).  Shares the shape of the other
    parts' results: :meth:`rows` and :meth:`summary`.  ``result["rows"]`` (and the other
    field names, ``"rows"`` for ``sweep``) reads it like the dict earlier versions returned.
    """

    config: dict[str, Any]
    n_parameters: dict[str, int]
    sweep: list[dict[str, Any]]
    seconds: float

    def rows(self) -> list[dict[str, Any]]:
        """One dict per model and condition (the sweep)."""
        return list(self.sweep)

    def summary(self) -> str:
        """The chapter's table and the two size trends (:func:`format_report`)."""
        return format_report(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written by :func:`save_results`."""
        return {"config": self.config, "n_parameters": self.n_parameters, "rows": self.sweep,
                "seconds": self.seconds}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassificationResult:
        """Inverse of :meth:`to_dict`."""
        return cls(config=data["config"], n_parameters=data["n_parameters"],
                   sweep=data["rows"], seconds=data["seconds"])

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]


def run_demo(config: dict[str, Any] | None = None, *, workers: int | None = None,
             progress: bool | None = None) -> ClassificationResult:
    """Train the family of ``config`` and sweep flips and input noise (chapter 10).

    Returns a :class:`ClassificationResult`: its ``sweep`` (:meth:`~ClassificationResult.rows`)
    as in
    :func:`flip_sweep` for every (size, seed), with the size named by its label
    (``"L2 H4 W32"``: layers, heads, width), plus the two reference rules as sizes
    ``"prior rule"`` and ``"context rule"`` (seed 0).
    """
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
    if unknown:
        raise ValueError(f"config has unknown keys {unknown}; allowed: {sorted(DEFAULT_CONFIG)}")
    sizes = [ModelSize(*map(int, s)) for s in cfg["sizes"]]
    if len({s.label for s in sizes}) != len(sizes):
        raise ValueError(f"sizes must be distinct, got {cfg['sizes']}")
    data = {k: cfg[k] for k in ("N", "d", "alpha", "beta")}
    models, seconds = train_models(sizes, cfg["seeds"], p_reverse=cfg["p_reverse"],
                                   steps=cfg["steps"], batch=cfg["batch"], lr=cfg["lr"],
                                   warmup=cfg["warmup"], workers=workers, progress=progress,
                                   **data)
    named = {(sizes[i].label, s): m for (i, s), m in models.items()}
    refs = {("prior rule", 0): prior_scores, ("context rule", 0): context_scores}
    rows = flip_sweep({**named, **refs}, cfg["flips"], cfg["sigmas"], n_eval=cfg["n_eval"],
                      seed=cfg["eval_seed"], **data)
    n_params = {s.label: models[(i, int(cfg["seeds"][0]))].n_parameters()
                for i, s in enumerate(sizes)}
    return ClassificationResult(config=cfg, n_parameters=n_params, sweep=rows, seconds=seconds)


def save_results(path: str | Path, result: ClassificationResult | dict[str, Any]) -> None:
    """Write the result of :func:`run_demo` as JSON (the cached full run of chapter 10)."""
    keep = {k: result[k] for k in ("config", "n_parameters", "rows", "seconds")}
    Path(path).write_text(json.dumps(keep, indent=1) + "\n", encoding="utf-8")


def load_results(path: str | Path | None = None) -> ClassificationResult:
    """Read a result written by :func:`save_results` (default: the shipped full run)."""
    if path is None:
        from importlib import resources

        text = (resources.files("iclbook") / "data" / "icl_classification_full.json").read_text(
            encoding="utf-8")
    else:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"path must be an existing results file, got {str(p)!r}")
        text = p.read_text(encoding="utf-8")
    return ClassificationResult.from_dict(json.loads(text))
