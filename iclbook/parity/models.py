"""The two-layer m-head attention model of Setting 2 and its kernel form (chapters 7-8).

**Book's own model** (see "Notes on fidelity").  Layer 1, head ``j``: a quadratic attention
score of each token, ``s_j(x) = x^T W_j x`` with ``W_j`` symmetric and traceless.  Layer 2:
linear attention from the query to the context that reads the labels,

    y_hat = sum_j a_j ( (1/N) sum_i y_i s_j(x_i) ) s_j(x_q).

With ``x = G phi``, ``s_j(x) = v_j^T chi(phi)`` where ``v_j`` lists the off-diagonal entries
``2 [G^T W_j G]_{ab}`` (``a < b``), so ``y_hat = chi_bar^T A chi_q`` with
``A = sum_j a_j v_j v_j^T`` (rank ``<= m``).  Traceless ``W_j``: the diagonal of
``G^T W_j G`` meets ``phi_a^2 = 1`` and only adds the constant ``tr W_j`` to every score,
which cannot help (it adds variance); removing it makes the kernel form exact.

* :func:`symmetric_traceless` -- the projection used for every ``W_j``.
* :func:`two_layer_forward` -- the network's forward pass for given weights.
* :func:`head_vectors`, :func:`kernel_matrix` -- ``v_j`` and ``A`` of given weights.
* :func:`kernel_predict` -- ``chi_bar^T A chi_q``.
* :func:`optimal_parity_weights` -- weights ``(W_j, a_j)`` realising Theorem P1's ``A*``.
* :func:`heads_from_kernel` -- canonical (eigen-)heads realising a given ``A``.
* :class:`ParityAttentionFamily` -- ``n_seeds x len(head_counts)`` models as one program.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..core.validation import (
    check_hidden_dim,
    check_importance,
    check_int_range,
    check_nonnegative,
    check_shape,
)
from .theory import optimal_head_weights, pair_count, pair_list

__all__ = [
    "symmetric_traceless",
    "two_layer_forward",
    "head_vectors",
    "kernel_matrix",
    "kernel_predict",
    "optimal_parity_weights",
    "heads_from_kernel",
    "ParityAttentionFamily",
]


def symmetric_traceless(B: torch.Tensor) -> torch.Tensor:
    """``sym(B) - tr(sym B)/d I`` for ``B`` of shape ``(..., d, d)``."""
    if B.ndim < 2 or B.shape[-1] != B.shape[-2]:
        raise ValueError(f"B must have shape (..., d, d), got {tuple(B.shape)}")
    S = 0.5 * (B + B.transpose(-1, -2))
    d = B.shape[-1]
    tr = torch.diagonal(S, dim1=-2, dim2=-1).sum(-1)
    return S - (tr / d)[..., None, None] * torch.eye(d, dtype=B.dtype, device=B.device)


def _check_E(E: torch.Tensor, d: int | None = None) -> tuple[int, int]:
    if E.ndim < 2 or E.shape[-1] < 2:
        raise ValueError(f"E must have shape (..., d+1, N+1) with N >= 1, got {tuple(E.shape)}")
    if d is not None and E.shape[-2] != d + 1:
        raise ValueError(f"E must have d+1 = {d + 1} rows, got {E.shape[-2]}")
    return E.shape[-2] - 1, E.shape[-1] - 1


def two_layer_forward(E: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The network's prediction for prompts ``E`` (batch, d+1, N+1), chapter 7.

    ``W`` (m, d, d) are the layer-1 score matrices (used as given: pass symmetric traceless
    matrices for the kernel form to be exact), ``a`` (m,) the layer-2 head weights.
    ``y_hat = sum_j a_j (1/N sum_i y_i x_i^T W_j x_i) x_q^T W_j x_q``; returns (batch,).
    """
    d, N = _check_E(E)
    if W.ndim != 3 or W.shape[-2:] != (d, d) or a.shape != W.shape[:1]:
        raise ValueError(f"W must have shape (m, {d}, {d}) and a shape (m,), got "
                         f"{tuple(W.shape)} and {tuple(a.shape)}")
    X = E[..., :d, :]                                       # (batch, d, N+1)
    scores = torch.einsum("bit,jik,bkt->bjt", X, W, X)      # s_j of every token
    read = torch.einsum("bjn,bn->bj", scores[..., :N], E[..., d, :N]) / N
    return torch.einsum("j,bj,bj->b", a, read, scores[..., N])


