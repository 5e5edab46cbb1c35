"""Setting 1 (chapters 3-6): linear attention on Gaussian regression prompts.

:mod:`~iclbook.linear.theory` (Theorem A, the noisy risk), :mod:`~iclbook.linear.noise`
(Theorem B details), :mod:`~iclbook.linear.symbolic` (SymPy derivation),
:mod:`~iclbook.linear.data`, :mod:`~iclbook.linear.lsa`, :mod:`~iclbook.linear.models`,
:mod:`~iclbook.linear.training`, :mod:`~iclbook.linear.monte_carlo`."""
