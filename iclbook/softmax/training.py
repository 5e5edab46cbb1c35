"""Standard softmax transformers trained on Setting 2's parity data (chapter 9).

:func:`train_softmax_parity` trains one :class:`iclbook.softmax.transformer.SoftmaxICLTransformer`
per ``(n_heads, width)`` and seed, side by side on the cores, and evaluates each under
context noise with :func:`iclbook.parity.monte_carlo.evaluate_predictor`.  No closed form is
claimed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.engine import TrainingHistory
from ..core.stats import mean_over_seeds
from ..core.validation import check_flips, check_importance, check_positive_int
from ..parity.data import sample_parity_prompts
from ..parity.monte_carlo import evaluate_predictor

__all__ = ["SoftmaxParityResult", "train_softmax_parity"]


@dataclass
class SoftmaxParityResult:
    """Standard softmax transformers trained on the parity data and evaluated under noise.

    ``configs`` lists ``(n_heads, width)``; ``noise`` lists ``(eta, rho)`` test conditions
    (the first is the clean context).  ``loss``, ``accuracy`` and their standard errors have
    shape ``(n_configs, n_seeds, n_noise)``; ``histories[c][s]`` the training history.
    """

    configs: list[tuple[int, int]]
    seeds: list[int]
    noise: list[tuple[float, float]]
    n_parameters: list[int]
    loss: np.ndarray
    loss_se: np.ndarray
    accuracy: np.ndarray
    accuracy_se: np.ndarray
    histories: list[list[TrainingHistory]]
    seconds: float

    def over_seeds(self, values: np.ndarray,
                   single_se: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Mean over seeds and its standard error across seeds (axis 1 of ``values``;
        :func:`iclbook.core.stats.mean_over_seeds`, whose ``single_se`` is used with one
        seed)."""
        return mean_over_seeds(values, axis=1, single_se=single_se)

    @property
    def accuracy_drop(self) -> np.ndarray:
        """Clean accuracy minus accuracy under each noise condition, per model and condition."""
        return self.accuracy[..., :1] - self.accuracy

    def rows(self) -> list[dict[str, float]]:
        """One dict per model and noise condition: heads, width, seed, eta, rho, loss and
        accuracy with their Monte Carlo standard errors."""
        out = []
        for c, (h, w) in enumerate(self.configs):
            for s, seed in enumerate(self.seeds):
                for k, (eta, rho) in enumerate(self.noise):
                    out.append({
                        "heads": h, "width": w, "seed": seed, "eta": eta, "rho": rho,
                        "loss": float(self.loss[c, s, k]),
                        "loss_se": float(self.loss_se[c, s, k]),
                        "accuracy": float(self.accuracy[c, s, k]),
                        "accuracy_se": float(self.accuracy_se[c, s, k]),
                    })
        return out

    def summary(self) -> str:
        """Clean accuracy and the drop under every noise condition, mean ± SE over seeds."""
        acc, acc_se = self.over_seeds(self.accuracy, single_se=self.accuracy_se[:, 0])
        drop, drop_se = self.over_seeds(self.accuracy_drop)
        head = f"{'heads':>5} {'width':>5} {'params':>7} {'clean acc':>15}"
        for eta, rho in self.noise[1:]:
            head += f" {f'drop eta={eta:g} rho={rho:g}':>22}"
        lines = [head]
        for c, (h, w) in enumerate(self.configs):
            row = f"{h:>5} {w:>5} {self.n_parameters[c]:>7} " \
                  f"{acc[c, 0]:>7.3f} ± {acc_se[c, 0]:.3f}"
            for k in range(1, len(self.noise)):
                row += f" {drop[c, k]:>14.3f} ± {drop_se[c, k]:.3f}"
            lines.append(row)
        return "\n".join(lines)


