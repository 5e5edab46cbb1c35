"""Labelled text datasets for the language-model harness (chapter 10).

A :class:`TextDataset` is a list of texts, an integer class per text and the class names
(the label words used in prompts, e.g. ``"negative"``, ``"positive"``).  It comes from the
book's own sentiment sentences (``"book"``, shipped in ``iclbook/data``, CC0), from any
CSV / JSONL file of the reader with a text column and a label column (the format is
documented in ``iclbook/data/README.md``), or from a Hugging Face ``datasets`` name
``hf:<name>[:<config>][@<split>]`` (needs the ``datasets`` package; downloads unless the
dataset is cached or is a local folder).  :data:`LITERATURE_TASKS` lists how to run binary
tasks of the flipped-label literature.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

__all__ = ["TextDataset", "load_dataset", "book_dataset", "BOOK_DATASET", "LITERATURE_TASKS"]

#: Name that selects the book's sentiment sentences in :func:`load_dataset` and the CLI.
BOOK_DATASET = "book"


#: Binary tasks used in the flipped-label literature (Wei et al. 2023 among them), as
#: ``load_dataset`` sources with their columns and the label words iclbook suggests
#: (class order = label value order).  Described, not shipped: they are downloaded by the
#: reader (``hf:`` needs the network once) or exported to CSV/JSONL with columns text,label.
#: The hub names, splits and columns are those published on the hub at the time of writing
#: and are not checked here (no network in the tests).
LITERATURE_TASKS: dict[str, dict[str, object]] = {
    "sst2": {"source": "hf:glue:sst2@validation", "text_column": "sentence",
             "label_column": "label", "label_names": ["negative", "positive"],
             "verbalizers": ["negative", "positive"],
             "about": "SST-2, binary sentiment of movie-review sentences"},
    "subj": {"source": "hf:SetFit/subj@test", "text_column": "text",
             "label_column": "label_text", "label_names": ["objective", "subjective"],
             "verbalizers": ["objective", "subjective"],
             "about": "Subj, subjective (review) versus objective (plot) sentences"},
}


@dataclass(frozen=True)
class TextDataset:
    """Texts with integer labels ``0..C-1``; ``label_names[c]`` is the word of class ``c``."""

    texts: tuple[str, ...]
    labels: tuple[int, ...]
    label_names: tuple[str, ...]
    name: str = "dataset"

    def __post_init__(self) -> None:
        if len(self.texts) != len(self.labels):
            raise ValueError(f"texts and labels must have the same length, got "
                             f"{len(self.texts)} and {len(self.labels)}")
        if len(self.label_names) < 2:
            raise ValueError(f"label_names must hold at least 2 classes, got "
                             f"{list(self.label_names)}")
        if len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"label_names must be distinct, got {list(self.label_names)}")
        bad = [c for c in self.labels if not 0 <= c < len(self.label_names)]
        if bad:
            raise ValueError(f"labels must be in 0..{len(self.label_names) - 1}, got {bad[0]}")

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def class_counts(self) -> list[int]:
        """Number of examples of each class."""
        return [self.labels.count(c) for c in range(self.n_classes)]

    def vocabulary(self) -> list[str]:
        """Sorted distinct lower-case words (whitespace split, punctuation stripped)."""
        words = {w for t in self.texts for w in _words(t)}
        return sorted(words)


def _words(text: str) -> list[str]:
    out = []
    for tok in text.split():
        w = tok.strip(".,;:!?\"'()").lower()
        if w:
            out.append(w)
    return out


def _build(texts: Sequence[str], raw_labels: Sequence[str], name: str,
           label_names: Sequence[str] | None) -> TextDataset:
    if not texts:
        raise ValueError(f"dataset {name!r} is empty")
    if label_names is None:
        label_names = sorted(set(raw_labels))
    names = [str(n) for n in label_names]
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted(set(raw_labels) - set(index))
    if unknown:
        raise ValueError(f"label values {unknown} of {name!r} are not in label_names {names}")
    return TextDataset(tuple(texts), tuple(index[r] for r in raw_labels), tuple(names), name)


def book_dataset() -> TextDataset:
    """The book's 240 original sentiment sentences (120 negative, 120 positive; CC0)."""
    path = resources.files("iclbook") / "data" / "book_sentiment.csv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return _build([r["text"] for r in rows], [r["label"] for r in rows], BOOK_DATASET,
                  ["negative", "positive"])


