"""Seeds and settings that make every chapter print the same numbers on every run."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["setup", "progress_enabled", "BOOK_THREADS"]

#: Thread count used by the book, so that stored outputs are reproducible on any machine.
BOOK_THREADS = 2


def setup(seed: int = 0, threads: int | None = BOOK_THREADS) -> None:
    """Seed Python, NumPy and PyTorch, fix the thread count and matplotlib's output.

    Call once at the top of a chapter.  ``threads=None`` leaves PyTorch's choice (faster on a
    big machine, but float rounding may then differ in the last digits).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(int(threads))
    torch.use_deterministic_algorithms(True)
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.4, 4.0),
        "svg.hashsalt": "iclbook",
        "axes.grid": True,
        "grid.alpha": 0.3,
    })


def progress_enabled() -> bool:
    """Progress bars are on unless the environment sets ``ICLBOOK_PROGRESS=0``.

    The book build and the notebook tests switch them off: a static page has no use for a
    progress bar, and its timings would make outputs differ between runs.
    """
    return os.environ.get("ICLBOOK_PROGRESS", "1") not in ("0", "false", "no")
