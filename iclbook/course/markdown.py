"""MyST to plain Jupyter markdown, for notebooks read outside the book: citations become
references, proof and exercise directives become headings."""

from __future__ import annotations

import re

import nbformat

from .markup import BOOK, chapter_number, directive_blocks


def bib_entries() -> dict[str, str]:
    """``key -> "Author et al. (year)"`` from book/references.bib (a small reader)."""
    text = (BOOK / "references.bib").read_text(encoding="utf-8")
    out = {}
    for m in re.finditer(r"@\w+\{([^,]+),(.*?)\n\}", text, flags=re.S):
        key, fields = m[1].strip(), m[2]
        author = re.search(r"author\s*=\s*\{(.*?)\},?\s*\n", fields, flags=re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", fields)
        names = [a.strip() for a in (author[1] if author else key).split(" and ")]
        last = names[0].split(",")[0].strip().replace("{", "").replace("}", "")
        last = re.sub(r"\\[^a-zA-Z]?", "", last)
        who = last + (" et al." if len(names) > 2 else f" and {names[1].split(',')[0]}"
                      if len(names) == 2 else "")
        out[key] = f"{who} ({year[1] if year else 'n.d.'})"
    return out


def proof_titles() -> dict[str, str]:
    """``label -> "Lemma (title)"`` for every sphinx-proof directive of the book."""
    out = {}
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "markdown":
                continue
            for b in directive_blocks(cell.source):
                if b.name.startswith("prf:") and "label" in b.options:
                    kind = b.name[4:].capitalize()
                    title = f" ({b.arg})" if b.arg else ""
                    out[b.options["label"]] = f"{kind}{title} of chapter {chapter_number(path)}"
    return out


def plain_markdown(text: str, bib: dict[str, str], proofs: dict[str, str]) -> str:
    """Replace MyST roles by readable text, for notebooks opened outside the book."""
    def cite(m: re.Match) -> str:
        keys = [k.strip() for k in m["arg"].split(",")]
        refs = [bib.get(k, k) for k in keys]
        if m["role"] == "cite:t":
            return "; ".join(refs)
        return "(" + "; ".join(r.replace(" (", ", ").rstrip(")") for r in refs) + ")"

    def ref(m: re.Match) -> str:
        arg = m["arg"]
        inner = re.match(r"(.*?)\s*<(.+)>$", arg)
        if inner:
            return inner[1]
        if m["role"] == "prf:ref":
            return proofs.get(arg, arg)
        return {"fidelity": "the book's “Notes on fidelity”"}.get(arg, arg)

    text = re.sub(r"\{(?P<role>cite(?::[tp])?)\}`(?P<arg>[^`]+)`", cite, text)
    text = re.sub(r"\{(?P<role>prf:ref|ref|numref|doc|eq|term)\}`(?P<arg>[^`]+)`", ref, text)
    return text
