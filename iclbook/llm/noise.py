"""Noise in the demonstrations: flipped labels and corrupted inputs (chapter 10).

The two kinds of context noise of the book (label noise and input noise, chapters 6 and 8),
applied to text demonstrations.  Both act on the demonstrations only; the query is clean.

* **Flipped labels** (Wei et al. 2023's protocol): an *exact* number
  ``n = round(frac * k)`` of the ``k`` demonstration labels (halves rounded up) is changed,
  at positions chosen at random.  A binary label is replaced by the other class; with more
  classes, by a different class chosen uniformly.
* **Corrupted inputs**: in each demonstration, ``round(frac * n_words)`` of its
  whitespace-separated words are replaced by words drawn uniformly from the dataset
  vocabulary (:meth:`iclbook.llm.datasets.TextDataset.vocabulary`); a replaced word loses
  its punctuation.  The label stays that of the clean text, as with input noise in the
  book's synthetic settings.

Both use a random order drawn once, so that the noisy positions at a smaller fraction are a
subset of those at a larger fraction (nested noise: a sweep over fractions compares the
same prompts with more and more noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..core.validation import check_int_range, check_positive_int, check_probability

__all__ = ["n_noisy", "flip_labels", "corrupt_text"]


def n_noisy(frac: float, k: int) -> int:
    """``round(frac * k)`` with halves rounded up: how many of ``k`` items are made noisy."""
    frac = check_probability("frac", frac)
    k = check_int_range("k", k, 0, 10**9)
    return min(k, int(math.floor(frac * k + 0.5 + 1e-9)))


def flip_labels(labels: Sequence[int], frac: float, n_classes: int,
                rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Flip exactly ``round(frac * k)`` of the ``k`` labels; returns (labels, flipped indices).

    The flipped positions are the first ``n`` entries of ``rng.permutation(k)``; a flipped
    label becomes ``(c + s) % n_classes`` with ``s`` uniform in ``1..n_classes-1`` (the other
    class for binary labels).  Indices are returned sorted.
    """
    n_classes = check_positive_int("n_classes", n_classes)
    if n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes}")
    labels = [int(c) for c in labels]
    bad = [c for c in labels if not 0 <= c < n_classes]
    if bad:
        raise ValueError(f"labels must be in 0..{n_classes - 1}, got {bad[0]}")
    k = len(labels)
    n = n_noisy(frac, k)
    order = rng.permutation(k)
    shifts = rng.integers(1, n_classes, size=k)
    out = list(labels)
    for i in order[:n]:
        out[i] = (labels[i] + int(shifts[i])) % n_classes
    return out, sorted(int(i) for i in order[:n])


def corrupt_text(text: str, frac: float, vocabulary: Sequence[str],
                 rng: np.random.Generator) -> str:
    """Replace ``round(frac * n_words)`` words of ``text`` by random vocabulary words.

    Words are whitespace-separated; positions are the first ``n`` of ``rng.permutation``;
    the replacement of each position is drawn for every position (so the result at a smaller
    ``frac`` agrees with the one at a larger ``frac`` on the words it keeps).
    """
    frac = check_probability("frac", frac)
    if len(vocabulary) == 0:
        raise ValueError("vocabulary must hold at least one word")
    words = text.split()
    n = n_noisy(frac, len(words))
    order = rng.permutation(len(words))
    picks = rng.integers(0, len(vocabulary), size=len(words))
    for i in order[:n]:
        words[i] = vocabulary[int(picks[i])]
    return " ".join(words)
