"""The benchmark script runs end to end (``benchmarks/bench_training.py --quick``).

No timings are checked: timings live in the benchmark's own output. What is checked is that
the script still works against the current API and that its report says what it must: both
settings, every engine model within 1% of its closed-form optimum, and the speed-up line.
The script runs in a subprocess so that the environment it sets (``OMP_WAIT_POLICY``) and its
thread count stay out of this test session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_training.py"


@pytest.fixture(scope="module")
def quick_report() -> str:
    env = dict(os.environ, ICLBOOK_PROGRESS="0")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--threads", "1", "--ref-max-steps", "20",
         "--ref-check-every", "10", "--judge-prompts", "500"],
        capture_output=True, text=True, env=env, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def _engine_row(report: str, setting: str, recipe: str) -> list[str]:
    block = report.split(f"\nSetting {setting}:")[-1]          # the results table comes last
    row = next(line for line in block.splitlines() if line.startswith(f"engine {recipe} "))
    return row.split()


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["v0.1", "v0.2"])
@pytest.mark.parametrize("setting, models", [("1", 8), ("2", 4)])
def test_quick_run_reports_every_engine_model_within_one_percent(quick_report, setting,
                                                                 models, recipe):
    row = _engine_row(quick_report, setting, recipe)
    assert row[4] == f"{models}/{models}", row
    assert float(row[5]) <= 0.01, row                          # worst judged gap


@pytest.mark.slow
def test_quick_run_reports_the_speed_up_of_both_settings(quick_report):
    ratios = re.findall(r"speed-up to target, reference / engine v0\.2 >?=? ?([0-9.]+)x",
                        quick_report)
    assert len(ratios) == 2, quick_report[-1500:]
    # the old recipe and the new one side by side, with the count of models within 1%
    engine = re.findall(r"speed-up to target, engine v0\.1 / engine v0\.2 = ([0-9.]+)x "
                        r"\(models within 1%: engine v0\.1 (\d+)/(\d+), engine v0\.2 "
                        r"(\d+)/(\d+)\)", quick_report)
    assert len(engine) == 2, quick_report[-1500:]
    assert "matmul peak (float32):" in quick_report


def test_cuda_request_without_a_gpu_is_refused():
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cuda"],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2
    assert "no CUDA device" in proc.stderr
