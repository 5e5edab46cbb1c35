"""The harness on real-model terms, on tiny local models: CUDA-safe set-up (mocked), checks
before any model loads, results after every model, resume, provenance, automatic batch size
with a mocked out-of-memory error, one forward pass per prompt, exit codes, the book's run."""

import filecmp
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import iclbook
import iclbook.llm as L
import iclbook.llm.runner as runner
from iclbook.core.reproducibility import CUBLAS_WORKSPACE, deterministic_mode
from iclbook.llm.cli import main as cli_main

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

pytest.importorskip("transformers")

from test_llm import _save_tiny_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def four_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models4")
    return [_save_tiny_model(root / f"tiny-{i}", i, single_token_labels=True) for i in range(4)]


@pytest.fixture
def count_loads(monkeypatch):
    calls = []
    real = runner.load_model

    def spy(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(runner, "load_model", spy)
    return calls


# ---------------------------------------------------------------- set-up on CUDA (mocked)


def test_setup_is_cuda_safe_and_says_what_it_chose(monkeypatch, tmp_path, four_models):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    iclbook.setup(seed=0)  # the chapter's first cell
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
    assert torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert deterministic_mode()["mode"] == "strict"
    assert "CUBLAS_WORKSPACE_CONFIG" in deterministic_mode()["reason"]
    # A harness call with CUDA reported available (the model itself stays on the CPU).
    assert L.resolve_device(None) == "cuda"
    rows = L.run_experiment(four_models[:1], L.book_dataset(), k=2, flips=[0, 1],
                            n_queries=2, device="cpu", out_dir=tmp_path / "r")
    assert len(rows) == 2
    prov = json.loads((tmp_path / "r" / "results.json").read_text())["provenance"]
    assert prov["tiny-0"]["deterministic"]["mode"] == "strict"
    assert prov["tiny-0"]["device"] == "cpu"
    # CUDA already initialised without the variable: warn-only instead of an error later.
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    iclbook.setup(seed=0)
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert deterministic_mode()["mode"] == "warn_only"
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    monkeypatch.undo()
    iclbook.setup(seed=0)  # back to the CPU's strict mode for the other tests
    assert deterministic_mode()["mode"] == "strict"
    assert not torch.is_deterministic_algorithms_warn_only_enabled()


def test_resolve_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert L.resolve_device(None) == "mps" and L.resolve_device("auto") == "mps"
    assert L.resolve_device("mps") == "mps" and L.resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="CUDA is not available"):
        L.resolve_device("cuda:0")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert L.resolve_device(None) == "cpu"
    with pytest.raises(ValueError, match="MPS"):
        L.resolve_device("mps")
    with pytest.raises(ValueError, match="device must be"):
        L.resolve_device("tpu")


# ---------------------------------------------------------------- fail early