def load_dataset(source: str | Path, *, text_column: str = "text",
                 label_column: str = "label",
                 label_names: Sequence[str] | None = None) -> TextDataset:
    """Load ``"book"`` or a ``.csv`` / ``.jsonl`` file with a text and a label column.

    Label values are read as strings; ``label_names`` fixes their order (and must list every
    value that occurs), otherwise the sorted distinct values are used.  For SST-2-style
    files with labels ``0``/``1`` pass ``label_names=["0", "1"]`` and choose the label words
    with the template's verbalizers (:class:`iclbook.llm.prompts.PromptTemplate`).
    """
    if str(source).startswith("hf:"):
        return _load_hf(str(source), text_column, label_column, label_names)
    if str(source) == BOOK_DATASET:
        ds = book_dataset()
        if label_names is not None and list(label_names) != list(ds.label_names):
            raise ValueError(f"label_names of the book dataset are {list(ds.label_names)}")
        return ds
    path = Path(source)
    if not path.is_file():
        raise ValueError(f"dataset must be 'book', an existing .csv/.jsonl file or "
                         f"hf:<name>[:<config>][@<split>], got {str(source)!r}")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            fields = reader.fieldnames or []
    elif suffix in (".jsonl", ".json"):
        rows = []
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as err:
                        raise ValueError(f"{path}:{n} is not valid JSON: {err}") from None
        fields = sorted({k for r in rows for k in r})
    else:
        raise ValueError(f"dataset file must end in .csv or .jsonl, got {path.name!r}")
    for col, what in ((text_column, "text_column"), (label_column, "label_column")):
        if col not in fields:
            raise ValueError(f"{what} {col!r} is not a column of {path.name}; columns: "
                             f"{list(fields)}")
    texts = [str(r[text_column]) for r in rows]
    labels = [str(r[label_column]) for r in rows]
    return _build(texts, labels, path.stem, label_names)


def _load_hf(spec: str, text_column: str, label_column: str,
             label_names: Sequence[str] | None) -> TextDataset:
    """``hf:<name>[:<config>][@<split>]`` through ``datasets.load_dataset`` (split default
    ``train``).  Integer labels of a ``ClassLabel`` column become its class names."""
    body = spec[3:]
    body, _, split = body.partition("@")
    name, _, config = body.partition(":")
    if not name:
        raise ValueError(f"dataset {spec!r} must be hf:<name>[:<config>][@<split>]")
    try:
        import datasets
    except ImportError:
        raise ValueError("hf: datasets need the 'datasets' package (pip install datasets)"
                         ) from None
    try:
        data = datasets.load_dataset(name, config or None, split=split or "train")
    except Exception as err:  # noqa: BLE001 - any failure of datasets: one message
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"could not load dataset {spec!r}: {first}") from None
    for col, what in ((text_column, "text_column"), (label_column, "label_column")):
        if col not in data.column_names:
            raise ValueError(f"{what} {col!r} is not a column of {spec}; columns: "
                             f"{data.column_names}")
    feature = data.features[label_column]
    raw = data[label_column]
    if hasattr(feature, "names") and hasattr(feature, "int2str"):
        labels = [feature.int2str(int(v)) for v in raw]
        if label_names is None:
            label_names = list(feature.names)
    else:
        labels = [str(v) for v in raw]
    return _build([str(t) for t in data[text_column]], labels, spec, label_names)
