"""Scoring label words with a causal language model (chapter 10).

The score of label word ``w`` for a prompt is its log-likelihood under the model,

    score(w) = sum_t log p(w_t | prompt, w_1 .. w_{t-1}),

the sum of the log-probabilities of the tokens of ``w`` (after the prompt's token ids,
tokenized separately, so the prompt is the same token sequence for every label).  The
prediction is the label word with the highest score.

Sequences are run in batches with **left padding**, an attention mask and position ids
``cumsum(mask) - 1``, so a padded sequence gets the same positions (hence the same scores)
as when it runs alone.  Models come from a local folder or a hub name through
``transformers.AutoModelForCausalLM``; with a GPU, ``device_map="auto"`` (accelerate) spreads
them over the available devices, otherwise they run on the CPU.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..core.reproducibility import progress_enabled
from ..core.validation import check_positive_int

__all__ = ["load_model", "score_continuations", "score_choices", "encode_pairs",
           "check_model_source", "resolve_device", "model_provenance", "is_out_of_memory",
           "hub_offline"]


def _looks_local(name: str) -> bool:
    """A path rather than a hub name ``org/model``: absolute, relative or with several parts."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


_HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off (``HF_HUB_OFFLINE`` /
    ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "0").lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def check_model_source(name_or_path: str | Path, *, revision: str | None = None,
                       online_check: bool | None = None) -> str:
    """Check a model before anything is loaded; returns ``"local"`` or ``"hub"``.

    A name that looks like a path (absolute, relative, ``~``, more than one ``/``, or
    ``dir/name`` where ``dir`` is an existing folder), or that exists on disk, must be a
    folder holding ``config.json``.  Anything else is a hub name ``org/model`` and must have
    that shape; with the hub switched off (``HF_HUB_OFFLINE=1``) it must be in the local
    cache.  It is looked up on the hub only when ``online_check`` is true (default: when
    the hub is on and the model is not cached); ``online_check=False`` checks the shape
    only.  ``ValueError`` names the model and what is wrong.
    """
    name = str(name_or_path)
    if not name:
        raise ValueError("model must be a local folder or a hub name, got ''")
    expanded = os.path.expanduser(name)
    # "models/llama-7b" is a local path when its first part is an existing folder.
    parent_is_dir = "/" in name and Path(expanded).parent.is_dir()
    if _looks_local(name) or parent_is_dir or Path(expanded).exists():
        p = Path(expanded)
        if not p.exists():
            raise ValueError(f"model path {name!r} does not exist")
        if not p.is_dir():
            raise ValueError(f"model path {name!r} must be a folder with config.json")
        if not (p / "config.json").is_file():
            raise ValueError(f"model folder {name!r} has no config.json")
        return "local"
    if not _HUB_NAME.match(name) or name.endswith((".", "-")):
        raise ValueError(f"model {name!r} is neither an existing folder nor a hub name "
                         "of the form org/model")
    cached = _in_hub_cache(name, revision)
    if hub_offline() and not cached and online_check is not False:
        raise ValueError(f"model {name!r} is neither an existing folder nor in the local hub "
                         "cache, and the hub is off (HF_HUB_OFFLINE=1)")
    if online_check is None:
        online_check = not hub_offline() and not cached
    if online_check:  # pragma: no cover - needs the network
        try:
            from huggingface_hub import HfApi

            HfApi().model_info(name, revision=revision, timeout=20)
        except Exception as err:  # noqa: BLE001 - any hub failure is reported the same way
            raise ValueError(f"model {name!r} (revision {revision or 'main'}) is not "
                             f"reachable on the hub: {type(err).__name__}: "
                             f"{str(err).splitlines()[0] if str(err) else ''} (set "
                             "HF_HUB_OFFLINE=1 to use a cached copy only)") from None
    return "hub"


def _in_hub_cache(name: str, revision: str | None) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover
        return False
    hit = try_to_load_from_cache(name, "config.json", revision=revision)
    return isinstance(hit, str)


