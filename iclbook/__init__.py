"""iclbook: the helper package of the book *Why larger models learn in context differently*.

Modules (one concept each):

- :mod:`iclbook.validation` -- argument checks raising clear ``ValueError`` s.
- :mod:`iclbook.reproducibility` -- :func:`setup` (seeds, threads, figure defaults).
- :mod:`iclbook.linear_theory` -- Setting 1 closed forms (Theorems A and B), NumPy.
- :mod:`iclbook.linear_data` -- Setting 1 prompt sampler with context noise.
- :mod:`iclbook.lsa` -- the linear self-attention layer and its reduced form.
- :mod:`iclbook.linear_models` -- a batched family of rank-r linear-attention models.
- :mod:`iclbook.training` -- the batched training engine.
- :mod:`iclbook.parallel` -- independent small models trained side by side, one per core.
- :mod:`iclbook.monte_carlo` -- Monte Carlo estimates with standard errors.
- :mod:`iclbook.linear_symbolic` -- SymPy derivation of Theorem A (chapter 4).
- :mod:`iclbook.linear_training` -- train/evaluate rank-r families against Theorem A.
- :mod:`iclbook.noise_theory` -- Theorem B details: thresholds, distraction cost.
- :mod:`iclbook.parity_theory`, ``parity_data``, ``parity_models``, ``parity_symbolic``,
  ``parity_training`` -- Setting 2, the book's own sparse-parity model (chapters 7-8).
- :mod:`iclbook.softmax_transformer` -- a small standard softmax transformer (chapters 9-10).
- :mod:`iclbook.icl_classification` -- the CPU-scale prior-vs-context task (chapter 10).
- :mod:`iclbook.llm` -- the language-model harness (``python -m iclbook.llm``).
- :mod:`iclbook.widgets` -- one explorer builder for live kernels and the static page.
- :mod:`iclbook.check` -- self-checks for the exercises.
- :mod:`iclbook.plots` -- figures (title, labels, legend).
"""

from .reproducibility import setup

__all__ = ["setup"]
__version__ = "0.1.0"
