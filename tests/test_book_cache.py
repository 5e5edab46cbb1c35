"""The book's execution cache: never stale, and filled by nbval with what the build would make.

- ``scripts/book_cache.py``: the fingerprint changes with any file of the package, the lock
  and the environment variables a chapter reads; :func:`ensure_fresh` then wipes the cache;
  a changed code cell no longer matches its cached copy (the build re-executes it).
- ``tests/nbval_record.py`` (slow: two kernels): a notebook nbval passes is stored with the
  outputs and widget state that myst-nb's own execution (jupyter-cache's
  ``single_nb_execution``, nbclient) makes; a notebook with a failing cell is not stored.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import book_cache
import nbformat
import pytest
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _package(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "iclbook" / "sub").mkdir(parents=True)
    (root / "iclbook" / "__init__.py").write_text("X = 1\n")
    (root / "iclbook" / "sub" / "theory.py").write_text("def f():\n    return 2\n")
    (root / "requirements-lock.txt").write_text("numpy==2.0.0\n")
    return root


def _executed(sources: list[str]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# t")]
    for k, src in enumerate(sources, start=1):
        cell = nbformat.v4.new_code_cell(src)
        cell.execution_count = k
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{k}\n")]
        nb.cells.append(cell)
    return nb


def test_fingerprint_follows_package_lock_and_environment(tmp_path):
    root = _package(tmp_path)
    env = {"ICLBOOK_WIDGETS": "static", "PYTHONHASHSEED": "0"}
    fp = book_cache.fingerprint(env, root)
    assert book_cache.fingerprint(dict(env), root) == fp
    (root / "iclbook" / "sub" / "theory.py").write_text("def f():\n    return 3\n")
    changed = book_cache.fingerprint(env, root)
    assert changed["package"] != fp["package"]
    (root / "iclbook" / "sub" / "theory.py").write_text("def f():\n    return 2\n")
    assert book_cache.fingerprint(env, root) == fp
    (root / "iclbook" / "sub" / "extra.py").write_text("")  # a new module counts too
    assert book_cache.fingerprint(env, root)["package"] != fp["package"]
    (root / "iclbook" / "sub" / "extra.py").unlink()
    (root / "iclbook" / "sub" / "__pycache__").mkdir()  # compiled files do not
    (root / "iclbook" / "sub" / "__pycache__" / "theory.cpython-311.pyc").write_bytes(b"x")
    assert book_cache.fingerprint(env, root) == fp
    (root / "requirements-lock.txt").write_text("numpy==2.0.1\n")
    assert book_cache.fingerprint(env, root)["lock"] != fp["lock"]
    (root / "requirements-lock.txt").write_text("numpy==2.0.0\n")
    for key, value in [("ICLBOOK_WIDGETS", None), ("PYTHONHASHSEED", "1"),
                       ("ICLBOOK_THREADS", "1")]:
        other = {k: v for k, v in {**env, key: value}.items() if v is not None}
        assert book_cache.fingerprint(other, root)["env"] != fp["env"], key
    with pytest.raises(ValueError, match="root"):
        book_cache.fingerprint(env, tmp_path)


def test_installed_libraries_are_read_from_site_packages_only(tmp_path, monkeypatch):
    """A pytest session puts its rootdir and other folders on ``sys.path`` (where e.g. an
    ``*.egg-info`` may lie); the build does not. Only the environment's site-packages count,
    so the recorder (inside pytest) and the build agree on the fingerprint."""
    before = book_cache._installed()
    planted = tmp_path / "planted_dist-1.0.dist-info"
    planted.mkdir()
    (planted / "METADATA").write_text("Metadata-Version: 2.1\nName: planted-dist\n"
                                      "Version: 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib.metadata
    assert any(d.metadata["Name"] == "planted-dist"
               for d in importlib.metadata.distributions())       # visible on sys.path
    assert book_cache._installed() == before                       # but not counted
    site = tmp_path / "site"
    site.mkdir()
    planted.rename(site / planted.name)
    monkeypatch.setattr(book_cache, "_site_packages", lambda: [str(site)])
    assert book_cache._installed() != before                       # site-packages do count


def test_a_package_change_wipes_the_cache(tmp_path):
    root, cache_dir = _package(tmp_path), tmp_path / "cache"
    nb = _executed(["print(1)", "print(2)"])
    fp = book_cache.fingerprint({}, root)
    assert book_cache.ensure_fresh(fp, cache_dir) == ["missing"]
    get_cache(str(cache_dir)).cache_notebook_bundle(CacheBundleIn(nb, "ch.ipynb"),
                                                    check_validity=False, overwrite=True)
    assert book_cache.ensure_fresh(fp, cache_dir) == []  # unchanged: kept
    assert get_cache(str(cache_dir)).match_cache_notebook(nb).uri == "ch.ipynb"
    (root / "iclbook" / "__init__.py").write_text("X = 2\n")
    assert book_cache.ensure_fresh(book_cache.fingerprint({}, root), cache_dir) == ["package"]
    with pytest.raises(KeyError):
        get_cache(str(cache_dir)).match_cache_notebook(nb)
    assert book_cache.records(cache_dir) == []


def test_a_changed_cell_re_executes_only_its_notebook(tmp_path):
    cache = get_cache(str(tmp_path / "cache"))
    a, b = _executed(["x = 1", "print(x)"]), _executed(["y = 1"])
    for nb, uri in [(a, "a.ipynb"), (b, "b.ipynb")]:
        cache.cache_notebook_bundle(CacheBundleIn(nb, uri), check_validity=False,
                                    overwrite=True)
    edited = copy.deepcopy(a)
    edited.cells[2].source = "print(x + 1)"
    with pytest.raises(KeyError):
        cache.match_cache_notebook(edited)
    assert cache.match_cache_notebook(b).uri == "b.ipynb"
    prose = copy.deepcopy(a)  # prose is rendered from the source, never from the cache
    prose.cells[0].source = "# another title"
    assert cache.match_cache_notebook(prose).uri == "a.ipynb"


def test_pages_are_read_again_after_a_package_change(tmp_path, monkeypatch, capsys):
    """An incremental Sphinx build keeps unchanged sources' pages: the stamp forces --all."""
    doctrees = tmp_path / ".doctrees"
    doctrees.mkdir()
    args = ["--doctrees", str(doctrees)]
    assert book_cache.main(["pages-current", *args]) == 1  # never stamped: read every page
    assert book_cache.main(["pages-stamp", *args]) == 0
    assert book_cache.main(["pages-current", *args]) == 0
    real = book_cache.fingerprint
    monkeypatch.setattr(book_cache, "fingerprint",
                        lambda env=None, root=book_cache.ROOT: {**real(env, root),
                                                                "package": "edited"})
    assert book_cache.main(["pages-current", *args]) == 1
    assert "package" in capsys.readouterr().out


