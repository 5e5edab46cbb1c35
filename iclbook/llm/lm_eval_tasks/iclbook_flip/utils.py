"""The flipped-label protocol of chapter 10 as lm-evaluation-harness tasks.

Each task ``iclbook_flip_XYZ`` is the protocol at flipped fraction ``f = XYZ / 100``:
``N_QUERIES`` queries drawn from the data file, each with ``K`` balanced demonstrations
from the other examples, ``round(f K)`` demonstration labels flipped (nested over ``f``),
in the prompt format of ``iclbook.llm`` (``TEMPLATE``).  The prompts are exactly those of
``python -m iclbook.llm`` with the same ``--k``, ``--n-queries`` and ``--seed``
(``iclbook.llm.sample_episodes`` and ``iclbook.llm.make_prompt`` build both), so the two
engines score the same texts; the choices are the label words with the template's leading
space.  Deterministic: everything is drawn from ``SEED``.
"""

from __future__ import annotations

from iclbook.llm.datasets import TextDataset
from iclbook.llm.experiment import make_prompt, sample_episodes
from iclbook.llm.prompts import DEFAULT_TEMPLATE

#: Number of demonstrations per prompt, queries per task and seed (``--k``,
#: ``--n-queries``, ``--seed`` of ``python -m iclbook.llm``).
K = 16
N_QUERIES = 200
SEED = 0
#: Label values of the data file in class order; the label words of the prompts.
LABEL_NAMES = ("negative", "positive")
TEMPLATE = DEFAULT_TEMPLATE
TEXT_COLUMN, LABEL_COLUMN = "text", "label"


def to_text_dataset(dataset, label_names=LABEL_NAMES, name: str = "lm_eval") -> TextDataset:
    """A Hugging Face ``datasets.Dataset`` with text and label columns as a TextDataset."""
    index = {str(n): i for i, n in enumerate(label_names)}
    texts = [str(t) for t in dataset[TEXT_COLUMN]]
    raw = [str(v) for v in dataset[LABEL_COLUMN]]
    unknown = sorted(set(raw) - set(index))
    if unknown:
        raise ValueError(f"label values {unknown} are not in LABEL_NAMES {list(label_names)}")
    return TextDataset(tuple(texts), tuple(index[v] for v in raw),
                       tuple(str(n) for n in label_names), name)


def flip_docs(dataset, flip: float, *, k: int = K, n_queries: int = N_QUERIES,
              seed: int = SEED, input_noise: float = 0.0, template=TEMPLATE,
              label_names=LABEL_NAMES):
    """One document per query: ``prompt`` (demonstrations + query), ``choices`` (the label
    words with the continuation prefix), ``label`` (true class of the query) and the
    bookkeeping fields ``query`` (row of the data file) and ``n_flipped``."""
    import datasets

    ds = to_text_dataset(dataset, label_names)
    words = template.label_words(ds.label_names)
    vocab = ds.vocabulary()
    docs = []
    for e in sample_episodes(ds, k, min(n_queries, len(ds)), seed=seed):
        case = make_prompt(ds, e, template, flip=flip, input_noise=input_noise, seed=seed,
                           vocabulary=vocab)
        docs.append({"prompt": case.prompt, "choices": [case.prefix + w for w in words],
                     "label": case.label, "query": e.query, "n_flipped": len(case.flipped)})
    return datasets.Dataset.from_list(docs)


def process_docs_flip_000(dataset):
    return flip_docs(dataset, 0.0)


def process_docs_flip_025(dataset):
    return flip_docs(dataset, 0.25)


def process_docs_flip_050(dataset):
    return flip_docs(dataset, 0.5)


def process_docs_flip_075(dataset):
    return flip_docs(dataset, 0.75)


def process_docs_flip_100(dataset):
    return flip_docs(dataset, 1.0)