def head_vectors(W: torch.Tensor | np.ndarray, dictionary: np.ndarray | None = None
                 ) -> torch.Tensor:
    """``v_j``: off-diagonal entries ``2 [G^T W_j G]_{ab}``, ``a < b``; shape ``(..., D)``.

    ``s_j(G phi) = v_j^T chi(phi)`` for a traceless ``W_j`` (chapter 7).
    """
    W = torch.as_tensor(W)
    d = check_hidden_dim("d", W.shape[-1])
    if W.ndim < 2 or W.shape[-2] != d:
        raise ValueError(f"W must have shape (..., d, d), got {tuple(W.shape)}")
    if dictionary is not None:
        g = check_shape("dictionary", np.asarray(dictionary, dtype=float), (d, d))
        G = torch.as_tensor(g, dtype=W.dtype)
        W = G.T @ W @ G
    pairs = pair_list(d)
    ia = torch.tensor([i for i, _ in pairs])
    ib = torch.tensor([j for _, j in pairs])
    return W[..., ia, ib] + W[..., ib, ia]


def kernel_matrix(W: torch.Tensor | np.ndarray, a: torch.Tensor | np.ndarray,
                  dictionary: np.ndarray | None = None) -> torch.Tensor:
    """``A = sum_j a_j v_j v_j^T`` (chapter 7); ``W`` (..., m, d, d), ``a`` (..., m)."""
    v = head_vectors(W, dictionary)
    a = torch.as_tensor(a, dtype=v.dtype)
    if a.shape != v.shape[:-1]:
        raise ValueError(f"a must have shape {tuple(v.shape[:-1])}, got {tuple(a.shape)}")
    return torch.einsum("...j,...jk,...jl->...kl", a, v, v)


def kernel_predict(c: torch.Tensor, A: torch.Tensor, chi_query: torch.Tensor) -> torch.Tensor:
    """The kernel form ``y_hat = chi_bar^T A chi_q`` (chapter 7); broadcasts over leading dims.

    The first argument ``c`` is the context vector ``chi_bar``.
    """
    if A.shape[-1] != A.shape[-2] or c.shape[-1] != A.shape[-1] or chi_query.shape[-1] != \
            A.shape[-1]:
        raise ValueError(f"c (..., D), A (..., D, D) and chi_query (..., D) must agree in D, "
                         f"got {tuple(c.shape)}, {tuple(A.shape)}, {tuple(chi_query.shape)}")
    return torch.einsum("...k,...kl,...l->...", c, A, chi_query)


