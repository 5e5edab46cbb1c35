"""Tests of iclbook.llm without downloads: a tiny random GPT-2 and a locally trained BPE."""

import csv
import json
import os

import numpy as np
import pytest
import torch

import iclbook.llm as L
from iclbook.llm.cli import main as cli_main

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

transformers = pytest.importorskip("transformers")

TINY = L.TextDataset(
    texts=("good film", "bad film", "great soup", "awful soup", "nice day", "sad day"),
    labels=(1, 0, 1, 0, 1, 0),
    label_names=("negative", "positive"),
    name="tiny",
)


def _save_tiny_model(path, seed, chat=False, single_token_labels=False, init_range=0.02):
    """A random 2-layer GPT-2 with a BPE tokenizer trained on book sentences; with
    ``single_token_labels`` the words " negative" and " positive" are single tokens; a large
    ``init_range`` (weight scale) makes its predictions depend more on the prompt."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    texts = list(L.book_dataset().texts[:60]) + ["Input: Output: positive negative"]
    if single_token_labels:
        texts += ["Output: positive Output: negative"] * 200
    tok.train_from_iterator(texts, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    if chat:
        fast.chat_template = ("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}"
                              "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}")
    fast.save_pretrained(path)
    cfg = GPT2Config(n_layer=2, n_head=2, n_embd=32, n_positions=1024, vocab_size=len(fast),
                     bos_token_id=fast.eos_token_id, eos_token_id=fast.eos_token_id,
                     initializer_range=init_range)
    torch.manual_seed(seed)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return [_save_tiny_model(root / "tiny-a", 0), _save_tiny_model(root / "tiny-b", 1),
            _save_tiny_model(root / "tiny-chat", 2, chat=True)]


@pytest.fixture(scope="module")
def loaded(model_dirs):
    return L.load_model(model_dirs[0])


# ---------------------------------------------------------------- datasets


def test_book_dataset_is_balanced_and_original_size():
    ds = L.book_dataset()
    assert len(ds) == 240 and ds.class_counts() == [120, 120]
    assert ds.label_names == ("negative", "positive")
    assert len(set(ds.texts)) == 240
    assert L.load_dataset("book") == ds
    assert "soup" in ds.vocabulary()


def test_load_csv_and_jsonl(tmp_path):
    p = tmp_path / "d.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sentence", "y"])
        w.writerows([["a, b", "1"], ["c", "0"], ["d", "1"]])
    ds = L.load_dataset(p, text_column="sentence", label_column="y")
    assert ds.texts == ("a, b", "c", "d") and ds.labels == (1, 0, 1)
    assert ds.label_names == ("0", "1") and ds.name == "d"
    ds2 = L.load_dataset(p, text_column="sentence", label_column="y", label_names=["1", "0"])
    assert ds2.labels == (0, 1, 0)
    j = tmp_path / "d.jsonl"
    j.write_text('{"text": "x", "label": "pos"}\n\n{"text": "y", "label": "neg"}\n')
    dj = L.load_dataset(j)
    assert dj.texts == ("x", "y") and dj.label_names == ("neg", "pos") and dj.labels == (1, 0)


def test_dataset_errors(tmp_path):
    with pytest.raises(ValueError, match="dataset must be"):
        L.load_dataset(tmp_path / "missing.csv")
    bad = tmp_path / "d.txt"
    bad.write_text("x")
    with pytest.raises(ValueError, match=r"\.csv or \.jsonl"):
        L.load_dataset(bad)
    p = tmp_path / "d.csv"
    p.write_text("text,label\na,1\n")
    with pytest.raises(ValueError, match="label_column 'y'"):
        L.load_dataset(p, label_column="y")
    with pytest.raises(ValueError, match="not in label_names"):
        L.load_dataset(p, label_names=["0", "2"])
    with pytest.raises(ValueError, match="at least 2 classes"):
        L.load_dataset(p)
    e = tmp_path / "e.csv"
    e.write_text("text,label\n")
    with pytest.raises(ValueError, match="empty"):
        L.load_dataset(e)
    j = tmp_path / "d.jsonl"
    j.write_text("{not json}\n")
    with pytest.raises(ValueError, match="not valid JSON"):
        L.load_dataset(j)
    with pytest.raises(ValueError, match="label_names of the book"):
        L.load_dataset("book", label_names=["a", "b"])
    with pytest.raises(ValueError, match="labels must be in"):
        L.TextDataset(("a",), (2,), ("n", "p"))
    with pytest.raises(ValueError, match="same length"):
        L.TextDataset(("a",), (0, 1), ("n", "p"))
    with pytest.raises(ValueError, match="distinct"):
        L.TextDataset(("a",), (0,), ("n", "n"))


# ---------------------------------------------------------------- prompts


def test_prompt_text_is_exact():
    eps = L.sample_episodes(TINY, 2, 1, seed=0)
    assert eps == L.sample_episodes(TINY, 2, 1, seed=0)
    e = eps[0]
    assert e.query not in e.demos and len(e.demos) == 2
    assert sorted(TINY.labels[i] for i in e.demos) == [0, 1]  # balanced
    case = L.make_prompt(TINY, e)
    (t1, t2), q = [TINY.texts[i] for i in e.demos], TINY.texts[e.query]
    w1, w2 = [TINY.label_names[TINY.labels[i]] for i in e.demos]
    expected = f"Input: {t1}\nOutput: {w1}\n\nInput: {t2}\nOutput: {w2}\n\nInput: {q}\nOutput:"
    assert case.prompt == expected
    assert case.prefix == " " and case.flipped == () and case.label == TINY.labels[e.query]
    # the literal string for seed 0 (changes only if the episode sampler changes)
    assert case.prompt == ("Input: great soup\nOutput: positive\n\nInput: awful soup\nOutput: "
                           "negative\n\nInput: sad day\nOutput:")
    flipped = L.make_prompt(TINY, e, flip=1.0)
    assert flipped.prompt == ("Input: great soup\nOutput: negative\n\nInput: awful soup\nOutput: "
                              "positive\n\nInput: sad day\nOutput:")
    assert flipped.flipped == (0, 1)


def test_custom_template_and_verbalizers():
    t = L.PromptTemplate("Review: {input} -> {label}.", separator=" | ",
                         verbalizers=("bad", "good"))
    prompt, prefix = L.build_prompt(t, [("x {y}", "good")], "z")
    assert prompt == "Review: x {y} -> good. | Review: z ->" and prefix == " "
    assert t.label_words(("negative", "positive")) == ("bad", "good")
    t2 = L.PromptTemplate("{input}={label}")
    assert L.build_prompt(t2, [], "q") == ("q=", "")


@pytest.mark.parametrize("demo, match", [
    ("Input: {text}\nOutput: {label}", "slot {input}"),
    ("Input: {input}\nOutput:", "slot {label}"),
    ("{input} {input} {label}", "exactly once"),
    ("{label} {input}", "after"),
    ("{input} {label} {extra}", "only use the slots"),
])
def test_template_errors(demo, match):
    with pytest.raises(ValueError, match=match):
        L.PromptTemplate(demo)


def test_verbalizer_errors():
    with pytest.raises(ValueError, match="verbalizers"):
        L.PromptTemplate(verbalizers=("a", "a"))
    with pytest.raises(ValueError, match="one word per class"):
        L.PromptTemplate(verbalizers=("a", "b", "c")).label_words(("n", "p"))


# ---------------------------------------------------------------- noise


@pytest.mark.parametrize("k", [1, 2, 4, 5, 8, 16, 32])
@pytest.mark.parametrize("frac", [0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
def test_exact_number_of_flips(k, frac):
    rng = np.random.default_rng(k)
    labels = list(rng.integers(0, 2, size=k))
    new, idx = L.flip_labels(labels, frac, 2, np.random.default_rng(3))
    expected = int(np.floor(frac * k + 0.5))
    assert len(idx) == expected == L.n_noisy(frac, k)
    assert sum(a != b for a, b in zip(labels, new, strict=True)) == expected
    assert all(new[i] == 1 - labels[i] for i in idx)


def test_flips_are_nested_and_multiclass():
    labels = [0, 1, 2, 0, 1, 2, 0, 1]
    sets = [set(L.flip_labels(labels, f, 3, np.random.default_rng(7))[1])
            for f in (0.25, 0.5, 1.0)]
    assert sets[0] <= sets[1] <= sets[2] and len(sets[2]) == 8
    new, _ = L.flip_labels(labels, 1.0, 3, np.random.default_rng(7))
    assert all(a != b for a, b in zip(labels, new, strict=True))
    assert L.n_noisy(0.5, 5) == 3 and L.n_noisy(0.3, 10) == 3


def test_noise_errors():
    rng = np.random.default_rng(0)
    for bad in (-0.1, 1.5, "x"):
        with pytest.raises(ValueError, match=r"frac must be a number in \[0, 1\]"):
            L.flip_labels([0, 1], bad, 2, rng)
        with pytest.raises(ValueError, match="frac"):
            L.corrupt_text("a b", bad, ["c"], rng)
    with pytest.raises(ValueError, match="n_classes"):
        L.flip_labels([0], 0.5, 1, rng)
    with pytest.raises(ValueError, match="labels must be in"):
        L.flip_labels([0, 2], 0.5, 2, rng)
    with pytest.raises(ValueError, match="vocabulary"):
        L.corrupt_text("a b", 0.5, [], rng)


def test_corrupt_text_replaces_exact_count():
    text = "one two three four five six seven eight"
    for frac, n in [(0.0, 0), (0.25, 2), (0.5, 4), (1.0, 8)]:
        out = L.corrupt_text(text, frac, ["X"], np.random.default_rng(1))
        assert out.split().count("X") == n
    a = L.corrupt_text(text, 0.25, ["X"], np.random.default_rng(1)).split()
    b = L.corrupt_text(text, 0.5, ["X"], np.random.default_rng(1)).split()
    assert all(bb == "X" for aa, bb in zip(a, b, strict=True) if aa == "X")  # nested
    case = L.make_prompt(L.book_dataset(), L.Episode(0, (1, 2)), input_noise=1.0)
    assert L.book_dataset().texts[0] in case.prompt  # the query stays clean


# ---------------------------------------------------------------- episodes


def test_episodes_and_their_errors():
    ds = L.book_dataset()
    eps = L.sample_episodes(ds, 16, 20, seed=1)
    assert len({e.query for e in eps}) == 20
    for e in eps:
        assert e.query not in e.demos and len(set(e.demos)) == 16
        assert sum(ds.labels[i] for i in e.demos) == 8
    odd = L.sample_episodes(ds, 5, 3, seed=1, balanced=False)
    assert all(len(e.demos) == 5 for e in odd)
    with pytest.raises(ValueError, match=r"k must be an integer in 0\.\.5"):
        L.sample_episodes(TINY, 6, 1)
    with pytest.raises(ValueError, match="k must be <= 4 for balanced"):
        L.sample_episodes(TINY, 5, 1)
    assert len(L.sample_episodes(TINY, 5, 1, balanced=False)[0].demos) == 5
    with pytest.raises(ValueError, match="n_queries"):
        L.sample_episodes(TINY, 2, 7)
    with pytest.raises(ValueError, match="flip"):
        L.make_prompt(TINY, L.Episode(0, (1,)), flip=1.2)
    with pytest.raises(ValueError, match="input_noise"):
        L.make_prompt(TINY, L.Episode(0, (1,)), input_noise=-0.5)


# ---------------------------------------------------------------- scoring


def test_load_model_errors(tmp_path, model_dirs):
    with pytest.raises(ValueError, match="does not exist"):
        L.load_model(str(tmp_path / "no-such-model"))
    with pytest.raises(ValueError, match="does not exist"):
        L.load_model("./nowhere/at/all")
    f = tmp_path / "file.bin"
    f.write_text("x")
    with pytest.raises(ValueError, match="folder"):
        L.load_model(str(f))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no config.json"):
        L.load_model(str(empty))
    (empty / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="could not load model"):
        L.load_model(str(empty))
    with pytest.raises(ValueError, match="could not load model"):
        L.load_model("iclbook-no-such-org/no-such-model", local_files_only=True)
    with pytest.raises(ValueError, match="dtype"):
        L.load_model(model_dirs[0], dtype="float8")


def test_scores_equal_a_manual_forward_pass(loaded):
    model, tok = loaded
    assert tok.padding_side == "left" and tok.pad_token_id is not None
    prompts = ["Input: The soup was warm.\nOutput:", "Input: bad\nOutput:"]
    conts = [" positive", " negative"]
    scores = L.score_continuations(model, tok, prompts, conts, batch_size=2)
    for p, c, s in zip(prompts, conts, scores, strict=True):
        p_ids = tok(p)["input_ids"]
        c_ids = tok(c, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p_ids + c_ids])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        manual = sum(logp[len(p_ids) - 1 + t, c_ids[t]].item() for t in range(len(c_ids)))
        assert len(c_ids) >= 1
        assert s == pytest.approx(manual, abs=1e-4)


def test_batching_invariance(loaded):
    model, tok = loaded
    ds = L.book_dataset()
    eps = L.sample_episodes(ds, 4, 6, seed=2)
    cases = [L.make_prompt(ds, e, flip=0.5) for e in eps]
    prompts = [c.prompt for c in cases for _ in range(2)]
    conts = [c.prefix + w for c in cases for w in ds.label_names]
    s1 = L.score_continuations(model, tok, prompts, conts, batch_size=1)
    s8 = L.score_continuations(model, tok, prompts, conts, batch_size=8)
    np.testing.assert_allclose(s1, s8, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="batch_size"):
        L.score_continuations(model, tok, prompts, conts, batch_size=0)
    with pytest.raises(ValueError, match="same length"):
        L.score_continuations(model, tok, prompts, conts[:1])
    with pytest.raises(ValueError, match="no tokens"):
        L.score_continuations(model, tok, ["a"], [""])


# ---------------------------------------------------------------- experiment and CLI


def test_evaluate_model_rows(loaded):
    model, tok = loaded
    eps = L.sample_episodes(L.book_dataset(), 4, 5, seed=0)
    rows, preds = L.evaluate_model(model, tok, L.book_dataset(), eps, flips=[0, 0.5, 1],
                                   input_noises=[0, 0.5], model_name="a")
    assert len(rows) == 6 and len(preds) == 30
    for r in rows:
        assert r["n_flipped"] == L.n_noisy(r["flip"], 4) and r["n_queries"] == 5
        assert r["accuracy"] == pytest.approx(np.mean([p["correct"] for p in preds
                                                       if p["flip"] == r["flip"]
                                                       and p["input_noise"] == r["input_noise"]]))
    p = preds[0]
    assert p["prediction"] == int(p["score_positive"] > p["score_negative"])
    with pytest.raises(ValueError, match="chat template"):
        L.evaluate_model(model, tok, L.book_dataset(), eps, chat_template=True)
    with pytest.raises(ValueError, match="flips"):
        L.evaluate_model(model, tok, L.book_dataset(), eps, flips=[2.0])
    with pytest.raises(ValueError, match="episodes"):
        L.evaluate_model(model, tok, L.book_dataset(), [])


def test_chat_template(model_dirs):
    model, tok = L.load_model(model_dirs[2])
    eps = L.sample_episodes(L.book_dataset(), 2, 2, seed=0)
    rows, _ = L.evaluate_model(model, tok, L.book_dataset(), eps, chat_template=True)
    assert len(rows) == 1 and 0 <= rows[0]["accuracy"] <= 1


def test_run_experiment_writes_files(tmp_path, model_dirs):
    out = tmp_path / "res"
    rows = L.run_experiment(model_dirs[:2], L.book_dataset(), k=4, flips=[0, 1],
                            n_queries=3, out_dir=out, batch_size=4)
    assert [r["model"] for r in rows] == ["tiny-a", "tiny-a", "tiny-b", "tiny-b"]
    for name in ("results.csv", "results.json", "predictions.csv", "accuracy_vs_flip.png"):
        assert (out / name).is_file()
    back = L.read_results(out / "results.csv")
    assert [r["accuracy"] for r in back] == pytest.approx([r["accuracy"] for r in rows])
    data = json.loads((out / "results.json").read_text())
    assert data["config"]["k"] == 4 and data["config"]["names"] == ["tiny-a", "tiny-b"]
    assert L.read_results(out / "results.json") == json.loads(json.dumps(rows))
    with (out / "predictions.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 2 * 2 * 3
    with pytest.raises(ValueError, match="results"):
        L.read_results(tmp_path / "nothing.csv")


def test_run_experiment_errors(tmp_path, model_dirs):
    ds = L.book_dataset()
    with pytest.raises(ValueError, match="does not exist"):
        L.run_experiment([str(tmp_path / "missing")], ds, k=2, n_queries=1)
    with pytest.raises(ValueError, match="k must be"):
        L.run_experiment(model_dirs[:1], TINY, k=6, n_queries=1)
    with pytest.raises(ValueError, match="flips"):
        L.run_experiment(model_dirs[:1], ds, k=2, flips=[-0.1], n_queries=1)
    with pytest.raises(ValueError, match="input_noises"):
        L.run_experiment(model_dirs[:1], ds, k=2, input_noises=[1.1], n_queries=1)
    with pytest.raises(ValueError, match="models"):
        L.run_experiment([], ds)
    with pytest.raises(ValueError, match="names"):
        L.run_experiment(model_dirs[:2], ds, names=["x", "x"])


def test_cli(tmp_path, model_dirs, capsys):
    out = tmp_path / "cli"
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"s": t, "y": str(c)}) + "\n"
                            for t, c in zip(TINY.texts, TINY.labels, strict=True)))
    rc = cli_main(["--model", model_dirs[0], "--name", "small", "--dataset", str(data),
                   "--text-column", "s", "--label-column", "y", "--verbalizers", "bad", "good",
                   "--template", "Text: {input}\\nSentiment: {label}", "--k", "2", "--flip",
                   "0", "0.5", "1", "--n-queries", "2", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split("\t")[0] == "model" and "small" in printed
    rows = L.read_results(out / "results.csv")
    assert [r["n_flipped"] for r in rows] == [0, 1, 2]
    config = json.loads((out / "results.json").read_text())["config"]
    assert config["template"]["demo"] == "Text: {input}\nSentiment: {label}"
    # Value errors are usage errors: one line, exit code 2, before any model loads.
    assert cli_main(["--model", model_dirs[0], "--k", "500", "--out", str(tmp_path / "o1")]) == 2
    assert "k must be" in capsys.readouterr().err
    assert cli_main(["--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o2")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert cli_main(["--model", model_dirs[0], "--flip", "1.5", "--out",
                     str(tmp_path / "o3")]) == 2
    assert "[0, 1]" in capsys.readouterr().err
    assert cli_main(["--model", model_dirs[0], "--template", "{input}", "--out",
                     str(tmp_path / "o4")]) == 2
    assert "{label}" in capsys.readouterr().err
    # The same folder again without --resume/--overwrite: refused, nothing lost.
    assert cli_main(["--model", model_dirs[0], "--k", "2", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert [r["n_flipped"] for r in L.read_results(out / "results.csv")] == [0, 1, 2]


def test_plot_flip_curves():
    rows = [{"model": m, "flip": f, "input_noise": g, "accuracy": a, "accuracy_se": 0.05}
            for m, a in (("s", 0.8), ("l", 0.9)) for f in (0, 0.5, 1) for g in (0, 0.5)]
    fig = L.plot_flip_curves(rows)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["chance", "l", "s"]
    fig2 = L.plot_flip_curves(rows, x="input_noise", input_noise=0.5)
    assert "corrupted" in fig2.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="x must be"):
        L.plot_flip_curves(rows, x="k")
    with pytest.raises(ValueError, match="no rows"):
        L.plot_flip_curves(rows, input_noise=0.3)
    with pytest.raises(ValueError, match="at least one"):
        L.plot_flip_curves([])


def test_version_parsing():
    from iclbook.llm.scoring import _version_tuple

    assert _version_tuple("4.40.2") == (4, 40)
    assert _version_tuple("5.0.0rc1") == (5, 0)
    assert _version_tuple("4.56.0.dev0") >= (4, 56)
