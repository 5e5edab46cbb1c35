"""Generate the graded assignments (nbgrader format) and the student sources from the chapters.

Usage (from the repository root; ``scripts/make_assignments.py`` is the same command):
    python -m iclbook.course              # write assignments/ (see below)
    python -m iclbook.course --check      # exit 1 if a committed file is stale or unexpected
    python -m iclbook.course --student-sources DIR
                                          # copy the book into DIR without solutions

What it writes (an nbgrader course folder, see book/for_instructors.md):

* ``assignments/source/<part>/<part>.ipynb`` -- the instructor versions, nbgrader's *source*;
* ``assignments/handout/<part>.ipynb`` -- what ``nbgrader generate_assignment`` releases
  (solutions and hidden tests removed), without checksums, for classes without nbgrader;
* ``assignments/nbgrader_config.py`` and ``assignments/.gitignore`` (nbgrader's own folders
  ``release/``, ``submitted/``, ``autograded/``, ``feedback/`` and ``gradebook.db`` are made
  by nbgrader and never committed, so ``nbgrader generate_assignment <part>`` works on a
  fresh clone).

The exercise markup of a chapter notebook (documented in book/for_instructors.md):

* The exercise section runs from the markdown cell with the heading ``## Exercises`` to the
  end of the notebook.
* Markdown cells hold sphinx-exercise blocks: ``{exercise}`` (with ``:label: ex-...``) and,
  for a written solution, ``{solution} ex-...`` with ``:class: dropdown``.
* A solution with code is *gated*: a markdown cell opening with ``{solution-start} ex-...``
  (any prose after that block belongs to the solution), code cells, and a markdown cell
  ``{solution-end}``.  Code cells tagged ``exercise-solution`` inside it hold the answer
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's delimiters); other
  code cells inside it only illustrate the solution.
* A code cell tagged ``exercise-stub`` (before the solution) is the reader's starting point;
  it must equal the solution cell with the solution region stripped, as nbgrader strips it.
* A code cell tagged ``exercise-check`` (after the solution) ends with a self-check call
  ``check.xxx(answer)``; it becomes an autograder test cell ``assert check.xxx(answer)``
  followed by a hidden test (``### BEGIN HIDDEN TESTS``): the same check run by
  :func:`iclbook.check.without_reference`, which fails an answer that calls or returns
  iclbook's reference implementation.
* A code cell tagged ``exercise-setup`` holds the imports the exercises need.
* Optional cell metadata ``{"iclbook": {"points": 3}}`` on a check cell or on the exercise's
  markdown cell overrides the default points.

Parts: Setting 1 = chapters 3-6, Setting 2 = chapters 7-9.  The output is deterministic
(fixed cell ids, no timestamps), so a test can regenerate it and compare.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
OUT = ROOT / "assignments"
COMMAND = "python -m iclbook.course"

#: (assignment name, title, chapter-number range)
PARTS = (
    ("setting1", "Part I: linear regression in context (Setting 1, chapters 3-6)", range(3, 7)),
    ("setting2", "Part II: sparse parity with multi-head attention (Setting 2, chapters 7-9)",
     range(7, 10)),
)
POINTS_TEST = 2      # default points of one autograder test cell
POINTS_WRITTEN = 2   # default points of one written (manually graded) answer
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"
TEXT_STUB = "YOUR ANSWER HERE"
SETUP_SOURCE = """\
# Set-up: installs iclbook when missing (e.g. on Colab), then fixes seeds and threads.
try:
    import iclbook
except ImportError:
    %pip install -q "iclbook @ git+https://github.com/iclbook/iclbook"
    import iclbook
