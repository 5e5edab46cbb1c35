"""A chapter in a live JupyterLab, driven by Chromium: what a Binder reader meets.

:func:`jupyterlab` serves a folder with JupyterLab on 127.0.0.1 (a free port, a random token,
no browser, its own temporary config, data, runtime, settings and IPython folders; the kernel
is this interpreter's ``python3``, i.e. the repository's ``.venv``).  :func:`run_chapter`
opens one notebook there in a Playwright page and reports, as a dict:

- ``kernel_ready_s``: seconds from opening until the toolbar shows the Python 3 kernel idle,
  without pressing anything (``None``: not within the time limit); ``dialog``: the text of
  any dialog that opened instead (a kernel chooser); ``dirty_on_open``: whether JupyterLab
  marked the notebook modified just by opening it;
- after *Run > Run All Cells* (``run_all_s``): the number of code cells, of cells that show
  an error output, of stderr outputs and of **empty output strips** (output children that take
  room but show no text, image or widget), and ``bar_seen``: whether a progress bar line
  was on screen while the cells ran;
- after moving the first float slider one step with the keyboard: its readout before and
  after and whether the explorer's image changed (``slider``).

Run as a script to measure a chapter (screenshots in ``--shots``)::

    .venv/bin/python tests/browser/livelab.py book/08_heads_and_noise.ipynb --shots /tmp/shots
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from booksite import LAUNCH_ARGS  # noqa: E402

#: A progress bar's line (tqdm's meter: "desc:  40%|####      | 400/1000 [00:02<...").
BAR = re.compile(r"\d+/\d+ \[\d")

#: Empty output strips, errors and stderr outputs of the notebook, counted in the page.
COUNT_JS = r"""
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const cells = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell')];
  const out = {code_cells: cells.length, error_cells: 0, stderr_outputs: 0,
               empty_strips: 0, unexecuted: 0, empty_strip_cells: []};
  cells.forEach((cell, i) => {
    const prompt = cell.querySelector('.jp-InputPrompt');
    if (!prompt || !/\[\d+\]/.test(prompt.textContent)) out.unexecuted += 1;
    if (cell.querySelector('[data-mime-type="application/vnd.jupyter.error"]'))
      out.error_cells += 1;
    out.stderr_outputs +=
      cell.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length;
    for (const child of cell.querySelectorAll('.jp-OutputArea-child')) {
      const output = child.querySelector('.jp-OutputArea-output');
      const shown = output && (output.textContent.trim() !== '' ||
        output.querySelector('img, svg, canvas, video, iframe, input, .widget-slider'));
      if (!shown) {  // no height test: offscreen cells may not be laid out
        out.empty_strips += 1;
        out.empty_strip_cells.push(i);
      }
    }
  });
  return out;
}
"""

#: Texts of every output area of the notebook (to catch a progress bar while cells run).
OUTPUT_TEXT_JS = r"""
() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
        .map(e => e.textContent).join('\n')
