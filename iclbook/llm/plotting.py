"""The standard figure of the flipped-label experiment (chapter 10).

Accuracy on clean queries against the fraction of flipped demonstration labels, one line per
model (with binomial or across-seed error bars), a dashed line at chance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from ..plots.style import finish, new_figure, size_colors

__all__ = ["plot_flip_curves"]


def plot_flip_curves(rows: Sequence[dict[str, Any]], *, input_noise: float | None = None,
                     x: str = "flip", chance: float | None = 0.5,
                     title: str = "In-context classification with flipped labels",
                     xlabel: str | None = None) -> Figure:
    """Accuracy against ``x`` (``"flip"`` or ``"input_noise"``), one line per model.

    ``rows`` have keys ``model``, ``flip``, ``input_noise``, ``accuracy`` and optionally
    ``accuracy_se`` (error bars).  With ``x="flip"`` only rows at ``input_noise`` (default:
    the smallest present) are drawn, and vice versa.  Models keep their first-seen order,
    coloured from dark (first, e.g. smallest) to light.  ``xlabel`` overrides the default
    axis label (e.g. for a noise that is not a fraction of words).
    """
    if x not in ("flip", "input_noise"):
        raise ValueError(f"x must be 'flip' or 'input_noise', got {x!r}")
    if not rows:
        raise ValueError("rows must hold at least one result")
    other = "input_noise" if x == "flip" else "flip"
    level = min(float(r[other]) for r in rows) if input_noise is None else float(input_noise)
    sel = [r for r in rows if abs(float(r[other]) - level) < 1e-12]
    if not sel:
        raise ValueError(f"no rows with {other} = {level}")
    models = list(dict.fromkeys(r["model"] for r in sel))
    if xlabel is None:
        xlabel = ("fraction of flipped demonstration labels" if x == "flip" else
                  "fraction of corrupted words in demonstrations")
    fig, ax = new_figure(title, xlabel, "accuracy on clean queries")
    for m, color in zip(models, size_colors(len(models)), strict=True):
        pts = sorted((float(r[x]), float(r["accuracy"]), float(r.get("accuracy_se", 0.0)))
                     for r in sel if r["model"] == m)
        xs, ys, es = zip(*pts, strict=True)
        ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, color=color, label=str(m))
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(-0.02, 1.02)
    finish(ax, legend_title="model")
    return fig
