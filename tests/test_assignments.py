"""Graded assignments (assignments/, made by ``python -m iclbook.course`` from the chapters).

What must hold: the committed files are exactly what the generator makes, and ``--check``
fails on a stale, missing or unexpected file; every instructor solution passes its
autograder tests, hidden tests included; every stripped student stub fails them (so no test
is vacuous); every part has at least 3 autograded test cells, each with a hidden test that
the handout lacks; the nbgrader markup is well formed; the chapters' exercise markup is
consistent (stub cells match the stripped solutions, self-check cells show "correct" in the
chapter).  nbgrader itself runs in tests/test_nbgrader.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from iclbook.course import assignments, markdown, markup, nbgrader

ROOT = Path(__file__).resolve().parents[1]

NAMES = [name for name, _, _ in nbgrader.PARTS]
CHAPTERS = sorted((ROOT / "book").glob("[0-9][0-9]_*.ipynb"))


def _source(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "assignments" / "source" / name / f"{name}.ipynb", 4)


def _release(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "assignments" / "handout" / f"{name}.ipynb", 4)


def _execute(nb: nbformat.NotebookNode, allow_errors: bool) -> nbformat.NotebookNode:
    os.environ.setdefault("ICLBOOK_PROGRESS", "0")
    client = NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    return nb


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [o["ename"] for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def test_committed_assignments_match_the_generator():
    files = nbgrader.generate()
    stale = [str(p.relative_to(ROOT)) for p, text in files.items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"regenerate with `python -m iclbook.course`: {stale}"
    assert nbgrader.stale_files() == []


def test_check_fails_on_a_stale_file(tmp_path, capsys):
    out = tmp_path / "assignments"
    shutil.copytree(ROOT / "assignments", out)
    assert assignments.main(["--check", "--out", str(out)]) == 0
    nb = out / "source" / "setting1" / "setting1.ipynb"
    nb.write_text(nb.read_text(encoding="utf-8").replace("Autograder test", "Autograder tst"),
                  encoding="utf-8")
    assert assignments.main(["--check", "--out", str(out)]) == 1
    assert "stale:" in capsys.readouterr().out
    assert assignments.main(["--out", str(out)]) == 0  # regenerating repairs it
    assert assignments.main(["--check", "--out", str(out)]) == 0
    (out / "handout" / "setting2.ipynb").unlink()
    assert assignments.main(["--check", "--out", str(out)]) == 1
    assignments.main(["--out", str(out)])
    (out / "source" / "old_part").mkdir()
    (out / "source" / "old_part" / "old_part.ipynb").write_text("{}", encoding="utf-8")
    assert assignments.main(["--check", "--out", str(out)]) == 1
    assert "unexpected:" in capsys.readouterr().out


def test_nbgrader_folders_are_not_committed():
    # nbgrader skips an assignment whose release/ exists: the course folder ships without it
    ignored = (ROOT / "assignments" / ".gitignore").read_text(encoding="utf-8").split()
    for name in ("release/", "submitted/", "autograded/", "feedback/", "gradebook.db"):
        assert name in ignored
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "assignments"], cwd=ROOT, check=True,
                                 capture_output=True, text=True).stdout.split()
        assert tracked and not [p for p in tracked if p.split("/")[1] in
                                ("release", "submitted", "autograded", "feedback")]


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_markup_is_well_formed(name):
    src, rel = _source(name), _release(name)
    assert len(src.cells) == len(rel.cells)
    ids = [c.metadata["nbgrader"]["grade_id"] for c in src.cells]
    assert len(ids) == len(set(ids)), "grade_id must be unique"
    assert [c.id for c in src.cells] == ids
    for s, r in zip(src.cells, rel.cells, strict=True):
        meta = s.metadata["nbgrader"]
        assert meta["schema_version"] == 3
        assert set(meta) >= {"grade", "solution", "locked", "grade_id", "task"}
        assert (meta["points"] > 0) if meta["grade"] else ("points" not in meta)
        assert r.metadata["nbgrader"] == meta
        assert markup.BEGIN not in r.source and markup.END not in r.source
        if meta["solution"]:
            assert markup.BEGIN in s.source and markup.END in s.source
            stub = markup.CODE_STUB if s.cell_type == "code" else markup.TEXT_STUB
            assert all(line.strip() in r.source for line in stub.split("\n"))
            assert r.metadata["deletable"] is False and "editable" not in r.metadata
        else:
            assert markup.strip_hidden_tests(s.source) == r.source
            assert r.metadata["deletable"] is False and r.metadata["editable"] is False
        if meta["grade"] and s.cell_type == "code":
            assert meta["locked"] and "assert result" in s.source
            assert markup.BEGIN_HIDDEN in s.source and "check.without_reference(" in s.source
            assert markup.BEGIN_HIDDEN not in r.source and "without_reference" not in r.source
            assert r.source == markup.strip_hidden_tests(s.source)
        if s.cell_type == "code":
            assert not s.outputs and not r.outputs


@pytest.mark.parametrize("name", NAMES)
def test_every_part_has_autograded_tests(name):
    # a part whose chapters lost their self-checked exercises would be graded by hand only
    tests = [c for c in _source(name).cells
             if c.cell_type == "code" and c.metadata["nbgrader"]["grade"]]
    assert len(tests) >= 3, f"{name}: only {len(tests)} autograded test cells"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_exercise_markup(path):
    chapter = markup.parse_chapter(path)
    nb = nbformat.read(path, 4)
    if markup.exercise_section(nb):
        assert len(chapter.exercises) >= 3, "every chapter ends with at least 3 exercises"
    for ex in chapter.exercises:
        for stub in ex.stub_cells:
            assert ex.solution_cells, f"{ex.label}: a stub without a solution cell"
            assert stub.source == markup.expected_stub(ex.solution_cells[0].source), ex.label
        for c in ex.check_cells:
            nbgrader.test_source(c.source)  # ends with a check call
            shown = "".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                            for o in c.get("outputs", []))
            assert shown.startswith("✓"), f"{ex.label}: the chapter's self-check says {shown!r}"
        if ex.check_cells:
            assert ex.solution_cells, f"{ex.label}: a self-check without a solution cell"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_instructor_solutions_pass_every_test(name):
    nb = _execute(_source(name), allow_errors=False)  # raises on the first failing cell
    tests = [c for c in nb.cells if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"]
    for c in tests:
        assert "✓" in "".join(o.get("text", "") for o in c.outputs)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_student_stubs_fail_every_test(name):
    nb = _execute(_release(name), allow_errors=True)
    tests = [c for c in nb.cells if c.metadata["nbgrader"]["grade"] and c.cell_type == "code"]
    for c in tests:
        errs = _errors(c)
        assert errs and errs[0] in ("AssertionError", "NameError"), \
            (c.metadata["nbgrader"]["grade_id"], errs)
    locked = [c for c in nb.cells if c.cell_type == "code"
              and not c.metadata["nbgrader"]["solution"] and not c.metadata["nbgrader"]["grade"]]
    for c in locked:
        assert not _errors(c), c.source  # set-up cells run on a fresh release


def test_strip_solutions_follows_nbgrader():
    src = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\nprint(1)"
    out, replaced = markup.strip_solutions(src, "code")
    assert replaced
    assert out == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\nprint(1)"
    assert markup.strip_solutions("text", "markdown") == ("text", False)
    with pytest.raises(RuntimeError):
        markup.strip_solutions("### BEGIN SOLUTION\nx = 1", "code")
    assert markup.expected_stub("a = None\n### BEGIN SOLUTION\na = 1\n### END SOLUTION") == \
        "a = None\n# YOUR CODE HERE"


def test_test_cells_assert_the_check():
    out = nbgrader.test_source("x = 1\ncheck.noise_threshold(\n    x)")
    visible = markup.strip_hidden_tests(out)
    assert visible.splitlines()[-1] == "assert result, result.message"
    assert "result = check.noise_threshold(\n    x)" in out and "x = 1" in out
    hidden = out.split("### BEGIN HIDDEN TESTS\n", 1)[1]
    assert "hidden = check.without_reference(check.noise_threshold, x)" in hidden
    assert hidden.splitlines()[-2:] == ["assert hidden, hidden.message", "### END HIDDEN TESTS"]
    kw = nbgrader.test_source("check.prompt_shapes(shapes, d=5)")
    assert "check.without_reference(check.prompt_shapes, shapes, d=5)" in kw
    # not a check call: no hidden test
    assert markup.BEGIN_HIDDEN not in nbgrader.test_source("f(x)")
    with pytest.raises(ValueError):
        nbgrader.test_source("x = check.noise_threshold(1)")


def test_strip_hidden_tests_follows_nbgrader():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nprint(a)"
    assert markup.strip_hidden_tests(src) == "a = 1\nprint(a)"
    with pytest.raises(RuntimeError):
        markup.strip_hidden_tests("### BEGIN HIDDEN TESTS\nx")


def test_plain_markdown_replaces_roles():
    bib = {"shi2024why": "Shi et al. (2024)"}
    text = markdown.plain_markdown("{cite:t}`shi2024why` and {cite}`shi2024why`; {ref}`fidelity`; "
                             "{prf:ref}`lem-x`; {ref}`the text <lab>`", bib,
                             {"lem-x": "Lemma (X) of chapter 3"})
    assert text == ("Shi et al. (2024) and (Shi et al., 2024); the book's “Notes on fidelity”; "
                    "Lemma (X) of chapter 3; the text")


def test_generator_tolerates_difficulty_suffixes(tmp_path):
    # chapter authors add " (easy|medium|hard)" to exercise titles: labels and grading stay
    path = ROOT / "book" / "06_noise.ipynb"
    nb = nbformat.read(path, 4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"^(```\{exercise\}[ \t]*)(.*)$",
                                 lambda m: f"{m[1]}{m[2] or 'Untitled'} (hard)",
                                 cell.source, flags=re.M)
    copy = tmp_path / path.name
    nbformat.write(nb, copy)
    before, after = markup.parse_chapter(path), markup.parse_chapter(copy)
    assert [e.label for e in after.exercises] == [e.label for e in before.exercises]
    assert all(e.title.endswith(" (hard)") for e in after.exercises)
    src = nbgrader.build_source("part", "Part", [after])
    ref = nbgrader.build_source("part", "Part", [before])
    assert [c.id for c in src.cells] == [c.id for c in ref.cells]
    assert [c.metadata for c in src.cells] == [c.metadata for c in ref.cells]
    assert sum("(hard)" in c.source for c in src.cells) == len(after.exercises)
