"""The linear self-attention layer ``f_LSA`` of chapter 3 and its reduced form.

``f_LSA(E) = E + W^PV E (E^T W^KQ E) / N``; the prediction is the bottom-right entry
``[f_LSA(E)]_{d+1, N+1}``.  Its part odd in the task is ``h^T M_eff x_q`` with
``M_eff = w22^PV W11^KQ + w21^PV (w21^KQ)^T`` (theory reference, section 2).
The reduced predictor is one step of preconditioned gradient descent on the in-context
least-squares loss (:func:`preconditioned_gd_step`, chapter 3).
"""

from __future__ import annotations

import numpy as np
import torch

from .theory import optimal_matrix

__all__ = [
    "lsa_forward",
    "lsa_predict",
    "reduced_predict",
    "effective_matrix",
    "optimal_lsa_weights",
    "preconditioned_gd_step",
]


def _check_weights(E: torch.Tensor, W_pv: torch.Tensor, W_kq: torch.Tensor) -> int:
    if E.ndim < 2:
        raise ValueError(f"E must have shape (..., d+1, N+1), got {tuple(E.shape)}")
    D, T = E.shape[-2], E.shape[-1]
    if T < 2:
        raise ValueError("E must have at least one context column and the query column")
    for name, W in (("W_pv", W_pv), ("W_kq", W_kq)):
        if W.shape[-2:] != (D, D):
            raise ValueError(f"{name} must have shape (..., {D}, {D}) to match E, "
                             f"got {tuple(W.shape)}")
    return T - 1


def lsa_forward(E: torch.Tensor, W_pv: torch.Tensor, W_kq: torch.Tensor) -> torch.Tensor:
    """The full layer ``E + W^PV E (E^T W^KQ E) / N`` (chapter 3, all columns)."""
    N = _check_weights(E, W_pv, W_kq)
    scores = E.transpose(-1, -2) @ W_kq @ E
    return E + W_pv @ E @ scores / N


def lsa_predict(E: torch.Tensor, W_pv: torch.Tensor, W_kq: torch.Tensor) -> torch.Tensor:
    """``[f_LSA(E)]_{d+1, N+1}``, computed from the query column only (same numbers, O(N))."""
    N = _check_weights(E, W_pv, W_kq)
    q = E[..., :, -1:]  # (..., d+1, 1): the query token
    column = W_pv[..., -1:, :] @ E @ (E.transpose(-1, -2) @ (W_kq @ q)) / N
    return column[..., 0, 0] + E[..., -1, -1]


def reduced_predict(h: torch.Tensor, x_query: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """The reduced predictor ``y_hat = x_q^T B h`` (chapter 3)."""
    if h.shape != x_query.shape or B.shape[-1] != h.shape[-1]:
        raise ValueError(f"h {tuple(h.shape)}, x_query {tuple(x_query.shape)} and "
                         f"B {tuple(B.shape)} must share the feature dimension d")
    return torch.einsum("...i,...ij,...j->...", x_query, B, h)


def effective_matrix(W_pv: torch.Tensor, W_kq: torch.Tensor) -> torch.Tensor:
    """``M_eff = w22^PV W11^KQ + w21^PV (w21^KQ)^T``, the identifiable part of ``(W^PV, W^KQ)``.

    The prediction's part odd in the task is ``h^T M_eff x_q``; compare trained models with
    Theorem A through this matrix (chapter 5).  Leading batch dimensions are kept.
    """
    if W_pv.shape != W_kq.shape or W_pv.shape[-1] != W_pv.shape[-2]:
        raise ValueError("W_pv and W_kq must be square (d+1) x (d+1) matrices of one shape")
    w22 = W_pv[..., -1, -1][..., None, None]
    w21_pv = W_pv[..., -1, :-1]
    w21_kq = W_kq[..., -1, :-1]
    return w22 * W_kq[..., :-1, :-1] + w21_pv[..., :, None] * w21_kq[..., None, :]


def optimal_lsa_weights(spectrum: np.ndarray, N: int, r: int, basis: np.ndarray | None = None,
                        c: float = 1.0, dtype: torch.dtype = torch.float64
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Theorem A's weights: ``W11^KQ = c U V* U^T``, ``w22^PV = 1/c``, all other blocks 0."""
    if not np.isfinite(c) or c == 0:
        raise ValueError(f"c must be a finite non-zero number, got {c!r}")
    M = optimal_matrix(spectrum, N, r, basis)
    d = M.shape[0]
    W_kq = torch.zeros(d + 1, d + 1, dtype=dtype)
    W_pv = torch.zeros(d + 1, d + 1, dtype=dtype)
    W_kq[:d, :d] = torch.as_tensor(c * M, dtype=dtype)
    W_pv[d, d] = 1.0 / c
    return W_pv, W_kq


def preconditioned_gd_step(x: torch.Tensor, y: torch.Tensor, P: torch.Tensor,
                           w0: torch.Tensor | None = None) -> torch.Tensor:
    """One step of preconditioned gradient descent on the in-context loss (chapter 3).

    The in-context least-squares loss is ``L(w) = (1/2N) sum_i (w^T x_i - y_i)^2`` with
    gradient ``grad L(w) = (1/N) sum_i (w^T x_i - y_i) x_i``; one step with preconditioner
    ``P`` gives ``w_1 = w_0 - P grad L(w_0)``.  From ``w_0 = 0`` (the default) this is
    ``w_1 = P h`` with ``h = (1/N) sum_i y_i x_i``, so ``x_q^T w_1`` is the reduced predictor
    ``x_q^T B h`` with ``P = B``.

    Shapes: ``x`` (..., N, d), ``y`` (..., N), ``P`` (d, d) or (..., d, d), ``w0`` (..., d);
    returns ``w_1`` of shape (..., d).
    """
    if x.ndim < 2 or y.shape != x.shape[:-1]:
        raise ValueError(f"x must have shape (..., N, d) and y shape (..., N), got "
                         f"x {tuple(x.shape)} and y {tuple(y.shape)}")
    d = x.shape[-1]
    if P.ndim < 2 or P.shape[-2:] != (d, d):
        raise ValueError(f"P must have shape (..., {d}, {d}), got {tuple(P.shape)}")
    if w0 is None:
        w0 = torch.zeros_like(x[..., 0, :])
    elif w0.shape[-1] != d:
        raise ValueError(f"w0 must have shape (..., {d}), got {tuple(w0.shape)}")
    residual = torch.einsum("...nd,...d->...n", x, w0) - y
    grad = torch.einsum("...n,...nd->...d", residual, x) / x.shape[-2]
    return w0 - torch.einsum("...ij,...j->...i", P, grad)