iclbook.setup(seed=0)
from iclbook import check"""

_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z:-]+)\}[ \t]*(?P<arg>.*)$")


# ------------------------------------------------------------------------------------------
# Parsing MyST directive blocks
# ------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------
# A chapter's exercises
# ------------------------------------------------------------------------------------------

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


# ------------------------------------------------------------------------------------------
# MyST to plain Jupyter markdown
# ------------------------------------------------------------------------------------------

def _bib_entries() -> dict[str, str]:
    """``key -> "Author et al. (year)"`` from book/references.bib (a small reader)."""
    text = (BOOK / "references.bib").read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        key, fields = m[1].strip(), m[2]
        author = re.search(r"author\s*=\s*\{(.*?)\},?\s*\n", fields, flags=re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", fields)
        names = [a.strip() for a in (author[1] if author else key).split(" and ")]
        last = names[0].split(",")[0].strip().replace("{", "").replace("}", "")
        last = re.sub(r"\\[^a-zA-Z]?", "", last)
        who = last + (" et al." if len(names) > 2 else f" and {names[1].split(',')[0]}"
                      if len(names) == 2 else "")
        out[key] = f"{who} ({year[1] if year else 'n.d.'})"
    return out


def _proof_titles() -> dict[str, str]:
    """``label -> "Lemma (title)"`` for every sphinx-proof directive of the book."""
    out = {}
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for b in directive_blocks(cell.source):
                if b.name.startswith("prf:") and "label" in b.options:
                    kind = b.name[4:].capitalize()
                    title = f" ({b.arg})" if b.arg else ""
                    out[b.options["label"]] = f"{kind}{title} of chapter {chapter_number(path)}"
    return out


def plain_markdown(text: str, bib: dict[str, str], proofs: dict[str, str]) -> str:
    """Replace MyST roles by readable text, for notebooks opened outside the book."""
    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m["arg"].split(",")]
        refs = [bib.get(k, k) for k in keys]
        if m["role"] == "cite:t":
            return "; ".join(refs)
        return "(" + "; ".join(r.replace(" (", ", ").rstrip(")") for r in refs) + ")"

    def ref(m: re.Match) -> str:
        arg = m["arg"]
        inner = re.match(r"(.*?)\s*<(.+)>$", arg)
        if inner:
            return inner[1]
        if m["role"] == "prf:ref":
            return proofs.get(arg, arg)
        return {"fidelity": "the book's “Notes on fidelity”"}.get(arg, arg)

    text = re.sub(r"\{(?P<role>cite(?::[tp])?)\}`(?P<arg>[^`]+)`", cite, text)
    text = re.sub(r"\{(?P<role>prf:ref|ref|numref|doc|eq|term)\}`(?P<arg>[^`]+)`", ref, text)
    return text


# ------------------------------------------------------------------------------------------
# nbgrader cells
# ------------------------------------------------------------------------------------------

def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool,
              points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _md(source: str, grade_id: str, **kw: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(source, metadata=_nbgrader(grade_id, **kw))
    cell.id = grade_id
    return cell


def _code(source: str, grade_id: str, **kw: object) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=_nbgrader(grade_id, **kw))
    cell.id = grade_id
    return cell


def test_source(check_source: str) -> str:
    """Turn a chapter's self-check cell into an autograder test cell with an ``assert``.

    When the cell ends with ``check.xxx(args)``, a hidden test follows (nbgrader removes it
    from the students' version and restores it when autograding): the same check through
    ``check.without_reference``, so an answer that uses iclbook's own implementation fails.
    """
    tree = ast.parse(check_source)
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        raise ValueError("an exercise-check cell must end with a check.xxx(...) call")
    lines = check_source.rstrip().split("\n")
    last = tree.body[-1]
    head = lines[: last.lineno - 1]
    expr = "\n".join(lines[last.lineno - 1:])
    out = ["# Autograder test: passes when your answer above is right. (Hidden tests run "
           "too when it is graded.)", *head, f"result = {expr}", "print(result)",
           "assert result, result.message"]
    hidden = hidden_call(last.value)
    if hidden:
        out += [f"### {BEGIN_HIDDEN}",
                "# Hidden test: the same check while iclbook's reference implementation is "
                "unavailable.",
                f"hidden = {hidden}", "assert hidden, hidden.message", f"### {END_HIDDEN}"]
    return "\n".join(out)


def hidden_call(call: ast.expr) -> str | None:
    """``check.xxx(a, k=v)`` -> ``"check.without_reference(check.xxx, a, k=v)"``; else None."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id == "check"
            and call.func.attr != "without_reference"):
        return None
    new = ast.Call(func=ast.Attribute(value=ast.Name("check"), attr="without_reference"),
                   args=[call.func, *call.args], keywords=call.keywords)
    return ast.unparse(new)


