"""``python -m iclbook.course``: regenerate or check ``assignments/`` (see
:mod:`iclbook.course.assignments`)."""

import sys

from .assignments import main

sys.exit(main())
