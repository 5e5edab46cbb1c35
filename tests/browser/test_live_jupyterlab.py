"""A widget chapter in a live JupyterLab, as a Binder reader meets it (slow: one full chapter).

The test serves a temporary copy of chapter 6 (three explorers and a training cell) with
JupyterLab on 127.0.0.1 (``livelab.jupyterlab``: free port, token, temporary config and
runtime folders, the repository's ``.venv`` kernel, progress bars on) and drives it with the
system's Chromium, as the other browser tests do.  Every request that leaves 127.0.0.1 is
blocked and recorded.  It checks that

- the Python 3 kernel is ready without pressing anything, no dialog opened and the notebook
  is not marked modified by opening it (the chapter's kernelspec);
- after *Run All Cells* every code cell ran, no cell shows an error, and no output strip is
  left empty (progress bars are shown while training and leave nothing behind), and a bar
  was on screen while the training cell ran;
- moving the first slider one step with the arrow key changes its readout (to the slider's
  step precision) and the figure, and no cell shows an error afterwards.

``ICLBOOK_LIVE_CHAPTER`` names another notebook to test; screenshots go to
``<screenshots>/live``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from booksite import REPO, SCREENSHOTS
from livelab import jupyterlab, run_chapter

CHAPTER = Path(os.environ.get("ICLBOOK_LIVE_CHAPTER", REPO / "book" / "06_noise.ipynb"))


@pytest.mark.slow
def test_chapter_runs_in_live_jupyterlab(browser, tmp_path):
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed "
                        "(`.venv/bin/pip install -r requirements-test.txt`)")
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(CHAPTER, root / CHAPTER.name)  # the repository's copy is never touched
    with jupyterlab(root, env={"ICLBOOK_PROGRESS": "1"}) as (base, token):
        r = run_chapter(browser, base, token, CHAPTER.name, shots=SCREENSHOTS / "live")
    print("live JupyterLab report:", r)
    assert r["kernel_ready_s"] is not None, f"no idle Python 3 kernel after opening: {r}"
    assert r["dialog"] is None, f"a dialog opened: {r['dialog']}"
    assert not r["dirty_on_open"], "opening the notebook marked it modified"
    assert r["run_all_s"] is not None, f"Run All did not finish: {r}"
    assert r["code_cells"] > 0 and r["unexecuted"] == 0, r
    assert r["error_cells"] == 0, f"cells show errors: {r}"
    assert r["empty_strips"] == 0, f"empty output strips in cells {r['empty_strip_cells']}"
    assert r["stderr_outputs"] == 0, f"stderr outputs: {r}"
    assert r["bar_seen"], "no progress bar was shown while the chapter ran"
    s = r["slider"]
    assert s["before"] is not None, "the chapter shows no live slider"
    assert s["after"]["readout"] != s["before"]["readout"], f"the slider did not move: {s}"
    assert s["image_changed"], f"the figure did not change: {s}"
    assert r["error_cells_after_slider"] == 0
    assert not r["page_errors"], r["page_errors"]
    assert not r["blocked_requests"], f"requests left 127.0.0.1: {r['blocked_requests']}"
