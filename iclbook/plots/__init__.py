"""Plotting helpers of the book: every figure has a title, axis labels and a legend.

- :mod:`iclbook.plots.style` -- shared figure set-up and colours.
- :mod:`iclbook.plots.training` -- learning curves with plateaus, kept eigen-directions (ch. 5).
- :mod:`iclbook.plots.noise` -- risk against size, phase diagram, explorers' frames (ch. 6).
- :mod:`iclbook.plots.parity` -- Setting 2 figures (ch. 7-8).
"""
