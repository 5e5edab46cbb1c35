"""Insert, after each theorem of the chapters, a collapsed listing of the function that
implements it, included from its single source (``{literalinclude}`` with ``:pyobject:``).

Markdown cells only: the listing is a new markdown cell right after the cell holding the
theorem's ``{prf:...}`` block, marked with cell metadata ``{"iclbook": {"listing": label}}``;
code cells and outputs are never touched.  Idempotent: a run replaces the marked cells it
made before (and removes those whose theorem has no listing any more).  The JSON is written
as nbformat writes it (indent 1, ``ensure_ascii=False``, trailing newline).

Usage::

    python scripts/insert_listings.py            # insert / refresh in book/*.ipynb
    python scripts/insert_listings.py --check    # exit 1 if a chapter is not up to date
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: theorem label -> (file under iclbook/, function that implements it)
LISTINGS: dict[str, tuple[str, str]] = {
    "lem-reduced-predictor": ("linear/lsa.py", "reduced_predict"),
    "lem-odd-part": ("linear/lsa.py", "effective_matrix"),
    "lem-gd-step": ("linear/lsa.py", "preconditioned_gd_step"),
    "thm-full-rank-optimum": ("linear/theory.py", "preconditioner"),
    "lem-fourth-moment": ("linear/symbolic.py", "fourth_moment_matrix"),
    "lem-per-direction": ("linear/symbolic.py", "per_direction_quadratic"),
    "thm-rank-r": ("linear/theory.py", "optimal_loss"),
    "thm-noisy-context": ("linear/theory.py", "noisy_risk"),
    "cor-feature-helps": ("linear/noise.py", "critical_label_noise"),
    "cor-distraction": ("linear/noise.py", "distraction_cost"),
    "thm-matched-noise": ("linear/noise.py", "matched_optimal_loss"),
    "lem-parity-kernel": ("parity/models.py", "kernel_matrix"),
    "thm-parity-optimum": ("parity/theory.py", "optimal_loss"),
    "thm-parity-noise": ("parity/theory.py", "noisy_loss"),
    "prop-parity-accuracy": ("parity/theory.py", "sign_accuracy"),
}

_THEOREM = re.compile(r"\{prf:(?:theorem|lemma|proposition|corollary)\}[^\n]*\n"
                      r"(?::[a-z-]+:[^\n]*\n)*?:label: *(?P<label>\S+)")


def listing_source(label: str) -> str:
    """The markdown of the listing cell of ``label``."""
    path, func = LISTINGS[label]
    module = "iclbook." + path.removesuffix(".py").replace("/", ".")
    return (f"::::{{admonition}} The code: `{module}.{func}`\n"
            ":class: dropdown\n"
            f"The function the book calls for this result, shown from its source:\n\n"
            f"```{{literalinclude}} ../iclbook/{path}\n"
            f":pyobject: {func}\n"
            ":language: python\n"
            "```\n"
            "::::")


def missing_objects() -> list[str]:
    """Table entries whose file or function does not exist (the table must follow renames)."""
    out = []
    for label, (path, func) in LISTINGS.items():
        file = ROOT / "iclbook" / path
        if not file.is_file():
            out.append(f"{label}: no file iclbook/{path}")
            continue
        names = {n.name for n in ast.parse(file.read_text(encoding="utf-8")).body
                 if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        if func not in names:
            out.append(f"{label}: iclbook/{path} defines no {func}")
    return out


def _marked(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("iclbook", {}).get("listing")


def with_listings(nb: dict) -> dict:
    """``nb`` with exactly one up-to-date listing cell after each listed theorem."""
    cells = [c for c in nb["cells"] if _marked(c) is None]
    out = []
    for cell in cells:
        out.append(cell)
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for m in _THEOREM.finditer(text):
            label = m["label"]
            if label in LISTINGS:
                src = listing_source(label)
                out.append({"cell_type": "markdown",
                            "id": f"listing-{label}"[:64],
                            "metadata": {"iclbook": {"listing": label}},
                            "source": src.splitlines(keepends=True)})
    return {**nb, "cells": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if stale")
    args = ap.parse_args(argv)
    bad = missing_objects()
    if bad:
        print("\n".join(bad), file=sys.stderr)
        return 1
    stale = []
    for path in sorted(ROOT.glob("book/*.ipynb")):
        raw = path.read_text(encoding="utf-8")
        nb = json.loads(raw)
        new = json.dumps(with_listings(nb), indent=1, ensure_ascii=False) + "\n"
        if new != raw:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    for p in stale:
        print(("stale: " if args.check else "rewrote: ") + str(p.relative_to(ROOT)))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
