"""Self-checks for the book's exercises (``from iclbook import check``): see
:mod:`iclbook.check.engine`."""

from .engine import *  # noqa: F403 - the checks are the package's public face
from .engine import __all__  # noqa: F401
