"""The exercise markup of a chapter notebook, read (issue 15: the course tooling split by
job).

MyST directive blocks (:func:`directive_blocks`), a chapter's exercises, stubs, solutions
and checks (:func:`parse_chapter`), and nbgrader's solution and hidden-test delimiters
(:func:`strip_solutions`, :func:`strip_hidden_tests`).  The markup itself is documented in
:mod:`iclbook.course.assignments` and book/for_instructors.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]


BOOK = ROOT / "book"


BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"


BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


TEXT_STUB = "YOUR ANSWER HERE"


_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z:-]+)\}[ \t]*(?P<arg>.*)$")


@dataclass
class Block:
    """One fenced directive of a markdown cell: name, argument, options, body, line span."""

    name: str
    arg: str
    options: dict[str, str]
    body: str
    start: int
    end: int  # index of the closing fence line (inclusive); == start for one-line blocks


def directive_blocks(source: str) -> list[Block]:
    """Top-level fenced directives (``{exercise}``, ``{solution}``...) of a markdown source."""
    lines = source.split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = _OPEN.match(lines[i].strip())
        if not m:
            i += 1
            continue
        fence = m["fence"]
        j = i + 1
        while j < len(lines):
            s = lines[j].strip()
            if s and set(s) == {fence[0]} and len(s) >= len(fence):
                break
            j += 1
        inner = lines[i + 1:j]
        options, k = {}, 0
        while k < len(inner) and re.match(r"^:[\w-]+:", inner[k].strip()):
            key, _, val = inner[k].strip()[1:].partition(":")
            options[key] = val.strip()
            k += 1
        body = "\n".join(inner[k:]).strip("\n")
        blocks.append(Block(m["name"], m["arg"].strip(), options, body, i, min(j, len(lines) - 1)))
        i = j + 1
    return blocks


def remove_blocks(source: str, names: set[str]) -> str:
    """``source`` without the directive blocks whose name is in ``names``."""
    lines = source.split("\n")
    drop: set[int] = set()
    for b in directive_blocks(source):
        if b.name in names:
            drop.update(range(b.start, b.end + 1))
    kept = [ln for i, ln in enumerate(lines) if i not in drop]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")


def text_after_blocks(source: str) -> str:
    """The markdown of ``source`` after its last directive block (prose of a gated solution)."""
    blocks = directive_blocks(source)
    if not blocks:
        return source.strip()
    return "\n".join(source.split("\n")[blocks[-1].end + 1:]).strip()


@dataclass
class Exercise:
    label: str
    title: str
    body: str
    number: int
    points: int | None = None
    written: bool = False
    written_solution: str = ""
    solution_cells: list = field(default_factory=list)
    stub_cells: list = field(default_factory=list)
    check_cells: list = field(default_factory=list)


@dataclass
class Chapter:
    path: Path
    number: int
    title: str
    setup_cells: list
    exercises: list[Exercise]


def chapter_number(path: Path) -> int:
    return int(path.name.split("_", 1)[0])


def exercise_section(nb: nbformat.NotebookNode) -> list:
    """Cells from the one holding the ``## Exercises`` heading to the end (empty if none)."""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and re.search(r"^## Exercises\s*$", cell.source,
                                                       flags=re.M):
            return nb.cells[i:]
    return []


def tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def parse_chapter(path: Path) -> Chapter:
    """Read the exercises of one chapter notebook, with their solution and check cells."""
    nb = nbformat.read(path, as_version=4)
    heading = next((c.source.split("\n", 1)[0] for c in nb.cells if c.cell_type == "markdown"
                    and c.source.startswith("# ")), "# " + path.stem)
    chapter = Chapter(path, chapter_number(path), heading[2:].strip(), [], [])
    by_label: dict[str, Exercise] = {}
    current: Exercise | None = None
    gated: Exercise | None = None
    for cell in exercise_section(nb):
        if cell.cell_type == "markdown":
            for b in directive_blocks(cell.source):
                if b.name == "exercise":
                    label = b.options.get("label")
                    if not label:
                        raise ValueError(f"{path.name}: an exercise has no :label:")
                    meta = cell.metadata.get("iclbook", {})
                    current = Exercise(label, b.arg, b.body, len(chapter.exercises) + 1,
                                       points=meta.get("points"),
                                       written=bool(meta.get("written", False)))
                    chapter.exercises.append(current)
                    by_label[label] = current
                elif b.name == "solution":
                    by_label[_known(path, b.arg, by_label)].written_solution = b.body
                elif b.name == "solution-start":
                    gated = by_label[_known(path, b.arg, by_label)]
                    gated.written_solution = text_after_blocks(cell.source)
                elif b.name == "solution-end":
                    gated = None
            continue
        t = tags(cell)
        if "exercise-setup" in t:
            chapter.setup_cells.append(cell)
        elif "exercise-solution" in t:
            if gated is None:
                raise ValueError(f"{path.name}: an exercise-solution cell lies outside a "
                                 "{solution-start} ... {solution-end} block")
            if BEGIN not in cell.source or END not in cell.source:
                raise ValueError(f"{path.name}: exercise-solution cell of {gated.label} lacks "
                                 f"### {BEGIN} / ### {END}")
            gated.solution_cells.append(cell)
        elif "exercise-stub" in t:
            if current is None:
                raise ValueError(f"{path.name}: exercise-stub cell before any exercise")
            current.stub_cells.append(cell)
        elif "exercise-check" in t:
            if current is None:
                raise ValueError(f"{path.name}: exercise-check cell before any exercise")
            current.check_cells.append(cell)
    return chapter


def _known(path: Path, label: str, by_label: dict[str, Exercise]) -> str:
    if label not in by_label:
        raise ValueError(f"{path.name}: solution for unknown exercise {label!r}")
    return label


def chapters_of(numbers: range) -> list[Path]:
    return sorted(p for p in BOOK.glob("[0-9][0-9]_*.ipynb") if chapter_number(p) in numbers)


def expected_stub(solution_source: str) -> str:
    """The ``exercise-stub`` cell that matches a solution cell: nbgrader's stripped form,
    without a top-level ``raise NotImplementedError()`` (the chapter must run through)."""
    stripped, _ = strip_solutions(solution_source, "code")
    return "\n".join(ln for ln in stripped.split("\n") if ln != "raise NotImplementedError()")


def strip_solutions(source: str, cell_type: str) -> tuple[str, bool]:
    """nbgrader's ClearSolutions on one cell: each solution region becomes the stub."""
    stub = (CODE_STUB if cell_type == "code" else TEXT_STUB).split("\n")
    out, inside, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN in line:
            if inside:
                raise RuntimeError("nested BEGIN SOLUTION")
            inside = replaced = True
            indent = re.match(r"\s*", line).group(0)
            out.extend(indent + s for s in stub)
        elif END in line:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise RuntimeError("BEGIN SOLUTION without END SOLUTION")
    return "\n".join(out), replaced


def strip_hidden_tests(source: str) -> str:
    """nbgrader's ClearHiddenTests on one cell: the hidden-test regions are removed."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            if inside:
                raise RuntimeError("nested BEGIN HIDDEN TESTS")
            inside = True
        elif END_HIDDEN in line:
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise RuntimeError("BEGIN HIDDEN TESTS without END HIDDEN TESTS")
    return "\n".join(out)
