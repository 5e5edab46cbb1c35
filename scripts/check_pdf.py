"""Check the PDF edition: references resolved, every chapter title and computed numbers present.

Usage: python scripts/check_pdf.py _build/latex/iclbook.pdf   (run by scripts/build_pdf.sh)

Reads the PDF's text with ``pdftotext`` (poppler-utils) and fails (exit code 1, one line per
problem) when

- the text has an unresolved reference: ``??`` (a ``\\ref`` LaTeX could not resolve) or
  ``[?]`` (a citation), or the LaTeX log next to the PDF reports an undefined reference;
- a widget is printed as its text repr ("VBox(children=...)") instead of its default frame
  (scripts/pdf_sources.py adds the frames);
- the title of a page of the table of contents (``_toc.yml``: every chapter and back-matter
  page) is missing;
- a computed number is missing: from every chapter notebook, up to three numbers (with at
  least three significant digits) printed by its stored code outputs (the first, the middle
  and the last distinct one; wall times, which change on every execution, are skipped).

Prints the page count and what it found.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NUMBER = re.compile(r"(?<![\w.])-?\d+\.\d+(?:e[+-]?\d+)?(?![\w.])")
HIDDEN_TAGS = {"remove-output", "remove-cell", "hide-output", "hide-cell"}


def normalise(text: str) -> str:
    """NFKC (ligatures such as 'ﬁ' become 'fi'), one space for any whitespace run."""
    text = unicodedata.normalize("NFKC", text).replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


def toc_pages(root: Path = ROOT) -> list[Path]:
    """The files of every page in _toc.yml (root first), as paths with their suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]
    for part in toc.get("parts", []):
        names += [ch["file"] for ch in part.get("chapters", [])]
    pages = []
    for name in names:
        for suffix in (".ipynb", ".md"):
            if (root / f"{name}{suffix}").exists():
                pages.append(root / f"{name}{suffix}")
                break
        else:
            raise FileNotFoundError(f"_toc.yml names {name}, which has no .ipynb or .md file")
    return pages


def title(path: Path) -> str:
    """The page's first '# ' heading, with inline maths and markup reduced to plain text."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    else:
        text = path.read_text(encoding="utf-8")
    m = re.search(r"^# (.+)$", text, flags=re.M)
    if not m:
        raise ValueError(f"{path.name} has no '# ' title")
    return re.sub(r"[$*`]", "", m.group(1)).strip()


def sample_numbers(path: Path, per_chapter: int = 3) -> list[str]:
    """Up to ``per_chapter`` distinct numbers from the stored text outputs of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stdout":
                text = "".join(out["text"])
            elif out.get("output_type") in ("execute_result", "display_data") \
                    and "text/plain" in out.get("data", {}) \
                    and set(out["data"]) <= {"text/plain"}:
                text = "".join(out["data"]["text/plain"])
            else:
                continue
            for line in text.splitlines():
                # Short lines only (long ones may be wrapped in the PDF); no timings.
                if len(line) > 70 or "wall time" in line or "it/s" in line:
                    continue
                for num in NUMBER.findall(line):
                    # At least 3 significant digits: '0.5' could come from the prose.
                    if len(re.sub(r"^[-0.]+|[.e+-]", "", num)) < 3:
                        continue
                    if num not in found:
                        found.append(num)
    if len(found) <= per_chapter:
        return found
    picks = {0, len(found) // 2, len(found) - 1}
    return [found[i] for i in sorted(picks)][:per_chapter]


def pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        raise RuntimeError("pdftotext is missing (Debian: apt-get install poppler-utils)")
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout


def page_count(pdf: Path) -> int | None:
    if shutil.which("pdfinfo") is None:
        return None
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                          text=True).stdout
    m = re.search(r"^Pages:\s+(\d+)", info, flags=re.M)
    return int(m.group(1)) if m else None


def check(pdf: Path, root: Path = ROOT) -> list[str]:
    """Every problem of the PDF (empty list: the PDF passes)."""
    problems: list[str] = []
    raw = pdf_text(pdf)
    text = normalise(raw)
    n_unresolved = raw.count("??") + raw.count("[?]")
    if n_unresolved:
        at = [normalise(m.group(0)) for m in re.finditer(r".{0,30}(\?\?|\[\?\]).{0,30}", raw)]
        problems.append(f"{n_unresolved} unresolved reference(s) in the text: {at[:5]}")
    log = pdf.with_suffix(".log")
    if log.exists():
        undefined = re.findall(r"LaTeX Warning: (?:Reference|Citation) .*? undefined",
                               log.read_text(encoding="utf-8", errors="replace"))
        if undefined:
            problems.append(f"the LaTeX log reports {len(undefined)} undefined "
                            f"reference(s): {undefined[:3]}")
    reprs = len(re.findall(r"\b(?:VBox|HBox|Box|Stack|interactive)\(children=", raw))
    if reprs:
        problems.append(f"{reprs} widget(s) printed as text repr instead of their frame")
    titles = []
    for page in toc_pages(root):
        t = title(page)
        titles.append(t)
        if normalise(t) not in text:
            problems.append(f"chapter title missing: {t!r} ({page.name})")
    numbers = 0
    for page in toc_pages(root):
        if page.suffix != ".ipynb":
            continue
        for num in sample_numbers(page):
            numbers += 1
            if not re.search(rf"(?<![\w.]){re.escape(num)}(?![\w])", text):
                problems.append(f"computed number {num} of {page.name} missing")
    pages = page_count(pdf)
    print(f"{pdf}: {pages} pages, {n_unresolved} unresolved references, "
          f"{len(titles)} page titles checked, {numbers} computed numbers checked")
    for t in titles:
        print(f"  title: {t}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: check_pdf.py PDF", file=sys.stderr)
        return 2
    pdf = Path(args[0])
    if not pdf.is_file():
        print(f"check_pdf: {pdf} does not exist (build it: bash scripts/build_pdf.sh)",
              file=sys.stderr)
        return 2
    try:
        problems = check(pdf)
    except (RuntimeError, ValueError, FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"check_pdf: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"check_pdf: {p}", file=sys.stderr)
    if not problems:
        print("check_pdf: PDF ok")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
