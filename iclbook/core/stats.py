"""Means and standard errors, computed in one place for the whole book.

Two kinds of average appear: a **Monte Carlo estimate** over many i.i.d. draws
(:func:`mean_with_se`, a :class:`MonteCarloEstimate`), the second of the book's three checks
of every theorem; and a **mean over seeds** of trained models (:func:`mean_over_seeds`).

Conventions (also in CONTRIBUTING.md): a standard error is called ``se`` (a field) or
``<quantity>_se``; it is the sample standard deviation (``ddof = 1``) over ``sqrt(n)``.
With a single seed there is no spread across seeds to measure: the standard error of that
one-seed "mean" is the run's own Monte Carlo standard error where the caller has one
(``single_se``), otherwise 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from .validation import check_positive_int

__all__ = ["MonteCarloEstimate", "mean_with_se", "mean_over_seeds"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A sample mean, its standard error ``se`` and the number of samples ``n``."""

    mean: float
    se: float
    n: int

    def z_score(self, value: float) -> float:
        """``(mean - value) / se``: how many standard errors separate the two."""
        return (self.mean - value) / self.se if self.se > 0 else math.inf

    def agrees_with(self, value: float, z: float = 4.0) -> bool:
        """True when ``|mean - value| <= z * se`` (default ``z = 4``: false alarm < 1e-4)."""
        return abs(self.mean - value) <= z * self.se

    def __str__(self) -> str:
        return f"{self.mean:.5f} ± {self.se:.5f} (n = {self.n:,})"


def mean_with_se(draw: Callable[[int, torch.Generator], torch.Tensor], n: int,
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
    return MonteCarloEstimate(mean=mean, se=math.sqrt(var / count), n=count)


def mean_over_seeds(values: Sequence[float] | np.ndarray, axis: int = 0,
                    single_se: np.ndarray | float | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` over the seed axis ``axis`` and its standard error.

    The standard error is ``std(ddof=1) / sqrt(S)`` over the ``S`` seeds.  With ``S = 1``
    (no spread to measure) it is ``single_se`` -- the run's own Monte Carlo standard error,
    same shape as the mean -- when given, else 0.  Returns arrays (0-d for a 1-D input).
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0 or arr.shape[axis] == 0:
        raise ValueError(f"values must have at least one seed along axis {axis}, got shape "
                         f"{arr.shape}")
    S = arr.shape[axis]
    mean = arr.mean(axis)
    if S > 1:
        return mean, arr.std(axis, ddof=1) / np.sqrt(S)
    if single_se is None:
        return mean, np.zeros_like(mean)
    se = np.asarray(single_se, dtype=float)
    return mean, np.broadcast_to(se, mean.shape).copy() if se.shape != mean.shape else se
