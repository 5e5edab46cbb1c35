"""Student edition (scripts/build_student_edition.sh): the book with no solution text at all.

Two levels: the solution-free sources (fast, every chapter notebook) and the built HTML.
The HTML is built here with stored outputs (``--stored-outputs``: no chapter is executed,
about 10-60 s) unless ``ICLBOOK_STUDENT_HTML`` names an existing build to inspect (e.g. the
one scripts/run_tests.sh just made).  Each solution's distinctive word sequences must be
absent; each exercise's must be present (so the search itself works).
"""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest

from iclbook.course import markup
from iclbook.course import student as edition
from iclbook.course.solutions import (
    distinctive,
    exercise_bodies,
    fragments,
    fragments_of,
    notebook_text,
    solution_content,
    words,
)

ROOT = Path(__file__).resolve().parents[1]

CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebook_has_no_solution(path):
    nb = nbformat.read(path, 4)
    student = edition.student_notebook(nb)
    text = notebook_text(student)
    full = notebook_text(nb)
    for label, pieces in solution_content(nb).items():
        frags = fragments_of(pieces)
        assert frags, f"{label}: no text to search for"
        assert all(f" {f} " in full for f in frags), label  # the search works on the original
        leaked = [f for f in frags if f" {f} " in text]
        # a fragment may legitimately repeat text of the chapter outside the solution
        assert len(leaked) < len(frags), f"{label}: every fragment is still there"
    for cell in student.cells:
        assert markup.BEGIN not in cell.source
        assert "exercise-solution" not in markup.tags(cell)
        names = {b.name for b in markup.directive_blocks(cell.source)} \
            if cell.cell_type == "markdown" else set()
        assert not names & {"solution", "solution-start", "solution-end"}
        if "exercise-check" in markup.tags(cell):
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


@pytest.mark.slow
def test_student_html_has_no_solution_text(student_html):
    built = [p for p in CHAPTERS if (student_html / "book" / f"{p.stem}.html").exists()]
    assert {"01_preface", "02_puzzle", "03_linear_attention"} <= {p.stem for p in built}
    checked = 0
    for path in built:
        nb = nbformat.read(path, 4)
        page = student_html / "book" / f"{path.stem}.html"
        text = _page_text(page)
        raw = page.read_text(encoding="utf-8")
        assert markup.BEGIN not in raw and 'class="solution' not in raw, path.stem
        for label, frags in distinctive(nb).items():
            leaked = [f for f in frags if f" {f} " in text]
            assert not leaked, f"{path.stem} {label}: solution text in the HTML: {leaked[:3]}"
            checked += len(frags)
        for label, body in exercise_bodies(nb).items():
            frags = fragments(body)
            if frags:
                assert any(f" {f} " in text for f in frags), f"{label}: exercise text missing"
    assert checked > 50


@pytest.mark.slow
def test_student_html_keeps_exercises_and_self_checks(student_html):
    text = _page_text(student_html / "book" / "03_linear_attention.html")
    assert words("check.preconditioned_gd_step(gd_step)") in text  # the self-check cell
    assert words("# YOUR CODE HERE") in text  # the stub cell


def test_student_notebook_drops_the_source_listings():
    """The listings beside the theorems show the implementations that the implement-exercises
    ask for (e.g. ``noisy_risk`` in chapter 6), so the student edition has none of them."""
    path = ROOT / "book" / "06_noise.ipynb"
    nb = nbformat.read(path, 4)
    listed = [c for c in nb.cells if edition.is_listing(c)]
    assert listed, "chapter 6 has listings (scripts/insert_listings.py)"
    student = edition.student_notebook(nb)
    assert not any(edition.is_listing(c) for c in student.cells)
    assert not any("literalinclude" in c.source for c in student.cells
                   if c.cell_type == "markdown")
    assert len(student.cells) < len(nb.cells)
