"""The training settings the trainers share, as one small frozen object.

Like nanoGPT's ``GPTConfig``: a trainer takes ``config=`` (a :class:`TrainConfig`) and the
arguments of its own setting; each trainer has its defaults as a module constant
(``iclbook.linear.training.LINEAR_TRAINING``, ``iclbook.parity.training.PARITY_TRAINING``).
Keyword overrides (``steps=200``) still work and replace fields of the config::

    fast = LINEAR_TRAINING.replace(steps=200, n_heldout=10_000)
    train_linear_family(spectrum, N, config=fast)
    train_linear_family(spectrum, N, steps=200)          # the same override, inline
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from .validation import check_int_range, check_nonnegative, check_positive_int

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run of a batched family (:func:`iclbook.core.engine.train_family`).

    ``steps`` Adam steps on ``batch`` fresh prompts per seed; learning rate ``lr`` with
    ``warmup`` linear warm-up steps and cosine decay to ``lr_floor * lr``; the history logs
    every ``log_every`` steps; with ``target_gap`` training stops once every model is within
    that relative gap of its optimum (checked every ``check_every`` steps); ``n_heldout``
    held-out prompts per seed for the final evaluation; ``device`` to train on; ``progress``
    shows a bar (``None``: the environment decides).
    """

    steps: int = 1000
    batch: int = 1000
    lr: float = 1e-2
    lr_floor: float = 0.01
    warmup: int = 0
    log_every: int = 10
    check_every: int = 100
    target_gap: float | None = None
    n_heldout: int = 100_000
    device: str | torch.device = "cpu"
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_positive_int("steps", self.steps)
        check_positive_int("batch", self.batch)
        check_nonnegative("lr", self.lr)
        check_nonnegative("lr_floor", self.lr_floor)
        check_int_range("warmup", self.warmup, 0, 10**9)
        check_positive_int("log_every", self.log_every)
        check_positive_int("check_every", self.check_every)
        if self.target_gap is not None:
            check_nonnegative("target_gap", self.target_gap)
        check_positive_int("n_heldout", self.n_heldout)

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with ``overrides`` applied; an unknown name raises ``ValueError``."""
        names = [f.name for f in dataclasses.fields(self)]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ValueError(f"unknown training setting(s) {unknown}; allowed: {names}")
        return dataclasses.replace(self, **overrides)
