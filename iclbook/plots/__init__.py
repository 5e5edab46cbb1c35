"""Plotting helpers of the book: every figure has a title, axis labels and a legend.

- :mod:`iclbook.plots.style` -- shared figure set-up and colours.
"""
