"""Softmax transformers (chapters 9-10): :mod:`~iclbook.softmax.transformer` (the model and
its training loop) and :mod:`~iclbook.softmax.classification` (chapter 10's CPU-scale
prior-versus-context task)."""
