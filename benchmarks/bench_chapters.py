"""Time every chapter as the book build executes it, and the build itself, cold and warm.

Each chapter is executed the way myst-nb executes it during ``scripts/build_book.sh``:
jupyter-cache's ``single_nb_execution`` (nbclient, the chapter's folder as working directory,
the build's 600 s cell timeout) in the build's environment (``ICLBOOK_WIDGETS=static``,
``ICLBOOK_PROGRESS=0``, ``PYTHONHASHSEED=0``, no ``MPLBACKEND``), once with the default
threads and once as on Binder: ``ICLBOOK_THREADS=1 ICLBOOK_WORKERS=1`` (where the package does
not read ``ICLBOOK_THREADS`` yet, ``OMP_NUM_THREADS=1`` instead, and the output says so).
Budgets (issue 14): a chapter in at most 20 s with the default threads on 2 cores and 40 s
with one thread; the book in 120 s from an empty cache, 30 s when nothing changed.

The build rows run ``bash scripts/build_book.sh``: cold with ``_build/html``,
``_build/.doctrees`` and the execution cache removed, then warm (nothing changed).  They
replace your ``_build/html``.

Usage::

    python benchmarks/bench_chapters.py                      # everything (about 15 min)
    python benchmarks/bench_chapters.py --chapters 05 06     # chapters whose name starts so
    python benchmarks/bench_chapters.py --skip-build --skip-one-thread
    python benchmarks/bench_chapters.py --out benchmarks/results-chapters-2core-cpu.txt

Run it on an idle machine (``flock /tmp/iclbook-cpu.lock ...`` where the CPU is shared).
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BUDGET_DEFAULT_S = 20.0
BUDGET_ONE_THREAD_S = 40.0
BUDGET_BUILD_COLD_S = 120.0
BUDGET_BUILD_WARM_S = 30.0
#: The build's environment (scripts/build_book.sh and scripts/_env.sh).
BUILD_ENV = {"ICLBOOK_WIDGETS": "static", "ICLBOOK_PROGRESS": "0", "PYTHONHASHSEED": "0"}


def one_thread_env() -> tuple[dict[str, str], str]:
    """The Binder case's variables, and how they were obtained."""
    reads_threads = any("ICLBOOK_THREADS" in p.read_text(encoding="utf-8")
                        for p in (ROOT / "iclbook").rglob("*.py"))
    if reads_threads:
        return {"ICLBOOK_THREADS": "1", "ICLBOOK_WORKERS": "1"}, "ICLBOOK_THREADS=1 " \
            "ICLBOOK_WORKERS=1"
    return ({"ICLBOOK_WORKERS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            "ICLBOOK_WORKERS=1 OMP_NUM_THREADS=1 (this checkout's iclbook does not read "
            "ICLBOOK_THREADS; iclbook.setup's own thread count still applies)")


def execute(path: Path, extra_env: dict[str, str]) -> tuple[float, str | None]:
    """Execute one chapter as myst-nb does; (seconds, error or None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    saved = dict(os.environ)
    os.environ.update({**BUILD_ENV, **extra_env})
    os.environ.pop("MPLBACKEND", None)
    try:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        result = single_nb_execution(copy.deepcopy(nb), cwd=str(path.parent), timeout=600,
                                     allow_errors=False)
        seconds = time.perf_counter() - start
    finally:
        os.environ.clear()
        os.environ.update(saved)
    err = None if result.err is None else f"{type(result.err).__name__}"
    return seconds, err


def build(cold: bool) -> tuple[float, int]:
    """Run scripts/build_book.sh (cold: empty cache, no previous HTML); (seconds, exit code)."""
    if cold:
        for sub in ("html", ".doctrees", ".jupyter_cache"):
            shutil.rmtree(ROOT / "_build" / sub, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    start = time.perf_counter()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "build_book.sh")], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode:
        print(proc.stdout[-3000:], file=sys.stderr)
    return seconds, proc.returncode


def verdict(seconds: float | None, budget: float, err: str | None = None) -> str:
    if err:
        return f"FAIL ({err})"
    if seconds is None:
        return "-"
    return "pass" if seconds <= budget else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapters", nargs="*", default=None, metavar="PREFIX",
                        help="chapters whose file name starts with one of these (default all)")
    parser.add_argument("--skip-one-thread", action="store_true",
                        help="only the default-thread run of each chapter")
    parser.add_argument("--skip-build", action="store_true", help="no build rows")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the table to this file")
    args = parser.parse_args(argv)

    chapters = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
    if args.chapters is not None:
        chapters = [p for p in chapters if any(p.name.startswith(c) for c in args.chapters)]
        if not chapters:
            parser.error(f"--chapters {' '.join(args.chapters)} matches no chapter in book/")
    one_env, one_how = one_thread_env()

    lines = [
        "Chapters executed as the book build executes them (nbclient via jupyter-cache, "
        "ICLBOOK_WIDGETS=static, ICLBOOK_PROGRESS=0, PYTHONHASHSEED=0)",
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, Python "
        f"{platform.python_version()}; 1-thread run: {one_how}",
        f"command: python benchmarks/bench_chapters.py "
        f"{' '.join(sys.argv[1:] if argv is None else argv)}".rstrip(),
        "",
        f"{'chapter':28s} {'default s':>9s} {'budget':>6s} {'':4s}  {'1-thread s':>10s} "
        f"{'budget':>6s} {'':4s}",
    ]
    print("\n".join(lines), flush=True)
    failures = 0
    for path in chapters:
        t2, err2 = execute(path, {})
        t1, err1 = (None, None) if args.skip_one_thread else execute(path, one_env)
        v2, v1 = verdict(t2, BUDGET_DEFAULT_S, err2), verdict(t1, BUDGET_ONE_THREAD_S, err1)
        failures += v2 != "pass" or v1 not in ("pass", "-")
        one = "-" if t1 is None else f"{t1:.1f}"
        line = (f"{path.stem:28s} {t2:9.1f} {BUDGET_DEFAULT_S:6.0f} {v2:4s}  {one:>10s} "
                f"{BUDGET_ONE_THREAD_S:6.0f} {v1:4s}")
        lines.append(line)
        print(line, flush=True)
    if not args.skip_build:
        lines.append("")
        for cold in (True, False):
            seconds, rc = build(cold)
            budget = BUDGET_BUILD_COLD_S if cold else BUDGET_BUILD_WARM_S
            v = verdict(seconds, budget, f"exit {rc}" if rc else None)
            failures += v != "pass"
            what = "book build, cold (empty cache)" if cold else "book build, warm (no change)"
            lines.append(f"{what:38s} {seconds:7.1f} s  budget {budget:.0f} s  {v}")
            print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"{failures} over budget or failed")
    print(lines[-1])
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
