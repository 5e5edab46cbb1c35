"""The flipped-label experiment on language models, after Wei et al. (2023) (chapter 10).

Protocol (:func:`iclbook.llm.runner.run_experiment`):

1. Draw ``n_queries`` clean query examples from the dataset (without replacement).
2. For each query draw ``k`` demonstrations from the *other* examples (balanced over the
   classes by default: ``k // C`` per class, the remainder from random classes), in random
   order.  The same demonstrations serve every noise level (a paired comparison).
3. For each flipped fraction ``f`` and input-noise fraction ``g``: flip exactly
   ``round(f k)`` demonstration labels and corrupt ``round(g n_words)`` words of every
   demonstration (:mod:`iclbook.llm.noise`; nested over fractions); build the prompt
   (:mod:`iclbook.llm.prompts`).
4. Score every label word by its log-likelihood (:mod:`iclbook.llm.scoring`); the
   prediction is the best-scoring word; accuracy is measured against the query's true label.

Results: one row per (model, flip, input noise) with the accuracy and its binomial standard
error, plus one row per prediction.  Running several models, writing the files after each
model, resuming and provenance: :mod:`iclbook.llm.runner`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.validation import check_fractions, check_int_range, check_probability
from .datasets import TextDataset
from .noise import corrupt_text, flip_labels, n_noisy
from .prompts import DEFAULT_TEMPLATE, PromptTemplate, build_prompt
from .scoring import score_choices

__all__ = [
    "Episode",
    "PromptCase",
    "sample_episodes",
    "make_prompt",
    "evaluate_model",
    "RESULT_FIELDS",
]

#: Columns of ``results.csv``.
RESULT_FIELDS = ["model", "flip", "input_noise", "k", "n_flipped", "n_queries", "accuracy",
                 "accuracy_se"]


@dataclass(frozen=True)
class Episode:
    """One query (dataset index) and its ``k`` demonstrations (dataset indices, in order)."""

    query: int
    demos: tuple[int, ...]


@dataclass(frozen=True)
class PromptCase:
    """A prompt ready to score: its text, the continuation prefix, the true query label, and
    the indices (within the demonstrations) of the flipped labels."""

    prompt: str
    prefix: str
    label: int
    flipped: tuple[int, ...]


def sample_episodes(dataset: TextDataset, k: int, n_queries: int, *, seed: int = 0,
                    balanced: bool = True) -> list[Episode]:
    """Queries and their demonstrations (step 1-2 of the protocol above).

    ``ValueError`` if ``k`` exceeds the examples left once the query is removed (per class
    when ``balanced``) or ``n_queries`` exceeds the dataset.
    """
    n = len(dataset)
    k = check_int_range("k", k, 0, max(0, n - 1))
    n_queries = check_int_range("n_queries", n_queries, 1, n)
    C = dataset.n_classes
    labels = np.asarray(dataset.labels)
    by_class = [np.flatnonzero(labels == c) for c in range(C)]
    if balanced:
        need = -(-k // C)  # at most ceil(k / C) of one class
        small = min(len(b) for b in by_class)
        if need > small - 1:
            raise ValueError(f"k must be <= {C * (small - 1)} for balanced demonstrations "
                             f"({small} examples in the smallest class, minus the query), "
                             f"got k = {k}")
    rng = np.random.default_rng(seed)
    queries = rng.choice(n, size=n_queries, replace=False)
    episodes = []
    for q in queries:
        if balanced:
            counts = [k // C] * C
            for c in rng.choice(C, size=k % C, replace=False):
                counts[int(c)] += 1
            picks: list[int] = []
            for c in range(C):
                pool = by_class[c][by_class[c] != q]
                picks.extend(int(i) for i in rng.choice(pool, size=counts[c], replace=False))
            demos = [picks[i] for i in rng.permutation(k)]
        else:
            pool = np.delete(np.arange(n), q)
            demos = [int(i) for i in rng.choice(pool, size=k, replace=False)]
        episodes.append(Episode(int(q), tuple(demos)))
    return episodes


def make_prompt(dataset: TextDataset, episode: Episode, template: PromptTemplate = DEFAULT_TEMPLATE,
                *, flip: float = 0.0, input_noise: float = 0.0, seed: int = 0,
                vocabulary: Sequence[str] | None = None) -> PromptCase:
    """The prompt of ``episode`` with ``round(flip k)`` labels flipped and inputs corrupted.

    The noise of a given episode depends on ``(seed, episode.query)`` only, so the same
    positions are flipped at every model and nested across fractions (step 3 above).
    """
    flip = check_probability("flip", flip)
    input_noise = check_probability("input_noise", input_noise)
    words = template.label_words(dataset.label_names)
    labels = [dataset.labels[i] for i in episode.demos]
    rng = np.random.default_rng([int(seed), episode.query, 1])
    noisy, flipped = flip_labels(labels, flip, dataset.n_classes, rng)
    texts = [dataset.texts[i] for i in episode.demos]
    if input_noise > 0:
        vocab = dataset.vocabulary() if vocabulary is None else list(vocabulary)
        texts = [corrupt_text(t, input_noise, vocab,
                              np.random.default_rng([int(seed), episode.query, 2, j]))
                 for j, t in enumerate(texts)]
    prompt, prefix = build_prompt(template, [(t, words[c]) for t, c in
                                             zip(texts, noisy, strict=True)],
                                  dataset.texts[episode.query])
    return PromptCase(prompt, prefix, dataset.labels[episode.query], tuple(flipped))


def _apply_chat_template(tokenizer: Any, prompt: str) -> str:
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError("chat_template=True needs a tokenizer with a chat template")
    return tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                         add_generation_prompt=True)


def evaluate_model(model: Any, tokenizer: Any, dataset: TextDataset, episodes: Sequence[Episode],
                   *, template: PromptTemplate = DEFAULT_TEMPLATE,
                   flips: Sequence[float] = (0.0,), input_noises: Sequence[float] = (0.0,),
                   seed: int = 0, batch_size: int | str = 8, model_name: str = "model",
                   chat_template: bool = False, progress: bool | None = None,
                   info: dict[str, Any] | None = None,
                   ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Accuracy of one loaded model at every (flip, input noise); returns (rows, predictions).

    ``chat_template=True`` wraps each prompt in the tokenizer's chat template as one user
    message (with the assistant prompt), and the label word is scored without a leading
    space; otherwise the plain text prompt is used for base and chat models alike.  Each
    prompt is run once when the label words are single tokens
    (:func:`iclbook.llm.scoring.score_choices`).  ``batch_size`` may be ``"auto"``;
    ``info`` (optional dict) receives the batch size used and the forward-pass count.
    """
    flips = check_fractions("flips", flips)
    input_noises = check_fractions("input_noises", input_noises)
    if not episodes:
        raise ValueError("episodes must hold at least one episode")
    words = template.label_words(dataset.label_names)
    vocab = dataset.vocabulary()
    k = len(episodes[0].demos)
    cases, keys = [], []
    for g in input_noises:
        for f in flips:
            for e in episodes:
                case = make_prompt(dataset, e, template, flip=f, input_noise=g, seed=seed,
                                   vocabulary=vocab)
                cases.append(case)
                keys.append((f, g, e.query))
    prompts, choices = [], []
    for case in cases:
        text, prefix = case.prompt, case.prefix
        if chat_template:
            text, prefix = _apply_chat_template(tokenizer, text), ""
        prompts.append(text)
        choices.append([prefix + w for w in words])
    scores = score_choices(model, tokenizer, prompts, choices, batch_size=batch_size,
                           progress=progress, desc=model_name, info=info)
    preds = scores.argmax(axis=1)
    predictions = []
    for (f, g, q), case, s, p in zip(keys, cases, scores, preds, strict=True):
        row = {"model": model_name, "flip": f, "input_noise": g, "query": q,
               "label": case.label, "prediction": int(p), "correct": int(p == case.label)}
        row.update({f"score_{w}": float(v) for w, v in zip(words, s, strict=True)})
        predictions.append(row)
    rows = []
    for g in input_noises:
        for f in flips:
            correct = [r["correct"] for r in predictions if r["flip"] == f and
                       r["input_noise"] == g]
            acc = float(np.mean(correct))
            rows.append({"model": model_name, "flip": f, "input_noise": g, "k": k,
                         "n_flipped": n_noisy(f, k), "n_queries": len(correct),
                         "accuracy": acc,
                         "accuracy_se": math.sqrt(acc * (1 - acc) / len(correct))})
    return rows, predictions