# -- the recorder, end to end ------------------------------------------------------------------
RECORDED_CELLS = [
    "import ipywidgets as w\nfrom IPython.display import display\n"
    "print('one')\nprint('two')",
    "display('shown')\nprint('after')",
    "w.VBox([w.HTML('<b>t</b>'), w.IntSlider(value=3)])",
    "",
    "import os\nos.environ.get('ICLBOOK_WIDGETS')",
    "6 * 7",
]


def _ids(text: str) -> str:
    """Widget model ids are random: number them in order of appearance."""
    seen: dict[str, str] = {}
    return re.sub(r"[0-9a-f]{32}", lambda m: seen.setdefault(m[0], f"ID{len(seen)}"), text)


def _run_nbval(path: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    env.pop("ICLBOOK_WIDGETS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", str(path), "-p", "nbval_record",
         "--book-cache", str(cache_dir), "-p", "no:cacheprovider", "-q",
         "--rootdir", str(path.parent), "-c", os.devnull],
        cwd=path.parent, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_recorder_stores_what_the_build_would_execute(tmp_path, monkeypatch):
    from jupyter_cache.executors.utils import single_nb_execution

    monkeypatch.setenv("ICLBOOK_WIDGETS", "static")  # the build's mode (reference run)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell("# A chapter")]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in RECORDED_CELLS]
    # The stored outputs nbval compares with, and the reference: myst-nb's own execution.
    reference = single_nb_execution(copy.deepcopy(nb), cwd=str(tmp_path), timeout=120,
                                    allow_errors=False).nb
    path = tmp_path / "chapter.ipynb"
    nbformat.write(reference, path)
    cache_dir = tmp_path / "cache"
    run = _run_nbval(path, cache_dir)
    assert run.returncode == 0, run.stdout + run.se
    assert "recorded into" in run.stdout and "chapter.ipynb" in run.stdout, run.stdout

    _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(nbformat.read(path, 4))
    code = [(m, r) for m, r in zip(merged.cells, reference.cells, strict=True)
            if r.cell_type == "code"]
    for m, r in code:
        assert m.execution_count == r.execution_count
        assert _ids(json.dumps(m.outputs, sort_keys=True)) == \
            _ids(json.dumps(r.outputs, sort_keys=True)), r.source
    texts = [json.dumps(m.outputs) for m, _ in code]
    assert "'shown'" in texts[1] and "after" in texts[1]
    assert "'static'" in texts[4]  # nbval's kernel ran in the build's widget mode
    for key in ("language_info", "kernelspec"):
        assert merged.metadata[key] == reference.metadata[key], key

    def widgets(nb: nbformat.NotebookNode) -> list[str]:
        """Each widget's state, its random model ids masked (the cache sorts them)."""
        state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        return sorted(re.sub(r"[0-9a-f]{32}", "ID", json.dumps(s, sort_keys=True))
                      for s in state.values())

    assert widgets(merged) == widgets(reference)
    state = merged.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert {s["model_name"] for s in state.values()} >= {"VBoxModel", "IntSliderModel"}
    assert book_cache.stored_fingerprint(cache_dir)["env"]["ICLBOOK_WIDGETS"] == "static"

    # A planted error: a stored output that the fresh run does not reproduce. nbval fails
    # and nothing is recorded for the notebook (the build would execute it).
    wrong = nbformat.read(path, 4)
    wrong.cells[-1].source = "6 * 7  # edited"
    wrong.cells[-1].outputs[0]["data"]["text/plain"] = "41"
    nbformat.write(wrong, path)
    run = _run_nbval(path, cache_dir)
    assert run.returncode == 1, run.stdout
    assert "not recorded" in run.stdout, run.stdout
    with pytest.raises(KeyError):
        get_cache(str(cache_dir)).match_cache_notebook(wrong)
