"""Running the protocol on several models: checks first, results after every model, resume.

:func:`run_experiment` runs the protocol of :mod:`iclbook.llm.experiment` on every model in
turn.  It is written for long runs on real models (chapter 10):

1. **Fail early.**  Before the first model loads, every argument is checked: the
   fractions, ``k`` against the dataset, the device, every model path or hub name
   (:func:`iclbook.llm.scoring.check_model_source`: a folder must hold ``config.json``), and
   the output folder (created and written to once).
2. **Lose nothing.**  After each model, its rows, predictions and provenance are written to
   ``<out>/models/<name>/`` (``results.json`` last, atomically: its presence marks the
   model as complete), and the combined ``results.csv``, ``results.json``,
   ``predictions.csv`` and ``accuracy_vs_flip.png`` are rewritten for the models done so
   far.  A crash in model 3 keeps models 1-2.
3. **Resume.**  ``resume=True`` reuses every complete model whose configuration equals the
   current one and runs the others; the files are then the same as those of an
   uninterrupted run.  Time stamps go only to ``run_log.jsonl``, never to the result files.

Provenance of each model: name, path, revision and commit hash, dtype, device, batch size
(asked for and used), forward passes, seed, the exact prompt template, package versions and
the deterministic mode chosen by :func:`iclbook.setup`.
"""

from __future__ import annotations

import csv
import gc
import json
import os
import platform
import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..core.validation import check_fractions, check_positive_int
from .datasets import TextDataset
from .experiment import RESULT_FIELDS, evaluate_model, sample_episodes
from .prompts import DEFAULT_TEMPLATE, PromptTemplate
from .scoring import check_model_source, load_model, model_provenance, resolve_device

__all__ = ["run_experiment", "write_results", "read_results", "HarnessError",
           "package_versions", "RESULT_FILES"]

#: Files of a results folder compared by a resumed run (``run_log.jsonl`` is a log).
RESULT_FILES = ("results.csv", "results.json", "predictions.csv", "accuracy_vs_flip.png")


