"""Monte Carlo estimates with standard errors, the second of the book's three checks.

Every theorem is checked three ways: symbolically (SymPy), by Monte Carlo (this module) and
by training.  An estimate agrees with a closed form when the gap is within a few standard
errors: :meth:`MonteCarloEstimate.agrees_with`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.validation import check_positive_int, check_shape
from .data import sample_linear_prompts
from .lsa import reduced_predict

__all__ = ["MonteCarloEstimate", "mean_with_stderr", "monte_carlo_linear_risk"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A sample mean, its standard error and the number of samples."""

    mean: float
    stderr: float
    n: int

    def z_score(self, value: float) -> float:
        """``(mean - value) / stderr``: how many standard errors separate the two."""
        return (self.mean - value) / self.stderr if self.stderr > 0 else math.inf

    def agrees_with(self, value: float, z: float = 4.0) -> bool:
        """True when ``|mean - value| <= z * stderr`` (default ``z = 4``: false alarm < 1e-4)."""
        return abs(self.mean - value) <= z * self.stderr

    def __str__(self) -> str:
        return f"{self.mean:.5f} ± {self.stderr:.5f} (n = {self.n:,})"


def mean_with_stderr(draw: Callable[[int, torch.Generator], torch.Tensor], n: int,
                     seed: int = 0, chunk: int = 50_000) -> MonteCarloEstimate:
    """Average ``n`` i.i.d. samples drawn in chunks by ``draw(size, generator)``.

    Uses a one-pass (Chan et al.) combination of chunk means and variances in float64.
    """
    n = check_positive_int("n", n)
    chunk = check_positive_int("chunk", chunk)
    gen = torch.Generator().manual_seed(int(seed))
    count, mean, m2 = 0, 0.0, 0.0
    while count < n:
        size = min(chunk, n - count)
        s = draw(size, gen).double().reshape(-1)
        if s.numel() != size:
            raise ValueError(f"draw must return {size} samples, got {s.numel()}")
        c_mean = float(s.mean())
        c_m2 = float(((s - c_mean) ** 2).sum())
        delta = c_mean - mean
        total = count + size
        mean += delta * size / total
        m2 += c_m2 + delta**2 * count * size / total
        count = total
    var = m2 / (count - 1) if count > 1 else 0.0
    return MonteCarloEstimate(mean=mean, stderr=math.sqrt(var / count), n=count)


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

    return mean_with_stderr(draw, n_prompts, seed=seed)
