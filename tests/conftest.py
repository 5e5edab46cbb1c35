"""Test-wide settings: no progress bars, a non-interactive matplotlib backend; ``--book-cache``.

The backend is chosen with ``matplotlib.use`` (this process only), never through the
``MPLBACKEND`` environment variable: the nbval kernels that run the chapters in the same
pytest session inherit the environment, and with ``MPLBACKEND=Agg`` their ``plt.show()``
displays nothing, so every figure cell would differ from its stored output.
"""

import os

import matplotlib
from nbval_record import pytest_addoption, pytest_configure  # noqa: F401  (--book-cache)

os.environ.setdefault("ICLBOOK_PROGRESS", "0")
matplotlib.use("Agg")

