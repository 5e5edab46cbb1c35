"""Test-wide settings: no progress bars, a non-interactive matplotlib backend.

The backend is chosen with ``matplotlib.use`` (this process only), never through the
``MPLBACKEND`` environment variable: the nbval kernels that run the chapters in the same
pytest session inherit the environment, and with ``MPLBACKEND=Agg`` their ``plt.show()``
displays nothing, so every figure cell would differ from its stored output.
"""

import os

import matplotlib

os.environ.setdefault("ICLBOOK_PROGRESS", "0")
matplotlib.use("Agg")