def test_wrong_fourth_path_fails_before_any_model_loads(tmp_path, four_models, count_loads,
                                                        capsys):
    models = four_models[:3] + [str(tmp_path / "typo-model")]
    with pytest.raises(ValueError, match="typo-model.*does not exist"):
        L.run_experiment(models, L.book_dataset(), k=2, n_queries=2, out_dir=tmp_path / "o")
    assert count_loads == []
    args = [a for m in models for a in ("--model", m)]
    rc = cli_main([*args, "--k", "2", "--n-queries", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and count_loads == []
    assert err.count("\n") == 1 and "typo-model" in err and "does not exist" in err
    assert not (tmp_path / "o" / "results.csv").exists()


def test_model_source_checks(tmp_path, four_models, monkeypatch):
    assert L.check_model_source(four_models[0]) == "local"
    no_cfg = tmp_path / "no-config"
    no_cfg.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        L.check_model_source(str(no_cfg))
    assert L.check_model_source("org/model-7b", online_check=False) == "hub"
    for bad in ("org/", "bad name", "a/b/c", "org/model!"):
        with pytest.raises(ValueError):
            L.check_model_source(bad, online_check=False)
    # Offline, a hub name must be in the local cache (nothing is contacted).
    with pytest.raises(ValueError, match="local hub cache"):
        L.check_model_source("iclbook-no-such-org/no-such-model")
    # dir/name with an existing folder dir is a local path, not a hub name.
    folder = Path(four_models[0]).parent
    monkeypatch.chdir(folder.parent)
    with pytest.raises(ValueError, match="does not exist"):
        L.check_model_source(f"{folder.name}/tiny-3-typo")
    assert L.check_model_source(f"{folder.name}/tiny-0") == "local"


def test_output_folder_checked_first(tmp_path, four_models, count_loads):
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(ValueError, match="not a folder"):
        L.run_experiment(four_models[:1], L.book_dataset(), k=2, n_queries=2, out_dir=f)
    with pytest.raises(ValueError, match="resume and overwrite"):
        L.run_experiment(four_models[:1], L.book_dataset(), k=2, n_queries=2,
                         out_dir=tmp_path / "x", resume=True, overwrite=True)
    assert count_loads == []


# ---------------------------------------------------------------- lose nothing, resume


def _result_files(out):
    files = sorted(p.relative_to(out) for p in Path(out).rglob("*")
                   if p.is_file() and p.name != "run_log.jsonl")
    return files


@pytest.mark.slow
def test_crash_keeps_finished_models_and_resume_gives_the_same_files(tmp_path, four_models,
                                                                     monkeypatch):
    kw = {"k": 4, "flips": [0, 0.5, 1], "n_queries": 4, "batch_size": 3, "seed": 1}
    ds = L.book_dataset()
    full = tmp_path / "full"
    L.run_experiment(four_models[:3], ds, out_dir=full, **kw)

    part = tmp_path / "part"
    real = runner.evaluate_model

    def crash_on_second(model, tok, dataset, episodes, *, model_name, **k2):
        if model_name == "tiny-1":
            raise RuntimeError("simulated crash in the second model")
        return real(model, tok, dataset, episodes, model_name=model_name, **k2)

    monkeypatch.setattr(runner, "evaluate_model", crash_on_second)
    with pytest.raises(L.HarnessError, match="tiny-1.*simulated crash"):
        L.run_experiment(four_models[:3], ds, out_dir=part, **kw)
    assert (part / "models" / "tiny-0" / "results.json").is_file()
    assert not (part / "models" / "tiny-1" / "results.json").exists()
    assert {r["model"] for r in L.read_results(part / "results.csv")} == {"tiny-0"}
    assert not list(part.rglob("*.tmp"))
    monkeypatch.setattr(runner, "evaluate_model", real)

    loads = []
    real_load = runner.load_model
    monkeypatch.setattr(runner, "load_model",
                        lambda p, **k2: loads.append(p) or real_load(p, **k2))
    with pytest.raises(ValueError, match="--resume"):
        L.run_experiment(four_models[:3], ds, out_dir=part, **kw)
    L.run_experiment(four_models[:3], ds, out_dir=part, resume=True, **kw)
    assert loads == four_models[1:3]  # the finished model is not run again
    assert _result_files(part) == _result_files(full)
    for rel in _result_files(full):
        assert filecmp.cmp(full / rel, part / rel, shallow=False), rel
    log = [json.loads(line) for line in (part / "run_log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in log].count("failed") == 1
    # A resume with another configuration is refused before any model loads.
    loads.clear()
    with pytest.raises(ValueError, match="different configuration.*seed"):
        L.run_experiment(four_models[:3], ds, out_dir=part, resume=True,
                         **{**kw, "seed": 2})
    assert loads == []


def test_provenance_in_every_result_file(tmp_path, four_models):
    out = tmp_path / "p"
    L.run_experiment(four_models[:2], L.book_dataset(), k=2, flips=[0, 1], n_queries=3,
                     batch_size="auto", out_dir=out, seed=5)
    for where in (out, out / "models" / "tiny-0"):
        data = json.loads((where / "results.json").read_text())
        prov = data["provenance"]["tiny-0"]
        assert prov["path"] == four_models[0] and prov["revision"] is None
        assert prov["dtype"] == "float32" and prov["device"] == "cpu"
        assert prov["batch_size"] == "auto" and prov["batch_size_used"] == 6
        assert prov["forward_passes"] == 1 and prov["single_pass_per_prompt"] is True
        assert prov["seed"] == 5
        assert prov["template"]["demo"] == "Input: {input}\nOutput: {label}"
        assert prov["versions"]["torch"] == torch.__version__
        assert prov["versions"]["iclbook"] == iclbook.__version__
        assert data["config"]["seed"] == 5


def test_runtime_failure_is_one_line_exit_1(tmp_path, four_models, capsys):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    out = tmp_path / "o"
    rc = cli_main(["--model", four_models[0], "--model", str(broken), "--k", "2",
                   "--n-queries", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "broken-model" in err
    assert "usage:" not in err
    assert {r["model"] for r in L.read_results(out / "results.csv")} == {"tiny-0"}


def test_usage_errors_exit_2(four_models, capsys):
    with pytest.raises(SystemExit) as exc:
        cli_main(["--model", four_models[0], "--batch-size", "zero"])
    assert exc.value.code == 2 and "auto" in capsys.readouterr().err
    assert cli_main(["--model", four_models[0], "--model", four_models[1], "--revision", "a",
                     "--revision", "b", "--revision", "c"]) == 2
    assert "--revision" in capsys.readouterr().err


def test_revision_and_trust_remote_code_reach_transformers(monkeypatch, four_models):
    import transformers

    seen = []
    real = transformers.AutoModelForCausalLM.from_pretrained

    def spy(name, **kw):
        seen.append(kw)
        return real(name, **{k: v for k, v in kw.items() if k != "revision"})

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", spy)
    L.load_model(four_models[0], revision="v1.0", trust_remote_code=True)
    assert seen[0]["revision"] == "v1.0" and seen[0]["trust_remote_code"] is True


# ---------------------------------------------------------------- scoring: one pass, OOM


@pytest.fixture(scope="module")
def tiny(four_models):
    return L.load_model(four_models[0])


def _book_prompts(n=6, k=4):
    ds = L.book_dataset()
    cases = [L.make_prompt(ds, e, flip=0.5) for e in L.sample_episodes(ds, k, n, seed=4)]
    return [c.prompt for c in cases], [[c.prefix + w for w in ds.label_names] for c in cases]


def test_one_forward_pass_per_prompt_same_scores(tiny):
    model, tok = tiny
    prompts, choices = _book_prompts()
    assert L.scoring.single_token_ids(tok, choices[0]) is not None  # single-token words
    info = {}
    fast = L.score_choices(model, tok, prompts, choices, batch_size=4, info=info)
    assert info["single_pass"] is True and info["forward_passes"] == 2  # 6 prompts / 4
    flat = L.score_continuations(model, tok, [p for p in prompts for _ in range(2)],
                                 [c for ch in choices for c in ch], batch_size=4)
    np.testing.assert_allclose(fast, flat.reshape(6, 2), atol=1e-5, rtol=0)
    # Multi-token label words: the pair-by-pair path, identical to score_continuations.
    multi = [[" very negative", " very positive"]] * len(prompts)
    info2 = {}
    slow = L.score_choices(model, tok, prompts, multi, batch_size=4, info=info2)
    assert info2["single_pass"] is False
    ref = L.score_continuations(model, tok, [p for p in prompts for _ in range(2)],
                                [c for ch in multi for c in ch], batch_size=4)
    np.testing.assert_array_equal(slow, ref.reshape(6, 2))
    with pytest.raises(ValueError, match="same length"):
        L.score_choices(model, tok, prompts, choices[:1])


class _OOMBelow(torch.nn.Module):
    """The tiny model, but a batch of more than ``limit`` sequences runs out of memory."""

    def __init__(self, model, limit):
        super().__init__()
        self.inner, self.limit, self.sizes = model, limit, []

    def forward(self, input_ids, **kw):
        self.sizes.append(input_ids.shape[0])
        if input_ids.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return self.inner(input_ids=input_ids, **kw)


def test_auto_batch_size_halves_on_out_of_memory(tiny):
    model, tok = tiny
    prompts, choices = _book_prompts(n=12)
    ref = L.score_choices(model, tok, prompts, choices, batch_size=1)
    fake = _OOMBelow(model, limit=3)
    info = {}
    got = L.score_choices(fake, tok, prompts, choices, batch_size="auto", info=info)
    assert fake.sizes[:3] == [12, 6, 3] and info["batch_size"] == 3
    assert info["forward_passes"] == 4
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
    with pytest.raises(MemoryError, match="batch size 8.*auto"):
        L.score_choices(_OOMBelow(model, limit=3), tok, prompts, choices, batch_size=8)
    with pytest.raises(MemoryError, match="batch size 1"):
        L.score_choices(_OOMBelow(model, limit=0), tok, prompts, choices, batch_size="auto")
    with pytest.raises(ValueError, match="batch_size"):
        L.score_choices(model, tok, prompts, choices, batch_size="big")
    assert L.scoring.is_out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not L.scoring.is_out_of_memory(RuntimeError("shape mismatch"))


# ---------------------------------------------------------------- datasets


def test_hf_dataset_from_a_local_folder(tmp_path):
    pytest.importorskip("datasets")
    folder = tmp_path / "hfdata"
    folder.mkdir()
    (folder / "train.csv").write_text("sentence,label\ngood,1\nbad,0\nfine,1\n")
    ds = L.load_dataset(f"hf:{folder}", text_column="sentence",
                        label_names=["0", "1"])
    assert ds.texts == ("good", "bad", "fine") and ds.labels == (1, 0, 1)
    with pytest.raises(ValueError, match="could not load dataset"):
        L.load_dataset(f"hf:{tmp_path / 'missing'}")
    with pytest.raises(ValueError, match="label_column 'y'"):
        L.load_dataset(f"hf:{folder}", text_column="sentence", label_column="y")
    assert set(L.LITERATURE_TASKS) >= {"sst2", "subj"}
    for spec in L.LITERATURE_TASKS.values():
        assert str(spec["source"]).startswith("hf:") and len(spec["verbalizers"]) == 2


# ---------------------------------------------------------------- the book's own run


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "run_llm_book_protocol", ROOT / "scripts" / "run_llm_book_protocol.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_book_run_script_and_chapter_rendering(tmp_path, four_models, capsys):
    from iclbook.llm.book_run import render_book_run

    text, fig = render_book_run(tmp_path / "absent.json")
    assert fig is None and "has not been made yet" in text and "llm_book_run.json" in text
    script = _load_script()
    book_file = tmp_path / "llm_book_run.json"
    base = ["--base-small", four_models[0], "--chat-small", four_models[1],
            "--base-large", four_models[2], "--small-size", "7B", "--large-size", "13B",
            "--k", "2", "--n-queries", "3", "--flip", "0", "1", "--out",
            str(tmp_path / "run"), "--book-file", str(book_file), "--date", "2026-01-02",
            "--batch-size", "auto"]
    assert script.main([*base, "--chat-large", str(tmp_path / "missing")]) == 2
    assert "chat-large" in capsys.readouterr().err and not book_file.exists()
    assert script.main([*base, "--chat-large", four_models[3]]) == 0
    text, fig = render_book_run(book_file)
    assert text.startswith("**The book's own run, made on 2026-01-02**")
    for name in ("7B-base", "7B-chat", "13B-base", "13B-chat"):
        assert name in text
    assert "cpu (float32)" in text and "| f = 0 | f = 1 |" in text
    rows = L.read_results(tmp_path / "run" / "results.csv")
    first = next(r for r in rows if r["model"] == "7B-base" and r["flip"] == 0)
    assert f"{first['accuracy']:.3f} ± {first['accuracy_se']:.3f}" in text
    assert fig.axes[0].get_title() == "The book's own run (2026-01-02)"
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a book-run file"):
        render_book_run(bad)
