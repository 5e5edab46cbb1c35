"""In-context classification with real language models, after Wei et al. 2023 (chapter 10).

A harness that runs the flipped-label protocol on any Hugging Face causal language model a
reader has (local folder or hub name); nothing is downloaded unless the reader asks for a
hub name.  ``transformers`` (and ``accelerate`` for ``device_map="auto"`` on GPUs) are
imported only when a model is loaded.

- :mod:`iclbook.llm.datasets` -- the book's sentiment sentences; CSV/JSONL loading.
- :mod:`iclbook.llm.prompts` -- templates and prompt text.
- :mod:`iclbook.llm.noise` -- exact label flips and word-level input corruption.
- :mod:`iclbook.llm.scoring` -- model loading and label log-likelihoods in batches.
- :mod:`iclbook.llm.experiment` -- episodes, evaluation, the whole protocol, result files.
- :mod:`iclbook.llm.plotting` -- accuracy against the flipped fraction.
- :mod:`iclbook.llm.cli` -- ``python -m iclbook.llm``.
"""

from .datasets import BOOK_DATASET, TextDataset, book_dataset, load_dataset
from .experiment import (
    Episode,
    PromptCase,
    evaluate_model,
    make_prompt,
    read_results,
    run_experiment,
    sample_episodes,
    write_results,
)
from .noise import corrupt_text, flip_labels, n_noisy
from .plotting import plot_flip_curves
from .prompts import DEFAULT_TEMPLATE, PromptTemplate, build_prompt
from .scoring import encode_pairs, load_model, score_continuations

__all__ = [
    "BOOK_DATASET", "TextDataset", "book_dataset", "load_dataset",
    "Episode", "PromptCase", "evaluate_model", "make_prompt", "read_results", "run_experiment",
    "sample_episodes", "write_results",
    "corrupt_text", "flip_labels", "n_noisy",
    "plot_flip_curves",
    "DEFAULT_TEMPLATE", "PromptTemplate", "build_prompt",
    "encode_pairs", "load_model", "score_continuations",
]
