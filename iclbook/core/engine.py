"""The batched training engine: a whole family of models as one tensor program (chapter 5).

Every model of a family (all sizes x all seeds) is trained on fresh prompts at every step.
Because the family's loss is the *sum* of the per-model losses and Adam acts entry by entry,
training the family at once gives each model exactly the updates it would get alone on the
same data stream -- only faster.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .reproducibility import progress_enabled
from .validation import check_int_range, check_nonnegative, check_positive_int

__all__ = ["TrainingHistory", "train_family", "cosine_lr", "as_device"]

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainingHistory:
    """What a run recorded: per-model training loss every ``log_every`` steps.

    ``losses`` has shape ``(n_logs, *family_shape)``: the training-batch loss of the logged
    step, or with ``log_mean=True`` the mean over the steps since the previous row; ``steps``
    the step of each row; ``stopped_at`` the step at which every model met the target (or
    the last step); ``reached_target`` is None when no target was given.
    """

    steps: list[int] = field(default_factory=list)
    losses: list[np.ndarray] = field(default_factory=list)
    stopped_at: int = 0
    seconds: float = 0.0
    reached_target: bool | None = None

    def loss_array(self) -> np.ndarray:
        """Recorded losses stacked into one array, shape ``(n_logs, *family_shape)``."""
        return np.stack(self.losses) if self.losses else np.empty((0,))


def as_device(device: str | torch.device) -> torch.device:
    """``device`` as a :class:`torch.device` that exists on this machine (e.g. ``"cpu"``,
    ``"cuda"``, ``"cuda:1"``); ``ValueError`` otherwise.  The book runs on ``"cpu"``."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda', got "
                         f"{device!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} is not available: this machine has no CUDA GPU "
                         "(use 'cpu')")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return dev


def cosine_lr(step: int, steps: int, warmup: int = 0, floor: float = 0.01) -> float:
    """Learning-rate multiplier of step ``step`` (counted from 0) of a run of ``steps`` (ch. 5).

    Linear warm-up ``(step+1)/warmup`` for the first ``warmup`` steps, then a cosine decay
    ``floor + (1 - floor) (1 + cos(pi t)) / 2`` with ``t = (step - warmup)/(steps - warmup)``
    clipped to ``[0, 1]``, so the multiplier goes from 1 to ``floor`` and stays there.
    """
    step = check_int_range("step", step, 0, 2**62)
    steps = check_positive_int("steps", steps)
    warmup = check_int_range("warmup", warmup, 0, 2**62)
    floor = check_nonnegative("floor", floor)
    if floor > 1:
        raise ValueError(f"floor must be a number in [0, 1], got {floor!r}")
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def train_family(
    model: nn.Module,
    sample_batch: Callable[[torch.Generator], Batch],
    *,
    steps: int,
    lr: float = 1e-2,
    warmup: int = 0,
    lr_floor: float = 0.01,
    seed: int = 0,
    log_every: int = 10,
    log_mean: bool = False,
    target: Callable[[nn.Module], bool] | None = None,
    check_every: int = 100,
    progress: bool | None = None,
    desc: str = "training",
) -> TrainingHistory:
    """Train every model of ``model`` with Adam on fresh batches from ``sample_batch``.

    ``sample_batch(generator)`` returns ``(inputs, targets)``; ``model(inputs)`` must return
    predictions of shape ``(*family_shape, B)`` and ``targets`` must broadcast to it.  The
    loss of each model is its mean squared error; the family minimises their sum.  The
    learning rate follows :func:`cosine_lr` (linear warm-up over ``warmup`` steps, then cosine
    decay to ``lr_floor * lr``).

    Because the loss is a sum over models and Adam acts entry by entry, every model gets
    exactly the updates it would get if trained alone on the same batches (up to float
    rounding).  ``seed`` seeds the generator passed to ``sample_batch``.
    ``target(model)``, checked every ``check_every`` steps, stops the run early when it
    returns True (e.g. every model within 1% of its closed-form optimum).  ``progress``
    defaults to :func:`iclbook.core.reproducibility.progress_enabled`.
    """
    steps = check_positive_int("steps", steps)
    log_every = check_positive_int("log_every", log_every)
    check_every = check_positive_int("check_every", check_every)
    lr = check_nonnegative("lr", lr)
    warmup = check_int_range("warmup", warmup, 0, 2**62)
    lr_floor = check_nonnegative("lr_floor", lr_floor)
    if lr_floor > 1:
        raise ValueError(f"lr_floor must be a number in [0, 1], got {lr_floor!r}")
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(sample_batch):
        raise ValueError("sample_batch must be a callable: generator -> (inputs, targets)")
    if target is not None and not callable(target):
        raise ValueError("target must be None or a callable: model -> bool")
    gen = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, steps, warmup, lr_floor))
    history = TrainingHistory()
    if progress is None:
        progress = progress_enabled()
    bar = _progress(steps, desc) if progress else None
    start = time.perf_counter()
    step = 0
    window: torch.Tensor | None = None
    n_window = 0
    for step in range(1, steps + 1):
        inputs, targets = sample_batch(gen)
        per_model = ((model(inputs) - targets) ** 2).mean(dim=-1)
        opt.zero_grad(set_to_none=True)
        per_model.sum().backward()
        opt.step()
        sched.step()
        if log_mean:
            loss_now = per_model.detach()
            window = loss_now.clone() if window is None else window + loss_now
            n_window += 1
        if step % log_every == 0 or step == 1:
            row = window / n_window if log_mean else per_model.detach()
            history.steps.append(step)
            history.losses.append(row.cpu().numpy().copy())
            window, n_window = None, 0
        if bar is not None:
            bar.update(1)
        if target is not None and step % check_every == 0 and target(model):
            history.reached_target = True
            break
    else:
        if target is not None:
            history.reached_target = bool(target(model))
    if bar is not None:
        bar.close()
    history.stopped_at = step
    history.seconds = time.perf_counter() - start
    return history


def _progress(total: int, desc: str):  # pragma: no cover - display only
    """A bar that leaves no empty output in a notebook
    (:func:`iclbook.core.progress.progress_bar`)."""
    from .progress import progress_bar

    return progress_bar(total, desc)