"""

#: Scroll the output that shows a progress bar into view (for the screenshot).
SCROLL_TO_BAR_JS = r"""
() => {
  const outs = [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')];
  const bar = outs.find(e => /\d+\/\d+ \[\d/.test(e.textContent));
  if (bar) bar.scrollIntoView({block: 'center'});
}
"""

#: The first float slider of an explorer: its readout and the src of the image beside it.
SLIDER_JS = r"""
() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const slider = panel.querySelector('.widget-hslider');
  if (!slider) return null;
  const box = slider.closest('.widget-vbox');
  const img = box && box.querySelector('img');
  const readout = slider.querySelector('.widget-readout');
  return {readout: readout ? readout.textContent.trim() : null,
          src: img ? img.getAttribute('src') : null};
}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab(root: Path, *, env: dict[str, str] | None = None,
               timeout: float = 180.0) -> Iterator[tuple[str, str]]:
    """Serve ``root`` with JupyterLab; yields (base URL ending in '/', token)."""
    work = Path(tempfile.mkdtemp(prefix="iclbook-lab-"))
    dirs = {name: work / name for name in ("config", "data", "runtime", "settings",
                                            "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir()
    # No news or update checks (they would leave localhost) and no notification toasts.
    notif = dirs["settings"] / "@jupyterlab" / "apputils-extension"
    notif.mkdir(parents=True)
    (notif / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    port, token = free_port(), secrets.token_hex(24)
    run_env = {k: v for k, v in os.environ.items()
               if k not in ("MPLBACKEND", "ICLBOOK_WIDGETS", "JUPYTER_PATH")}
    run_env.update({
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    })
    run_env.update(env or {})
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly",  # no queries to a package index
           "--allow-root"]  # CI containers run as root
    log = open(work / "jupyterlab.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, env=run_env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=root)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError("JupyterLab exited: "
                                   + (work / "jupyterlab.log").read_text()[-2000:])
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s")
            time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def _wait(predicate: Any, timeout: float, poll: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return False


def run_chapter(browser: Any, base: str, token: str, name: str, *, shots: Path | None = None,
                ready_timeout: float = 120.0, run_timeout: float = 1500.0,
                log: Any = None, run: bool = True) -> dict[str, Any]:
    """Open ``name`` (a notebook in the served folder), run all cells, move a slider.

    ``log(message)``, if given, hears how far Run All has got every 30 s; ``run=False``
    only opens the notebook."""
    report: dict[str, Any] = {"notebook": name, "blocked_requests": [], "page_errors": []}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})

    def route(r: Any) -> None:
        if r.request.url.startswith(("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")):
            r.continue_()
        else:
            report["blocked_requests"].append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("pageerror", lambda e: report["page_errors"].append(str(e)))
    stem = Path(name).stem

    def shot(tag: str) -> None:
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(shots / f"{stem}__{tag}.png"))

    try:
        t0 = time.monotonic()
        tab.goto(f"{base}lab/tree/{name}?token={token}", wait_until="domcontentloaded")

        def ready() -> bool:
            return bool(tab.evaluate("""() => {
              const p = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
              if (!p) return false;
              const k = p.querySelector('.jp-KernelName, .jp-Toolbar-kernelName');
              const s = p.querySelector('.jp-Notebook-ExecutionIndicator');
              return !!k && /Python 3/.test(k.textContent) && !!s
                     && s.getAttribute('data-status') === 'idle';
            }"""))

        ok = _wait(ready, ready_timeout)
        report["kernel_ready_s"] = round(time.monotonic() - t0, 1) if ok else None
        report["dialog"] = tab.evaluate(
            "() => [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText)"
            ".join(' | ')") or None
        report["kernel_name"] = tab.evaluate(
            "() => (document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) "
            ".jp-KernelName, .jp-Toolbar-kernelName') || {}).textContent || null")
        report["dirty_on_open"] = bool(tab.evaluate(
            "() => !!document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')"))
        shot("1_opened")
        if not ok or not run:
            return report

        tab.get_by_role("menuitem", name="Run", exact=True).click()
        tab.get_by_role("menuitem", name=re.compile(r"^Run All Cells")).first.click()
        t1 = time.monotonic()
        bar_seen = False
        last_log = t1

        def done() -> bool:
            nonlocal bar_seen, last_log
            if not bar_seen and BAR.search(tab.evaluate(OUTPUT_TEXT_JS)):
                bar_seen = True
                tab.evaluate(SCROLL_TO_BAR_JS)
                shot("2_bar")
            counts = tab.evaluate(COUNT_JS)
            busy = tab.evaluate(
                "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
                ".jp-InputPrompt')].filter(p => p.textContent.includes('*')).length")
            if log is not None and time.monotonic() - last_log > 30:
                last_log = time.monotonic()
                log(f"{name}: {last_log - t1:.0f} s, {counts['code_cells']} code cells, "
                    f"{counts['unexecuted']} not run yet, {busy} queued, bar seen: {bar_seen}")
            return counts["unexecuted"] == 0 and not busy and ready()

        finished = _wait(done, run_timeout, poll=0.2)
        report["run_all_s"] = round(time.monotonic() - t1, 1) if finished else None
        if not finished:
            shot("2_timeout")
        report["bar_seen"] = bar_seen
        time.sleep(1.0)  # let the last display updates arrive
        report.update(tab.evaluate(COUNT_JS))
        shot("2_ran")

        before = tab.evaluate(SLIDER_JS)
        report["slider"] = {"before": before}
        if before is not None:
            handle = tab.locator(
                ".jp-NotebookPanel:not(.lm-mod-hidden) .widget-hslider .noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.focus()
            handle.press("ArrowRight")
            changed = _wait(lambda: tab.evaluate(SLIDER_JS)["src"] != before["src"], 60)
            after = tab.evaluate(SLIDER_JS)
            report["slider"].update(after=after, image_changed=changed)
            report["error_cells_after_slider"] = tab.evaluate(COUNT_JS)["error_cells"]
            shot("3_slider")
        for key in ("before", "after"):
            if report["slider"].get(key):
                report["slider"][key]["src"] = (report["slider"][key]["src"] or "")[:40]
        return report
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    import argparse

    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--shots", type=Path, default=None)
    ap.add_argument("--progress", default="1", help="ICLBOOK_PROGRESS for the kernel")
    ap.add_argument("--open-only", action="store_true", help="open each notebook, run nothing")
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="iclbook-live-"))
    for nb in args.notebooks:
        shutil.copy(nb, root / nb.name)
    exe = os.environ.get("ICLBOOK_CHROMIUM") or shutil.which("chromium")
    try:
        with sync_playwright() as pw, jupyterlab(
                root, env={"ICLBOOK_PROGRESS": args.progress}) as (base, token):
            browser = pw.chromium.launch(executable_path=exe, args=LAUNCH_ARGS)
            for nb in args.notebooks:
                t = time.monotonic()
                r = run_chapter(browser, base, token, nb.name, shots=args.shots,
                                log=lambda m: print(m, file=sys.stderr, flush=True),
                                run=not args.open_only)
                r["wall_s"] = round(time.monotonic() - t, 1)
                print(json.dumps(r), flush=True)
            browser.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
