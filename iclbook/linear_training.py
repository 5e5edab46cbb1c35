"""Train and evaluate a family of rank-r linear-attention models on Setting 1 (chapter 5).

:func:`train_linear_family` trains every rank ``r`` in ``ranks`` for every seed as one batched
program (:mod:`iclbook.training`), then compares each trained model with Theorem A through
its held-out loss and its identifiable matrix ``M_eff`` (:func:`iclbook.lsa.effective_matrix`).

Plateaus: gradient training of ``W^KQ = P Q^T`` goes saddle to saddle, learning one
eigen-direction at a time.  Two choices keep every run off the plateaus (chapter 5):
the Zhang-Frei-Bartlett initialisation (the value reads the label, ``w22^PV = 1``; keys and
queries read features only), so that the model starts on the branch where
``M_eff = w22^PV W11^KQ``; and an O(1) initial scale of ``P, Q`` with Adam, so that no
direction starts near the saddle at zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .linear_data import embed_prompts, sample_linear_prompts
from .linear_models import LinearAttentionFamily
from .linear_theory import optimal_loss, optimal_matrix
from .lsa import reduced_predict
from .training import TrainingHistory, train_family
from .validation import (
    check_int_range,
    check_nonnegative,
    check_positive_int,
    check_spectrum,
)

__all__ = ["LinearFamilyResult", "train_linear_family", "evaluate_linear_family"]


@dataclass
class LinearFamilyResult:
    """A trained family and its comparison with Theorem A.

    Arrays indexed ``[seed_index, rank_index]``: ``heldout_loss`` (mean squared error of the
    trained model on held-out prompts), ``reference_loss`` (Theorem A's optimum on the *same*
    prompts), ``M_eff`` (``(d, d)`` each).  ``optimal_loss[k] = L*_{ranks[k]}`` and
    ``M_star[k]`` are the closed forms.
    """

    spectrum: np.ndarray
    N: int
    ranks: list[int]
    seeds: list[int]
    model: LinearAttentionFamily
    history: TrainingHistory
    heldout_loss: np.ndarray
    reference_loss: np.ndarray
    optimal_loss: np.ndarray
    M_eff: np.ndarray
    M_star: np.ndarray
    n_heldout: int

    @property
    def loss_gap(self) -> np.ndarray:
        """``heldout_loss / L*_r - 1`` (relative gap to the closed-form loss)."""
        return self.heldout_loss / self.optimal_loss[None, :] - 1

    @property
    def paired_gap(self) -> np.ndarray:
        """``heldout_loss / reference_loss - 1``: the same prompts for both, far less noisy."""
        return self.heldout_loss / self.reference_loss - 1

    @property
    def matrix_error(self) -> np.ndarray:
        """``||M_eff - M*||_F / ||M*||_F`` for every model."""
        diff = np.linalg.norm(self.M_eff - self.M_star[None], axis=(-2, -1))
        return diff / np.linalg.norm(self.M_star, axis=(-2, -1))[None, :]

    def rows(self) -> list[dict[str, float]]:
        """One dict per model: rank, seed, L*_r, held-out loss, gaps and M_eff error."""
        out = []
        for k, r in enumerate(self.ranks):
            for s, seed in enumerate(self.seeds):
                out.append({
                    "r": r, "seed": seed, "L*_r": float(self.optimal_loss[k]),
                    "held-out loss": float(self.heldout_loss[s, k]),
                    "gap to L*_r": float(self.loss_gap[s, k]),
                    "paired gap": float(self.paired_gap[s, k]),
                    "M_eff error": float(self.matrix_error[s, k]),
                })
        return out

    def summary(self) -> str:
        """A fixed-width table of :meth:`rows` (rounded so that reruns print the same)."""
        head = (f"{'r':>2} {'seed':>4} {'L*_r':>8} {'held-out':>9} {'gap':>8} "
                f"{'paired':>8} {'M_eff err':>9}")
        lines = [head]
        for row in self.rows():
            lines.append(f"{row['r']:>2} {row['seed']:>4} {row['L*_r']:>8.4f} "
                         f"{row['held-out loss']:>9.4f} {row['gap to L*_r']:>+8.2%} "
                         f"{row['paired gap']:>+8.2%} {row['M_eff error']:>9.2%}")
        return "\n".join(lines)


def _losses_on_prompts(model: LinearAttentionFamily, spectrum: np.ndarray, N: int,
                       basis: np.ndarray | None, sigma: float, sigma_x: float,
                       n_prompts: int, seed: int, chunk: int = 20_000
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Mean squared error of every model and of Theorem A's optimum on the same prompts."""
    S, K = len(model.seeds), len(model.ranks)
    gen = torch.Generator().manual_seed(int(seed))
    M_star = torch.stack([torch.as_tensor(optimal_matrix(spectrum, N, r, basis),
                                          dtype=torch.float32) for r in model.ranks])
    total = torch.zeros(S, K, dtype=torch.float64)
    total_ref = torch.zeros(S, K, dtype=torch.float64)
    done = 0
    with torch.no_grad():
        while done < n_prompts:
            size = min(chunk, n_prompts - done)
            p = sample_linear_prompts((S, size), N, spectrum, basis=basis, sigma=sigma,
                                      sigma_x=sigma_x, generator=gen)
            pred = model(embed_prompts(p))
            total += ((pred - p.y_query[:, None, :]) ** 2).double().sum(-1)
            ref = reduced_predict(p.h[:, None], p.x_query[:, None], M_star[None, :, None])
            total_ref += ((ref - p.y_query[:, None, :]) ** 2).double().sum(-1)
            done += size
    return (total / n_prompts).numpy(), (total_ref / n_prompts).numpy()


