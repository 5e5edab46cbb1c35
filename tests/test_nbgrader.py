"""nbgrader end to end on a copy of the course folder, with nbgrader's own commands.

As an instructor would, from a copy of ``assignments/`` holding only what a fresh clone
has: ``nbgrader generate_assignment <part>`` (no ``--force``), submissions placed in
``submitted/<student>/<part>/<part>.ipynb``, ``nbgrader autograde <part>`` and
``nbgrader export``.  Four submissions per part:

* ``solutions`` -- the instructor version: every automatic point;
* ``stubs`` -- the released notebook untouched: zero;
* ``one-right`` -- the released notebook with one exercise answered (the instructor's
  answer): exactly that exercise's points;
* ``gaming`` -- the instructor version, except that every *implement* exercise (its answer
  defines the function its check is given) calls or returns iclbook's reference
  implementation: it passes the visible checks, yet the hidden tests give every implement
  exercise zero.

Expected scores are read off the source notebooks' nbgrader metadata (points of the test
cells), not off nbgrader.  Slow (it executes 8 notebooks): ``-m "not slow"`` skips it.
"""

from __future__ import annotations

import copy
import csv
import importlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import nbformat
import pytest

from iclbook import check
from iclbook.course import markup, nbgrader

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PARTS = [name for name, _, _ in nbgrader.PARTS]
STUDENTS = ("solutions", "stubs", "one-right", "gaming")
NBGRADER_DIRS = ("release", "submitted", "autograded", "feedback", "downloaded")


def _nbgrader(root: Path, *args: str) -> str:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
               f"{os.environ.get('PATH', '')}", ICLBOOK_PROGRESS="0")
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=1800)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{log[-4000:]}"
    return log


def _grade_cells(nb: nbformat.NotebookNode) -> dict[str, int]:
    """Autograded test cells: grade_id -> points."""
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
            for c in nb.cells if c.cell_type == "code" and c.metadata["nbgrader"]["grade"]}


def _label(grade_id: str) -> str:
    return re.sub(r"-(test|answer)-\d+$", "", grade_id)


def reference_of(check_name: str):
    """The reference implementation that ``check.<check_name>`` compares a function with
    (None for checks of expressions), read by intercepting the check's comparison."""
    seen = []
    part = importlib.import_module(getattr(check, check_name).__module__)   # check.linear/parity
    with mock.patch.object(part, "check_function",
                           side_effect=lambda *a, **k: seen.append(a[2])):
        getattr(check, check_name)(len)
    return seen[0] if seen else None


def implement_exercises(source: nbformat.NotebookNode) -> dict[str, tuple[str, object]]:
    """``label -> (function name, reference)`` for every exercise whose answer defines the
    function its autograder test passes to a function check."""
    out = {}
    answers = {}
    for c in source.cells:
        gid = c.metadata["nbgrader"]["grade_id"]
        if c.cell_type == "code" and c.metadata["nbgrader"]["solution"]:
            answers.setdefault(_label(gid), []).append(c.source)
    for c in source.cells:
        gid = c.metadata["nbgrader"]["grade_id"]
        if gid not in _grade_cells(source):
            continue
        m = re.search(r"^result = check\.(\w+)\((\w+)", c.source, flags=re.M)
        label = _label(gid)
        if not m or not any(f"def {m[2]}(" in a for a in answers.get(label, [])):
            continue
        ref = reference_of(m[1])
        if ref is not None:
            out[label] = (m[2], ref)
    return out


def gaming_cell(fn: str, ref: object, k: int) -> str:
    """An answer that passes the visible check by using the reference: it calls it (even
    ``k``) or simply is it (odd ``k``)."""
    imp = f"from {ref.__module__} import {ref.__name__} as _reference"
    if k % 2:
        return f"{imp}\n{fn} = _reference"
    return f"{imp}\n\n\ndef {fn}(*args, **kwargs):\n    return _reference(*args, **kwargs)"


