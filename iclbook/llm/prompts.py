"""Prompt templates and prompt building for in-context classification (chapter 10).

A prompt is ``k`` demonstrations followed by the query, in the style of Wei et al. (2023):

    Input: <text 1>
    Output: <label word 1>

    Input: <text 2>
    Output: <label word 2>

    Input: <query text>
    Output:

A :class:`PromptTemplate` holds the demonstration format (with the slots ``{input}`` and
``{label}``, in that order, ``{label}`` after ``{input}``), the separator between
demonstrations and the label words (verbalizers).  The query is the demonstration format cut
just before ``{label}``.  **Whitespace rule:** trailing spaces of the query are moved into
the scored continuation, so that ``"Output: {label}"`` scores ``" positive"`` after
``"...Output:"`` (how sub-word tokenizers see a word that follows a space).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["PromptTemplate", "DEFAULT_TEMPLATE", "build_prompt"]

_SLOT = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class PromptTemplate:
    """Demonstration format, separator and verbalizers of a classification prompt.

    ``demo`` must contain ``{input}`` once and ``{label}`` once, after ``{input}``, and no
    other ``{...}`` slot.  ``verbalizers`` (optional) maps class index -> label word; when
    ``None`` the dataset's class names are used.
    """

    demo: str = "Input: {input}\nOutput: {label}"
    separator: str = "\n\n"
    verbalizers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        slots = _SLOT.findall(self.demo)
        for need in ("input", "label"):
            if slots.count(need) != 1:
                raise ValueError(f"template must contain the slot {{{need}}} exactly once, "
                                 f"got {self.demo!r}")
        extra = sorted(set(slots) - {"input", "label"})
        if extra:
            raise ValueError(f"template may only use the slots {{input}} and {{label}}, got "
                             f"{['{' + s + '}' for s in extra]} in {self.demo!r}")
        if self.demo.index("{label}") < self.demo.index("{input}"):
            raise ValueError(f"template must put {{label}} after {{input}}, got {self.demo!r}")
        if self.verbalizers is not None:
            words = tuple(str(v) for v in self.verbalizers)
            if len(words) < 2 or len(set(words)) != len(words) or not all(words):
                raise ValueError(f"verbalizers must be >= 2 distinct non-empty words, got "
                                 f"{list(self.verbalizers)}")
            object.__setattr__(self, "verbalizers", words)

    def label_words(self, label_names: Sequence[str]) -> tuple[str, ...]:
        """The word of each class: the verbalizers, or the dataset's class names."""
        if self.verbalizers is None:
            return tuple(label_names)
        if len(self.verbalizers) != len(label_names):
            raise ValueError(f"verbalizers must give one word per class "
                             f"({len(label_names)}), got {list(self.verbalizers)}")
        return self.verbalizers

    def format_demo(self, text: str, word: str) -> str:
        """One demonstration (plain substitution: braces inside ``text`` are kept as is)."""
        head, tail = self.demo.split("{label}")
        return head.replace("{input}", text) + word + tail

    def format_query(self, text: str) -> tuple[str, str]:
        """The query part and the continuation prefix (its trailing whitespace)."""
        head = self.demo.split("{label}")[0].replace("{input}", text)
        stripped = head.rstrip(" ")
        return stripped, head[len(stripped):]


DEFAULT_TEMPLATE = PromptTemplate()


def build_prompt(template: PromptTemplate, demos: Sequence[tuple[str, str]],
                 query: str) -> tuple[str, str]:
    """The prompt text and the continuation prefix for ``demos`` = [(text, label word)].

    Returns ``(prompt, prefix)``: the model scores ``prefix + word`` after ``prompt`` for
    each label word (see the whitespace rule in the module docstring).
    """
    parts = [template.format_demo(t, w) for t, w in demos]
    q, prefix = template.format_query(query)
    return template.separator.join([*parts, q]), prefix
