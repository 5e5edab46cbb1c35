"""Setting 2's Monte Carlo checks (chapters 7-9): loss and sign accuracy of a predictor on
fresh (possibly noisy) parity prompts, with standard errors.

:func:`monte_carlo_parity` estimates loss or accuracy of the kernel predictor for a fixed
``A`` (the Monte Carlo check of Theorems P1 and P2); :func:`evaluate_predictor` measures any
batched predictor -- trained parity families (chapter 8), softmax transformers (chapter 9).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.stats import MonteCarloEstimate, mean_over_seeds, mean_with_se
from ..core.validation import check_flips, check_importance, check_positive_int, check_shape
from .data import ParityPrompts, sample_parity_prompts
from .models import kernel_predict
from .theory import pair_count

__all__ = [
    "monte_carlo_parity",
    "sign_correct",
    "ParityEvaluation",
    "evaluate_predictor",
]


def sign_correct(y_hat: torch.Tensor, y: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """1 where ``sign(y_hat) = y``, 0 where it differs, 1/2 for a tie ``|y_hat| <= tol``.

    The tie rule (a fair coin) is the one :func:`iclbook.parity.theory.sign_accuracy` uses.
    """
    right = (torch.sign(y_hat) == y).to(torch.float64)
    return torch.where(y_hat.abs() <= tol, torch.full_like(right, 0.5), right)


def monte_carlo_parity(
    A: np.ndarray | torch.Tensor,
    p: Sequence[float] | np.ndarray,
    N: int,
    *,
    metric: str = "loss",
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    n_prompts: int = 100_000,
    seed: int = 0,
) -> MonteCarloEstimate:
    """Monte Carlo estimate for the kernel predictor ``chi_bar^T A chi_q`` on sampled prompts.

    ``metric="loss"``: squared error ``(y_hat - y_q)^2`` (Theorems P1 and P2);
    ``metric="accuracy"``: sign accuracy, ties counted 1/2 (chapter 8).  The context is noisy
    with label flips ``eta`` (in ``[0, 1]``) and hidden-bit flips ``rho`` (in ``[0, 1/2]``);
    the query is clean.
    """
    pv = check_importance("p", p)
    d = 2 * pv.size
    D = pair_count(d)
    At = torch.as_tensor(check_shape("A", np.asarray(A, dtype=float), (D, D)),
                         dtype=torch.float64)
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    eta, rho = check_flips(eta, rho)

    def draw(size: int, gen: torch.Generator) -> torch.Tensor:
        pr = sample_parity_prompts(size, N, pv, dictionary=dictionary, eta=eta, rho=rho,
                                   generator=gen, dtype=torch.float64)
        y_hat = kernel_predict(pr.c, At, pr.chi_query)
        if metric == "loss":
            return (y_hat - pr.y_query) ** 2
        return sign_correct(y_hat, pr.y_query, tol=1e-9)

    return mean_with_se(draw, n_prompts, seed=seed)


@dataclass
class ParityEvaluation:
    """Loss and sign accuracy of every model, each with its standard error.

    Arrays have the family's shape ``(n_seeds, n_counts)`` (or whatever the predictor returns).
    """

    loss: np.ndarray
    loss_se: np.ndarray
    accuracy: np.ndarray
    accuracy_se: np.ndarray
    n_prompts: int

    def over_seeds(self, metric: str = "accuracy") -> tuple[np.ndarray, np.ndarray]:
        """Mean over the first (seed) axis and its standard error across seeds.

        The spread across seeds contains the Monte Carlo noise of each estimate as well as
        the differences between trained models; with one seed the Monte Carlo error is used.
        """
        if metric not in ("loss", "accuracy"):
            raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
        values = self.loss if metric == "loss" else self.accuracy
        se = self.loss_se if metric == "loss" else self.accuracy_se
        return mean_over_seeds(values, axis=0, single_se=se[0])


def evaluate_predictor(
    predict: Callable[[ParityPrompts], torch.Tensor],
    batch_shape: tuple[int, ...],
    p: Sequence[float] | np.ndarray,
    N: int,
    *,
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    n_prompts: int = 100_000,
    seed: int = 10_000,
    chunk: int = 10_000,
) -> ParityEvaluation:
    """Loss and sign accuracy of any predictor on held-out (possibly noisy) prompts.

    ``predict(prompts)`` receives prompts of batch shape ``(*batch_shape, chunk)`` and returns
    predictions of shape ``(*batch_shape, *extra, chunk)``; the targets are compared along
    ``extra`` by broadcasting (e.g. a family of ``(n_seeds, n_counts)`` models whose seed ``s``
    reads row ``s``: ``batch_shape=(n_seeds,)``, predictions ``(n_seeds, n_counts, chunk)``).
    The result's arrays have shape ``(*batch_shape, *extra)``.  Used by chapters 8 and 9.
    """
    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    n_prompts = check_positive_int("n_prompts", n_prompts)
    eta, rho = check_flips(eta, rho)
    gen = torch.Generator().manual_seed(int(seed))
    sums = None
    done = 0
    with torch.no_grad():
        while done < n_prompts:
            size = min(chunk, n_prompts - done)
            pr = sample_parity_prompts((*batch_shape, size), N, pv, dictionary=dictionary,
                                       eta=eta, rho=rho, generator=gen)
            y_hat = predict(pr)
            extra = y_hat.ndim - len(batch_shape) - 1
            if extra < 0 or tuple(y_hat.shape[:len(batch_shape)]) != tuple(batch_shape):
                raise ValueError(f"predict must return shape ({', '.join(map(str, batch_shape))}"
                                 f"{', ' if batch_shape else ''}..., {size}), got "
                                 f"{tuple(y_hat.shape)}")
            y = pr.y_query.reshape(*batch_shape, *([1] * extra), size)
            sq = ((y_hat - y) ** 2).double()
            ok = sign_correct(y_hat, y)
            parts = [sq.sum(-1), (sq**2).sum(-1), ok.sum(-1), (ok**2).sum(-1)]
            sums = parts if sums is None else [a + b for a, b in zip(sums, parts, strict=True)]
            done += size
    assert sums is not None
    n = float(n_prompts)

    def mean_se(s1: torch.Tensor, s2: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        mean = s1 / n
        var = (s2 / n - mean**2).clamp_min(0) * n / max(n - 1, 1)
        return mean.numpy(), (var / n).sqrt().numpy()

    loss, loss_se = mean_se(sums[0], sums[1])
    acc, acc_se = mean_se(sums[2], sums[3])
    return ParityEvaluation(loss, loss_se, acc, acc_se, n_prompts)
