"""Seeds and settings that make every chapter print the same numbers on every run."""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from .validation import check_positive_int

__all__ = ["setup", "progress_enabled", "deterministic_mode", "torch_threads", "BOOK_THREADS",
           "CUBLAS_WORKSPACE", "THREADS_ENV"]

#: Thread count used by the book, so that stored outputs are reproducible on any machine.
BOOK_THREADS = 2

#: Value of ``CUBLAS_WORKSPACE_CONFIG`` that makes cuBLAS deterministic (NVIDIA's docs;
#: PyTorch's deterministic mode raises on CUDA matrix products without it).
CUBLAS_WORKSPACE = ":4096:8"

_log = logging.getLogger("iclbook")
_MODE: dict[str, object] = {"mode": "not set", "reason": "setup() has not been called"}


def _cuda_deterministic_mode() -> tuple[bool, str]:
    """Choose how deterministic mode behaves on CUDA: returns ``(warn_only, reason)``.

    cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` when it creates its first handle, so the
    variable is set here when it is missing and CUDA has not been initialised yet
    (strict mode).  If CUDA was already initialised without it, PyTorch would raise at the
    first matrix product, so the warn-only mode is used instead (non-deterministic ops warn).
    """
    if not torch.cuda.is_available():
        return False, "CPU only: strict deterministic algorithms"
    current = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    if current in (CUBLAS_WORKSPACE, ":16:8"):
        return False, f"CUDA: strict, CUBLAS_WORKSPACE_CONFIG={current} already set"
    if torch.cuda.is_initialized():
        return True, ("CUDA already initialised without CUBLAS_WORKSPACE_CONFIG: warn-only "
                      "deterministic algorithms (set it before importing torch for strict "
                      "mode)")
    os.environ["CUBLAS_WORKSPACE_CONFIG"] = CUBLAS_WORKSPACE
    return False, f"CUDA: strict, set CUBLAS_WORKSPACE_CONFIG={CUBLAS_WORKSPACE} before CUDA init"


#: Environment variable that overrides :func:`setup`'s thread count (e.g. ``1``: the Binder
#: case, timed by ``benchmarks/``); a positive integer up to :data:`MAX_THREADS`.
THREADS_ENV = "ICLBOOK_THREADS"
MAX_THREADS = 1024


def _threads_from_env(threads: int | None) -> int | None:
    """``threads``, or the value of ``ICLBOOK_THREADS`` when it is set (validated)."""
    raw = os.environ.get(THREADS_ENV)
    if raw is None or raw.strip() == "":
        return threads
    try:
        value = int(raw.strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_THREADS:
        raise ValueError(f"{THREADS_ENV} must be an integer in 1..{MAX_THREADS}, got {raw!r}")
    return value


def setup(seed: int = 0, threads: int | None = BOOK_THREADS) -> None:
    """Seed Python, NumPy and PyTorch, fix the thread count and matplotlib's output.

    Call once at the top of a chapter.  ``threads=None`` leaves PyTorch's choice (faster on a
    big machine, but float rounding may then differ in the last digits).  The environment
    variable ``ICLBOOK_THREADS`` (an integer in ``1..1024``), when set, replaces ``threads``:
    ``ICLBOOK_THREADS=1`` runs a chapter on one thread, as on a Binder machine (the chapters'
    printed results are the same to their printed digits; ``benchmarks/`` times both).

    PyTorch's deterministic algorithms are switched on.  On a CUDA machine cuBLAS needs
    ``CUBLAS_WORKSPACE_CONFIG`` for that; ``setup`` sets it (``:4096:8``) when CUDA has not
    been initialised yet, and otherwise falls back to the warn-only mode (an op without a
    deterministic implementation warns instead of raising).  The choice is logged on the
    ``iclbook`` logger and returned by :func:`deterministic_mode`; nothing is printed, so
    the chapters' outputs do not change.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    threads = _threads_from_env(threads)
    if threads is not None:
        torch.set_num_threads(int(threads))
    warn_only, reason = _cuda_deterministic_mode()
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    _MODE.clear()
    _MODE.update({"mode": "warn_only" if warn_only else "strict", "reason": reason,
                  "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG")})
    _log.info("iclbook.setup: deterministic algorithms %s (%s)", _MODE["mode"], reason)
    import matplotlib as mpl

    mpl.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "figure.figsize": (6.4, 4.0),
        "svg.hashsalt": "iclbook",
        "axes.grid": True,
        "grid.alpha": 0.3,
    })


def deterministic_mode() -> dict[str, object]:
    """What the last :func:`setup` chose: ``mode`` (``"strict"``, ``"warn_only"`` or
    ``"not set"``), ``reason`` and the ``CUBLAS_WORKSPACE_CONFIG`` it left."""
    return dict(_MODE)


def progress_enabled() -> bool:
    """Progress bars are on unless the environment sets ``ICLBOOK_PROGRESS=0``.

    The book build and the notebook tests switch them off: a static page has no use for a
    progress bar, and its timings would make outputs differ between runs.
    """
    return os.environ.get("ICLBOOK_PROGRESS", "1") not in ("0", "false", "no")


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``torch.set_num_threads(threads)``, then restore the previous count.

    Small models run much faster on one thread: their matrices are too small to share, and
    on a busy machine extra threads wait for each other (measured: a 1-layer width-8 model
    took 11 ms per training step on one thread, 570 ms on two, with other jobs running).
    ``None`` leaves the count unchanged.
    """
    if threads is None:
        yield
        return
    threads = check_positive_int("threads", threads)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
