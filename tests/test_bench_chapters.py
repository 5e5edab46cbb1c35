"""Smoke test of benchmarks/bench_chapters.py: it runs on one small chapter (never a time)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_chapters.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=600)


@pytest.mark.slow
def test_times_one_chapter_and_writes_the_table(tmp_path):
    out = tmp_path / "table.txt"
    proc = _run("--chapters", "01", "--skip-one-thread", "--skip-build", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = next(line for line in out.read_text().splitlines() if line.startswith("01_preface"))
    fields = row.split()
    float(fields[1])  # the seconds column is a number
    assert fields[3] in ("pass", "FAIL") and fields[4] == "-", row  # a verdict; no 1-thread
    lines = out.read_text().splitlines()
    assert not any(line.startswith(("02_", "book build")) for line in lines)  # as selected


def test_unknown_chapter_is_refused():
    proc = _run("--chapters", "99", "--skip-build")
    assert proc.returncode == 2 and "matches no chapter" in proc.stderr
