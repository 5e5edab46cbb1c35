"""The student edition's sources: the book with every solution removed
(:func:`student_notebook`, :func:`student_sources`, :func:`student_config`)."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import nbformat

from .markup import ROOT, directive_blocks, remove_blocks, tags


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A chapter without solutions: no ``{solution}`` blocks, no gated solution cells, no
    ``exercise-solution`` cells, no listings of the package's source (the cells that
    ``scripts/insert_listings.py`` marks ``{"iclbook": {"listing": ...}}``: they show the
    implementations that the implement-exercises ask for); self-check cells keep their code
    but lose their outputs."""
    nb = copy.deepcopy(nb)
    cells, gated = [], False
    for cell in nb.cells:
        if is_listing(cell):
            continue
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


def is_listing(cell: nbformat.NotebookNode) -> bool:
    """True for a cell holding a listing of the package's source (see :func:`student_notebook`)."""
    meta = cell.get("metadata", {}).get("iclbook", {})
    return isinstance(meta, dict) and "listing" in meta


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
