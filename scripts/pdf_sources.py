"""Prepare the sources of the PDF edition: a copy of the book whose widgets have a printable frame.

Usage: python scripts/pdf_sources.py DEST             (run by scripts/build_pdf.sh)
       python scripts/pdf_sources.py --frames-only DEST  (DEST's notebooks were re-executed)

A widget output of a notebook holds a widget view (for a browser) and its text repr
("VBox(children=...)"); LaTeX can show neither, so the PDF would print the repr. The book's
widgets (:func:`iclbook.core.widgets.explorer`, live mode) draw their default frame into an
``Image`` widget whose PNG is in the widget state stored in the notebook's metadata. This
script copies the book's sources to DEST (without .git, .venv, _build, tests, ...) and adds
that default frame to each widget output as ``image/png``, which the LaTeX build renders; the
HTML build, which prefers the widget view, is not affected (the copy serves the PDF only).
A widget output with no Image in its state is left as it is and reported.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
IGNORE = shutil.ignore_patterns(".git", ".venv", "_build", "assignments", "__pycache__",
                                ".ipynb_checkpoints", ".jupyter_cache", "*.egg-info",
                                ".ruff_cache", ".pytest_cache", "tests", "benchmarks")


def _model_id(ref: str) -> str:
    return ref[len("IPY_MODEL_"):] if isinstance(ref, str) and ref.startswith("IPY_MODEL_") \
        else ref


def default_frame(state: dict, model_id: str) -> bytes | None:
    """The PNG bytes of the first Image widget shown by widget ``model_id`` (depth first
    through its children; a Stack shows only its selected child), or None."""
    model = state.get(model_id)
    if model is None:
        return None
    name = model.get("model_name", "")
    attrs = model.get("state", {})
    if name == "ImageModel":
        for buf in model.get("buffers", []):
            if buf.get("path") == ["value"] and buf.get("encoding", "base64") == "base64":
                return base64.b64decode(buf["data"])
        value = attrs.get("value")
        return base64.b64decode(value) if isinstance(value, str) and value else None
    children = [_model_id(c) for c in attrs.get("children", [])]
    if name == "StackModel":
        index = attrs.get("selected_index")
        children = [children[index]] if index is not None and 0 <= index < len(children) else []
    for child in children:
        png = default_frame(state, child)
        if png is not None:
            return png
    return None


def add_frames(nb: nbformat.NotebookNode) -> tuple[int, int]:
    """Add ``image/png`` (the default frame) to every widget output of ``nb``, in place.
    Returns (widget outputs, frames added)."""
    state = nb.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    seen = added = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(VIEW)
            if view is None:
                continue
            seen += 1
            png = default_frame(state, view.get("model_id", ""))
            if png is not None:
                out["data"]["image/png"] = base64.b64encode(png).decode("ascii")
                added += 1
    return seen, added


def prepare(dest: Path, root: Path = ROOT, copy: bool = True) -> int:
    """Copy the sources to ``dest`` (unless ``copy`` is false) and add the widgets' frames;
    return the number of widget outputs left without a frame."""
    if copy:
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(root, dest, ignore=IGNORE, symlinks=True)
    missing = 0
    for path in sorted((dest / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        seen, added = add_frames(nb)
        if seen:
            print(f"{path.name}: {added} of {seen} widgets get their default frame")
            nbformat.write(nb, path)
        missing += seen - added
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--frames-only", action="store_true",
                        help="do not copy: add the frames to DEST's notebooks")
    args = parser.parse_args(argv)
    dest = args.dest.resolve()
    if dest == ROOT or (ROOT in dest.parents and ROOT / "_build" not in dest.parents):
        print(f"pdf_sources: DEST must be under _build/ or outside the repository, got "
              f"{args.dest}", file=sys.stderr)
        return 2
    if args.frames_only and not (dest / "book").is_dir():
        print(f"pdf_sources: {args.dest} has no book/ folder to update", file=sys.stderr)
        return 2
    missing = prepare(dest, copy=not args.frames_only)
    if missing:
        print(f"pdf_sources: {missing} widget output(s) without an Image frame",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
