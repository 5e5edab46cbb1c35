"""Regenerate ``iclbook/data/icl_classification_full.json``: chapter 10's full CPU run.

Usage: python scripts/run_icl_classification.py [--out PATH]

Trains the family of ``iclbook.softmax.classification.FULL_CONFIG`` (4 sizes x 5 seeds of small
softmax transformers, 800 steps each) on the prior-vs-context classification task and sweeps
flipped demonstration labels and input noise.  Takes about 10-30 minutes on a laptop CPU.
Deterministic for a given machine and thread count (one PyTorch thread).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import iclbook
from iclbook.softmax.classification import FULL_CONFIG, run_demo, save_results

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "iclbook" / "data" / "icl_classification_full.json")
    args = parser.parse_args()
    iclbook.setup(seed=0)
    result = run_demo(FULL_CONFIG)
    save_results(args.out, result)
    print(f"{args.out}: {len(result['rows'])} rows, training wall time: "
          f"{result['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
