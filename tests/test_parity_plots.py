"""Figures of Setting 2 have a title, axis labels and a legend or colour bar."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from iclbook.parity.models import optimal_parity_weights  # noqa: E402
from iclbook.parity.theory import optimal_kernel  # noqa: E402
from iclbook.plots.parity import (  # noqa: E402
    draw_heads_frame,
    plot_head_maps,
    plot_kernels,
    plot_learning_curves,
    plot_noise_sweep,
    plot_optimal_solution,
    plot_versus_heads,
)

P = [0.4, 0.3, 0.2, 0.1]


def _titled(fig):
    titles = [ax.get_title() for ax in fig.axes] + [fig._suptitle.get_text()
                                                    if fig._suptitle else ""]
    return any(titles)


def test_figures():
    figs = [
        plot_optimal_solution(P, 16, (np.array([0.63, 0.37, 0.21, 0.15]), np.full(4, 0.001))),
        plot_kernels([optimal_kernel(P, 16, 2)], ["A*"], 8),
        plot_head_maps(*optimal_parity_weights(P, 16, 3)),
        plot_learning_curves([1, 2, 3], np.ones((3, 2)), ["a", "b"], {"L*_0": 1.0}, "t"),
        plot_noise_sweep(np.linspace(0, 0.5, 3), np.ones((3, 2)), [1, 2], xlabel="eta",
                         ylabel="loss", title="t",
                         measured={"trained": (np.array([0.1]), np.ones((1, 2)),
                                               np.ones((1, 2)))}),
        plot_versus_heads([1, 2], {"theory": (np.ones(2), None),
                                   "trained": (np.ones(2), np.ones(2))}, ylabel="y", title="t"),
        draw_heads_frame(P, 16, 0.2, 0.1),
    ]
    for fig in figs:
        assert _titled(fig)
        assert any(ax.get_xlabel() for ax in fig.axes)
        has_legend = any(ax.get_legend() is not None for ax in fig.axes)
        has_cbar = len(fig.axes) > 1
        assert has_legend or has_cbar
        plt.close(fig)


def test_plot_bad_inputs():
    with pytest.raises(ValueError, match="losses must have shape"):
        plot_learning_curves([1, 2], np.ones((3, 2)), ["a", "b"], {}, "t")
    with pytest.raises(ValueError, match="non-empty"):
        plot_kernels([], [], 8)
    with pytest.raises(ValueError, match="p must"):
        draw_heads_frame([0.3, 0.7], 16, 0.1, 0.0)
