"""Student edition (scripts/build_student_edition.sh): the book with no solution text at all.

Two levels: the solution-free sources (fast, every chapter notebook) and the built HTML.
The HTML is built here with stored outputs (``--stored-outputs``: no chapter is executed,
about 10-60 s) unless ``ICLBOOK_STUDENT_HTML`` names an existing build to inspect (e.g. the
one scripts/run_tests.sh just made).  Each solution's distinctive word sequences must be
absent; each exercise's must be present (so the search itself works).
"""

from __future__ import annotations

import html
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_assignments",
                                               ROOT / "scripts" / "make_assignments.py")
ma = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_assignments", ma)
_spec.loader.exec_module(ma)

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))
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
            for b in ma.directive_blocks(cell.source):
                if b.name == "solution":
                    out.setdefault(b.arg, []).append((b.body, ""))
                elif b.name == "solution-start":
                    gated, opened = b.arg, True
                    out.setdefault(gated, []).append((ma.text_after_blocks(cell.source), ""))
                elif b.name == "solution-end":
                    gated = None
            if gated and not opened:
                out[gated].append((cell.source, ""))
            continue
        if gated:
            src = cell.source
            if "exercise-solution" in ma.tags(cell):
                src = src.split(ma.BEGIN, 1)[1].split(ma.END, 1)[0]
            out[gated] += [("", src), (_outputs_text(cell), "")]
    return out


def _fragments_of(pieces: list[tuple[str, str]]) -> list[str]:
    return [f for prose, code in pieces for f in fragments(prose, code)]


def exercise_bodies(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {b.options.get("label", ""): b.body for c in nb.cells if c.cell_type == "markdown"
            for b in ma.directive_blocks(c.source) if b.name == "exercise"}


def notebook_text(nb: nbformat.NotebookNode) -> str:
    return words("\n".join(c.source + "\n" + _outputs_text(c) for c in nb.cells))


def distinctive(nb: nbformat.NotebookNode) -> dict[str, list[str]]:
    """Per solution, the fragments that occur nowhere in the student version's text."""
    student = notebook_text(ma.student_notebook(nb))
    out = {}
    for label, pieces in solution_content(nb).items():
        out[label] = [f for f in _fragments_of(pieces) if f" {f} " not in student]
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution(path):
    nb = nbformat.read(path, 4)
    student = ma.student_notebook(nb)
    text = notebook_text(student)
    full = notebook_text(nb)
    for label, pieces in solution_content(nb).items():
        frags = _fragments_of(pieces)
        assert frags, f"{label}: no text to search for"
        assert all(f" {f} " in full for f in frags), label  # the search works on the original
        leaked = [f for f in frags if f" {f} " in text]
        # a fragment may legitimately repeat text of the chapter outside the solution
        assert len(leaked) < len(frags), f"{label}: every fragment is still there"
    for cell in student.cells:
        assert ma.BEGIN not in cell.source
        assert "exercise-solution" not in ma.tags(cell)
        names = {b.name for b in ma.directive_blocks(cell.source)} \
            if cell.cell_type == "markdown" else set()
        assert not names & {"solution", "solution-start", "solution-end"}
        if "exercise-check" in ma.tags(cell):
            assert not cell.outputs
    labels = set(exercise_bodies(nb))
    assert labels == set(exercise_bodies(student))  # every exercise is still there


@pytest.fixture(scope="module")
def student_html(tmp_path_factory) -> Path:
    given = os.environ.get("ICLBOOK_STUDENT_HTML")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("student")
    subprocess.run(["bash", str(ROOT / "scripts" / "build_student_edition.sh"),
                    "--stored-outputs", "--out", str(out)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return out / "html"


def _page_text(page: Path) -> str:
    raw = page.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    return words(html.unescape(re.sub(r"<[^>]+>", " ", raw)))


def test_student_html_has_no_solution_text(student_html):
    built = [p for p in CHAPTERS if (student_html / "book" / f"{p.stem}.html").exists()]
    assert {"01_preface", "02_puzzle", "03_linear_attention"} <= {p.stem for p in built}
    checked = 0
    for path in built:
        nb = nbformat.read(path, 4)
        page = student_html / "book" / f"{path.stem}.html"
        text = _page_text(page)
        raw = page.read_text(encoding="utf-8")
        assert ma.BEGIN not in raw and 'class="solution' not in raw, path.stem
        for label, frags in distinctive(nb).items():
            leaked = [f for f in frags if f" {f} " in text]
            assert not leaked, f"{path.stem} {label}: solution text in the HTML: {leaked[:3]}"
            checked += len(frags)
        for label, body in exercise_bodies(nb).items():
            frags = fragments(body)
            if frags:
                assert any(f" {f} " in text for f in frags), f"{label}: exercise text missing"
    assert checked > 50


def test_student_html_keeps_exercises_and_self_checks(student_html):
    text = _page_text(student_html / "book" / "03_linear_attention.html")
    assert words("check.preconditioned_gd_step(gd_step)") in text  # the self-check cell
    assert words("# YOUR CODE HERE") in text  # the stub cell
