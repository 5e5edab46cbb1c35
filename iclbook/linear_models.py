"""A family of rank-constrained linear-attention models trained as one tensor program.

Model ``(s, k)`` of the family has seed index ``s`` and key-query rank ``ranks[k]``:
``W^KQ = P Q^T`` with ``P, Q`` of shape ``(d+1, r)`` (the columns beyond ``r`` are masked to
zero) and a full value-projection ``W^PV``.  Its prediction is the real ``f_LSA`` output
``[f_LSA(E)]_{d+1,N+1}`` (chapter 3), computed for all models at once (chapter 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .lsa import effective_matrix
from .validation import check_int_range, check_nonnegative, check_positive_int

__all__ = ["LinearAttentionFamily"]


class LinearAttentionFamily(nn.Module):
    """``n_seeds x len(ranks)`` linear self-attention models with ``rank(W^KQ) <= r``.

    Parameters have leading dimensions ``(n_seeds, len(ranks))``.  Initialisation: entries
    i.i.d. ``N(0, init_scale^2 / (d+1))``, drawn from ``torch.Generator(seed_s)`` for the
    models of seed ``s`` (so a model's start does not depend on the rest of the family).
    """

    def __init__(self, d: int, ranks: Sequence[int], seeds: Sequence[int],
                 init_scale: float = 1.0, init: str = "label", dtype: torch.dtype = torch.float32
                 ) -> None:
        super().__init__()
        d = check_positive_int("d", d)
        if len(ranks) == 0 or len(seeds) == 0:
            raise ValueError("ranks and seeds must be non-empty")
        ranks = [check_int_range("ranks", r, 1, d + 1) for r in ranks]
        init_scale = check_nonnegative("init_scale", init_scale)
        self.d, self.ranks, self.seeds = d, list(ranks), [int(s) for s in seeds]
        D, R = d + 1, max(ranks)
        shape = (len(seeds), len(ranks))
        P = torch.empty(*shape, D, R, dtype=dtype)
        Q = torch.empty_like(P)
        W_pv = torch.empty(*shape, D, D, dtype=dtype)
        std = init_scale / D**0.5
        for i, s in enumerate(self.seeds):
            g = torch.Generator().manual_seed(s)
            P[i] = std * torch.randn(len(ranks), D, R, generator=g, dtype=dtype)
            Q[i] = std * torch.randn(len(ranks), D, R, generator=g, dtype=dtype)
            W_pv[i] = std * torch.randn(len(ranks), D, D, generator=g, dtype=dtype)
        if init == "label":
            # Zhang-Frei-Bartlett initialisation: the value reads the label (w22^PV = 1), keys
            # and queries read the features only (last rows of P and Q zero).
            W_pv.zero_()
            W_pv[..., -1, -1] = 1.0
            P[..., -1, :] = 0.0
            Q[..., -1, :] = 0.0
        elif init != "random":
            raise ValueError(f"init must be 'label' or 'random', got {init!r}")
        mask = (torch.arange(R)[None, :] < torch.tensor(ranks)[:, None]).to(dtype)
        self.register_buffer("mask", mask[None, :, None, :].expand(*shape, 1, R).clone())
        self.P = nn.Parameter(P * self.mask)
        self.Q = nn.Parameter(Q * self.mask)
        self.W_pv = nn.Parameter(W_pv)

    @property
    def W_kq(self) -> torch.Tensor:
        """``W^KQ = P Q^T`` of every model, shape ``(n_seeds, n_ranks, d+1, d+1)``."""
        return (self.P * self.mask) @ (self.Q * self.mask).transpose(-1, -2)

    def effective_matrices(self) -> torch.Tensor:
        """``M_eff`` of every model, shape ``(n_seeds, n_ranks, d, d)`` (see ``effective_matrix``)."""
        return effective_matrix(self.W_pv, self.W_kq)

    def forward(self, E: torch.Tensor) -> torch.Tensor:
        """Predictions ``[f_LSA(E)]_{d+1,N+1}`` for prompts ``E`` of shape (n_seeds, B, d+1, N+1).

        Model ``(s, k)`` reads the prompts of seed ``s``; returns shape (n_seeds, n_ranks, B).
        Only the query column of ``f_LSA(E)`` is formed (it equals the full layer's entry).
        """
        if E.ndim != 4 or E.shape[0] != len(self.seeds) or E.shape[2] != self.d + 1:
            raise ValueError(f"E must have shape ({len(self.seeds)}, B, {self.d + 1}, N+1), "
                             f"got {tuple(E.shape)}")
        N = E.shape[-1] - 1
        q = E[..., -1]                                               # (S, B, D)
        kq_q = torch.einsum("skij,sbj->skbi", self.W_kq, q)          # W^KQ e_q
        scores = torch.einsum("sbdt,skbd->skbt", E, kq_q)            # E^T W^KQ e_q
        ctx = torch.einsum("sbdt,skbt->skbd", E, scores)             # E E^T W^KQ e_q
        pred = torch.einsum("skd,skbd->skb", self.W_pv[..., -1, :], ctx) / N
        return pred + E[:, None, :, -1, -1]
