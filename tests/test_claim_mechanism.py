"""The prose checks can fail: a false claim planted in a copy of a chapter fails the notebook tests.

Chapter 2 asserts, in a cell next to each sentence, what its prose claims (e.g. "at sigma = 3
the smallest model is best").  This test copies the chapter to a temporary folder and runs
nbval on it in a subprocess, as the test command does:

* the unchanged copy passes (strict comparison of every stored output);
* a copy whose context length ``N = 10`` is changed to ``N = 40`` makes the sentences about
  sigma = 3 false; run in lax mode (outputs not compared, so only a raised error can fail
  it) the notebook fails, and the failure is the claim's own assertion message.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "02_puzzle.ipynb"
SANITIZE = ROOT / "tests" / "nbval_sanitize.cfg"
CLAIM = "at sigma = 3 the smallest model must be best"


def _nbval(notebook: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(ICLBOOK_PROGRESS="0", PYTHONHASHSEED="0")
    cmd = [sys.executable, "-m", "pytest", "-q", "--nbval", str(notebook),
           "--nbval-sanitize-with", str(SANITIZE), "-p", "no:cacheprovider", *extra]
    return subprocess.run(cmd, cwd=notebook.parent, env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture()
def copy(tmp_path: Path) -> Path:
    target = tmp_path / CHAPTER.name
    shutil.copy(CHAPTER, target)
    return target


@pytest.mark.slow
def test_unchanged_chapter_passes(copy):
    run = _nbval(copy)
    assert run.returncode == 0, run.stdout[-3000:]


@pytest.mark.slow
def test_planted_false_claim_fails(copy):
    nb = nbformat.read(copy, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "\nN = 10\n" in c.source]
    assert len(cells) == 1, "the parameter cell of chapter 2 moved: update this test"
    cells[0].source = cells[0].source.replace("\nN = 10\n", "\nN = 40\n")
    claim_cells = [c for c in nb.cells if CLAIM in c.source]
    assert len(claim_cells) == 1, "the asserted claim of chapter 2 moved: update this test"
    nbformat.write(nb, copy)
    run = _nbval(copy, "--nbval-lax")
    assert run.returncode != 0, "a false claim must fail the notebook tests"
    assert CLAIM in run.stdout, run.stdout[-3000:]
