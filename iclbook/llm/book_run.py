"""The book's own run of the protocol on real language models (chapter 10).

``scripts/run_llm_book_protocol.py`` runs the paper's protocol (Wei et al.'s flipped
labels) on a base and a chat model of two sizes from local folders, on a GPU machine, and
writes :data:`BOOK_RUN_FILE`: the date, the models, the command, the configuration, the
provenance of every model and the accuracy rows.  :func:`render_book_run` turns that file
into the text and figure chapter 10 shows, labelled as the book's own run, and says
plainly when the file is absent (no such run has been made yet).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["BOOK_RUN_FILE", "book_run_path", "load_book_run", "render_book_run",
           "write_book_run", "NO_RUN_MESSAGE"]

#: Where the book's own run is stored, relative to the ``iclbook`` package.
BOOK_RUN_FILE = "data/llm_book_run.json"

#: What the chapter says when there is no run on record.
NO_RUN_MESSAGE = ("**The book's own run on real language models has not been made yet** "
                  "(there is no file `iclbook/{file}`), so no accuracy on this page comes "
                  "from a real language model. `python scripts/run_llm_book_protocol.py` "
                  "makes that run on a GPU machine and writes the file; this cell then "
                  "shows it, with the models and the date.")

_KEYS = ("label", "date", "models", "command", "config", "provenance", "results")


def book_run_path() -> Path:
    """The path of :data:`BOOK_RUN_FILE` inside the installed package."""
    return Path(str(resources.files("iclbook") / BOOK_RUN_FILE))


def write_book_run(path: str | Path, *, models: Sequence[dict[str, str]], command: str,
                   results_json: str | Path, date: str | None = None) -> Path:
    """Write the book-run file from a ``results.json`` of :func:`iclbook.llm.run_experiment`.

    ``models``: one dict per model with ``name``, ``size`` (e.g. ``"7B"``) and ``kind``
    (``"base"`` or ``"chat"``), in the order of the run.  ``date`` defaults to today (UTC).
    """
    data = json.loads(Path(results_json).read_text(encoding="utf-8"))
    run_names = list(data["config"]["names"])
    if [m["name"] for m in models] != run_names:
        raise ValueError(f"models must describe the run's models {run_names} in order, got "
                         f"{[m.get('name') for m in models]}")
    for m in models:
        if m.get("kind") not in ("base", "chat") or not m.get("size"):
            raise ValueError(f"each model needs a size and a kind 'base' or 'chat', got {m}")
    body = {"label": "the book's own run", "date": date or _dt.datetime.now(
                _dt.timezone.utc).strftime("%Y-%m-%d"),
            "models": [dict(m) for m in models], "command": command,
            "config": data["config"], "provenance": data.get("provenance", {}),
            "results": data["results"]}
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return out


def load_book_run(path: str | Path | None = None) -> dict[str, Any] | None:
    """The book-run file as a dict, or ``None`` when it is absent.

    ``ValueError`` if the file exists but is not a book-run file (missing keys).
    """
    p = book_run_path() if path is None else Path(path)
    if not p.is_file():
        return None
    data = json.loads(p.read_text(encoding="utf-8"))
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"{p} is not a book-run file: missing {missing}")
    return data


def _table(data: dict[str, Any]) -> str:
    rows = [r for r in data["results"] if float(r["input_noise"]) == 0.0]
    flips = sorted({float(r["flip"]) for r in rows})
    models = [m["name"] for m in data["models"]]
    kinds = {m["name"]: f"{m['size']} {m['kind']}" for m in data["models"]}
    head = "| model | " + " | ".join(f"f = {f:g}" for f in flips) + " |"
    sep = "|---|" + "---|" * len(flips)
    lines = [head, sep]
    for name in models:
        acc = {float(r["flip"]): r for r in rows if r["model"] == name}
        cells = [f"{acc[f]['accuracy']:.3f} ± {acc[f]['accuracy_se']:.3f}" if f in acc else "-"
                 for f in flips]
        lines.append(f"| {name} ({kinds[name]}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_book_run(path: str | Path | None = None, *, figure: bool = True
                    ) -> tuple[str, Any]:
    """Markdown text and figure of the book's own run, or the plain "no run" message.

    Returns ``(markdown, fig)``; ``fig`` is ``None`` when there is no run (or
    ``figure=False``).  The text names the run as the book's own, with its date, models,
    device, dtype and the accuracy table (accuracy ± binomial standard error on clean
    queries, per flipped fraction ``f``).
    """
    data = load_book_run(path)
    if data is None:
        return NO_RUN_MESSAGE.format(file=BOOK_RUN_FILE), None
    cfg = data["config"]
    prov = data.get("provenance", {})
    devices = sorted({f"{p.get('device')} ({p.get('dtype')})" for p in prov.values()})
    names = ", ".join(f"{m['name']} ({m['size']} {m['kind']})" for m in data["models"])
    text = (f"**The book's own run, made on {data['date']}** with {names}, on "
            f"{', '.join(devices) or 'an unrecorded device'}: k = {cfg['k']} demonstrations, "
            f"{cfg['n_queries']} queries of the `{cfg['dataset']}` dataset, seed "
            f"{cfg['seed']}.\n\nAccuracy on clean queries (± binomial standard error) "
            f"against the fraction f of flipped demonstration labels:\n\n{_table(data)}\n\n"
            f"Command: `{data['command']}`")
    fig = None
    if figure:
        from .plotting import plot_flip_curves

        fig = plot_flip_curves(data["results"],
                               title=f"The book's own run ({data['date']})")
    return text, fig
