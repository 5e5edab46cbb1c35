"""Setting 1's Monte Carlo check (chapters 3, 4 and 6): the risk of a fixed matrix on fresh
prompts, with its standard error.

Every theorem is checked three ways: symbolically (SymPy), by Monte Carlo (this module, on
:func:`iclbook.core.stats.mean_with_se`) and by training.  An estimate agrees with a closed
form when the gap is within a few standard errors:
:meth:`iclbook.core.stats.MonteCarloEstimate.agrees_with`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..core.stats import MonteCarloEstimate, mean_with_se
from ..core.validation import check_shape
from .data import sample_linear_prompts
from .lsa import reduced_predict

__all__ = ["monte_carlo_linear_risk"]


def monte_carlo_linear_risk(
    B: np.ndarray | torch.Tensor,
    spectrum: Sequence[float] | np.ndarray,
    N: int,
    *,
    basis: np.ndarray | None = None,
    sigma: float = 0.0,
    sigma_x: float = 0.0,
    task: Sequence[float] | np.ndarray | None = None,
    n_prompts: int = 100_000,
    seed: int = 0,
) -> MonteCarloEstimate:
    """Monte Carlo risk ``E (x_q^T B h - y_q)^2`` of the reduced predictor on noisy contexts.

    Checks Theorems A and B (chapters 4 and 6); ``task`` fixes ``w`` (input coordinates).
    """
    d = len(np.asarray(spectrum))
    Bt = torch.as_tensor(check_shape("B", np.asarray(B, dtype=float), (d, d)),
                         dtype=torch.float64)

    def draw(size: int, gen: torch.Generator) -> torch.Tensor:
        p = sample_linear_prompts(size, N, spectrum, basis=basis, sigma=sigma, sigma_x=sigma_x,
                                  task=task, generator=gen, dtype=torch.float64)
        return (reduced_predict(p.h, p.x_query, Bt) - p.y_query) ** 2

    return mean_with_se(draw, n_prompts, seed=seed)
