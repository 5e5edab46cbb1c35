"""Every ``iclbook`` import and attribute path that a chapter, an assignment, a script or a
benchmark names resolves in the package as it is now (issue 15: no notebook may import a path
that no longer exists).

The code is parsed, not run: ``from iclbook.x import a`` must import ``iclbook.x`` and find
``a``; ``iclbook.x.y`` (an attribute path) must resolve step by step; and where a module is
bound to a name (``from iclbook import check``, ``... import classification as ic``), every
``check.f`` / ``ic.f`` used in the same file must exist.
"""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _code_of(path: Path) -> str:
    """The Python code of a file: a script, or a notebook's code cells (magics dropped)."""
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        src = "\n".join(re.sub(r"^(\s*)[%!].*", r"\1pass", ln) for ln in src.splitlines())
        out.append(src)
    return "\n\n".join(out)


def _resolve(path: str) -> str | None:
    """``None`` when the dotted ``path`` (``iclbook.a.b``) resolves, else what is missing."""
    parts = path.split(".")
    obj = None
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        rest = parts[k:]
        break
    else:  # pragma: no cover - iclbook itself imports
        return f"{path}: no module"
    for i, name in enumerate(rest):
        if not hasattr(obj, name):
            done = ".".join(parts[:len(parts) - len(rest) + i])
            return f"{path}: {done} has no attribute {name!r}"
        obj = getattr(obj, name)
    return None


def unresolved(code: str) -> list[str]:
    """The ``iclbook`` references of ``code`` that do not resolve (empty: all fine)."""
    tree = ast.parse(code)
    refs: set[str] = set()
    module_aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] == "iclbook":
            for a in node.names:
                if a.name == "*":
                    refs.add(node.module)
                    continue
                full = f"{node.module}.{a.name}"
                refs.add(full)
                module_aliases[a.asname or a.name] = full
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "iclbook":
                    refs.add(a.name)
                    if a.asname:
                        module_aliases[a.asname] = a.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and re.fullmatch(r"iclbook(?:\.[A-Za-z_]\w*)+", node.value):
            refs.add(node.value)  # a monkeypatch target, an importlib name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = []
            cur: ast.expr = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name):
                base = "iclbook" if cur.id == "iclbook" else module_aliases.get(cur.id)
                if base is None:
                    continue
                # only the module part of the chain: stop at the first non-module object
                refs.add(".".join([base, *reversed(chain)]))
    return sorted({err for ref in refs if (err := _resolve_prefix(ref))})


def _resolve_prefix(ref: str) -> str | None:
    """Resolve ``ref`` as far as it names modules and their attributes; an attribute of a
    *value* (``result.rows``, ``iclbook.__version__.split``) is not the package's concern."""
    parts = ref.split(".")
    for k in range(2, len(parts) + 1):
        head = ".".join(parts[:k])
        err = _resolve(head)
        if err:
            return err
        obj = _object(head)
        if not _is_namespace(obj):
            return None
    return None


def _object(path: str) -> object:
    parts = path.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ModuleNotFoundError:
            continue
        for name in parts[k:]:
            obj = getattr(obj, name)
        return obj
    raise AssertionError(path)  # pragma: no cover


def _is_namespace(obj: object) -> bool:
    """Modules and classes: their attributes are part of the package's API."""
    return type(obj).__name__ == "module" or isinstance(obj, type)


FILES = sorted(
    [*ROOT.glob("book/*.ipynb"), *ROOT.glob("assignments/**/*.ipynb"),
     *ROOT.glob("scripts/*.py"), *ROOT.glob("benchmarks/*.py")],
    key=lambda p: str(p))
# the migration script names the old paths on purpose
FILES = [p for p in FILES if p.name != "migrate_imports.py"]


def test_there_is_something_to_scan() -> None:
    names = {p.name for p in FILES}
    assert {"05_training.ipynb", "10_llm_experiments.ipynb", "setting1.ipynb",
            "make_assignments.py"} <= names
    # the set-up cell of every chapter names iclbook: the scanner sees notebook code
    assert all("iclbook" in _code_of(p) for p in ROOT.glob("book/*.ipynb")
               if p.name[:2].isdigit())


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_iclbook_path_resolves(path: Path) -> None:
    assert unresolved(_code_of(path)) == []


@pytest.mark.parametrize("planted, missing", [
    ("from iclbook.linear_theory import optimal_loss", "iclbook.linear_theory"),
    ("from iclbook.linear.theory import no_such_function", "no_such_function"),
    ("from iclbook import monte_carlo", "monte_carlo"),
    ("import iclbook\niclbook.parity_training.monte_carlo_parity", "parity_training"),
    ("from iclbook.softmax import classification as ic\nic.run_demo_typo()", "run_demo_typo"),
    ("from iclbook import check\ncheck.no_such_check(1)", "no_such_check"),
    ("monkeypatch.setattr('iclbook.parity.training.sign_correct', f)", "sign_correct"),
])
def test_a_planted_bad_path_is_reported(planted: str, missing: str) -> None:
    problems = unresolved(planted)
    assert len(problems) == 1 and missing in problems[0], problems


def test_good_paths_and_value_attributes_pass() -> None:
    code = ("import iclbook\nfrom iclbook import check\n"
            "from iclbook.linear.theory import optimal_loss\n"
            "from iclbook.softmax import classification as ic\n"
            "iclbook.setup(seed=0)\nres = ic.run_demo\ncheck.noisy_risk(optimal_loss)\n"
            "v = iclbook.__version__.split('.')\n"
            "x = iclbook.core.stats.MonteCarloEstimate.agrees_with\n")
    assert unresolved(code) == []


# ------------------------------------------------------------------ the package's own layering

PACKAGE = ROOT / "iclbook"


def _package_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(absolute module, imported names)`` of every ``from ... import`` in a package file."""
    mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    if path.name == "__init__.py":
        pkg = mod.removesuffix(".__init__")
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith(
                "iclbook")):
            base = pkg.split(".")
            if node.level:
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((target, [a.name for a in node.names]))
    return out


def private_imports(files: list[Path]) -> list[str]:
    """``file: module._name`` for every private name imported from another module."""
    return [f"{p.relative_to(ROOT)}: {target}.{name}" for p in files
            for target, names in _package_imports(p) for name in names
            if name.startswith("_") and name != "__version__" and not name.startswith("__")]


def test_no_private_name_is_imported_across_modules() -> None:
    assert private_imports(sorted(PACKAGE.rglob("*.py"))) == []


def test_a_planted_private_import_is_reported(tmp_path: Path) -> None:
    planted = PACKAGE / "linear" / "_planted_for_test.py"
    planted.write_text("from .theory import _hidden\n", encoding="utf-8")
    try:
        assert private_imports([planted]) == [
            "iclbook/linear/_planted_for_test.py: iclbook.linear.theory._hidden"]
    finally:
        planted.unlink()


def test_core_imports_no_part_of_the_book() -> None:
    parts = ("iclbook.linear", "iclbook.parity", "iclbook.softmax", "iclbook.check",
             "iclbook.plots", "iclbook.llm", "iclbook.course")
    upward = [f"{p.name}: {t}" for p in sorted((PACKAGE / "core").glob("*.py"))
              for t, _ in _package_imports(p) if t.startswith(parts)]
    assert upward == []