def build_source(name: str, title: str, chapters: list[Chapter]) -> nbformat.NotebookNode:
    """The instructor version (nbgrader "source"): solutions between the delimiters."""
    bib, proofs = _bib_entries(), _proof_titles()
    cells = []
    total = 0
    for ch in chapters:
        for ex in ch.exercises:
            n_tests = len(ex.check_cells)
            pts = ex.points or POINTS_TEST
            total += pts * n_tests + (POINTS_WRITTEN if _needs_written(ex) else 0)
    intro = (f"# Assignment — {title}\n\n"
             "This notebook collects the exercises of the chapters listed below, from the book "
             "*Why larger models learn in context differently*. Read each chapter first.\n\n"
             "- **Code answers**: write your code in the cell below each exercise, replacing "
             "`raise NotImplementedError()`, then run the test cell after it. The test calls "
             "the book's self-check (`iclbook.check`): it says *correct* or gives a hint, and "
             "never shows the expected answer.\n"
             "- **Written answers**: replace *YOUR ANSWER HERE* by your derivation or "
             "explanation (Markdown and $\\LaTeX$ work).\n"
             "- Exercises that ask you to run or change a chapter's code (*predict, then "
             "run*) are done in that chapter's notebook; report what you found in the written "
             "answer.\n"
             "- Run the set-up cell first. Do not edit or delete the test cells.\n\n"
             f"Total: {total} points.")
    cells.append(_md(intro, f"{name}-intro", grade=False, solution=False, locked=True))
    cells.append(_code(SETUP_SOURCE, f"{name}-setup", grade=False, solution=False, locked=True))
    for ch in chapters:
        if not ch.exercises:
            continue
        cid = f"ch{ch.number:02d}"
        cells.append(_md(f"## Chapter {ch.number}: {plain_markdown(ch.title, bib, proofs)}",
                         f"{cid}-title", grade=False, solution=False, locked=True))
        for k, c in enumerate(ch.setup_cells):
            cells.append(_code(c.source, f"{cid}-setup-{k + 1}", grade=False, solution=False,
                               locked=True))
        for ex in ch.exercises:
            gid = ex.label
            head = f"### Exercise {ch.number}.{ex.number}"
            head += f": {ex.title}" if ex.title else ""
            text = plain_markdown(ex.body, bib, proofs)
            cells.append(_md(f"{head}\n\n*(`{ex.label}`)*\n\n{text}", f"{gid}-text",
                             grade=False, solution=False, locked=True))
            if _needs_written(ex):
                sol = plain_markdown(ex.written_solution, bib, proofs)
                cells.append(_md(f"### {BEGIN}\n{sol}\n### {END}", f"{gid}-written",
                                 grade=True, solution=True, locked=False,
                                 points=ex.points or POINTS_WRITTEN))
            for k, c in enumerate(ex.solution_cells):
                cells.append(_code(c.source, f"{gid}-answer-{k + 1}", grade=False,
                                   solution=True, locked=False))
            for k, c in enumerate(ex.check_cells):
                pts = c.metadata.get("iclbook", {}).get("points") or ex.points or POINTS_TEST
                cells.append(_code(test_source(c.source), f"{gid}-test-{k + 1}", grade=True,
                                   solution=False, locked=True, points=pts))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                                  "name": "python3"},
                   "language_info": {"name": "python"}}
    return nb


