"""Test-wide settings: no progress bars, a non-interactive matplotlib backend."""

import os

os.environ.setdefault("ICLBOOK_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")