def resolve_device(device: str | None) -> str:
    """The device to run on: ``None``/``"auto"`` gives ``"cuda"`` (spread over the GPUs by
    accelerate) when CUDA is available, else ``"mps"`` (Apple GPUs) when available, else
    ``"cpu"``.  An explicit ``"cuda[:i]"`` or ``"mps"`` that is not available is a
    ``ValueError``."""
    import torch

    mps = getattr(torch.backends, "mps", None)
    has_mps = bool(mps is not None and mps.is_available())
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if has_mps else "cpu"
    dev = str(device)
    if dev.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {dev!r} asked for, but CUDA is not available")
    if dev == "mps" and not has_mps:
        raise ValueError("device 'mps' asked for, but the Apple MPS backend is not available")
    if not (dev == "cpu" or dev == "mps" or re.fullmatch(r"cuda(:\d+)?", dev)):
        raise ValueError(f"device must be 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N', got {dev!r}")
    return dev


def load_model(name_or_path: str | Path, *, device: str | None = None,
               dtype: str | None = None, local_files_only: bool = False,
               revision: str | None = None,
               trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for scoring from a local folder or a hub name.

    The model is first checked by :func:`check_model_source`.  Loading errors of
    transformers (missing files, an unknown hub name, no network) are re-raised as
    ``ValueError``.  ``device``: see :func:`resolve_device`; with ``None``/``"auto"`` and
    CUDA, ``device_map="auto"`` (accelerate) spreads the model over the GPUs.  ``dtype``:
    ``"auto"`` (the checkpoint's dtype; default on CUDA), ``"float32"`` (default on CPU and
    MPS), ``"float16"`` or ``"bfloat16"``.  ``revision`` (a branch, tag or commit of a hub
    model) and ``trust_remote_code`` are passed to transformers.  The tokenizer gets left
    padding and a pad token (its end-of-sequence token when it has none).
    """
    import torch

    name = str(name_or_path)
    kind = check_model_source(name, revision=revision, online_check=False)
    if kind == "local":
        name = os.path.expanduser(name)
        local_files_only = True
    if dtype not in (None, "auto", "float32", "float16", "bfloat16"):
        raise ValueError(f"dtype must be one of None, 'auto', 'float32', 'float16', 'bfloat16', "
                         f"got {dtype!r}")
    auto = device in (None, "auto")
    device = resolve_device(device)
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import __version__ as transformers_version
    from transformers.utils import logging as hf_logging

    if not progress_enabled():
        hf_logging.disable_progress_bar()

    cuda = device.startswith("cuda")
    kwargs: dict[str, Any] = {"local_files_only": local_files_only,
                              "trust_remote_code": bool(trust_remote_code)}
    if revision is not None:
        kwargs["revision"] = revision
    if dtype is None:
        dtype = "auto" if cuda else "float32"
    kwargs["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
    if cuda and auto:
        kwargs["device_map"] = "auto"
    if _version_tuple(transformers_version) < (4, 56):  # older releases call it torch_dtype
        kwargs["torch_dtype"] = kwargs.pop("dtype")
    tok_kwargs = {k: kwargs[k] for k in ("local_files_only", "trust_remote_code", "revision")
                  if k in kwargs}
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, **tok_kwargs)
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"could not load model {str(name_or_path)!r}: {first}") from err
    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"tokenizer of {str(name_or_path)!r} has neither a pad nor an "
                             "end-of-sequence token")
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def model_provenance(model: Any) -> dict[str, Any]:
    """Where and how a loaded model runs: dtype, device(s), its commit hash when known."""
    param = next(model.parameters())
    dev_map = getattr(model, "hf_device_map", None)
    return {"dtype": str(param.dtype).replace("torch.", ""),
            "device": str(param.device),
            "device_map": ({str(k): str(v) for k, v in dev_map.items()}
                           if isinstance(dev_map, dict) else None),
            "commit_hash": getattr(getattr(model, "config", None), "_commit_hash", None)}


def encode_pairs(tokenizer: Any, prompts: Sequence[str],
                 continuations: Sequence[str]) -> tuple[list[list[int]], list[int]]:
    """Token ids of ``prompt`` followed by those of ``continuation``, and the latter's length.

    The prompt is tokenized with the tokenizer's special tokens (e.g. a BOS token), the
    continuation without; an empty continuation is an error.
    """
    if len(prompts) != len(continuations):
        raise ValueError(f"prompts and continuations must have the same length, got "
                         f"{len(prompts)} and {len(continuations)}")
    cache: dict[str, list[int]] = {}
    ids, lens = [], []
    for p, c in zip(prompts, continuations, strict=True):
        if p not in cache:
            cache[p] = list(tokenizer(p)["input_ids"])
        cont = list(tokenizer(c, add_special_tokens=False)["input_ids"])
        if not cont:
            raise ValueError(f"continuation {c!r} has no tokens")
        if not cache[p]:
            raise ValueError("a prompt must have at least one token")
        ids.append(cache[p] + cont)
        lens.append(len(cont))
    return ids, lens


def _forward(model: Any, inp: Any, mask: Any, pos: Any, keep: int) -> Any:
    """Logits of the last ``keep`` positions (all positions if the model cannot cut them)."""
    try:
        return model(input_ids=inp, attention_mask=mask, position_ids=pos,
                     logits_to_keep=keep).logits
    except TypeError:  # models without logits_to_keep
        return model(input_ids=inp, attention_mask=mask, position_ids=pos).logits


#: Largest batch tried by ``batch_size="auto"`` (halved on every out-of-memory error).
AUTO_MAX_BATCH = 64


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an out-of-memory error of CUDA, MPS or the CPU allocator."""
    import torch

    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t)
    if oom_types and isinstance(err, oom_types):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def _check_batch_size(batch_size: int | str) -> tuple[int, bool]:
    if batch_size == "auto":
        return AUTO_MAX_BATCH, True
    if isinstance(batch_size, str):
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")
    return check_positive_int("batch_size", batch_size), False


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _run_batches(n: int, batch_size: int | str, order: Sequence[int], step: Any,
                 info: dict[str, Any] | None, bar: Any = None) -> None:
    """Call ``step(rows)`` on consecutive slices of ``order``; halve the size on OOM (auto).

    ``order`` puts the longest sequences first, so the batch size that survives the first
    batches fits the rest (the rule of lm-evaluation-harness's automatic batch size).
    """
    size, auto = _check_batch_size(batch_size)
    size = min(size, max(n, 1)) if auto else size
    start, passes = 0, 0
    while start < n:
        rows = order[start:start + size]
        try:
            step(rows)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            _free_memory()
            if not auto or size == 1:
                hint = " (try --batch-size auto or a smaller batch size)" if not auto else ""
                raise MemoryError(f"out of memory at batch size {size}{hint}") from err
            size //= 2
            continue
        passes += 1
        start += len(rows)
        if bar is not None:
            bar.update(len(rows))
    if info is not None:
        info["batch_size"] = size
        info["forward_passes"] = info.get("forward_passes", 0) + passes


