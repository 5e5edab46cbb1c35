"""The text of every solution of a chapter, as word fragments to search for.

The student-edition tests (``tests/test_student_edition.py``, the browser crawl in
``tests/browser/test_student_crawl.py``) collect each solution's text from the source
notebook -- ``{solution}`` blocks, gated ``{solution-start}`` ... ``{solution-end}`` blocks
(prose, code and outputs) and the regions of ``exercise-solution`` cells -- as windows of
words, keep the windows that occur nowhere in the student version of the chapter (the
*distinctive* ones), and search the built pages for them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from . import markup
from . import student as edition

WINDOW = 7  # words per fragment
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*|\d+(?:\.\d+)?")


def words(text: str) -> str:
    """The text as one line of words (punctuation, markup and spacing dropped)."""
    return " " + " ".join(_WORD.findall(text)) + " "


def _segments(markdown: str) -> list[str]:
    """Runs of plain prose: math, code, roles and directive fences cut the text."""
    t = re.sub(r"(`{3,}|:{3,})[^\n]*", "\x00", markdown)
    t = re.sub(r"\$\$.*?\$\$", "\x00", t, flags=re.S)
    t = re.sub(r"\$[^$\n]*\$", "\x00", t)
    t = re.sub(r"\{[^}\n]+\}`[^`\n]*`", "\x00", t)
    t = re.sub(r"`[^`\n]*`", "\x00", t)
    t = re.sub(r"^:[\w-]+:.*$", "\x00", t, flags=re.M)
    return t.split("\x00")


def fragments(markdown: str = "", code: str = "") -> list[str]:
    """Word windows of prose (between math and code) and of whole code lines."""
    out = []
    for seg in _segments(markdown):
        w = words(seg).split()
        out += [" ".join(w[i:i + WINDOW]) for i in range(0, max(len(w) - WINDOW + 1, 0), 3)]
    for line in code.split("\n"):
        w = words(line).split()
        if len(w) >= 5 and not line.lstrip().startswith("#"):
            out.append(" ".join(w))
    return out


def _outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for o in cell.get("outputs", []):
        parts.append(o.get("text", ""))
        parts.append(str(o.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def solution_content(nb: nbformat.NotebookNode) -> dict[str, list[tuple[str, str]]]:
    """``label -> [(prose, code), ...]`` for every solution of a chapter: ``{solution}``
    blocks, gated blocks (prose, code and outputs, piece by piece) and the regions of
    ``exercise-solution`` cells."""
    out: dict[str, list[tuple[str, str]]] = {}
    gated = None
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            opened = False
            for b in markup.directive_blocks(cell.source):
                if b.name == "solution":
                    out.setdefault(b.arg, []).append((b.body, ""))
                elif b.name == "solution-start":
                    gated, opened = b.arg, True
                    out.setdefault(gated, []).append((markup.text_after_blocks(cell.source), ""))
                elif b.name == "solution-end":
                    gated = None
            if gated and not opened:
                out[gated].append((cell.source, ""))
            continue
        if gated:
            src = cell.source
            if "exercise-solution" in markup.tags(cell):
                src = src.split(markup.BEGIN, 1)[1].split(markup.END, 1)[0]
            out[gated] += [("", src), (_outputs_text(cell), "")]
    return out


def fragments_of(pieces: list[tuple[str, str]]) -> list[str]:
    return [f for prose, code in pieces for f in fragments(prose, code)]


def exercise_bodies(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {b.options.get("label", ""): b.body for c in nb.cells if c.cell_type == "markdown"
            for b in markup.directive_blocks(c.source) if b.name == "exercise"}


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return words("\n".join(c.source + "\n" + _outputs_text(c) for c in nb.cells))


def distinctive(nb: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Per solution, the fragments that occur nowhere in the student version's text."""
    student = notebook_text(edition.student_notebook(nb))
    out = {}
    for label, pieces in solution_content(nb).items():
        out[label] = [f for f in fragments_of(pieces) if f" {f} " not in student]
    return out


def chapter_paths(root: Path = markup.ROOT) -> list[Path]:
    """The chapter notebooks ``book/NN_*.ipynb`` of the repository."""
    return sorted((root / "book").glob("[0-9][0-9]_*.ipynb"))


def all_distinctive(root: Path = markup.ROOT) -> dict[str, list[str]]:
    """``"<chapter stem> <label>" -> fragments`` for every solution of every chapter, less
    the fragments that occur anywhere in the student edition's own text (every chapter's
    student version and the book's markdown pages): a solution may repeat code or prose
    that another chapter shows in the open, and finding that is no leak."""
    notebooks = {path: nbformat.read(path, 4) for path in chapter_paths(root)}
    student = "".join(notebook_text(edition.student_notebook(nb)) for nb in notebooks.values())
    student += "".join(words(markup.remove_blocks(p.read_text(encoding="utf-8"), {"solution"}))
                       for p in sorted((root / "book").glob("*.md")))
    out = {}
    for path, nb in notebooks.items():
        for label, frags in distinctive(nb).items():
            out[f"{path.stem} {label}"] = [f for f in frags if f" {f} " not in student]
    return out
