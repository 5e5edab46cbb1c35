"""Prompt sampler of Setting 2 (chapters 7-9): in-context sparse parity, the book's own model.

A prompt: a task ``tau ~ p`` (0-based), then ``N`` context pairs and a query.  Each token
has hidden bits ``phi`` uniform on ``{+-1}^d`` (``d = 2K``); the model sees ``x = G phi``
with an unknown orthonormal dictionary ``G``; the label is the parity of the hidden pair
``(2 tau, 2 tau + 1)``: ``y = phi_{2 tau} phi_{2 tau + 1}``.  Context noise (Theorem P2):

* label flips: each context label is flipped with probability ``eta``;
* input flips: each hidden bit of each context input is flipped with probability ``rho``
  (the model sees ``G phi~``); labels come from the clean bits.

The query ``(x_q, y_q)`` is always clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.validation import (
    check_flips,
    check_importance,
    check_int_range,
    check_positive_int,
    check_shape,
)
from ..linear.data import embed_prompts as _embed
from .theory import pair_list

__all__ = ["ParityPrompts", "sample_parity_prompts", "pair_products", "embed_parity_prompts"]


@dataclass(frozen=True)
class ParityPrompts:
    """A batch of parity prompts; leading dimensions ``batch`` are shared by every field.

    ``x`` (batch, N, d) context inputs the model sees (``G phi~``, noisy if ``rho > 0``),
    ``y`` (batch, N) context labels (flipped if ``eta > 0``), ``x_query`` (batch, d),
    ``y_query`` (batch,) the clean target, ``task`` (batch,) the task index,
    ``phi`` (batch, N, d) the hidden bits the model sees (``phi~``), ``phi_query`` (batch, d).
    """

    x: torch.Tensor
    y: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor
    task: torch.Tensor
    phi: torch.Tensor
    phi_query: torch.Tensor

    @property
    def chi_bar(self) -> torch.Tensor:
        """The context vector ``chi_bar = (1/N) sum_i y_i chi(phi_i)``, shape (batch, D) (ch. 7)."""
        return self.c

    @property
    def c(self) -> torch.Tensor:
        """The context vector ``chi_bar = (1/N) sum_i y_i chi(phi_i)`` (the name :attr:`chi_bar`
        is the book's; ``c`` is kept for existing callers), shape (batch, D) (chapter 7).

        Computed as the off-diagonal entries of ``(1/N) sum_i y_i phi_i phi_i^T``.
        """
        M = (self.y[..., None] * self.phi).transpose(-1, -2) @ self.phi / self.y.shape[-1]
        a, b = _pair_indices(self.phi.shape[-1])
        return M[..., a, b]

    @property
    def chi_query(self) -> torch.Tensor:
        """``chi(phi_q)``, the query's pair products, shape (batch, D)."""
        return pair_products(self.phi_query)


def pair_products(phi: torch.Tensor) -> torch.Tensor:
    """All pair products ``phi_a phi_b`` (``a < b``, :func:`iclbook.parity.theory.pair_list`).

    ``phi`` has shape ``(..., d)``; the result ``(..., d(d-1)/2)``.
    """
    a, b = _pair_indices(phi.shape[-1])
    return phi[..., a] * phi[..., b]


def _pair_indices(d: int) -> tuple[torch.Tensor, torch.Tensor]:
    pairs = pair_list(d)
    return torch.tensor([i for i, _ in pairs]), torch.tensor([j for _, j in pairs])


def _flip_signs(shape: tuple[int, ...], prob: float, generator: torch.Generator,
                dtype: torch.dtype) -> torch.Tensor:
    """``+-1`` entries, ``-1`` with probability ``prob`` (exactly 1/2 for fair signs)."""
    if prob == 0.5:
        bits = torch.randint(0, 2, shape, generator=generator, dtype=torch.int8)
        return (2 * bits - 1).to(dtype)
    u = torch.rand(*shape, generator=generator, dtype=torch.float32)
    return (1 - 2 * (u < prob).to(torch.int8)).to(dtype)


def sample_parity_prompts(
    batch: int | Sequence[int],
    N: int,
    p: Sequence[float] | np.ndarray,
    *,
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    task: int | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    dtype: torch.dtype = torch.float32,
) -> ParityPrompts:
    """Draw prompts of Setting 2 (chapter 7); ``batch`` is a count or a shape.

    ``p`` is the task importance (a sorted probability vector of length ``K``, ``d = 2K``);
    ``dictionary`` the orthonormal ``G`` (identity if None); ``eta`` / ``rho`` the label /
    hidden-bit flip probabilities of the context, ``eta`` in ``[0, 1]`` and ``rho`` in
    ``[0, 1/2]`` (Theorem P2); ``task``
    fixes the task of every prompt.  Pass ``generator`` or ``seed`` for reproducible draws.
    """
    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    shape = (batch,) if isinstance(batch, (int, np.integer)) else tuple(batch)
    if len(shape) == 0:
        raise ValueError("batch must be a positive count or a non-empty shape")
    for s in shape:
        check_positive_int("batch", s)
    eta, rho = check_flips(eta, rho)
    K = pv.size
    d = 2 * K
    if dictionary is None:
        G = torch.eye(d, dtype=dtype)
    else:
        g = check_shape("dictionary", np.asarray(dictionary, dtype=float), (d, d))
        if not np.allclose(g.T @ g, np.eye(d), atol=1e-8):
            raise ValueError("dictionary must be an orthonormal d x d matrix (G^T G = I)")
        G = torch.as_tensor(g, dtype=dtype)
    if generator is None:
        generator = torch.Generator().manual_seed(0 if seed is None else int(seed))
    n = int(np.prod(shape))
    if task is None:
        tasks = torch.multinomial(torch.as_tensor(pv, dtype=torch.float64), n, replacement=True,
                                  generator=generator).reshape(shape)
    else:
        t = check_int_range("task", task, 0, K - 1)
        tasks = torch.full(shape, t, dtype=torch.long)
    phi_all = _flip_signs((*shape, N + 1, d), 0.5, generator, dtype)
    idx = (2 * tasks)[..., None, None].expand(*shape, N + 1, 1)
    y_all = (phi_all.gather(-1, idx) * phi_all.gather(-1, idx + 1))[..., 0]
    phi, phi_q = phi_all[..., :N, :], phi_all[..., N, :]
    y, y_q = y_all[..., :N], y_all[..., N]
    if eta > 0:
        y = y * _flip_signs((*shape, N), eta, generator, dtype)
    if rho > 0:
        phi = phi * _flip_signs((*shape, N, d), rho, generator, dtype)
    return ParityPrompts(x=phi @ G.T, y=y, x_query=phi_q @ G.T, y_query=y_q, task=tasks,
                         phi=phi, phi_query=phi_q)


def embed_parity_prompts(prompts: ParityPrompts) -> torch.Tensor:
    """The token matrix ``E = [[x_1 .. x_N x_q], [y_1 .. y_N 0]]``, shape (batch, d+1, N+1).

    The same embedding as Setting 1 (:func:`iclbook.linear.data.embed_prompts`).
    """
    return _embed(prompts)  # type: ignore[arg-type]
