"""Generate the graded assignments (nbgrader format) and the student sources from the chapters.

Usage (from the repository root; ``scripts/make_assignments.py`` is the same command):
    python -m iclbook.course              # write assignments/ (see below)
    python -m iclbook.course --check      # exit 1 if a committed file is stale or unexpected
    python -m iclbook.course --student-sources DIR
                                          # copy the book into DIR without solutions

What it writes (an nbgrader course folder, see book/for_instructors.md):

* ``assignments/source/<part>/<part>.ipynb`` -- the instructor versions, nbgrader's *source*;
* ``assignments/handout/<part>.ipynb`` -- what ``nbgrader generate_assignment`` releases
  (solutions and hidden tests removed), without checksums, for classes without nbgrader;
* ``assignments/nbgrader_config.py`` and ``assignments/.gitignore`` (nbgrader's own folders
  ``release/``, ``submitted/``, ``autograded/``, ``feedback/`` and ``gradebook.db`` are made
  by nbgrader and never committed, so ``nbgrader generate_assignment <part>`` works on a
  fresh clone).

The exercise markup of a chapter notebook (documented in book/for_instructors.md):

* The exercise section runs from the markdown cell with the heading ``## Exercises`` to the
  end of the notebook.
* Markdown cells hold sphinx-exercise blocks: ``{exercise}`` (with ``:label: ex-...``) and,
  for a written solution, ``{solution} ex-...`` with ``:class: dropdown``.
* A solution with code is *gated*: a markdown cell opening with ``{solution-start} ex-...``
  (any prose after that block belongs to the solution), code cells, and a markdown cell
  ``{solution-end}``.  Code cells tagged ``exercise-solution`` inside it hold the answer
  between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's delimiters); other
  code cells inside it only illustrate the solution.
* A code cell tagged ``exercise-stub`` (before the solution) is the reader's starting point;
  it must equal the solution cell with the solution region stripped, as nbgrader strips it.
* A code cell tagged ``exercise-check`` (after the solution) ends with a self-check call
  ``check.xxx(answer)``; it becomes an autograder test cell ``assert check.xxx(answer)``
  followed by a hidden test (``### BEGIN HIDDEN TESTS``): the same check run by
  :func:`iclbook.check.without_reference`, which fails an answer that calls or returns
  iclbook's reference implementation.
* A code cell tagged ``exercise-setup`` holds the imports the exercises need.
* Optional cell metadata ``{"iclbook": {"points": 3}}`` on a check cell or on the exercise's
  markdown cell overrides the default points.

Parts: Setting 1 = chapters 3-6, Setting 2 = chapters 7-9.  The output is deterministic
(fixed cell ids, no timestamps), so a test can regenerate it and compare.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .nbgrader import OUT, generate, stale_files
from .student import student_sources

COMMAND = "python -m iclbook.course"

#: (assignment name, title, chapter-number range)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing")
    parser.add_argument("--out", type=Path, default=OUT, metavar="DIR",
                        help="the course folder (default: assignments/ of the repository)")
    parser.add_argument("--student-sources", type=Path, metavar="DIR",
                        help="write a solution-free copy of the book's sources to DIR")
    args = parser.parse_args(argv)
    try:
        if args.student_sources:
            student_sources(args.student_sources.resolve())
            print(f"student sources in {args.student_sources}")
            return 0
        if args.check:
            problems = stale_files(args.out)
            for line in problems:
                print(f"{line} (regenerate with `{COMMAND}`)")
            return 1 if problems else 0
        files = generate(args.out)
    except (ValueError, RuntimeError, OSError) as exc:
        print(f"{COMMAND}: error: {exc}", file=sys.stderr)
        return 1
    for p, text in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(p)
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
