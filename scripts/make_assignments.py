"""Generate or check assignments/ and the student sources: the same as ``python -m
iclbook.course`` (the code lives in :mod:`iclbook.course.assignments`).

Usage:
    python scripts/make_assignments.py            # write assignments/
    python scripts/make_assignments.py --check    # exit 1 if a committed file is stale
    python scripts/make_assignments.py --student-sources DIR
"""

import sys

from iclbook.course.assignments import *  # noqa: F403 - the old module's names, for scripts
from iclbook.course.assignments import main

if __name__ == "__main__":
    sys.exit(main())
