"""iclbook: the helper package of the book *Why larger models learn in context differently*.

Modules (one concept each):

- :mod:`iclbook.validation` -- argument checks raising clear ``ValueError`` s.
- :mod:`iclbook.reproducibility` -- :func:`setup` (seeds, threads, figure defaults).
- :mod:`iclbook.linear_theory` -- Setting 1 closed forms (Theorems A and B), NumPy.
- :mod:`iclbook.linear_data` -- Setting 1 prompt sampler with context noise.
- :mod:`iclbook.lsa` -- the linear self-attention layer and its reduced form.
- :mod:`iclbook.linear_models` -- a batched family of rank-r linear-attention models.
- :mod:`iclbook.training` -- the batched training engine.
- :mod:`iclbook.monte_carlo` -- Monte Carlo estimates with standard errors.
"""

from .reproducibility import setup

__all__ = ["setup"]
__version__ = "0.1.0"
