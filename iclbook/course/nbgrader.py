"""The graded assignments as an nbgrader course folder: source notebooks with autograder
and hidden-test cells (:func:`build_source`), the released handouts (:func:`build_release`),
the configuration, and the whole set of generated files (:func:`generate`,
:func:`stale_files`)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import nbformat

from .markdown import bib_entries, plain_markdown, proof_titles
from .markup import (
    BEGIN,
    BEGIN_HIDDEN,
    CODE_STUB,
    END,
    END_HIDDEN,
    ROOT,
    TEXT_STUB,
    Chapter,
    Exercise,
    chapters_of,
    parse_chapter,
    strip_hidden_tests,
    strip_solutions,
)

OUT = ROOT / "assignments"


PARTS = (
    ("setting1", "Part I: linear regression in context (Setting 1, chapters 3-6)", range(3, 7)),
    ("setting2", "Part II: sparse parity with multi-head attention (Setting 2, chapters 7-9)",
     range(7, 10)),
)


POINTS_TEST = 2      # default points of one autograder test cell


POINTS_WRITTEN = 2   # default points of one written (manually graded) answer


SETUP_SOURCE = """\
# Set-up: installs iclbook when missing (e.g. on Colab), then fixes seeds and threads.
try:
    import iclbook
except ImportError:
    %pip install -q "iclbook @ git+https://github.com/iclbook/iclbook"
    import iclbook
iclbook.setup(seed=0)
from iclbook import check"""


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
    bib, proofs = bib_entries(), proof_titles()
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
