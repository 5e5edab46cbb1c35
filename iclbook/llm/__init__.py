"""In-context classification with real language models, after Wei et al. 2023 (chapter 10).

A harness that runs the flipped-label protocol on any Hugging Face causal language model a
reader has (local folder or hub name); nothing is downloaded unless the reader asks for a
hub name.  ``transformers`` (and ``accelerate`` for ``device_map="auto"`` on GPUs) are
imported only when a model is loaded.

- :mod:`iclbook.llm.datasets` -- the book's sentiment sentences; CSV/JSONL loading.
- :mod:`iclbook.llm.prompts` -- templates and prompt text.
- :mod:`iclbook.llm.noise` -- exact label flips and word-level input corruption.
- :mod:`iclbook.llm.scoring` -- model loading and label log-likelihoods in batches.
- :mod:`iclbook.llm.experiment` -- episodes, prompts with noise, evaluation of one model.
- :mod:`iclbook.llm.runner` -- several models: checks first, files after each model, resume.
- :mod:`iclbook.llm.plotting` -- accuracy against the flipped fraction.
- :mod:`iclbook.llm.book_run` -- the book's own run on real models, shown in chapter 10.
- ``iclbook/llm/lm_eval_tasks`` -- the protocol as lm-evaluation-harness tasks
  (:func:`lm_eval_tasks_dir`).
- :mod:`iclbook.llm.cli` -- ``python -m iclbook.llm`` (console script ``iclbook-llm``).
"""

from .datasets import BOOK_DATASET, LITERATURE_TASKS, TextDataset, book_dataset, load_dataset
from .experiment import Episode, PromptCase, evaluate_model, make_prompt, sample_episodes
from .noise import corrupt_text, flip_labels, n_noisy
from .plotting import plot_flip_curves
from .prompts import DEFAULT_TEMPLATE, PromptTemplate, build_prompt
from .runner import HarnessError, read_results, run_experiment, write_results
from .scoring import (
    check_model_source,
    encode_pairs,
    load_model,
    resolve_device,
    score_choices,
    score_continuations,
)


def lm_eval_tasks_dir() -> str:
    """The folder to pass to ``lm_eval --include_path`` (tasks ``iclbook_flip_*``)."""
    from pathlib import Path

    return str(Path(__file__).resolve().parent / "lm_eval_tasks")


__all__ = [
    "lm_eval_tasks_dir",
    "BOOK_DATASET", "LITERATURE_TASKS", "TextDataset", "book_dataset", "load_dataset",
    "Episode", "PromptCase", "evaluate_model", "make_prompt", "read_results", "run_experiment",
    "sample_episodes", "write_results",
    "corrupt_text", "flip_labels", "n_noisy",
    "plot_flip_curves",
    "DEFAULT_TEMPLATE", "PromptTemplate", "build_prompt",
    "HarnessError",
    "check_model_source", "encode_pairs", "load_model", "resolve_device", "score_choices",
    "score_continuations",
]