def optimal_parity_weights(p: Sequence[float] | np.ndarray, N: int, m: int,
                           dictionary: np.ndarray | None = None
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(W, a)`` of an optimal ``m``-head model (Theorem P1), shapes (m, d, d), (m,).

    Head ``j`` attends to hidden pair ``j``: ``W_j = sym(g_{2j} g_{2j+1}^T)``
    (``g_k`` = column ``k`` of ``G``), so ``v_j = e_j``, and ``a_j = a*_j = p_j / gamma_j``.
    """
    pv = check_importance("p", p)
    K = pv.size
    m = check_int_range("m", m, 1, K)
    d = 2 * K
    G = np.eye(d) if dictionary is None else check_shape(
        "dictionary", np.asarray(dictionary, dtype=float), (d, d))
    W = np.zeros((m, d, d))
    for j in range(m):
        g1, g2 = G[:, 2 * j], G[:, 2 * j + 1]
        W[j] = 0.5 * (np.outer(g1, g2) + np.outer(g2, g1))
    return W, optimal_head_weights(pv, N)[:m]


def heads_from_kernel(A: np.ndarray | torch.Tensor, m: int,
                      dictionary: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Canonical ``m``-head weights ``(W, a)`` whose kernel is the best rank-``m`` part of ``A``.

    Any rotation of the heads leaves ``A`` unchanged (chapter 8), so trained heads are mixtures;
    this picks the eigen-heads: ``v_j`` = unit eigenvectors of the symmetric part of ``A`` with
    the ``m`` largest ``|eigenvalues|``, ``a_j`` = those eigenvalues, and
    ``W_j = G M_j G^T`` with ``M_j`` zero on the diagonal and ``v_j / 2`` off it.
    """
    A = np.asarray(A, dtype=float)
    D = A.shape[-1]
    d = int(round((1 + (1 + 8 * D) ** 0.5) / 2))
    if A.ndim != 2 or A.shape != (D, D) or d < 2 or d % 2 or pair_count(d) != D:
        raise ValueError(f"A must be a D x D matrix with D = d(d-1)/2, got shape {A.shape}")
    m = check_int_range("m", m, 1, D)
    G = np.eye(d) if dictionary is None else check_shape(
        "dictionary", np.asarray(dictionary, dtype=float), (d, d))
    lam, U = np.linalg.eigh(0.5 * (A + A.T))
    order = np.argsort(-np.abs(lam), kind="stable")[:m]
    W = np.zeros((m, d, d))
    for j, k in enumerate(order):
        v = U[:, k] * np.sign(U[np.argmax(np.abs(U[:, k])), k])
        M = np.zeros((d, d))
        for (a, b), val in zip(pair_list(d), v, strict=True):
            M[a, b] = M[b, a] = val / 2
        W[j] = G @ M @ G.T
    return W, lam[order]


class ParityAttentionFamily(nn.Module):
    """``n_seeds x len(head_counts)`` two-layer ``m``-head models trained as one program.

    Model ``(s, k)`` has ``head_counts[k]`` heads (extra head slots are masked to zero).
    Parameters: raw layer-1 matrices ``B`` (n_seeds, n_counts, M, d, d) with
    ``W_j = symmetric_traceless(B_j)``, layer-2 weights ``a`` (n_seeds, n_counts, M).

    Initialisation (chapter 8): ``B`` i.i.d. Gaussian scaled so that ``|v_j|`` is about
    ``init_scale`` (an O(1) start, away from the saddle at ``W = 0``), drawn from
    ``torch.Generator(seed_s)`` so that a model's start does not depend on the family.
    ``init="positive"`` (default) sets every ``a_j = +1``: each head starts reading the
    labels with the sign of the optimum (``A*`` is positive semi-definite).
    ``init="negative"`` (``a_j = -1``) and ``init="random_sign"`` (``a_j = +-1``) exist to
    show the alternative: a head that starts with ``a_j < 0`` shrinks into the saddle
    ``v_j = 0, a_j = 0`` and stays there.
    """

    def __init__(self, d: int, head_counts: Sequence[int], seeds: Sequence[int],
                 init_scale: float = 1.0, init: str = "positive",
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        d = check_hidden_dim("d", d)
        if len(head_counts) == 0 or len(seeds) == 0:
            raise ValueError("head_counts and seeds must be non-empty")
        K = d // 2
        counts = [check_int_range("head_counts", m, 1, K) for m in head_counts]
        init_scale = check_nonnegative("init_scale", init_scale)
        self.d, self.head_counts, self.seeds = d, counts, [int(s) for s in seeds]
        M = max(counts)
        shape = (len(self.seeds), len(counts))
        D = pair_count(d)
        std = init_scale / (2 * D) ** 0.5
        if init not in ("positive", "negative", "random_sign"):
            raise ValueError(f"init must be 'positive', 'negative' or 'random_sign', got {init!r}")
        B = torch.empty(*shape, M, d, d, dtype=dtype)
        a = torch.ones(*shape, M, dtype=dtype)
        for i, s in enumerate(self.seeds):
            g = torch.Generator().manual_seed(s)
            B[i] = std * torch.randn(len(counts), M, d, d, generator=g, dtype=dtype)
            if init == "random_sign":
                a[i] = torch.randint(0, 2, (len(counts), M), generator=g).to(dtype) * 2 - 1
        if init == "negative":
            a = -a
        mask = (torch.arange(M)[None, :] < torch.tensor(counts)[:, None]).to(dtype)
        self.register_buffer("mask", mask[None].expand(*shape, M).clone())
        self.B = nn.Parameter(B * self.mask[..., None, None])
        self.a = nn.Parameter(a * self.mask)

    @property
    def W(self) -> torch.Tensor:
        """Layer-1 score matrices ``W_j`` (n_seeds, n_counts, M, d, d), masked heads zero."""
        return symmetric_traceless(self.B) * self.mask[..., None, None]

    @property
    def head_weights(self) -> torch.Tensor:
        """Layer-2 weights ``a_j`` (n_seeds, n_counts, M), masked heads zero."""
        return self.a * self.mask

    def kernel_matrices(self, dictionary: np.ndarray | None = None) -> torch.Tensor:
        """``A`` of every model in pair coordinates, shape (n_seeds, n_counts, D, D)."""
        return kernel_matrix(self.W, self.head_weights, dictionary)

    def forward(self, E: torch.Tensor) -> torch.Tensor:
        """Predictions for prompts ``E`` of shape (n_seeds, B, d+1, N+1) -> (n_seeds, n_counts, B).

        Model ``(s, k)`` reads the prompts of seed ``s``.
        """
        if E.ndim != 4 or E.shape[0] != len(self.seeds) or E.shape[2] != self.d + 1:
            raise ValueError(f"E must have shape ({len(self.seeds)}, B, {self.d + 1}, N+1), "
                             f"got {tuple(E.shape)}")
        d, N = self.d, E.shape[-1] - 1
        X = E[:, :, :d, :].transpose(-1, -2)                         # (S, B, T, d)
        outer = (X[..., :, None] * X[..., None, :]).flatten(-2)     # x x^T of every token
        S, Kc, M = self.W.shape[:3]
        flat_W = self.W.reshape(S, Kc * M, d * d)
        scores = torch.einsum("sbtq,scq->scbt", outer, flat_W).reshape(S, Kc, M, *X.shape[1:3])
        read = torch.einsum("skjbn,sbn->skjb", scores[..., :N], E[:, :, d, :N]) / N
        return torch.einsum("skj,skjb,skjb->skb", self.head_weights, read, scores[..., N])
