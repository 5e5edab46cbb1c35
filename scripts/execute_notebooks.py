"""Execute chapter notebooks in place so that their stored outputs are current.

Usage: python scripts/execute_notebooks.py book/05_training.ipynb [more.ipynb ...]
       python scripts/execute_notebooks.py --all

Stored outputs are what nbval compares against (strict mode), so re-run this after editing a
chapter.  Runs with progress bars off and each notebook's folder as working directory, like
the book build and the tests.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook under book/")
    args = parser.parse_args()
    os.environ["ICLBOOK_PROGRESS"] = "0"
    os.environ["PYTHONHASHSEED"] = "0"
    paths = sorted((ROOT / "book").glob("*.ipynb")) if args.all else args.notebooks
    if not paths:
        parser.error("give notebooks or --all")
    for p in paths:
        print(f"{p}: {execute(Path(p).resolve()):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
