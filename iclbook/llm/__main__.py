"""``python -m iclbook.llm``: see :mod:`iclbook.llm.cli`."""

import sys

from .cli import main

sys.exit(main())