def submissions(part: str, released: nbformat.NotebookNode) -> dict[str, tuple]:
    """``student -> (notebook, expected automatic score, {grade_id: expected points})``."""
    source = nbformat.read(ROOT / "assignments" / "source" / part / f"{part}.ipynb", 4)
    tests = _grade_cells(source)
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells}
    out = {"solutions": (source, sum(tests.values()), dict(tests)),
           "stubs": (released, 0, dict.fromkeys(tests, 0))}
    # one exercise right: the first one with an autograder test
    label = _label(next(iter(tests)))
    one = copy.deepcopy(released)
    for c in one.cells:
        gid = c.metadata["nbgrader"]["grade_id"]
        if _label(gid) == label and c.metadata["nbgrader"]["solution"]:
            c.source = by_id[gid].source
    mine = {g: (p if _label(g) == label else 0) for g, p in tests.items()}
    out["one-right"] = (one, sum(mine.values()), mine)
    # gaming: every implement exercise answered with the reference
    implement = implement_exercises(source)
    assert implement, f"{part}: no implement exercise to game"
    gaming = copy.deepcopy(source)
    k = 0
    for c in gaming.cells:
        gid = c.metadata["nbgrader"]["grade_id"]
        if c.cell_type == "code" and c.metadata["nbgrader"]["solution"] \
                and _label(gid) in implement:
            fn, ref = implement[_label(gid)]
            if f"def {fn}(" in c.source:
                c.source = gaming_cell(fn, ref, k)
                k += 1
    expect = {g: (0 if _label(g) in implement else p) for g, p in tests.items()}
    out["gaming"] = (gaming, sum(expect.values()), expect)
    return out


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Run nbgrader on a fresh copy; returns (course folder, wall time, expectations,
    exported rows)."""
    root = tmp_path_factory.mktemp("nbgrader") / "course"
    # what a fresh clone holds: nothing that nbgrader makes (see assignments/.gitignore)
    shutil.copytree(ROOT / "assignments", root,
                    ignore=shutil.ignore_patterns(*NBGRADER_DIRS, "gradebook.db",
                                                  ".nbgrader.log", ".ipynb_checkpoints"))
    start = time.perf_counter()
    expected = {}
    for part in PARTS:
        log = _nbgrader(root, "generate_assignment", part)
        assert "Skipping existing assignment" not in log
        released = nbformat.read(root / "release" / part / f"{part}.ipynb", 4)
        expected[part] = submissions(part, released)
        for student, (nb, _, _) in expected[part].items():
            dest = root / "submitted" / student / part / f"{part}.ipynb"
            dest.parent.mkdir(parents=True)
            nbformat.write(nb, dest)
        _nbgrader(root, "autograde", part)
    _nbgrader(root, "export", "--to", "grades.csv")
    wall = time.perf_counter() - start
    with open(root / "grades.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    print(f"\nnbgrader end to end: {wall:.0f} s wall; automatic points (score/max) " + ", ".join(
        f"{r['assignment']}/{r['student_id']}: {float(r['score']):g}/{float(r['max_score']):g}"
        for r in rows))
    return root, wall, expected, rows


def test_release_is_the_committed_handout(graded):
    root = graded[0]
    for part in PARTS:
        released = nbformat.read(root / "release" / part / f"{part}.ipynb", 4)
        handout = nbformat.read(ROOT / "assignments" / "handout" / f"{part}.ipynb", 4)
        assert [c.source for c in released.cells] == [c.source for c in handout.cells]
        assert not any(markup.BEGIN_HIDDEN in c.source or "without_reference" in c.source
                       for c in released.cells)


def test_exported_scores(graded):
    _, _, expected, rows = graded
    got = {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}
    for part, subs in expected.items():
        for student, (_, total, _) in subs.items():
            assert got[(part, student)] == total, (part, student)
        assert subs["solutions"][1] > 0 and subs["one-right"][1] > 0
        assert subs["one-right"][1] < subs["solutions"][1]


def test_each_test_cell_score(graded):
    root, _, expected, _ = graded
    for part, subs in expected.items():
        for student, (_, _, cells) in subs.items():
            scores = _scores(root, part, student)
            assert {g: scores[g] for g in cells} == cells, (part, student)


def _scores(root: Path, part: str, student: str) -> dict[str, float]:
    """What nbgrader's gradebook holds: grade cell -> score."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {g.name: g.score for g in gb.find_submission_notebook(part, part, student).grades}


def test_gaming_scores_zero_on_every_implement_exercise(graded):
    root, _, expected, _ = graded
    for part, subs in expected.items():
        source = subs["solutions"][0]
        implement = implement_exercises(source)
        scores = _scores(root, part, "gaming")
        gamed = [g for g in _grade_cells(source) if _label(g) in implement]
        assert gamed and all(scores[g] == 0 for g in gamed), (part, scores)
        # ... while the same answers pass the visible self-check (so the hidden test did it)
        for label, (_fn, ref) in implement.items():
            name = re.search(r"check\.(\w+)\(", next(
                c.source for c in source.cells
                if c.metadata["nbgrader"]["grade_id"] == f"{label}-test-1"))[1]
            assert getattr(check, name)(ref), label
            assert not check.without_reference(getattr(check, name), ref), label
