"""Rewrite old ``iclbook`` import paths and names to the 0.2.0 layout (issue 15).

Idempotent: running it twice changes nothing the second time.  It rewrites

- chapter and assignment notebooks (``book/*.ipynb``, ``assignments/**/*.ipynb``): imports and
  names in code cells, dotted ``iclbook.*`` paths in Markdown cells (prose and
  ``{func}``/``{mod}`` roles); outputs and metadata are untouched, and the JSON is written
  back as nbformat writes it (indent 1, ``ensure_ascii=False``, trailing newline), so
  ``git diff`` shows only source lines;
- Python and Markdown files given on the command line (or, with ``--all``, every tracked-style
  ``*.py``/``*.md`` under ``iclbook/``, ``tests/``, ``scripts/``, ``benchmarks/``, ``book/``
  and the top-level docs);
- the release tag ``v0.1.0`` in every chapter's set-up cell (``--tag``, default the package
  version).

Usage::

    python scripts/migrate_imports.py            # notebooks only
    python scripts/migrate_imports.py --all      # notebooks, *.py and *.md
    python scripts/migrate_imports.py --check    # exit 1 if anything would change
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Old module -> new module (0.1.x -> 0.2.0).
MODULES: dict[str, str] = {
    "iclbook.validation": "iclbook.core.validation",
    "iclbook.reproducibility": "iclbook.core.reproducibility",
    "iclbook.progress": "iclbook.core.progress",
    "iclbook.training": "iclbook.core.engine",
    "iclbook.parallel": "iclbook.core.parallel",
    "iclbook.widgets": "iclbook.core.widgets",
    "iclbook.linear_theory": "iclbook.linear.theory",
    "iclbook.noise_theory": "iclbook.linear.noise",
    "iclbook.linear_symbolic": "iclbook.linear.symbolic",
    "iclbook.linear_data": "iclbook.linear.data",
    "iclbook.linear_models": "iclbook.linear.models",
    "iclbook.lsa": "iclbook.linear.lsa",
    "iclbook.linear_training": "iclbook.linear.training",
    "iclbook.monte_carlo": "iclbook.linear.monte_carlo",
    "iclbook.parity_theory": "iclbook.parity.theory",
    "iclbook.parity_symbolic": "iclbook.parity.symbolic",
    "iclbook.parity_data": "iclbook.parity.data",
    "iclbook.parity_models": "iclbook.parity.models",
    "iclbook.parity_training": "iclbook.parity.training",
    "iclbook.softmax_transformer": "iclbook.softmax.transformer",
    "iclbook.icl_classification": "iclbook.softmax.classification",
}

# (new module, name) -> (home module, new name): names that left the module they moved with,
# or were renamed.  Keys use the NEW module path (applied after MODULES).
NAMES: dict[tuple[str, str], tuple[str, str]] = {
    ("iclbook.linear.monte_carlo", "MonteCarloEstimate"): ("iclbook.core.stats",
                                                           "MonteCarloEstimate"),
    ("iclbook.linear.monte_carlo", "mean_with_stderr"): ("iclbook.core.stats", "mean_with_se"),
    ("iclbook.parity.theory", "check_importance"): ("iclbook.core.validation",
                                                    "check_importance"),
    ("iclbook.parity.theory", "check_hidden_dim"): ("iclbook.core.validation",
                                                    "check_hidden_dim"),
    ("iclbook.parity.training", "monte_carlo_parity"): ("iclbook.parity.monte_carlo",
                                                        "monte_carlo_parity"),
    ("iclbook.parity.training", "sign_correct"): ("iclbook.parity.monte_carlo", "sign_correct"),
    ("iclbook.parity.training", "ParityEvaluation"): ("iclbook.parity.monte_carlo",
                                                      "ParityEvaluation"),
    ("iclbook.parity.training", "evaluate_predictor"): ("iclbook.parity.monte_carlo",
                                                        "evaluate_predictor"),
    ("iclbook.parity.training", "SoftmaxParityResult"): ("iclbook.softmax.training",
                                                         "SoftmaxParityResult"),
    ("iclbook.parity.training", "train_softmax_parity"): ("iclbook.softmax.training",
                                                          "train_softmax_parity"),
    ("iclbook.softmax.transformer", "torch_threads"): ("iclbook.core.reproducibility",
                                                       "torch_threads"),
}

# Attribute / name renames applied to code (whole words): one convention for standard errors
# (``se``, ``<quantity>_se``) and errors (``matrix_error``), see CONTRIBUTING.md.
RENAMES: dict[str, str] = {
    "mean_with_stderr": "mean_with_se",
    "heldout_stderr": "heldout_se",
    "loss_stderr": "loss_se",
    "accuracy_stderr": "accuracy_se",
    "A_error": "matrix_error",
}
# ``estimate.stderr`` (MonteCarloEstimate) -> ``estimate.se``; a subprocess result's or
# ``sys.stderr`` is left alone.
_STDERR_ATTR = re.compile(r"(?<!\bsys)(?<!\bproc)(?<!\bprocess)(?<!\bcompleted)(?<!jupyter)"
                          r"(?<=[\w\])])\.stderr\b(?![\w\"'-])")

OLD_TAG = "v0.1.0"

# Files that name old paths on purpose: this script, and the test that plants them.
_KEEP = {"migrate_imports.py", "test_import_paths.py"}


def _new_module(mod: str) -> str:
    return MODULES.get(mod, mod)


_FROM = re.compile(r"^(?P<indent>[ \t]*)from[ \t]+(?P<mod>iclbook(?:\.\w+)*)[ \t]+import[ \t]+"
                   r"(?P<names>\([^)]*\)|[^\n]*)", re.M)


def _split_names(text: str) -> tuple[list[tuple[str, str | None]], bool, str]:
    """Parse an import list; return ``[(name, alias)]``, parenthesised?, trailing comment."""
    paren = text.startswith("(")
    comment = ""
    if paren:
        body = text[1:-1]
    else:
        body, _, comment = text.partition("#")
        comment = ("  #" + comment.rstrip()) if _ else ""
        body = body.rstrip()
    items = []
    for part in re.sub(r"#[^\n]*", "", body).replace("\n", " ").split(","):
        part = part.strip()
        if not part:
            continue
        name, _, alias = part.partition(" as ")
        items.append((name.strip(), alias.strip() or None))
    return items, paren, comment


def _fmt(indent: str, mod: str, items: list[tuple[str, str | None]], paren: bool,
         comment: str) -> str:
    names = [f"{n} as {a}" if a and a != n else n for n, a in items]
    if paren:
        body = "".join(f"{indent}    {n},\n" for n in names)
        return f"{indent}from {mod} import (\n{body}{indent})"
    return f"{indent}from {mod} import {', '.join(names)}{comment}"


def _rewrite_from(m: re.Match[str]) -> str:
    indent, mod, text = m["indent"], m["mod"], m["names"]
    items, paren, comment = _split_names(text)
    groups: dict[str, list[tuple[str, str | None]]] = {}
    changed = False
    for name, alias in items:
        if mod == "iclbook" and f"iclbook.{name}" in MODULES:
            # ``from iclbook import linear_theory as lt``
            # -> ``from iclbook.linear import theory as lt``
            full = MODULES[f"iclbook.{name}"]
            parent, _, leaf = full.rpartition(".")
            groups.setdefault(parent, []).append((leaf, alias or name))
            changed = True
            continue
        new_mod = _new_module(mod)
        home, new_name = NAMES.get((new_mod, name), (new_mod, name))
        if new_name != name and alias is None:
            alias = None  # the binding changes name with the function: callers are renamed too
        changed |= home != mod or new_name != name
        groups.setdefault(home, []).append((new_name, alias))
    if not changed:
        return m.group(0)
    lines = []
    for home, its in groups.items():
        line = _fmt(indent, home, its, False, comment)
        wrap = (paren or len(line) > 100) and len(its) > 1
        lines.append(_fmt(indent, home, its, True, comment) if wrap else line)
    return "\n".join(lines)


_DOTTED = re.compile(r"\biclbook(?:\.\w+)+")


def _rewrite_dotted(m: re.Match[str]) -> str:
    text = m.group(0)
    # longest old-module prefix
    parts = text.split(".")
    for k in range(len(parts), 1, -1):
        head = ".".join(parts[:k])
        if head in MODULES:
            rest = parts[k:]
            new = MODULES[head]
            if rest and (new, rest[0]) in NAMES:
                home, name = NAMES[(new, rest[0])]
                return ".".join([home, name, *rest[1:]])
            return ".".join([new, *rest])
    # already-new module with a moved name
    for k in range(len(parts) - 1, 1, -1):
        head = ".".join(parts[:k])
        if (head, parts[k]) in NAMES:
            home, name = NAMES[(head, parts[k])]
            return ".".join([home, name, *parts[k + 1:]])
    return text


def rewrite_code(src: str, tag: str | None = None) -> str:
    """Rewrite one piece of Python source (a cell or a file)."""
    out = _FROM.sub(_rewrite_from, src)
    out = re.sub(r"^(?P<i>[ \t]*)import[ \t]+(?P<m>iclbook(?:\.\w+)+)(?P<rest>[^\n]*)",
                 lambda m: f"{m['i']}import {_rewrite_dotted_text(m['m'])}{m['rest']}",
                 out, flags=re.M)
    out = _DOTTED.sub(_rewrite_dotted, out)
    for old, new in RENAMES.items():
        out = re.sub(rf"\b{re.escape(old)}\b", new, out)
    out = _STDERR_ATTR.sub(".se", out)
    if tag is not None and tag != OLD_TAG:
        out = out.replace(f"/{OLD_TAG}/requirements-lock.txt", f"/{tag}/requirements-lock.txt")
        out = out.replace(f"iclbook@{OLD_TAG}\"", f"iclbook@{tag}\"")
    return out


def _rewrite_dotted_text(text: str) -> str:
    return _DOTTED.sub(_rewrite_dotted, text)


def rewrite_prose(src: str) -> str:
    """Rewrite dotted ``iclbook.*`` paths in prose (Markdown, docstrings)."""
    return _DOTTED.sub(_rewrite_dotted, src)


def _dump_notebook(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _set_source(cell: dict, text: str) -> None:
    lines = text.splitlines(keepends=True)
    cell["source"] = lines if isinstance(cell["source"], list) else text


def migrate_notebook(path: Path, tag: str | None, write: bool) -> bool:
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    changed = False
    for cell in nb.get("cells", []):
        if cell.get("cell_type") not in ("code", "markdown"):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        new = rewrite_code(src, tag) if cell["cell_type"] == "code" else rewrite_prose(src)
        if new != src:
            _set_source(cell, new)
            changed = True
    if changed and write:
        out = _dump_notebook(nb)
        path.write_text(out, encoding="utf-8")
    return changed


def migrate_text(path: Path, write: bool) -> bool:
    src = path.read_text(encoding="utf-8")
    new = rewrite_code(src) if path.suffix == ".py" else rewrite_prose(src)
    if new != src and write:
        path.write_text(new, encoding="utf-8")
    return new != src


def _sort_imports(paths: list[Path]) -> None:
    """Re-sort the rewritten imports with ruff (isort rules; it keeps notebook JSON as is)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        print("ruff not found: imports left unsorted (run `ruff check --fix --select I`)")
        return
    subprocess.run([ruff, "check", "--fix", "--select", "I", "--quiet",
                    *map(str, paths)], cwd=ROOT, check=False)


