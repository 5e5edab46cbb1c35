"""Time the static frames of the book's explorers: one process against one per core.

The book build sets ``ICLBOOK_WIDGETS=static``; every explorer then renders one PNG per
grid combination with matplotlib (:func:`iclbook.core.widgets.explorer`), which dominated the
build time of chapters 6 and 8.  This script builds the five explorers of those chapters
(the same draw functions and grids), once with ``ICLBOOK_WORKERS=1`` (frames drawn one
after another, the code before frame workers) and once with the default worker count,
checks that both give the same PNG bytes, and prints a table::

    .venv/bin/python benchmarks/bench_widgets.py            # on an otherwise idle machine
"""

from __future__ import annotations

import hashlib
import os
import time

import iclbook
from iclbook.core.widgets import Param, explorer, frame_workers
from iclbook.parity.theory import importance_profile
from iclbook.plots.noise import draw_data_explorer, draw_noise_explorer, draw_size_explorer
from iclbook.plots.parity import draw_heads_frame

P, N, K = [0.4, 0.3, 0.2, 0.1], 16, 4


def _profile(N: int, beta: float):  # noqa: ANN202 - chapter 8's second explorer
    return draw_heads_frame(importance_profile(K, beta), N, 0.2, 0.05, title=f"N = {N}")


EXPLORERS = {
    "ch6 noise (36 frames)": (draw_noise_explorer, [
        Param("sigma", "label noise σ", [0, 1, 2, 3, 4, 6], high=10, step=0.1),
        Param("sigma_x", "input noise σ_x", [0, 0.25, 0.5, 1, 1.5, 2], high=3, step=0.05)]),
    "ch6 size (25 frames)": (draw_size_explorer, [
        Param("r", "model size r", [1, 2, 3, 4, 5], value=4),
        Param("sigma_x", "input noise σ_x", [0, 0.5, 1, 1.5, 2], high=3, step=0.05)]),
    "ch6 data (20 frames)": (draw_data_explorer, [
        Param("N", "context length N", [5, 10, 20, 40, 80], value=20, low=1, high=200),
        Param("decay", "spectrum decay ρ", [0.3, 0.5, 0.7, 0.9], value=0.5, low=0.1,
              high=1.0, step=0.01)]),
    "ch8 heads (64 frames)": (lambda eta, rho: draw_heads_frame(P, N, eta, rho), [
        Param("eta", "label flips η", [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35], high=0.5,
              step=0.01),
        Param("rho", "hidden-bit flips ρ", [0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175],
              high=0.5, step=0.005)]),
    "ch8 profile (36 frames)": (_profile, [
        Param("N", "context length N", [2, 4, 8, 16, 32, 64], low=1, high=64, value=16),
        Param("beta", "steepness β of p", [0.0, 0.25, 0.5, 1.0, 1.5, 2.0], high=3.0,
              value=0.5)]),
}


def _run(workers: str | None) -> dict[str, tuple[float, str]]:
    if workers is None:
        os.environ.pop("ICLBOOK_WORKERS", None)
    else:
        os.environ["ICLBOOK_WORKERS"] = workers
    out = {}
    for name, (draw, params) in EXPLORERS.items():
        start = time.perf_counter()
        box = explorer(draw, params)
        seconds = time.perf_counter() - start
        digest = hashlib.sha256(b"".join(box.frames[k] for k in sorted(box.frames)))
        out[name] = (seconds, digest.hexdigest())
    return out


def main() -> int:
    iclbook.setup(0)
    os.environ["ICLBOOK_WIDGETS"] = "static"
    before = os.environ.get("ICLBOOK_WORKERS")
    one = _run("1")
    many = _run(before)
    print(f"{'explorer':<26} {'1 process':>10} {f'{frame_workers(64)} processes':>12} "
          f"{'speed-up':>9}  same frames")
    for name in EXPLORERS:
        (t1, h1), (tn, hn) = one[name], many[name]
        print(f"{name:<26} {t1:>9.1f}s {tn:>11.1f}s {t1 / tn:>8.2f}x  {h1 == hn}")
    t1 = sum(v[0] for v in one.values())
    tn = sum(v[0] for v in many.values())
    print(f"{'total':<26} {t1:>9.1f}s {tn:>11.1f}s {t1 / tn:>8.2f}x  "
          f"{all(one[k][1] == many[k][1] for k in EXPLORERS)}")
    return 0 if all(one[k][1] == many[k][1] for k in EXPLORERS) else 1


if __name__ == "__main__":
    raise SystemExit(main())
