"""iclbook: the helper package of the book *Why larger models learn in context differently*.

Subpackages mirror the book's parts:

- :mod:`iclbook.core` -- shared machinery: ``validation`` (argument checks),
  ``reproducibility`` (:func:`setup`), ``progress``, ``engine`` (the batched training engine),
  ``parallel`` (independent runs, one per core), ``widgets`` (the explorer).
- :mod:`iclbook.linear` -- Setting 1, chapters 3-6: ``theory`` (Theorems A and B),
  ``noise``, ``symbolic``, ``data``, ``lsa``, ``models``, ``training``, ``monte_carlo``.
- :mod:`iclbook.parity` -- Setting 2, chapters 7-8, the book's own sparse-parity model:
  ``theory``, ``symbolic``, ``data``, ``models``, ``training``.
- :mod:`iclbook.softmax` -- chapters 9-10: ``transformer``, ``classification``.
- :mod:`iclbook.check` -- self-checks for the exercises.
- :mod:`iclbook.plots` -- figures (title, labels, legend), one module per chapter family.
- :mod:`iclbook.llm` -- the language-model harness (``python -m iclbook.llm``).
- :mod:`iclbook.course` -- assignments and course tooling (``python -m iclbook.course``).
"""

from .core.reproducibility import setup

__all__ = ["setup"]
__version__ = "0.2.0"
