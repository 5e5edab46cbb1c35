"""Figures of chapter 5 (verifying Theorem A by training a family of linear-attention models).

- :func:`plot_learning_curves` -- training loss against step, one colour per rank, with the
  plateaus ``L*_j`` of Theorem A as horizontal lines.
- :func:`plot_family_learning_curves` -- the same, read from a :class:`LinearFamilyResult`.
- :func:`plot_kept_directions` -- heat map of ``g_i (U^T M_eff U)_{ii}``: which eigen-directions
  each model size keeps (Theorem A: 1 on the top ``r``, 0 elsewhere).

Every figure has a title, axis labels and a legend; colours run from small model (dark) to
large model (light) (:func:`iclbook.plots.style.size_colors`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..linear.theory import optimal_loss_curve
from ..linear.training import LinearFamilyResult
from .style import new_figure, size_colors

__all__ = ["plot_learning_curves", "plot_family_learning_curves", "plot_kept_directions"]


def plot_learning_curves(steps: Sequence[int] | np.ndarray, losses: np.ndarray,
                         ranks: Sequence[int], plateaus: Sequence[float] | np.ndarray, *,
                         title: str = "Training loss and the plateaus of Theorem A",
                         mean_over_seeds: bool = False, ax: Axes | None = None) -> Figure:
    """Loss against step (log scale) for every rank, with horizontal lines at ``L*_j`` (ch. 5).

    ``losses`` has shape ``(n_logs, n_seeds, n_ranks)`` (or ``(n_logs, n_ranks)`` for one
    seed); ``plateaus`` is ``[L*_0, ..., L*_d]`` (:func:`iclbook.linear.theory.
    optimal_loss_curve`); a run stuck on a saddle sits on one of these lines.  With
    ``mean_over_seeds`` one line per rank shows the mean over seeds, otherwise every seed is
    drawn (thin lines of the rank's colour).
    """
    steps = np.asarray(steps, dtype=float)
    arr = np.asarray(losses, dtype=float)
    if arr.ndim == 2:
        arr = arr[:, None, :]
    ranks = list(ranks)
    if arr.ndim != 3 or arr.shape[0] != steps.size or arr.shape[2] != len(ranks):
        raise ValueError(f"losses must have shape ({steps.size}, n_seeds, {len(ranks)}) to match "
                         f"steps and ranks, got {np.shape(losses)}")
    plateaus = np.asarray(plateaus, dtype=float)
    if plateaus.ndim != 1 or plateaus.size < 2:
        raise ValueError("plateaus must be the 1-D curve [L*_0, ..., L*_d] with d >= 1")
    if ax is None:
        fig, ax = new_figure(title, "training step", "training loss (log scale)")
    else:
        fig = ax.figure
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.set_ylabel("training loss (log scale)")
    colors = size_colors(max(len(ranks), 1))
    label_at = np.log10(plateaus)
    for j in range(1, label_at.size):        # keep the labels of close plateaus apart
        label_at[j] = min(label_at[j], label_at[j - 1] - 0.06)
    for j, level in enumerate(plateaus):
        ax.axhline(level, color="0.55", ls="--", lw=0.8, zorder=0,
                   label="plateaus $\\mathcal{L}^*_j$ (Theorem A)" if j == 0 else None)
        ax.annotate(f"$\\mathcal{{L}}^*_{j}$", (1.0, 10 ** label_at[j]),
                    xycoords=("axes fraction", "data"), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8, color="0.35")
    for k, r in enumerate(ranks):
        if mean_over_seeds:
            ax.plot(steps, arr[:, :, k].mean(axis=1), color=colors[k], lw=1.6, label=f"r = {r}")
        else:
            for s in range(arr.shape[1]):
                ax.plot(steps, arr[:, s, k], color=colors[k], lw=1.0, alpha=0.85,
                        label=f"r = {r}" if s == 0 else None)
    ax.set_yscale("log")
    low = min(np.nanmin(arr), plateaus.min())
    high = max(np.nanmax(arr), plateaus.max())
    ax.set_ylim(low / 1.15, high * 1.15)
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(_tick_label))
    ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_tick_label))
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=min(len(handles), 4),
              fontsize="small", title="rank of $W^{KQ}$", title_fontsize="small")
    return fig


def _tick_label(value: float, _: int) -> str:
    """Plain labels for the log axis, only at 1, 2, 3 and 5 times a power of ten."""
    if value <= 0:
        return ""
    lead = round(value / 10 ** np.floor(np.log10(value)))
    return f"{value:g}" if lead in (1, 2, 3, 5) else ""


def plot_family_learning_curves(result: LinearFamilyResult, *,
                                title: str = "Training loss and the plateaus of Theorem A",
                                mean_over_seeds: bool = False) -> Figure:
    """:func:`plot_learning_curves` of a trained family (its history and ``L*_0..L*_d``)."""
    if not isinstance(result, LinearFamilyResult):
        raise ValueError(f"result must be a LinearFamilyResult, got {type(result).__name__}")
    return plot_learning_curves(result.history.steps, result.history.loss_array(), result.ranks,
                                optimal_loss_curve(result.spectrum, result.N), title=title,
                                mean_over_seeds=mean_over_seeds)


def plot_kept_directions(kept: np.ndarray, ranks: Sequence[int],
                         spectrum: Sequence[float] | np.ndarray | None = None, *,
                         title: str = "Which hidden features each model size keeps") -> Figure:
    """Heat map of ``g_i (U^T M_eff U)_{ii}`` (rows: rank ``r``; columns: direction ``i``).

    ``kept`` has shape ``(n_seeds, n_ranks, d)`` (the mean over seeds is shown, the largest
    deviation of a seed from it is printed in the title's second line) or ``(n_ranks, d)``,
    e.g. :meth:`LinearFamilyResult.kept_directions`.  Theorem A predicts 1 on the cells
    ``i <= r`` (outlined) and 0 elsewhere.  ``spectrum`` labels the columns with ``lambda_i``.
    """
    arr = np.asarray(kept, dtype=float)
    if arr.ndim == 2:
        arr = arr[None]
    ranks = list(ranks)
    if arr.ndim != 3 or arr.shape[1] != len(ranks) or arr.shape[2] < 1:
        raise ValueError(f"kept must have shape (n_seeds, {len(ranks)}, d) or ({len(ranks)}, d), "
                         f"got {np.shape(kept)}")
    d = arr.shape[2]
    if spectrum is not None and np.asarray(spectrum).shape != (d,):
        raise ValueError(f"spectrum must have {d} entries, got shape {np.shape(spectrum)}")
    mean = arr.mean(axis=0)
    spread = float(np.abs(arr - mean).max())
    fig, ax = new_figure(title, "eigen-direction $i$ (hidden feature)", "rank $r$ of $W^{KQ}$",
                         figsize=(6.4, 0.55 * len(ranks) + 2.4))
    if arr.shape[0] > 1:
        ax.set_title(f"{title}\nmean of {arr.shape[0]} seeds (seeds differ by at most "
                     f"{spread:.3f})")
    im = ax.imshow(mean, cmap="Blues", vmin=0, vmax=1.1, aspect="auto")
    for k in range(len(ranks)):
        for i in range(d):
            value = 0.0 if abs(mean[k, i]) < 0.005 else mean[k, i]
            ax.text(i, k, f"{value:.2f}", ha="center", va="center", fontsize=8,
                    color="white" if mean[k, i] > 0.6 else "black")
    # Theorem A's kept set {i <= r}: a staircase outline.
    xs, ys = [], []
    for k, r in enumerate(ranks):
        xs += [-0.5, min(r, d) - 0.5, min(r, d) - 0.5]
        ys += [k - 0.5, k - 0.5, k + 0.5]
    ax.plot(xs, ys, color="C3", lw=1.5, label="kept by Theorem A ($i \\leq r$)")
    ax.plot([-0.5, -0.5], [-0.5, len(ranks) - 0.5], color="C3", lw=1.5)
    labels = [str(i + 1) if spectrum is None else f"{i + 1}\n$\\lambda$={spectrum[i]:.3g}"
              for i in range(d)]
    ax.set_xticks(range(d), labels)
    ax.set_yticks(range(len(ranks)), [str(r) for r in ranks])
    ax.set_xlim(-0.5, d - 0.5)
    ax.set_ylim(len(ranks) - 0.5, -0.5)
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="$g_i\\,(U^\\top M_{\\rm eff}U)_{ii}$")
    ax.legend(loc="lower left", fontsize="small", framealpha=0.9)
    return fig