class HarnessError(RuntimeError):
    """A failure while models run (loading, scoring, writing), after all checks passed."""


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages that decide the numbers."""
    import numpy
    import torch

    from .. import __version__

    out = {"python": platform.python_version(), "iclbook": __version__,
           "torch": torch.__version__, "numpy": numpy.__version__}
    for mod in ("transformers", "accelerate", "tokenizers"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            out[mod] = "not installed"
    return out


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_csv_atomic(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(fields), lineterminator="\n",
                           extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, path)


def write_results(rows: Sequence[dict[str, Any]], out_dir: str | Path, *,
                  config: dict[str, Any] | None = None,
                  predictions: Sequence[dict[str, Any]] | None = None,
                  provenance: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write ``results.csv``, ``results.json`` (config, provenance, rows), ``predictions.csv``.

    Each file is written to a temporary name and then renamed, so a crash never leaves a
    half-written file behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "results.csv", "json": out / "results.json"}
    _write_csv_atomic(paths["csv"], rows, RESULT_FIELDS)
    if predictions:
        paths["predictions"] = out / "predictions.csv"
        fields = list(dict.fromkeys(k for p in predictions for k in p))
        _write_csv_atomic(paths["predictions"], predictions, fields)
    body: dict[str, Any] = {"config": config or {}}
    if provenance is not None:
        body["provenance"] = provenance
    body["results"] = list(rows)
    _write_text_atomic(paths["json"], json.dumps(body, indent=2) + "\n")
    return paths


def read_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``results.csv`` or ``results.json`` written by :func:`write_results`."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"path must be an existing results.csv or results.json, got {str(p)!r}")
    if p.suffix == ".json":
        return list(json.loads(p.read_text(encoding="utf-8"))["results"])
    with p.open(newline="", encoding="utf-8") as f:
        rows: list[dict[str, Any]] = list(csv.DictReader(f))
    for r in rows:
        for key in ("flip", "input_noise", "accuracy", "accuracy_se"):
            r[key] = float(r[key])
        for key in ("k", "n_flipped", "n_queries"):
            r[key] = int(r[key])
    return rows


def _read_predictions(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows: list[dict[str, Any]] = list(csv.DictReader(f))
    for r in rows:
        for key, val in r.items():
            if key in ("flip", "input_noise") or key.startswith("score_"):
                r[key] = float(val)
            elif key in ("query", "label", "prediction", "correct"):
                r[key] = int(val)
    return rows


def _folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "model"


def _check_out_dir(out: Path, *, resume: bool, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"out_dir {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".iclbook-write-test"
        probe.write_text("ok", encoding="utf-8")
        probe.unlink()
    except OSError as err:
        raise ValueError(f"out_dir {str(out)!r} is not writable: {err.strerror}") from None
    earlier = [n for n in (*RESULT_FILES, "models") if (out / n).exists()]
    if earlier and not (resume or overwrite):
        raise ValueError(f"out_dir {str(out)!r} already holds results ({', '.join(earlier)}): "
                         "pass resume=True (--resume) to continue that run or overwrite=True "
                         "(--overwrite) to replace it")


def run_experiment(models: Sequence[str], dataset: TextDataset, *, k: int = 16,
                   flips: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
                   input_noises: Sequence[float] = (0.0,), n_queries: int = 200,
                   seed: int = 0, template: PromptTemplate = DEFAULT_TEMPLATE,
                   balanced: bool = True, batch_size: int | str = 8,
                   names: Sequence[str] | None = None, out_dir: str | Path | None = None,
                   device: str | None = None, dtype: str | None = None,
                   chat_template: bool = False, progress: bool | None = None,
                   revisions: Sequence[str | None] | None = None,
                   trust_remote_code: bool = False, resume: bool = False,
                   overwrite: bool = False) -> list[dict[str, Any]]:
    """Run the protocol for every model (loaded one at a time); returns all rows.

    Everything is checked before the first model loads (``ValueError``; see the module
    docstring): a wrong fourth model path fails at once, not after three models.  With
    ``out_dir`` the results are written after every model; ``resume=True`` skips models
    whose results are complete there (same configuration), ``overwrite=True`` replaces an
    earlier run, and neither is needed for an empty folder.  ``revisions`` gives one hub
    revision (or ``None``) per model.  Failures while models run raise
    :class:`HarnessError`, after the completed models have been written.
    """
    from ..core.reproducibility import deterministic_mode

    if not models:
        raise ValueError("models must list at least one model path or hub name")
    models = [str(m) for m in models]
    flips = check_fractions("flips", flips)
    input_noises = check_fractions("input_noises", input_noises)
    if batch_size != "auto":
        batch_size = check_positive_int("batch_size", batch_size)
    template.label_words(dataset.label_names)
    names = [Path(m).name or m for m in models] if names is None else [str(n) for n in names]
    if len(names) != len(models) or len(set(names)) != len(names):
        raise ValueError(f"names must give one distinct name per model, got {names}")
    folders = [_folder_name(n) for n in names]
    if len(set(folders)) != len(folders):
        raise ValueError(f"names must stay distinct as folder names, got {folders}")
    revisions = [None] * len(models) if revisions is None else list(revisions)
    if len(revisions) != len(models):
        raise ValueError(f"revisions must give one revision per model ({len(models)}), got "
                         f"{len(revisions)}")
    episodes = sample_episodes(dataset, k, n_queries, seed=seed, balanced=balanced)
    resolve_device(device)
    for m, rev in zip(models, revisions, strict=True):
        check_model_source(m, revision=rev)
    if resume and overwrite:
        raise ValueError("resume and overwrite exclude each other")
    config = {"models": models, "names": names, "revisions": revisions,
              "dataset": dataset.name, "n_examples": len(dataset),
              "label_names": list(dataset.label_names), "k": k, "flips": flips,
              "input_noises": input_noises, "n_queries": n_queries, "seed": seed,
              "template": asdict(template), "balanced": balanced,
              "chat_template": chat_template, "dtype": dtype,
              "trust_remote_code": bool(trust_remote_code)}
    out = None if out_dir is None else Path(out_dir)
    done: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]] = {}
    if out is not None:
        _check_out_dir(out, resume=resume, overwrite=overwrite)
        if overwrite:
            for n in RESULT_FILES:
                (out / n).unlink(missing_ok=True)
            shutil.rmtree(out / "models", ignore_errors=True)
        if resume:
            done = _completed_models(out, names, folders, models, revisions, config)
        _log(out, {"event": "start", "models": names, "resume": resume,
                   "reused": sorted(done)})

    rows: list[dict[str, Any]] = []
    predictions: list[dict[str, Any]] = []
    provenance: dict[str, Any] = {}
    for path, name, folder, rev in zip(models, names, folders, revisions, strict=True):
        if name in done:
            r, p, prov = done[name]
        else:
            info: dict[str, Any] = {}
            try:
                model, tokenizer = load_model(path, device=device, dtype=dtype, revision=rev,
                                              trust_remote_code=trust_remote_code)
                r, p = evaluate_model(model, tokenizer, dataset, episodes, template=template,
                                      flips=flips, input_noises=input_noises, seed=seed,
                                      batch_size=batch_size, model_name=name,
                                      chat_template=chat_template, progress=progress,
                                      info=info)
                prov = {"model": name, "path": path, "revision": rev,
                        **model_provenance(model), "batch_size": batch_size,
                        "batch_size_used": info.get("batch_size"),
                        "forward_passes": info.get("forward_passes"),
                        "single_pass_per_prompt": info.get("single_pass"),
                        "seed": seed, "template": asdict(template),
                        "chat_template": (getattr(tokenizer, "chat_template", None)
                                          if chat_template else None),
                        "trust_remote_code": bool(trust_remote_code),
                        "deterministic": deterministic_mode(),
                        "versions": package_versions()}
            except Exception as err:
                if out is not None:
                    _log(out, {"event": "failed", "model": name, "error": str(err)})
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                raise HarnessError(f"model {name!r} failed ({type(err).__name__}): {first}; "
                                   f"completed models are kept in "
                                   f"{str(out) if out is not None else '(no out_dir)'}"
                                   ) from err
            finally:
                model = tokenizer = None
                gc.collect()
            if out is not None:
                write_results(r, out / "models" / folder, config=config, predictions=p,
                              provenance={name: prov})
                _log(out, {"event": "model done", "model": name})
        rows.extend(r)
        predictions.extend(p)
        provenance[name] = prov
        if out is not None:
            _write_combined(out, rows, predictions, config, provenance)
    return rows


def _completed_models(out: Path, names: Sequence[str], folders: Sequence[str],
                      models: Sequence[str], revisions: Sequence[str | None],
                      config: dict[str, Any]) -> dict[str, Any]:
    """Complete per-model results of an earlier run with the same configuration."""
    done = {}
    for name, folder in zip(names, folders, strict=True):
        f = out / "models" / folder / "results.json"
        if not f.is_file():
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        if data.get("config") != json.loads(json.dumps(config)):
            old = data.get("config", {})
            diff = sorted(k for k in set(old) | set(config)
                          if json.dumps(old.get(k)) != json.dumps(config.get(k)))
            raise ValueError(f"cannot resume: {f} was made with a different configuration "
                             f"({', '.join(diff)}); use another out_dir or overwrite")
        pred = out / "models" / folder / "predictions.csv"
        if not pred.is_file():
            continue
        done[name] = (data["results"], _read_predictions(pred), data["provenance"][name])
    return done


def _write_combined(out: Path, rows: list[dict[str, Any]], predictions: list[dict[str, Any]],
                    config: dict[str, Any], provenance: dict[str, Any]) -> None:
    write_results(rows, out, config=config, predictions=predictions, provenance=provenance)
    import matplotlib.pyplot as plt

    from .plotting import plot_flip_curves

    fig = plot_flip_curves(rows)
    tmp = out / "accuracy_vs_flip.tmp.png"
    fig.savefig(tmp, dpi=120, metadata={"Software": None})
    plt.close(fig)
    os.replace(tmp, out / "accuracy_vs_flip.png")


def _log(out: Path, event: dict[str, Any]) -> None:
    event = {"time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **event}
    with (out / "run_log.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")