def evaluate_linear_family(model: LinearAttentionFamily, spectrum: Sequence[float] | np.ndarray,
                           N: int, *, basis: np.ndarray | None = None, sigma: float = 0.0,
                           sigma_x: float = 0.0, n_prompts: int = 100_000, seed: int = 10_000
                           ) -> np.ndarray:
    """Held-out risk of every model of a trained family, shape ``(n_seeds, n_ranks)``.

    Test contexts may be noisy (label noise ``sigma``, input noise ``sigma_x``: Theorem B,
    chapter 6); the query is clean.  Prompts are fresh (``seed`` differs from training).
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    n_prompts = check_positive_int("n_prompts", n_prompts)
    sigma = check_nonnegative("sigma", sigma)
    sigma_x = check_nonnegative("sigma_x", sigma_x)
    if model.d != lam.size:
        raise ValueError(f"spectrum has d = {lam.size} but the model has d = {model.d}")
    return _losses_on_prompts(model, lam, N, basis, sigma, sigma_x, n_prompts, seed)[0]


def train_linear_family(
    spectrum: Sequence[float] | np.ndarray,
    N: int,
    ranks: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    basis: np.ndarray | None = None,
    steps: int = 1000,
    batch: int = 2000,
    lr: float = 1e-2,
    init_scale: float = 0.3,
    n_heldout: int = 400_000,
    target_gap: float | None = None,
    check_every: int = 100,
    progress: bool | None = None,
) -> LinearFamilyResult:
    """Train rank-``r`` linear attention for every ``r`` in ``ranks`` and every seed (chapter 5).

    Every step draws ``batch`` fresh prompts per seed; the models of one seed share them.
    With ``target_gap`` (e.g. ``0.01``) training stops once every model's loss is within that
    relative gap of Theorem A's optimum on 20 000 check prompts (paired comparison).
    Returns the family evaluated on ``n_heldout`` held-out prompts per seed.
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    d = lam.size
    ranks = list(range(1, d + 1)) if ranks is None else [check_int_range("ranks", r, 1, d)
                                                         for r in ranks]
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be non-empty")
    batch = check_positive_int("batch", batch)
    n_heldout = check_positive_int("n_heldout", n_heldout)
    model = LinearAttentionFamily(d, ranks, seeds, init_scale=init_scale)

    def sample(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        p = sample_linear_prompts((len(seeds), batch), N, lam, basis=basis, generator=gen)
        return embed_prompts(p), p.y_query[:, None, :]

    target = None
    if target_gap is not None:
        gap = check_nonnegative("target_gap", target_gap)

        def target(m: torch.nn.Module) -> bool:
            loss, ref = _losses_on_prompts(model, lam, N, basis, 0.0, 0.0, 20_000, 99_999)
            return bool(np.all(loss / ref - 1 <= gap))

    history = train_family(model, sample, steps=steps, lr=lr, seed=seeds[0] + 1_000_003,
                           target=target, check_every=check_every, progress=progress,
                           desc=f"{len(seeds) * len(ranks)} linear-attention models")
    heldout, ref = _losses_on_prompts(model, lam, N, basis, 0.0, 0.0, n_heldout, 10_000)
    with torch.no_grad():
        M_eff = model.effective_matrices().double().numpy()
    return LinearFamilyResult(
        spectrum=lam, N=N, ranks=ranks, seeds=seeds, model=model, history=history,
        heldout_loss=heldout, reference_loss=ref,
        optimal_loss=np.array([optimal_loss(lam, N, r) for r in ranks]),
        M_eff=M_eff, M_star=np.stack([optimal_matrix(lam, N, r, basis) for r in ranks]),
        n_heldout=n_heldout,
    )
