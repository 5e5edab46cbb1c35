"""Figures of chapter 6, "Noise in the context" (Theorem B and its consequences).

Every figure is drawn from the closed forms of :mod:`iclbook.linear.theory` and
:mod:`iclbook.linear.noise`, so the explorer figures redraw instantly:

* :func:`risk_vs_rank` -- Theorem B's risk against model size at several noise levels.
* :func:`phase_diagram` -- the best size ``r*(sigma, sigma_x)`` as a heat map.
* :func:`fixed_task_risk` -- one task's risk against size (the distraction effect).
* :func:`trained_vs_formula` -- trained models under noise against Theorem B.
* :func:`draw_noise_explorer`, :func:`draw_size_explorer`, :func:`draw_data_explorer` --
  the ``draw`` functions of the chapter's three :func:`iclbook.core.widgets.explorer` s.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from ..core.validation import check_int_range, check_nonnegative, check_positive_int, check_spectrum
from ..linear.noise import critical_label_noise, geometric_spectrum, noisy_risk_curve
from ..linear.theory import noisy_risk_fixed_task
from .style import finish, new_figure, size_colors

__all__ = [
    "risk_vs_rank",
    "phase_diagram",
    "fixed_task_risk",
    "trained_vs_formula",
    "draw_noise_explorer",
    "draw_size_explorer",
    "draw_data_explorer",
    "EXPLORER_FIGSIZE",
]

#: Size of the explorer figures (small, so that each static frame stays near 20-30 KB).
EXPLORER_FIGSIZE = (5.6, 3.5)


def _levels(levels: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for lev in levels:
        if len(lev) != 2:
            raise ValueError(f"levels must be (sigma, sigma_x) pairs, got {lev!r}")
        out.append((check_nonnegative("sigma", lev[0]), check_nonnegative("sigma_x", lev[1])))
    if not out:
        raise ValueError("levels must hold at least one (sigma, sigma_x) pair")
    return out


def risk_vs_rank(spectrum: Sequence[float] | np.ndarray, N: int,
                 levels: Sequence[tuple[float, float]], *,
                 title: str = "Theorem B: risk against model size",
                 figsize: tuple[float, float] | None = None) -> Figure:
    """Theorem B's risk ``R_r`` for ``r = 1..d``, one curve per ``(sigma, sigma_x)`` level.

    A star marks each curve's best size ``r*`` (chapter 6).
    """
    lam = check_spectrum("spectrum", spectrum)
    levels = _levels(levels)
    fig, ax = new_figure(title, "model size r (rank of $W^{KQ}$)", "risk on a noisy context",
                         figsize=figsize)
    ranks = np.arange(1, lam.size + 1)
    for (s, sx), color in zip(levels, size_colors(len(levels), "plasma"), strict=True):
        risk = noisy_risk_curve(lam, N, s, sx)[1:]
        best = int(np.argmin(risk))
        ax.plot(ranks, risk, "o-", color=color, label=f"σ = {s:g}, σ_x = {sx:g}")
        ax.plot(ranks[best], risk[best], "*", color=color, markersize=16,
                markeredgecolor="black")
    ax.plot([], [], "*", color="gray", markersize=12, markeredgecolor="black",
            label="best size r*")
    ax.set_xticks(ranks)
    finish(ax)
    return fig


def phase_diagram(spectrum: Sequence[float] | np.ndarray, N: int, sigmas: np.ndarray,
                  sigma_xs: np.ndarray, rstar: np.ndarray, *,
                  title: str = "Best model size r*(σ, σ_x)") -> Figure:
    """Heat map of ``rstar`` (shape ``(len(sigma_xs), len(sigmas))``, from
    :func:`iclbook.linear.noise.best_rank_map`) with the boundaries where feature ``r`` stops
    helping (:func:`iclbook.linear.noise.critical_label_noise`) drawn over it (chapter 6)."""
    lam = check_spectrum("spectrum", spectrum)
    s, sx = np.asarray(sigmas, dtype=float), np.asarray(sigma_xs, dtype=float)
    rstar = np.asarray(rstar)
    if rstar.shape != (sx.size, s.size):
        raise ValueError(f"rstar must have shape (len(sigma_xs), len(sigmas)) = "
                         f"{(sx.size, s.size)}, got {rstar.shape}")
    d = lam.size
    fig, ax = new_figure(title, "label noise σ", "input noise σ_x")
    cmap = ListedColormap(size_colors(d))
    norm = BoundaryNorm(np.arange(0.5, d + 1.5), d)
    mesh = ax.pcolormesh(s, sx, rstar, cmap=cmap, norm=norm, shading="nearest")
    bar = fig.colorbar(mesh, ax=ax, ticks=np.arange(1, d + 1))
    bar.set_label("best size r*")
    fine = np.linspace(sx.min(), sx.max(), 200)
    for r in range(2, d + 1):
        crit = np.array([critical_label_noise(lam, N, r, b) for b in fine])
        keep = crit > 0
        ax.plot(crit[keep], fine[keep], "w--", linewidth=1.2,
                label="feature r stops helping" if r == 2 else None)
    ax.set_xlim(s.min(), s.max())
    ax.set_ylim(sx.min(), sx.max())
    ax.grid(False)
    finish(ax)
    return fig


def fixed_task_risk(spectrum: Sequence[float] | np.ndarray, N: int, theta: np.ndarray,
                    levels: Sequence[tuple[float, float]], *,
                    title: str = "One task: risk against model size") -> Figure:
    """``R_r(theta)`` (Theorem B, fixed task) for ``r = 0..d``, one curve per noise level.

    Features the task does not use (``theta_r = 0``) are shaded (chapter 6).
    """
    lam = check_spectrum("spectrum", spectrum)
    th = np.asarray(theta, dtype=float)
    levels = _levels(levels)
    fig, ax = new_figure(title, "model size r", "risk on this task")
    ranks = np.arange(0, lam.size + 1)
    energy = float(np.sum(lam * th**2))
    for (s, sx), color in zip(levels, size_colors(len(levels), "plasma"), strict=True):
        risk = [energy] + [noisy_risk_fixed_task(lam, N, r, th, s, sx)
                           for r in range(1, lam.size + 1)]
        ax.plot(ranks, risk, "o-", color=color, label=f"σ = {s:g}, σ_x = {sx:g}")
    unused = [r for r in range(1, lam.size + 1) if th[r - 1] == 0]
    for k, r in enumerate(unused):
        ax.axvspan(r - 0.5, r + 0.5, color="red", alpha=0.12,
                   label="feature unused by the task" if k == 0 else None)
    ax.set_xticks(ranks)
    finish(ax)
    return fig


def trained_vs_formula(ranks: Sequence[int], labels: Sequence[str], formula: np.ndarray,
                       trained: np.ndarray, of_matrix: np.ndarray, *,
                       title: str = "Trained models under context noise") -> Figure:
    """Theorem B (lines) against trained models (dots: mean over seeds, bars: min-max)
    and ``loss_of_matrix`` of each model's ``M_eff^T`` (crosses), one colour per noise level.

    Shapes: ``formula`` ``(L, K)``, ``trained`` and ``of_matrix`` ``(L, S, K)`` for ``L``
    noise levels, ``S`` seeds, ``K`` ranks (chapter 6).
    """
    ranks = np.asarray(ranks)
    formula, trained, of_matrix = (np.asarray(a, dtype=float)
                                   for a in (formula, trained, of_matrix))
    L, K = len(labels), ranks.size
    if formula.shape != (L, K) or trained.ndim != 3 or trained.shape[::2] != (L, K) \
            or of_matrix.shape != trained.shape:
        raise ValueError(f"need formula (L, K) = {(L, K)}, trained and of_matrix (L, S, K); "
                         f"got {formula.shape}, {trained.shape}, {of_matrix.shape}")
    fig, ax = new_figure(title, "model size r", "risk on a noisy context", figsize=(8.4, 4.0))
    for k, color in enumerate(size_colors(L, "plasma")):
        ax.plot(ranks, formula[k], "-", color=color, label=labels[k])
        mean = trained[k].mean(0)
        err = np.stack([mean - trained[k].min(0), trained[k].max(0) - mean])
        ax.errorbar(ranks, mean, yerr=err, fmt="o", color=color, capsize=3)
        ax.plot(ranks, of_matrix[k].mean(0), "x", color="black", markersize=7)
    ax.plot([], [], "-", color="gray", label="line: Theorem B")
    ax.errorbar([], [], yerr=[], fmt="o", color="gray", capsize=3,
                label="dots: trained, held-out\n(mean and range of seeds)")
    ax.plot([], [], "x", color="black", label="cross: loss_of_matrix(M_eff^T)")
    ax.set_xticks(ranks)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return fig


# ------------------------------------------------------------------ explorer draw functions
def _explorer_axes(lam: np.ndarray, N: int, sigma: float, sigma_x: float, title: str,
                   highlight: int | None = None) -> Figure:
    fig, ax = new_figure(title, "model size r", "risk", figsize=EXPLORER_FIGSIZE)
    ranks = np.arange(1, lam.size + 1)
    clean = noisy_risk_curve(lam, N)[1:]
    noisy = noisy_risk_curve(lam, N, sigma, sigma_x)[1:]
    best = int(np.argmin(noisy))
    ax.plot(ranks, clean, "o--", color="gray", label="clean context")
    ax.plot(ranks, noisy, "o-", color="C3", label="noisy context")
    ax.plot(ranks[best], noisy[best], "*", color="gold", markersize=18,
            markeredgecolor="black", label=f"best size r* = {best + 1}")
    if highlight is not None:
        ax.plot(highlight, noisy[highlight - 1], "s", markersize=12, markerfacecolor="none",
                markeredgecolor="blue", markeredgewidth=2, label=f"your model r = {highlight}")
    ax.set_xticks(ranks)
    ax.set_ylim(0, None)
    finish(ax)
    return fig


def draw_noise_explorer(sigma: float, sigma_x: float, *,
                        spectrum: Sequence[float] | np.ndarray = (4.0, 2.0, 1.0, 0.5, 0.25),
                        N: int = 20) -> Figure:
    """Explorer 1 of chapter 6: clean and noisy risk against ``r`` at ``(sigma, sigma_x)``."""
    lam = check_spectrum("spectrum", spectrum)
    N = check_positive_int("N", N)
    sigma, sigma_x = check_nonnegative("sigma", sigma), check_nonnegative("sigma_x", sigma_x)
    return _explorer_axes(lam, N, sigma, sigma_x,
                          f"Risk against size, σ = {sigma:.3g}, σ_x = {sigma_x:.3g}")


def draw_size_explorer(r: int, sigma_x: float, *,
                       spectrum: Sequence[float] | np.ndarray = (4.0, 2.0, 1.0, 0.5, 0.25),
                       N: int = 20, sigma_max: float = 8.0) -> Figure:
    """Explorer 2 of chapter 6: risk against label noise ``sigma`` for every size, size ``r``
    in bold, at input noise ``sigma_x``: where the chosen model stops being the best."""
    lam = check_spectrum("spectrum", spectrum)
    r = check_int_range("r", r, 1, lam.size)
    N = check_positive_int("N", N)
    sigma_x = check_nonnegative("sigma_x", sigma_x)
    sigma_max = check_nonnegative("sigma_max", sigma_max)
    fig, ax = new_figure(f"Model size r = {r} against the best size, σ_x = {sigma_x:.3g}",
                         "label noise σ", "excess risk over the best size",
                         figsize=EXPLORER_FIGSIZE)
    sig = np.linspace(0, sigma_max, 81)
    curves = np.array([noisy_risk_curve(lam, N, s, sigma_x)[1:] for s in sig])  # (81, d)
    excess = curves - curves.min(axis=1, keepdims=True)
    first_other = 0 if r != 1 else 1
    for k in range(lam.size):
        if k + 1 != r:
            ax.plot(sig, excess[:, k], color="lightgray", linewidth=1,
                    label="other sizes" if k == first_other else None)
    ax.plot(sig, excess[:, r - 1], color="C0", linewidth=2.5, label=f"size r = {r}")
    wins = excess[:, r - 1] <= 1e-12
    ax.plot(sig[wins], excess[wins, r - 1], "o", color="gold", markeredgecolor="black",
            markersize=5, label=f"r = {r} is the best size")
    ax.set_ylim(-0.05, min(float(excess.max()), 1.5) + 0.05)
    finish(ax)
    return fig


def draw_data_explorer(N: int, decay: float, *, sigma: float = 2.0, sigma_x: float = 0.5,
                       d: int = 5, top: float = 4.0, r: int | None = None) -> Figure:
    """Explorer 3 of chapter 6: risk against ``r`` for context length ``N`` and the
    geometric spectrum ``lambda_i = top * decay^(i-1)`` at fixed noise."""
    lam = geometric_spectrum(d, decay, top)
    N = check_positive_int("N", N)
    sigma, sigma_x = check_nonnegative("sigma", sigma), check_nonnegative("sigma_x", sigma_x)
    if r is not None:
        r = check_int_range("r", r, 1, d)
    return _explorer_axes(lam, N, sigma, sigma_x,
                          f"N = {N}, decay = {decay:.3g} (σ = {sigma:g}, σ_x = {sigma_x:g})",
                          highlight=r)
