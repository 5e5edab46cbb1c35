"""Generate or check assignments/ and the student sources: the same as ``python -m
iclbook.course`` (the command line is :mod:`iclbook.course.assignments`; the work is done by
:mod:`iclbook.course.markup`, ``markdown``, ``nbgrader`` and ``student``).

Usage:
    python scripts/make_assignments.py            # write assignments/
    python scripts/make_assignments.py --check    # exit 1 if a committed file is stale
    python scripts/make_assignments.py --student-sources DIR
"""

import sys

from iclbook.course.assignments import main

if __name__ == "__main__":
    sys.exit(main())
