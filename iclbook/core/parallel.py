"""Train independent small models side by side, one per CPU core (chapters 9-10).

The softmax transformers of chapters 9 and 10 are small: one model's training step is a
few milliseconds of single-threaded work, and more threads do not make it faster (their
matrices are too small to share).  Independent models, however, can run at the same time
on different cores.  :func:`run_jobs` runs a list of independent jobs in worker processes,
one thread each, and returns their results in the order of the jobs.

**Determinism.**  Every job runs with one PyTorch thread and deterministic algorithms, in a
worker or (with ``workers=1``) in this process, so its result does not depend on the number
of workers, on the machine's core count or on which job ran first.  A job must draw every
random number from its own seeded generators, never from a global random state.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TypeVar

import torch

from .progress import progress_bar
from .reproducibility import progress_enabled, torch_threads
from .validation import check_positive_int

__all__ = ["available_cores", "default_workers", "run_jobs"]

T = TypeVar("T")


def available_cores() -> int:
    """The number of CPU cores this process may use (its affinity mask where known)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def default_workers(n_jobs: int) -> int:
    """Worker processes for ``n_jobs`` jobs: one per available core, at most one per job.

    The environment variable ``ICLBOOK_WORKERS`` overrides the core count (``1`` runs every
    job in this process).
    """
    n_jobs = check_positive_int("n_jobs", n_jobs)
    env = os.environ.get("ICLBOOK_WORKERS")
    if env is not None:
        try:
            cores = check_positive_int("ICLBOOK_WORKERS", int(env))
        except ValueError as err:
            raise ValueError(f"ICLBOOK_WORKERS must be a positive integer, got {env!r}") from err
    else:
        cores = available_cores()
    return min(cores, n_jobs)


def _init_worker() -> None:
    """Worker set-up: one thread, deterministic kernels, no nested progress bars."""
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    os.environ["ICLBOOK_PROGRESS"] = "0"


def _run_one(fn: Callable[..., T], args: tuple) -> T:
    with torch_threads(1):
        return fn(*args)


def run_jobs(fn: Callable[..., T], jobs: Sequence[tuple], *, workers: int | None = None,
             progress: bool | None = None, desc: str = "models",
             costs: Sequence[float] | None = None) -> list[T]:
    """``[fn(*job) for job in jobs]``, run on up to ``workers`` cores; results in job order.

    ``fn`` must be a module-level function (it is sent to the workers by reference) and its
    arguments and result must be picklable: return weights as a ``state_dict``, not the
    model.  ``workers=None`` uses :func:`default_workers`; ``workers=1`` runs the jobs one
    after another in this process.  Each job runs with one PyTorch thread in either case,
    so the results are the same for every ``workers``.  ``progress`` shows a bar over the
    finished jobs (default: :func:`iclbook.core.reproducibility.progress_enabled`).
    ``costs`` (optional, one positive number per job, e.g. its expected seconds): the workers
    take the jobs from the most to the least costly (longest first), so that a large job
    does not start last and run alone; only the order of work changes, not the results.
    """
    jobs = [tuple(job) for job in jobs]
    if not jobs:
        raise ValueError("jobs must hold at least one job")
    if costs is None:
        order = list(range(len(jobs)))
    else:
        costs = [float(c) for c in costs]
        if len(costs) != len(jobs) or not all(c > 0 and c < float("inf") for c in costs):
            raise ValueError(f"costs must hold one finite number > 0 per job ({len(jobs)}), "
                             f"got {costs}")
        order = sorted(range(len(jobs)), key=lambda i: -costs[i])  # stable: ties keep order
    workers = default_workers(len(jobs)) if workers is None else min(
        check_positive_int("workers", workers), len(jobs))
    show = progress_enabled() if progress is None else bool(progress)
    bar = progress_bar(len(jobs), desc) if show else None
    results: list[Any] = [None] * len(jobs)
    try:
        if workers == 1:
            for i in order:
                results[i] = _run_one(fn, jobs[i])
                if bar is not None:
                    bar.update(1)
            return results
        # "spawn": fresh interpreters, safe with PyTorch's thread pools (fork is not).
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                 initializer=_init_worker) as pool:
            futures = {pool.submit(_run_one, fn, jobs[i]): i for i in order}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if bar is not None:
                    bar.update(1)
        return results
    finally:
        if bar is not None:
            bar.close()