def _package_version() -> str:
    text = (ROOT / "iclbook" / "__init__.py").read_text(encoding="utf-8")
    return "v" + re.search(r'__version__ = "([^"]+)"', text).group(1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, help="extra .py/.md/.ipynb files")
    ap.add_argument("--all", action="store_true", help="also every *.py and *.md of the repo")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    ap.add_argument("--tag", default=None, help="release tag for the set-up cells "
                    "(default: v + iclbook.__version__)")
    args = ap.parse_args(argv)
    tag = args.tag or _package_version()
    write = not args.check
    notebooks = sorted(ROOT.glob("book/*.ipynb")) + sorted(ROOT.glob("assignments/**/*.ipynb"))
    texts: list[Path] = []
    if args.all:
        for folder in ("iclbook", "tests", "scripts", "benchmarks", "book", "binder"):
            texts += sorted(p for p in (ROOT / folder).rglob("*")
                            if p.suffix in (".py", ".md") and ".venv" not in p.parts
                            and "_build" not in p.parts and p.name not in _KEEP)
        texts += [ROOT / n for n in ("README.md", "CONTRIBUTING.md") if (ROOT / n).exists()]
    for f in args.files:
        (notebooks if f.suffix == ".ipynb" else texts).append(f.resolve())
    changed = [p for p in notebooks if migrate_notebook(p, tag, write)]
    changed += [p for p in texts if migrate_text(p, write)]
    if write and changed:
        _sort_imports([p for p in changed if p.suffix in (".py", ".ipynb")])
    for p in changed:
        print(("stale: " if args.check else "rewrote: ") + str(p.relative_to(ROOT)))
    return 1 if (args.check and changed) else 0


if __name__ == "__main__":
    sys.exit(main())
