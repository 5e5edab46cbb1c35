"""A family of rank-constrained linear-attention models trained as one tensor program.

Model ``(s, k)`` of the family has seed ``seeds[s]`` and key-query rank ``r = ranks[k]``:
``W^KQ = P Q^T`` with ``P, Q`` of shape ``(d+1, r)`` (stored with ``max(ranks)`` columns, the
columns beyond ``r`` masked to zero) and a full value-projection ``W^PV``.  Its prediction is
the real ``f_LSA`` output ``[f_LSA(E)]_{d+1,N+1}`` of chapter 3, computed for all models at
once (chapter 5).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..core.validation import check_basis, check_int_range, check_nonnegative, check_positive_int
from .lsa import effective_matrix
from .theory import feature_gains

__all__ = ["LinearAttentionFamily", "model_seed"]


def model_seed(seed: int, r: int) -> int:
    """The seed of model ``(seed, r)``'s initial weights (independent of the rest of its family).

    Derived with :class:`numpy.random.SeedSequence` from the pair, so that distinct pairs get
    unrelated streams.
    """
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed}")
    r = check_positive_int("r", r)
    return int(np.random.SeedSequence([seed, r]).generate_state(1)[0])


class LinearAttentionFamily(nn.Module):
    """``len(seeds) x len(ranks)`` linear self-attention layers with ``rank(W^KQ) <= r`` (ch. 5).

    Parameters have leading dimensions ``(n_seeds, n_ranks)``: ``P, Q`` of shape
    ``(d+1, max(ranks))`` and ``W_pv`` of shape ``(d+1, d+1)``.  Model ``(s, k)`` starts from
    weights drawn with ``torch.Generator(model_seed(seeds[s], ranks[k]))``, entries
    i.i.d. ``N(0, init_scale^2 / (d+1))``, so its start does not depend on the rest of the
    family.  ``init="label"`` (the default) is the Zhang-Frei-Bartlett initialisation: the
    value reads the label only (``W^PV = e_{d+1} e_{d+1}^T``, i.e. ``w22^PV = 1``) and keys
    and queries read the features only (last rows of ``P`` and ``Q`` zero).
    ``init="random"`` keeps every entry random.
    """

    def __init__(self, d: int, ranks: Sequence[int], seeds: Sequence[int],
                 init_scale: float = 1.0, init: str = "label", dtype: torch.dtype = torch.float32
                 ) -> None:
        super().__init__()
        d = check_positive_int("d", d)
        ranks, seeds = list(ranks), list(seeds)
        if len(ranks) == 0:
            raise ValueError("ranks must be a non-empty sequence of integers in "
                             f"1..{d + 1}")
        if len(seeds) == 0:
            raise ValueError("seeds must be a non-empty sequence of integers >= 0")
        ranks = [check_int_range("ranks", r, 1, d + 1) for r in ranks]
        seeds = [check_int_range("seeds", s, 0, 2**63 - 1) for s in seeds]
        init_scale = check_nonnegative("init_scale", init_scale)
        if init not in ("label", "random"):
            raise ValueError(f"init must be 'label' or 'random', got {init!r}")
        self.d, self.ranks, self.seeds, self.init = d, ranks, seeds, init
        D, R = d + 1, max(ranks)
        shape = (len(seeds), len(ranks))
        P = torch.zeros(*shape, D, R, dtype=dtype)
        Q = torch.zeros_like(P)
        W_pv = torch.zeros(*shape, D, D, dtype=dtype)
        std = init_scale / D**0.5
        for i, s in enumerate(seeds):
            for k, r in enumerate(ranks):
                g = torch.Generator().manual_seed(model_seed(s, r))
                P[i, k, :, :r] = std * torch.randn(D, r, generator=g, dtype=dtype)
                Q[i, k, :, :r] = std * torch.randn(D, r, generator=g, dtype=dtype)
                W_pv[i, k] = std * torch.randn(D, D, generator=g, dtype=dtype)
        if init == "label":
            W_pv.zero_()
            W_pv[..., -1, -1] = 1.0
            P[..., -1, :] = 0.0
            Q[..., -1, :] = 0.0
        mask = (torch.arange(R)[None, :] < torch.tensor(ranks)[:, None]).to(dtype)
        self.register_buffer("mask", mask[None, :, None, :].expand(*shape, 1, R).clone())
        self.P = nn.Parameter(P)
        self.Q = nn.Parameter(Q)
        self.W_pv = nn.Parameter(W_pv)

    @property
    def family_shape(self) -> tuple[int, int]:
        """``(n_seeds, n_ranks)``."""
        return len(self.seeds), len(self.ranks)

    @property
    def W_kq(self) -> torch.Tensor:
        """``W^KQ = P Q^T`` of every model, shape ``(n_seeds, n_ranks, d+1, d+1)``."""
        return (self.P * self.mask) @ (self.Q * self.mask).transpose(-1, -2)

    def model_weights(self, s: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(W^PV, W^KQ)`` of model ``(s, k)`` (seed index, rank index), detached copies."""
        s = check_int_range("s", s, 0, len(self.seeds) - 1)
        k = check_int_range("k", k, 0, len(self.ranks) - 1)
        with torch.no_grad():
            return self.W_pv[s, k].clone(), self.W_kq[s, k].clone()

    def load_optimum(self, spectrum: Sequence[float] | np.ndarray, N: int,
                     basis: np.ndarray | None = None) -> LinearAttentionFamily:
        """Set every model to Theorem A's rank-``r`` optimum (chapter 4); returns ``self``.

        ``P = U_r diag(1/g_1..1/g_r)``, ``Q = U_r`` on the features (so
        ``W11^KQ = U V* U^T``), ``W^PV = e_{d+1} e_{d+1}^T`` (``w22^PV = 1``), everything else
        zero.  Ranks above ``d`` keep only the ``d`` directions.
        """
        lam = np.asarray(spectrum, dtype=float)
        g = feature_gains(lam, N)            # validates spectrum and N
        if lam.size != self.d:
            raise ValueError(f"spectrum must have d = {self.d} eigenvalues, got {lam.size}")
        u = check_basis("basis", basis, self.d)
        dt = self.P.dtype
        with torch.no_grad():
            self.P.zero_()
            self.Q.zero_()
            self.W_pv.zero_()
            self.W_pv[..., -1, -1] = 1.0
            for k, r in enumerate(self.ranks):
                r = min(r, self.d)
                self.P[:, k, :-1, :r] = torch.as_tensor(u[:, :r] / g[:r], dtype=dt)
                self.Q[:, k, :-1, :r] = torch.as_tensor(u[:, :r], dtype=dt)
        return self

    def effective_matrices(self) -> torch.Tensor:
        """``M_eff`` of every model, shape ``(n_seeds, n_ranks, d, d)`` (``effective_matrix``)."""
        return effective_matrix(self.W_pv, self.W_kq)

    def forward(self, E: torch.Tensor) -> torch.Tensor:
        """Predictions ``[f_LSA(E)]_{d+1,N+1}`` for prompts ``E`` of shape (n_seeds, B, d+1, N+1).

        Model ``(s, k)`` reads the prompts of seed ``s``; returns shape (n_seeds, n_ranks, B).
        Only the query column is formed: with ``e_q`` the query token and ``G = E E^T``
        (shared by the models of one seed), the entry is
        ``y_q-slot + (W^PV)_{d+1,:} G W^KQ e_q / N``, the same number as the full layer.
        """
        S = len(self.seeds)
        if E.ndim != 4 or E.shape[0] != S or E.shape[2] != self.d + 1 or E.shape[3] < 2:
            raise ValueError(f"E must have shape ({S}, B, {self.d + 1}, N+1) with N >= 1, "
                             f"got {tuple(E.shape)}")
        N = E.shape[-1] - 1
        q = E[..., -1]                                               # (S, B, D) query tokens
        gram = E @ E.transpose(-1, -2)                               # (S, B, D, D)
        kq_q = torch.einsum("skij,sbj->skbi", self.W_kq, q)          # W^KQ e_q
        v_gram = torch.einsum("skd,sbde->skbe", self.W_pv[..., -1, :], gram)
        pred = (v_gram * kq_q).sum(-1) / N
        return pred + E[:, None, :, -1, -1]