def _needs_written(ex: Exercise) -> bool:
    """A written answer (graded by hand) when the solution has prose and either no self-check
    or the exercise's markdown cell says ``{"iclbook": {"written": true}}`` (a derivation
    asked next to the code)."""
    return bool(ex.written_solution.strip()) and (not ex.check_cells or ex.written)


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


def build_release(source_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The student version, as ``nbgrader generate_assignment`` makes it (without checksums):
    solution regions replaced by stubs, hidden tests removed, outputs cleared, locked cells
    made read-only."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        new, replaced = strip_solutions(cell.source, cell.cell_type)
        if meta["solution"] and not replaced:
            new = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source = strip_hidden_tests(new) if meta["grade"] else new
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        if meta["solution"]:
            cell.metadata["deletable"] = False
        elif meta["grade"] or meta["locked"]:
            cell.metadata["deletable"] = False
            cell.metadata["editable"] = False
    return nb


NBGRADER_CONFIG = '''\
# nbgrader configuration of the book's assignments (generated by `python -m iclbook.course`).
# Run nbgrader from this folder, e.g. `nbgrader generate_assignment setting1`, then
# `nbgrader autograde setting1` on the submissions in submitted/<student>/setting1/.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "iclbook"
c.CourseDirectory.root = "."
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Hidden tests (### BEGIN HIDDEN TESTS) are removed from the release, restored by autograde.
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"
# The set-up cells import torch: allow slow machines more than the default 30 s per cell.
c.Execute.timeout = 600
'''

GITIGNORE = '''\
# Made by nbgrader in this course folder; never committed (a committed release/ makes
# `nbgrader generate_assignment` skip the assignment). Generated by `python -m iclbook.course`.
release/
submitted/
autograded/
feedback/
downloaded/
gradebook.db
.nbgrader.log
'''


def generate(out: Path | None = None) -> dict[Path, str]:
    """Every generated file: path (under ``out``, default ``assignments/``) -> text."""
    out = OUT if out is None else Path(out)
    files: dict[Path, str] = {out / "nbgrader_config.py": NBGRADER_CONFIG,
                              out / ".gitignore": GITIGNORE}
    for name, title, numbers in PARTS:
        chapters = [parse_chapter(p) for p in chapters_of(numbers)]
        src = build_source(name, title, chapters)
        files[out / "source" / name / f"{name}.ipynb"] = nbformat.writes(src) + "\n"
        files[out / "handout" / f"{name}.ipynb"] = nbformat.writes(build_release(src)) + "\n"
    return files


def stale_files(out: Path | None = None) -> list[str]:
    """Why the files under ``out`` differ from the generator's: one line per file (a file
    that differs or is missing, or a notebook or config the generator would not write)."""
    out = OUT if out is None else Path(out)
    files = generate(out)
    problems = [f"stale: {p}" if p.exists() else f"missing: {p}" for p, text in files.items()
                if not p.exists() or p.read_text(encoding="utf-8") != text]
    for sub in ("source", "handout"):
        for p in sorted((out / sub).rglob("*")):
            if p.is_file() and p not in files and ".ipynb_checkpoints" not in p.parts:
                problems.append(f"unexpected: {p}")
    return problems


# ------------------------------------------------------------------------------------------
# Student sources: the book without any solution
# ------------------------------------------------------------------------------------------

def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A chapter without solutions: no ``{solution}`` blocks, no gated solution cells, no
    ``exercise-solution`` cells; self-check cells keep their code but lose their outputs."""
    nb = copy.deepcopy(nb)
    cells, gated = [], False
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            names = {b.name for b in directive_blocks(cell.source)}
            if "solution-start" in names:
                gated = True
                before = _before_gate(cell.source)
                if before.strip():
                    cells.append(_with_source(cell, before))
                continue
            if "solution-end" in names:
                gated = False
                rest = remove_blocks(cell.source, {"solution-end", "solution"})
                if rest.strip():
                    cells.append(_with_source(cell, rest))
                continue
            if gated:
                continue
            if "solution" in names:
                new = remove_blocks(cell.source, {"solution"})
                if new.strip():
                    cells.append(_with_source(cell, new))
                continue
            cells.append(cell)
            continue
        if gated or "exercise-solution" in tags(cell):
            continue
        if "exercise-check" in tags(cell):
            cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    nb.cells = cells
    return nb


def _before_gate(source: str) -> str:
    """The markdown of a cell before its ``{solution-start}`` block (usually nothing)."""
    for b in directive_blocks(source):
        if b.name == "solution-start":
            return "\n".join(source.split("\n")[: b.start]).strip()
    return source


def _with_source(cell: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    cell = copy.deepcopy(cell)
    cell.source = source
    return cell


def student_sources(dest: Path) -> None:
    """Copy the book's sources into ``dest`` with every solution removed (see
    :func:`student_notebook`), and switch sphinx-exercise's ``hide_solutions`` on."""
    if dest.exists():
        shutil.rmtree(dest)
    ignore = shutil.ignore_patterns(".git", ".venv", "_build", "assignments", "__pycache__",
                                    ".ipynb_checkpoints", ".jupyter_cache", "*.egg-info",
                                    ".ruff_cache", ".pytest_cache", "tests", "benchmarks")
    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)
    for path in sorted((dest / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_notebook(nb), path)
    for path in sorted((dest / "book").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        new = remove_blocks(text, {"solution"})
        if new != text.strip("\n"):
            path.write_text(new + "\n", encoding="utf-8")
    cfg = dest / "_config.yml"
    cfg.write_text(student_config(cfg.read_text(encoding="utf-8")), encoding="utf-8")


STUDENT_BANNER = ("Student edition: exercises without solutions. Launch and repository buttons "
                  "are off; the download buttons give this edition's notebooks.")


def student_config(text: str) -> str:
    """The student edition's ``_config.yml`` from the book's.

    The title and a banner on every page say it is the student edition; every button that
    leads to the full sources (launch on Binder, Colab or a JupyterHub, the repository, its
    issues, edit this page) is switched off, because those sources hold the solutions; the
    download buttons stay (they serve this edition's own, solution-free, notebooks).
    sphinx-exercise's ``hide_solutions`` is switched on as well.
    """
    import yaml  # a dependency of jupyter-book

    config = yaml.safe_load(text)
    if not isinstance(config, dict):
        raise ValueError("_config.yml is not a mapping")
    config["title"] = f"{config.get('title', 'iclbook')} (student edition)"
    config["launch_buttons"] = {"notebook_interface": config.get("launch_buttons", {}).get(
        "notebook_interface", "jupyterlab"), "binderhub_url": "", "colab_url": "",
        "jupyterhub_url": "", "thebe": False}
    html = config.setdefault("html", {})
    html.update({"use_repository_button": False, "use_issues_button": False,
                 "use_edit_page_button": False, "announcement": STUDENT_BANNER})
    config.setdefault("sphinx", {}).setdefault("config", {})["hide_solutions"] = True
    return ("# The student edition's configuration, generated by iclbook.course from the "
            "book's _config.yml.\n" + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


# ------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing")
    parser.add_argument("--out", type=Path, default=OUT, metavar="DIR",
                        help="the course folder (default: assignments/ of the repository)")
    parser.add_argument("--student-sources", type=Path, metavar="DIR",
                        help="write a solution-free copy of the book's sources to DIR")
    args = parser.parse_args(argv)
    try:
        if args.student_sources:
            student_sources(args.student_sources.resolve())
            print(f"student sources in {args.student_sources}")
            return 0
        if args.check:
            problems = stale_files(args.out)
            for line in problems:
                print(f"{line} (regenerate with `{COMMAND}`)")
            return 1 if problems else 0
        files = generate(args.out)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"{COMMAND}: error: {exc}", file=sys.stderr)
        return 1
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