def _pad_batch(seqs: Sequence[Sequence[int]], pad: int, device: Any) -> tuple[Any, Any, Any]:
    """Left-padded ids, attention mask and position ids ``cumsum(mask) - 1``."""
    import torch

    L = max(len(s) for s in seqs)
    inp = torch.full((len(seqs), L), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    for j, s in enumerate(seqs):
        inp[j, L - len(s):] = torch.tensor(list(s), dtype=torch.long)
        mask[j, L - len(s):] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return inp.to(device), mask.to(device), pos.to(device)


def _run_with_progress(n: int, batch_size: Any, order: Any, step: Any, info: Any,
                       progress: bool | None, desc: str) -> None:
    """Run ``step`` over every batch (no gradients), with a progress bar when enabled."""
    import torch

    bar = _progress_bar(progress, n, desc)
    with torch.inference_mode():
        _run_batches(n, batch_size, order, step, info, bar)
    if bar is not None:
        bar.close()


def _progress_bar(progress: bool | None, total: int, desc: str) -> Any:
    if progress is None:
        progress = progress_enabled()
    if not progress:
        return None
    from ..core.progress import progress_bar  # pragma: no cover - display only

    return progress_bar(total, desc)


def score_continuations(model: Any, tokenizer: Any, prompts: Sequence[str],
                        continuations: Sequence[str], *, batch_size: int | str = 8,
                        progress: bool | None = None, desc: str = "scoring",
                        info: dict[str, Any] | None = None) -> np.ndarray:
    """Sum of token log-probabilities of each continuation after its prompt, shape (n,).

    Sequences are sorted by length and run ``batch_size`` at a time with left padding, an
    attention mask and position ids ``cumsum(mask) - 1`` (chapter 10, "scoring"); only the
    logits of the continuation tokens are turned into log-probabilities (float32).
    ``batch_size="auto"`` starts at :data:`AUTO_MAX_BATCH` and halves on out-of-memory;
    ``info`` (a dict, optional) receives the batch size used and the forward-pass count.
    """
    import torch

    _check_batch_size(batch_size)
    ids, lens = encode_pairs(tokenizer, prompts, continuations)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort([-len(s) for s in ids], kind="stable")
    out = np.zeros(len(ids), dtype=np.float64)
    device = next(model.parameters()).device

    def step(rows: Any) -> None:
        L = max(len(ids[r]) for r in rows)
        c_max = max(lens[r] for r in rows)
        inp, mask, pos = _pad_batch([ids[r] for r in rows], pad, device)
        logits = _forward(model, inp, mask, pos, c_max + 1)
        # logits at position t predict token t+1: the last c_max tokens are predicted by
        # positions L-c_max-1 .. L-2 (the last c_max+1 rows of logits, minus the last).
        T = logits.shape[1]
        lp = torch.log_softmax(logits[:, T - c_max - 1:T - 1, :].float(), dim=-1)
        target = inp[:, L - c_max:]
        tok_lp = lp.gather(-1, target[..., None]).squeeze(-1)
        keep = torch.arange(c_max, device=device)[None, :] >= (
            c_max - torch.tensor([lens[r] for r in rows], device=device)[:, None])
        out[rows] = (tok_lp * keep).sum(-1).double().cpu().numpy()

    _run_with_progress(len(ids), batch_size, order, step, info, progress, desc)
    return out


def single_token_ids(tokenizer: Any, continuations: Sequence[str]) -> list[int] | None:
    """The token id of each continuation if every one is a single token, else ``None``."""
    out = []
    for c in continuations:
        ids = list(tokenizer(c, add_special_tokens=False)["input_ids"])
        if not ids:
            raise ValueError(f"continuation {c!r} has no tokens")
        if len(ids) != 1:
            return None
        out.append(ids[0])
    return out


def score_choices(model: Any, tokenizer: Any, prompts: Sequence[str],
                  choices: Sequence[Sequence[str]], *, batch_size: int | str = 8,
                  progress: bool | None = None, desc: str = "scoring",
                  info: dict[str, Any] | None = None) -> np.ndarray:
    """Scores of ``choices[i][c]`` after ``prompts[i]``, shape ``(n_prompts, n_choices)``.

    The score is the continuation's log-likelihood, as in :func:`score_continuations`.
    When every continuation of a prompt is a single token, the prompt is run **once**: the
    log-probabilities of the next token at its last position give all the scores (one
    forward pass per prompt instead of one per label word).  Otherwise each (prompt,
    continuation) pair is run as in :func:`score_continuations`.
    """
    import torch

    _check_batch_size(batch_size)
    if len(prompts) != len(choices):
        raise ValueError(f"prompts and choices must have the same length, got {len(prompts)} "
                         f"and {len(choices)}")
    if not prompts:
        return np.zeros((0, 0))
    n_choices = {len(c) for c in choices}
    if len(n_choices) != 1 or min(n_choices) < 1:
        raise ValueError("choices must give the same positive number of continuations per "
                         "prompt")
    C = n_choices.pop()
    token_cache: dict[tuple[str, ...], list[int] | None] = {}
    targets: list[list[int]] = []
    for ch in choices:
        key = tuple(ch)
        if key not in token_cache:
            token_cache[key] = single_token_ids(tokenizer, key)
        tid = token_cache[key]
        if tid is None:
            if info is not None:
                info["single_pass"] = False
            flat_p = [p for p in prompts for _ in range(C)]
            flat_c = [c for ch2 in choices for c in ch2]
            return score_continuations(model, tokenizer, flat_p, flat_c,
                                       batch_size=batch_size, progress=progress, desc=desc,
                                       info=info).reshape(len(prompts), C)
        targets.append(tid)
    if info is not None:
        info["single_pass"] = True
    ids = []
    for p in prompts:
        enc = list(tokenizer(p)["input_ids"])
        if not enc:
            raise ValueError("a prompt must have at least one token")
        ids.append(enc)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort([-len(s) for s in ids], kind="stable")
    out = np.zeros((len(ids), C), dtype=np.float64)
    device = next(model.parameters()).device

    def step(rows: Any) -> None:
        inp, mask, pos = _pad_batch([ids[r] for r in rows], pad, device)
        logits = _forward(model, inp, mask, pos, 1)
        lp = torch.log_softmax(logits[:, -1, :].float(), dim=-1)
        tgt = torch.tensor([targets[r] for r in rows], device=device)
        out[rows] = lp.gather(-1, tgt).double().cpu().numpy()

    _run_with_progress(len(ids), batch_size, order, step, info, progress, desc)
    return out