def _softmax_parity_job(pv: np.ndarray, N: int, h: int, w: int, seed: int, n_layers: int,
                        dictionary: np.ndarray | None, noise: list[tuple[float, float]],
                        steps: int, batch: int, lr: float, warmup: int, n_eval: int
                        ) -> tuple[int, TrainingHistory, np.ndarray]:
    """Train one softmax transformer ``(h heads, width w, seed)`` and evaluate it under every
    ``noise`` condition; returns ``(n_parameters, history, stats)``, ``stats`` of shape
    ``(4, n_noise)``: loss, its SE, accuracy, its SE.  A job of :func:`run_jobs`."""
    from .transformer import SoftmaxICLTransformer, train_in_context

    model = SoftmaxICLTransformer(2 * pv.size, n_layers=n_layers, n_heads=h, width=w,
                                  seed=seed)

    def sample(gen: torch.Generator):
        pr = sample_parity_prompts(batch, N, pv, dictionary=dictionary, generator=gen)
        return (pr.x, pr.y, pr.x_query), pr.y_query

    hist = train_in_context(model, sample, steps=steps, lr=lr, warmup=warmup,
                            seed=seed + 3_000_017, progress=False, threads=None)
    stats = np.zeros((4, len(noise)))
    for k, (eta, rho) in enumerate(noise):
        ev = evaluate_predictor(lambda pr: model(pr.x, pr.y, pr.x_query), (), pv, N,
                                dictionary=dictionary, eta=eta, rho=rho, n_prompts=n_eval,
                                seed=20_000)
        stats[:, k] = (float(ev.loss), float(ev.loss_se), float(ev.accuracy),
                       float(ev.accuracy_se))
    return model.n_parameters(), hist, stats


def train_softmax_parity(
    p: Sequence[float] | np.ndarray,
    N: int,
    configs: Sequence[tuple[int, int]],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    dictionary: np.ndarray | None = None,
    noise: Sequence[tuple[float, float]] = ((0.0, 0.0), (0.2, 0.0), (0.0, 0.1)),
    steps: int = 800,
    batch: int = 128,
    lr: float = 3e-3,
    warmup: int = 50,
    n_layers: int = 2,
    n_eval: int = 10_000,
    workers: int | None = None,
    progress: bool | None = None,
) -> SoftmaxParityResult:
    """Train standard two-layer softmax transformers on the parity data (chapter 9).

    One :class:`iclbook.softmax.transformer.SoftmaxICLTransformer` per ``(n_heads, width)`` in
    ``configs`` and seed, trained on clean prompts with
    :func:`iclbook.softmax.transformer.train_in_context`; then evaluated on ``n_eval``
    held-out prompts for every ``(eta, rho)`` in ``noise`` (the same prompts for every model
    and, apart from the flips, for every condition).  No closed form is claimed.
    The models are independent: they train side by side on ``workers`` cores
    (:func:`iclbook.core.parallel.run_jobs`; default one per core), with the same results for
    any number of workers.  ``seconds`` is the wall time of the whole call.
    """
    from ..core.parallel import run_jobs

    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    configs = [(check_positive_int("n_heads", h), check_positive_int("width", w))
               for h, w in configs]
    if not configs:
        raise ValueError("configs must be non-empty")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be non-empty")
    noise = [check_flips(eta, rho) for eta, rho in noise]
    if not noise or noise[0] != (0.0, 0.0):
        raise ValueError("noise must start with the clean condition (0, 0)")
    batch = check_positive_int("batch", batch)
    steps = check_positive_int("steps", steps)
    n_layers = check_positive_int("n_layers", n_layers)
    n_eval = check_positive_int("n_eval", n_eval)
    for h, w in configs:
        if w % h != 0:
            raise ValueError(f"width must be a multiple of n_heads, got {w} and {h}")
    dictionary = None if dictionary is None else np.asarray(dictionary, dtype=float)
    jobs = [(pv, N, h, w, seed, n_layers, dictionary, noise, steps, batch, float(lr),
             int(warmup), n_eval) for h, w in configs for seed in seeds]
    start = time.perf_counter()
    out = run_jobs(_softmax_parity_job, jobs, workers=workers, progress=progress,
                   desc=f"{len(jobs)} softmax transformers")
    seconds = time.perf_counter() - start
    stats = np.stack([o[2] for o in out]).reshape(len(configs), len(seeds), 4, len(noise))
    histories = [[out[c * len(seeds) + s][1] for s in range(len(seeds))]
                 for c in range(len(configs))]
    return SoftmaxParityResult(
        configs=configs, seeds=seeds, noise=noise,
        n_parameters=[out[c * len(seeds)][0] for c in range(len(configs))],
        loss=stats[:, :, 0], loss_se=stats[:, :, 1], accuracy=stats[:, :, 2],
        accuracy_se=stats[:, :, 3], histories=histories, seconds=seconds)
