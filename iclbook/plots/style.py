"""Shared figure set-up: one place for sizes, colours and the title/label/legend rule."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["new_figure", "size_colors", "finish"]


def new_figure(title: str, xlabel: str, ylabel: str, *, ncols: int = 1,
               figsize: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    """A figure with one axes (or ``ncols`` sharing the labels) already titled and labelled.

    With ``ncols > 1`` the second return value is an array of axes and ``title`` becomes the
    figure's super-title.
    """
    if ncols < 1:
        raise ValueError(f"ncols must be an integer >= 1, got {ncols}")
    size = figsize or (6.4 if ncols == 1 else 4.2 * ncols, 4.0)
    fig, ax = plt.subplots(1, ncols, figsize=size, constrained_layout=True)
    axes = [ax] if ncols == 1 else list(ax)
    for a in axes:
        a.set_xlabel(xlabel)
        a.set_ylabel(ylabel)
    if ncols == 1:
        ax.set_title(title)
    else:
        fig.suptitle(title)
    return fig, ax


def size_colors(n: int, cmap: str = "viridis") -> list[tuple[float, float, float, float]]:
    """``n`` colours ordered from small model (dark) to large model (light)."""
    if n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n}")
    cm = plt.get_cmap(cmap)
    return [cm(0.1 + 0.8 * i / max(1, n - 1)) for i in range(n)]


def finish(ax: Axes | Sequence[Axes], legend_title: str | None = None) -> None:
    """Add a legend (if any artist is labelled) to each axes."""
    for a in ([ax] if isinstance(ax, Axes) else ax):
        handles, _ = a.get_legend_handles_labels()
        if handles:
            a.legend(title=legend_title, fontsize="small")
