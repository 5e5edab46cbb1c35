"""Figures of Setting 2, the book's own parity model (chapters 7-9).

Every figure has a title, axis labels and a legend (or a colour bar where a legend has
nothing to name).  Colours run from small model (dark) to large model (light)
(:func:`iclbook.plots.style.size_colors`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..core.validation import check_importance
from ..parity.theory import (
    noisy_loss_curve,
    optimal_head_weights,
    optimal_loss_curve,
    pair_list,
    sign_accuracy,
    task_pair_indices,
)
from .style import finish, new_figure, size_colors

__all__ = [
    "plot_optimal_solution",
    "plot_kernels",
    "plot_head_maps",
    "plot_learning_curves",
    "plot_noise_sweep",
    "plot_versus_heads",
    "draw_heads_frame",
]

Series = tuple[np.ndarray, np.ndarray | None]


def plot_optimal_solution(p: Sequence[float] | np.ndarray, N: int,
                          monte_carlo: Series | None = None) -> Figure:
    """Theorem P1 at a glance (chapter 7): ``L*_m`` against ``m`` and which pairs ``A*`` keeps.

    ``monte_carlo = (means, stderrs)`` for ``m = 1..K`` adds the Monte Carlo estimates.
    """
    pv = check_importance("p", p)
    K = pv.size
    ms = np.arange(1, K + 1)
    fig, (ax1, ax2) = new_figure("Theorem P1: the optimal m-head model", "", "", ncols=2,
                                 figsize=(10, 4))
    curve = optimal_loss_curve(pv, N)
    ax1.plot(np.arange(K + 1), curve, "o-", color="C0", label="$L^*_m$ (Theorem P1)")
    if monte_carlo is not None:
        mean, se = monte_carlo
        ax1.errorbar(ms, mean, yerr=None if se is None else 4 * np.asarray(se), fmt="s",
                     mfc="none", color="C3", ms=9, capsize=4,
                     label="Monte Carlo (± 4 SE)")
    ax1.set_xlabel("number of heads m")
    ax1.set_xticks(range(K + 1))
    ax1.set_ylabel("optimal loss")
    ax1.set_title("loss of the optimal model")
    a = optimal_head_weights(pv, N)
    cover = np.array([[a[t] if t < m else 0.0 for t in range(K)] for m in ms])
    im = ax2.imshow(cover, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for i in range(K):
        for t in range(K):
            ax2.text(t, i, f"{cover[i, t]:.2f}", ha="center", va="center", fontsize=8,
                     color="white" if cover[i, t] > 0.5 else "black")
    ax2.set_xticks(range(K), [f"{t + 1}\n$p$={pv[t]:.2g}" for t in range(K)])
    ax2.set_yticks(range(K), [str(m) for m in ms])
    ax2.set_xlabel("hidden pair (task) and its importance")
    ax2.set_ylabel("number of heads m")
    ax2.set_title("diagonal of $A^*$: weight $a^*_\\tau$ on each pair")
    ax2.grid(False)
    fig.colorbar(im, ax=ax2, label="$a^*_\\tau = p_\\tau / \\gamma_\\tau$")
    finish(ax1)
    return fig


def _pair_ticks(ax: plt.Axes, d: int) -> None:
    idx = task_pair_indices(d)
    pairs = pair_list(d)
    labels = [f"{pairs[i][0] + 1},{pairs[i][1] + 1}" for i in idx]
    ax.set_xticks(idx, labels, fontsize=7, rotation=90)
    ax.set_yticks(idx, labels, fontsize=7)


def plot_kernels(matrices: Sequence[np.ndarray], titles: Sequence[str], d: int,
                 suptitle: str = "Kernel matrices A in pair coordinates") -> Figure:
    """Heat maps of ``D x D`` kernel matrices side by side (chapters 7-8).

    Ticks mark the task pairs ``(1,2), (3,4), ...``; every other row/column is an off-task pair.
    """
    if len(matrices) != len(titles) or not matrices:
        raise ValueError("matrices and titles must be non-empty and of the same length")
    vmax = max(float(np.abs(M).max()) for M in matrices) or 1.0
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(3.3 * n + 1, 3.6), constrained_layout=True)
    axes = np.atleast_1d(axes)
    for ax, M, t in zip(axes, matrices, titles, strict=True):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        _pair_ticks(ax, d)
        ax.set_title(t, fontsize=10)
        ax.set_xlabel("pair (column of A)")
        ax.set_ylabel("pair (row of A)")
        ax.grid(False)
    fig.suptitle(suptitle)
    fig.colorbar(im, ax=list(axes), label="entry of A", shrink=0.8)
    return fig


def plot_head_maps(W: np.ndarray, a: np.ndarray, dictionary: np.ndarray | None = None,
                   title: str = "What each head attends to: $G^T W_j G$") -> Figure:
    """Heat maps of ``sqrt|a_j| G^T W_j G`` for every head (chapter 8).

    Entry ``(a, b)`` is the weight head ``j`` puts on the hidden pair ``phi_a phi_b``; boxes
    outline the task pairs.  The diagonal is set to zero: it meets ``phi_a^2 = 1`` and does
    not change the score.  Scaling by ``sqrt|a_j|`` makes heads comparable (only
    ``a_j v_j v_j^T`` is identifiable).
    """
    W = np.asarray(W, dtype=float)
    a = np.asarray(a, dtype=float)
    m, d = W.shape[0], W.shape[-1]
    G = np.eye(d) if dictionary is None else np.asarray(dictionary, dtype=float)
    maps = []
    for j in range(m):
        M = G.T @ W[j] @ G * np.sqrt(abs(a[j]))
        np.fill_diagonal(M, 0.0)
        maps.append(M)
    vmax = max(float(np.abs(M).max()) for M in maps) or 1.0
    fig, axes = plt.subplots(1, m, figsize=(2.6 * m + 1.2, 3.0), constrained_layout=True)
    axes = np.atleast_1d(axes)
    for j, (ax, M) in enumerate(zip(axes, maps, strict=True)):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        for t in range(d // 2):
            for (r, c) in ((2 * t, 2 * t + 1), (2 * t + 1, 2 * t)):
                ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=1.2,
                                       ec="black"))
        ax.set_xticks(range(d), [str(i + 1) for i in range(d)], fontsize=7)
        ax.set_yticks(range(d), [str(i + 1) for i in range(d)], fontsize=7)
        ax.set_xlabel("hidden bit b")
        ax.set_ylabel("hidden bit a")
        ax.set_title(f"head {j + 1} ($a_j$ = {a[j]:.2f})", fontsize=10)
        ax.grid(False)
    fig.suptitle(title)
    fig.colorbar(im, ax=list(axes), label="weight on $\\phi_a\\phi_b$ (boxes: task pairs)",
                 shrink=0.8)
    return fig


def plot_learning_curves(steps: Sequence[int], losses: np.ndarray, labels: Sequence[str],
                         plateaus: Mapping[str, float], title: str,
                         colors: Sequence | None = None) -> Figure:
    """Training loss against step, one curve per column of ``losses``, with dashed plateau
    lines ``plateaus = {label: value}`` (e.g. ``L*_0 .. L*_K``, chapter 8).

    Curves that share a label (e.g. several seeds of one run) share one legend entry.
    """
    losses = np.asarray(losses, dtype=float)
    if losses.ndim != 2 or losses.shape[1] != len(labels) or losses.shape[0] != len(steps):
        raise ValueError(f"losses must have shape (len(steps), len(labels)), got {losses.shape}")
    fig, ax = new_figure(title, "training step", "training loss (batch mean)")
    cols = colors or size_colors(len(labels))
    seen: set[str] = set()
    for k, lab in enumerate(labels):
        ax.plot(steps, losses[:, k], color=cols[k], lw=1.2, label=None if lab in seen else lab)
        seen.add(lab)
    for j, (name, val) in enumerate(plateaus.items()):
        ax.axhline(val, color="gray", ls="--", lw=0.8, label="optimal losses" if j == 0 else None)
        ax.annotate(name, (steps[-1], val), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8, color="gray", annotation_clip=False)
    ax.set_yscale("log")
    finish(ax)
    return fig


def plot_noise_sweep(levels: np.ndarray, theory: np.ndarray, head_counts: Sequence[int], *,
                     xlabel: str, ylabel: str, title: str,
                     measured: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
                     | None = None) -> Figure:
    """A metric against a noise level, one theory curve per head count (chapter 8).

    ``theory`` has shape ``(len(levels), len(head_counts))``; ``measured = {label: (x, mean,
    stderr)}`` adds points with ``± 2 SE`` bars, ``mean``/``stderr`` of shape
    ``(len(x), len(head_counts))``.
    """
    fig, ax = new_figure(title, xlabel, ylabel)
    cols = size_colors(len(head_counts))
    for k, m in enumerate(head_counts):
        ax.plot(levels, theory[:, k], color=cols[k], label=f"m = {m} (theory)")
    markers = "osD^v"
    for i, (lab, (x, mean, se)) in enumerate((measured or {}).items()):
        for k in range(len(head_counts)):
            ax.errorbar(x, mean[:, k], yerr=2 * se[:, k], fmt=markers[i % 5], color=cols[k],
                        mfc="none", capsize=3, label=lab if k == 0 else None)
    finish(ax)
    return fig


def plot_versus_heads(head_counts: Sequence[int], series: Mapping[str, Series], *, ylabel: str,
                      title: str, colors: Sequence | None = None) -> Figure:
    """Several curves against the number of heads; ``series = {label: (values, stderr|None)}``.

    Series without a standard error are drawn solid (theory), the others dashed with
    ``± 2 SE`` bars (measurements).
    """
    fig, ax = new_figure(title, "number of heads m", ylabel)
    for i, (lab, (val, se)) in enumerate(series.items()):
        style = "o-" if se is None else "s--"
        ax.errorbar(head_counts, val, yerr=None if se is None else 2 * np.asarray(se),
                    fmt=style, color=colors[i] if colors else f"C{i}", capsize=3, label=lab)
    ax.set_xticks(list(head_counts))
    finish(ax)
    return fig


def draw_heads_frame(p: Sequence[float] | np.ndarray, N: int, eta: float, rho: float,
                     title: str = "") -> Figure:
    """One widget frame (chapter 8): Theorem P2's loss and the exact sign accuracy against
    ``m``, on a clean and on a noisy context; the best head count is marked."""
    pv = check_importance("p", p)
    K = pv.size
    ms = np.arange(1, K + 1)
    fig, (ax1, ax2) = new_figure(title or f"N = {N}, eta = {eta:g}, rho = {rho:g}",
                                 "number of heads m", "", ncols=2, figsize=(8, 3.2))
    clean = optimal_loss_curve(pv, N)[1:]
    noisy = noisy_loss_curve(pv, N, eta, rho)[1:]
    acc_c = [sign_accuracy(pv, N, int(m)) for m in ms]
    acc_n = [sign_accuracy(pv, N, int(m), eta, rho) for m in ms]
    ax1.plot(ms, clean, "o-", color="C0", label="clean context")
    ax1.plot(ms, noisy, "s-", color="C3", label="noisy context")
    best = int(np.argmin(noisy))
    ax1.plot(ms[best], noisy[best], "*", ms=16, color="C3", label="best m (noisy)")
    ax1.set_ylabel("loss (Theorems P1, P2)")
    ax1.set_ylim(0, max(1.3, float(max(noisy)) + 0.05))
    ax2.plot(ms, acc_c, "o-", color="C0", label="clean context")
    ax2.plot(ms, acc_n, "s-", color="C3", label="noisy context")
    ax2.set_ylabel("sign accuracy")
    ax2.set_ylim(0.45, 1.0)
    for ax in (ax1, ax2):
        ax.set_xticks(ms)
    finish([ax1, ax2])
    return fig
