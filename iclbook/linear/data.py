"""Prompt sampler of Setting 1 (chapters 3-6), with optional context noise.

A prompt is ``(x_1, y_1), ..., (x_N, y_N), x_q`` with ``x ~ N(0, Lambda)``,
``y_i = <w, x_i>`` and ``w ~ N(0, I_d)`` (or a fixed task).  Context noise (Theorem B):

* label noise: ``y_i = <w, x_i> + eps_i``, ``eps_i ~ N(0, sigma^2)``;
* input noise: the model sees ``x_i + delta_i``, ``delta_i ~ N(0, sigma_x^2 I)``; labels are
  computed from the clean ``x_i``.

The query ``(x_q, y_q)`` is always clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.validation import check_nonnegative, check_positive_int, check_shape, check_spectrum
from .theory import spectral_covariance

__all__ = ["LinearPrompts", "sample_linear_prompts", "embed_prompts"]


@dataclass(frozen=True)
class LinearPrompts:
    """A batch of prompts; leading dimensions ``batch`` are shared by every field.

    ``x`` (batch, N, d) what the model sees in context (noisy if ``sigma_x > 0``),
    ``y`` (batch, N) context labels (noisy if ``sigma > 0``), ``x_query`` (batch, d),
    ``y_query`` (batch,) the clean target, ``w`` (batch, d) the task.
    """

    x: torch.Tensor
    y: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    w: torch.Tensor

    @property
    def h(self) -> torch.Tensor:
        """``h = (1/N) sum_i y_i x_i``, shape (batch, d)."""
        return torch.einsum("...n,...nd->...d", self.y, self.x) / self.x.shape[-2]


def sample_linear_prompts(
    batch: int | Sequence[int],
    N: int,
    spectrum: Sequence[float] | np.ndarray,
    *,
    basis: np.ndarray | None = None,
    sigma: float = 0.0,
    sigma_x: float = 0.0,
    task: Sequence[float] | np.ndarray | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> LinearPrompts:
    """Draw prompts of Setting 1; ``batch`` is a count or a shape of leading dimensions.

    Pass either ``generator`` or ``seed`` for reproducible draws.  ``task`` fixes ``w``
    (in the input coordinates) for every prompt; by default ``w ~ N(0, I_d)`` per prompt.
    """
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    shape = (batch,) if isinstance(batch, (int, np.integer)) else tuple(batch)
    if len(shape) == 0:
        raise ValueError("batch must be a positive count or a non-empty shape")
    for s in shape:
        check_positive_int("batch", s)
    sigma = check_nonnegative("sigma", sigma)
    sigma_x = check_nonnegative("sigma_x", sigma_x)
    d = lam.size
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    cov = spectral_covariance(lam, basis)
    root = torch.as_tensor(np.linalg.cholesky(cov), dtype=dtype)

    def gauss(*s: int) -> torch.Tensor:
        return torch.randn(*s, generator=generator, dtype=dtype)

    x_all = gauss(*shape, N + 1, d) @ root.T
    if task is None:
        w = gauss(*shape, d)
    else:
        t = check_shape("task", np.asarray(task, dtype=float), (d,))
        w = torch.as_tensor(t, dtype=dtype).expand(*shape, d).clone()
    y_all = torch.einsum("...nd,...d->...n", x_all, w)
    x, x_query = x_all[..., :N, :], x_all[..., N, :]
    y, y_query = y_all[..., :N], y_all[..., N]
    if sigma > 0:
        y = y + sigma * gauss(*shape, N)
    if sigma_x > 0:
        x = x + sigma_x * gauss(*shape, N, d)
    return LinearPrompts(x=x, y=y, x_query=x_query, y_query=y_query, w=w)


def embed_prompts(prompts: LinearPrompts) -> torch.Tensor:
    """The embedding ``E`` of chapter 3, shape (batch, d+1, N+1).

    ``E = [[x_1 .. x_N x_q], [y_1 .. y_N 0]]``: one column per token, the query's label slot
    set to zero.
    """
    x_cols = torch.cat([prompts.x, prompts.x_query.unsqueeze(-2)], dim=-2)  # (..., N+1, d)
    y_row = torch.cat([prompts.y, torch.zeros_like(prompts.y[..., :1])], dim=-1)
    return torch.cat([x_cols.transpose(-1, -2), y_row.unsqueeze(-2)], dim=-2)
