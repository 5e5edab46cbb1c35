"""The shipped lm-evaluation-harness tasks (iclbook/llm/lm_eval_tasks) agree with the harness.

``lm_eval.simple_evaluate`` runs the tasks ``iclbook_flip_*`` on a tiny local random GPT-2
(Hugging Face backend, ``pretrained=<folder>``), offline; its accuracy at every flipped
fraction must equal that of ``iclbook.llm.evaluate_model`` on the same queries, and its
per-choice log-likelihoods must equal the harness's scores.
"""

import os
from pathlib import Path

import numpy as np
import pytest

import iclbook.llm as L

pytest.importorskip("transformers")
lm_eval = pytest.importorskip("lm_eval")

from test_llm import _save_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FLIPS = {"iclbook_flip_000": 0.0, "iclbook_flip_025": 0.25, "iclbook_flip_050": 0.5,
         "iclbook_flip_075": 0.75, "iclbook_flip_100": 1.0}
LIMIT = 24  # first queries of each task (the harness takes the same first episodes)


@pytest.fixture(scope="module")
def lm_eval_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lmeval")
    model_dir = _save_tiny_model(tmp / "tiny-lm", 7, single_token_labels=True,
                                 init_range=0.3)
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                             "TRANSFORMERS_OFFLINE", "HF_DATASETS_CACHE")}
    os.environ.update({"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                       "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_CACHE": str(tmp / "cache")})
    cwd = os.getcwd()
    os.chdir(ROOT)  # the task's data_files path is relative to the repository root
    try:
        from lm_eval.tasks import TaskManager

        tm = TaskManager(include_path=L.lm_eval_tasks_dir())
        out = lm_eval.simple_evaluate(
            model="hf", model_args=f"pretrained={model_dir},dtype=float32,device=cpu",
            tasks=list(FLIPS), task_manager=tm, limit=LIMIT, batch_size=4,
            log_samples=True, random_seed=0, numpy_random_seed=0, torch_random_seed=0)
    finally:
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return model_dir, out


@pytest.mark.slow
def test_lm_eval_equals_the_harness_accuracy_by_accuracy(lm_eval_run):
    from importlib import util

    model_dir, out = lm_eval_run
    spec = util.spec_from_file_location(
        "iclbook_lmeval_utils", Path(L.lm_eval_tasks_dir()) / "iclbook_flip" / "utils.py")
    utils = util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    ds = L.book_dataset()
    episodes = L.sample_episodes(ds, utils.K, utils.N_QUERIES, seed=utils.SEED)[:LIMIT]
    model, tok = L.load_model(model_dir)
    rows, preds = L.evaluate_model(model, tok, ds, episodes, flips=list(FLIPS.values()),
                                   seed=utils.SEED, model_name="tiny-lm")
    harness = {r["flip"]: r["accuracy"] for r in rows}
    table = []
    for task, f in FLIPS.items():
        res = out["results"][task]
        acc = res.get("acc,none", res.get("acc"))
        table.append((f, acc, harness[f]))
        samples = out["samples"][task]
        assert len(samples) == LIMIT
        mine = [p for p in preds if p["flip"] == f]
        for s, p in zip(sorted(samples, key=lambda s: s["doc_id"]), mine, strict=True):
            assert s["doc"]["query"] == p["query"] and s["target"] == p["label"]
            lls = [r[0] for r in s["filtered_resps"]]
            np.testing.assert_allclose(lls, [p["score_negative"], p["score_positive"]],
                                       atol=1e-4, rtol=0)
    print("\nflip  lm-eval  harness")
    for f, a, b in table:
        print(f"{f:<5} {a:.4f}   {b:.4f}")
    assert [a for _, a, _ in table] == [b for _, _, b in table]
