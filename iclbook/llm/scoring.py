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
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..reproducibility import progress_enabled
from ..validation import check_positive_int

__all__ = ["load_model", "score_continuations", "encode_pairs"]


def _looks_local(name: str) -> bool:
    """A path rather than a hub name ``org/model``: absolute, relative or with several parts."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for p in version.split(".")[:2]:
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def load_model(name_or_path: str | Path, *, device: str | None = None,
               dtype: str | None = None, local_files_only: bool = False) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` for scoring from a local folder or a hub name.

    A name that looks like a path (absolute, relative, ``~``, or more than one ``/``) must
    exist, else ``ValueError`` before transformers is called.  Loading errors of
    transformers (missing files, an unknown hub name, no network) are re-raised as
    ``ValueError``.  ``device=None``: ``device_map="auto"`` when CUDA is available, else the
    CPU.  ``dtype``: ``"auto"`` (the checkpoint's dtype; default on GPU), ``"float32"``
    (default on CPU), ``"float16"`` or ``"bfloat16"``.  The tokenizer gets left padding and a
    pad token (its end-of-sequence token when it has none).
    """
    import torch

    name = str(name_or_path)
    if not name:
        raise ValueError("model must be a local folder or a hub name, got ''")
    expanded = os.path.expanduser(name)
    if _looks_local(name) and not Path(expanded).exists():
        raise ValueError(f"model path {name!r} does not exist")
    if Path(expanded).exists():
        if not Path(expanded).is_dir():
            raise ValueError(f"model path {name!r} must be a folder with config.json")
        name = expanded
        local_files_only = True
    if dtype not in (None, "auto", "float32", "float16", "bfloat16"):
        raise ValueError(f"dtype must be one of None, 'auto', 'float32', 'float16', 'bfloat16', "
                         f"got {dtype!r}")
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers import __version__ as transformers_version
    from transformers.utils import logging as hf_logging

    if not progress_enabled():
        hf_logging.disable_progress_bar()

    cuda = torch.cuda.is_available() and (device in (None, "auto")
                                          or str(device).startswith("cuda"))
    kwargs: dict[str, Any] = {"local_files_only": local_files_only}
    if dtype is None:
        dtype = "auto" if cuda else "float32"
    kwargs["dtype"] = dtype if dtype == "auto" else getattr(torch, dtype)
    if cuda and device in (None, "auto"):
        kwargs["device_map"] = "auto"
    elif device in (None, "auto"):
        device = "cpu"
    if _version_tuple(transformers_version) < (4, 56):  # older releases call it torch_dtype
        kwargs["torch_dtype"] = kwargs.pop("dtype")
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_files_only)
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"could not load model {str(name_or_path)!r}: {err}") from err
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


def score_continuations(model: Any, tokenizer: Any, prompts: Sequence[str],
                        continuations: Sequence[str], *, batch_size: int = 8,
                        progress: bool | None = None, desc: str = "scoring") -> np.ndarray:
    """Sum of token log-probabilities of each continuation after its prompt, shape (n,).

    Sequences are sorted by length and run ``batch_size`` at a time with left padding, an
    attention mask and position ids ``cumsum(mask) - 1`` (chapter 10, "scoring"); only the
    logits of the continuation tokens are turned into log-probabilities (float32).
    """
    import torch

    batch_size = check_positive_int("batch_size", batch_size)
    ids, lens = encode_pairs(tokenizer, prompts, continuations)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    order = np.argsort([-len(s) for s in ids], kind="stable")
    out = np.zeros(len(ids), dtype=np.float64)
    device = next(model.parameters()).device
    if progress is None:
        progress = progress_enabled()
    bar = None
    if progress:  # pragma: no cover - display only
        from tqdm import tqdm

        bar = tqdm(total=len(ids), desc=desc, mininterval=0.5, leave=False, file=sys.stderr)
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            rows = order[start:start + batch_size]
            L = max(len(ids[r]) for r in rows)
            c_max = max(lens[r] for r in rows)
            inp = torch.full((len(rows), L), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), L), dtype=torch.long)
            for j, r in enumerate(rows):
                inp[j, L - len(ids[r]):] = torch.tensor(ids[r])
                mask[j, L - len(ids[r]):] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            inp, mask, pos = inp.to(device), mask.to(device), pos.to(device)
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
            if bar is not None:
                bar.update(len(rows))
    if bar is not None:
        bar.close()
    return out
