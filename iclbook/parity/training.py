"""Train and evaluate two-layer m-head parity models (Setting 2, chapters 7-9).

:func:`train_parity_family` trains every head count ``m`` for every seed as one batched program
(:func:`iclbook.core.engine.train_family`), then compares each trained model with Theorem P1
through its *exact* population loss ``L(A)`` (:func:`iclbook.parity.theory.kernel_loss`)
and its identifiable matrix ``A`` -- the separate ``W_j, a_j`` are not identifiable.
:func:`evaluate_parity_family` measures loss and sign accuracy of a trained family on
(noisy) held-out prompts (with :func:`iclbook.parity.monte_carlo.evaluate_predictor`, the
Monte Carlo evaluation shared with chapter 9's softmax transformers).

Saddles (chapter 8): a head with ``a_j < 0`` at the start shrinks into the saddle
``a_j = 0, v_j = 0`` and never recovers, so the default starts every head with ``a_j = +1``
and an O(1) random ``W_j``; with Adam every head count then reaches its optimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.config import TrainConfig
from ..core.engine import TrainingHistory, as_device, train_family
from ..core.validation import (
    check_flips,
    check_importance,
    check_int_range,
    check_nonnegative,
    check_positive_int,
)
from .data import ParityPrompts, embed_parity_prompts, sample_parity_prompts
from .models import ParityAttentionFamily, kernel_matrix
from .monte_carlo import ParityEvaluation, evaluate_predictor
from .theory import (
    kernel_loss,
    matched_noise_loss,
    noisy_pretrained_kernel,
    optimal_kernel,
    optimal_loss,
)

__all__ = [
    "ParityFamilyResult",
    "train_parity_family",
    "evaluate_parity_family",
    "PARITY_TRAINING",
    "parity_features",
    "PARITY_INPUTS",
]

#: What :func:`train_parity_family`'s models read at each step: ``"tokens"`` (the embedding
#: ``E``, every token's score ``x_n^T W_j x_n`` formed per head; release 0.1, the default) or
#: ``"features"`` (:func:`parity_features`: the context's ``(1/N) sum_n y_n x_n x_n^T`` and
#: the query's ``x_q x_q^T``, formed once per prompt and shared by every head of every model).
PARITY_INPUTS = ("tokens", "features")


def evaluate_parity_family(
    model: ParityAttentionFamily,
    p: Sequence[float] | np.ndarray,
    N: int,
    *,
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    n_prompts: int = 100_000,
    seed: int = 10_000,
) -> ParityEvaluation:
    """Held-out loss and sign accuracy of every model of a trained family (chapter 8).

    Runs the network itself (not its kernel form) on ``n_prompts`` fresh prompts per seed
    with context label flips ``eta`` and hidden-bit flips ``rho``; arrays (n_seeds, n_counts).
    """
    pv = check_importance("p", p)
    if model.d != 2 * pv.size:
        raise ValueError(f"p has K = {pv.size} tasks (d = {2 * pv.size}) but the model has "
                         f"d = {model.d}")
    return evaluate_predictor(lambda pr: model(embed_parity_prompts(pr)), (len(model.seeds),),
                              pv, N, dictionary=dictionary, eta=eta, rho=rho,
                              n_prompts=n_prompts, seed=seed)


@dataclass
class ParityFamilyResult:
    """A trained family and its comparison with Theorem P1 (chapter 8).

    Arrays indexed ``[seed_index, count_index]``: ``population_loss`` (exact loss of the
    learned ``A``), ``heldout_loss`` (the network's mean squared error on held-out prompts)
    and its ``heldout_se``, ``A`` ((D, D) each).  ``optimal_loss[k] = L*_{m_k}`` and
    ``A_star[k]`` are Theorem P1's closed forms -- or, when the family was pretrained on noisy
    contexts (``train_eta``, ``train_rho``), the matched-noise optimum
    (:func:`iclbook.parity.theory.noisy_pretrained_kernel`), with ``population_loss``
    the exact loss at the training noise.
    """

    p: np.ndarray
    N: int
    head_counts: list[int]
    seeds: list[int]
    dictionary: np.ndarray | None
    model: ParityAttentionFamily
    history: TrainingHistory
    A: np.ndarray
    A_star: np.ndarray
    optimal_loss: np.ndarray
    population_loss: np.ndarray
    heldout_loss: np.ndarray
    heldout_se: np.ndarray
    n_heldout: int
    train_eta: float = 0.0
    train_rho: float = 0.0

    @property
    def loss_gap(self) -> np.ndarray:
        """``L(A) / L*_m - 1``: relative gap of the exact loss of the learned ``A``."""
        return self.population_loss / self.optimal_loss[None, :] - 1

    @property
    def matrix_error(self) -> np.ndarray:
        """``max |A - A*|`` over all entries, for every model."""
        return np.abs(self.A - self.A_star[None]).max(axis=(-2, -1))

    def rows(self) -> list[dict[str, float]]:
        """One dict per model: m, seed, L*_m, exact and held-out loss, gap, max |A - A*|."""
        out = []
        for k, m in enumerate(self.head_counts):
            for s, seed in enumerate(self.seeds):
                out.append({
                    "m": m, "seed": seed, "L*_m": float(self.optimal_loss[k]),
                    "L(A)": float(self.population_loss[s, k]),
                    "held-out loss": float(self.heldout_loss[s, k]),
                    "gap to L*_m": float(self.loss_gap[s, k]),
                    "max |A - A*|": float(self.matrix_error[s, k]),
                })
        return out

    def summary(self) -> str:
        """A fixed-width table of :meth:`rows`, rounded so that reruns print the same."""
        head = (f"{'m':>2} {'seed':>4} {'L*_m':>7} {'L(A)':>7} {'held-out':>8} "
                f"{'gap':>7} {'max|A-A*|':>9}")
        lines = [head]
        for r in self.rows():
            lines.append(f"{r['m']:>2} {r['seed']:>4} {r['L*_m']:>7.4f} {r['L(A)']:>7.4f} "
                         f"{r['held-out loss']:>8.4f} {r['gap to L*_m']:>+7.2%} "
                         f"{r['max |A - A*|']:>9.4f}")
        return "\n".join(lines)


def parity_features(prompts: ParityPrompts) -> tuple[torch.Tensor, torch.Tensor]:
    """The two matrices of a prompt that the two-layer model reads, flattened (chapter 7).

    Head ``j``'s output is ``a_j <W_j, H> <W_j, Q>`` with ``H = (1/N) sum_n y_n x_n x_n^T``
    (the context, labels as the model sees them) and ``Q = x_q x_q^T`` (the query), ``<.,.>``
    the entrywise product summed: the same number as the token form
    ``a_j ((1/N) sum_n y_n x_n^T W_j x_n) (x_q^T W_j x_q)``, with the ``N`` token scores per
    head replaced by two products per head.  Returns ``(H, Q)`` of shape ``(*batch, d*d)``.
    """
    if not isinstance(prompts, ParityPrompts):
        raise ValueError(f"prompts must be ParityPrompts, got {type(prompts).__name__}")
    x, y, xq = prompts.x, prompts.y, prompts.x_query
    N, d = x.shape[-2], x.shape[-1]
    H = ((y[..., None] * x).transpose(-1, -2) @ x) / N
    Q = xq[..., :, None] * xq[..., None, :]
    return H.reshape(*H.shape[:-2], d * d), Q.reshape(*Q.shape[:-2], d * d)


class _FeatureView(torch.nn.Module):
    """The family fed :func:`parity_features` ``(H, Q)`` instead of embeddings (same weights)."""

    def __init__(self, family: ParityAttentionFamily) -> None:
        super().__init__()
        self.family = family

    def forward(self, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        H, Q = inputs                                                  # (S, B, d*d) each
        W = self.family.W
        S, Kc, M, d, _ = W.shape
        flat = W.reshape(S, Kc * M, d * d).transpose(-1, -2)           # (S, d*d, Kc*M)
        hw = (H @ flat).reshape(S, -1, Kc, M)                          # (S, B, Kc, M)
        qw = (Q @ flat).reshape(S, -1, Kc, M)
        out = (hw * qw * self.family.head_weights[:, None]).sum(-1)   # (S, B, Kc)
        return out.transpose(1, 2)                                     # (S, Kc, B)


#: Chapter 8's training settings (the defaults of :func:`train_parity_family`).
PARITY_TRAINING = TrainConfig(steps=500, batch=1000, lr=1e-2, n_heldout=100_000,
                              check_every=25, log_every=10)


def train_parity_family(
    p: Sequence[float] | np.ndarray,
    N: int,
    head_counts: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    config: TrainConfig | None = None,
    dictionary: np.ndarray | None = None,
    init_scale: float = 1.0,
    init: str = "positive",
    eta: float = 0.0,
    rho: float = 0.0,
    inputs: str = "tokens",
    **overrides: object,
) -> ParityFamilyResult:
    """Train the two-layer ``m``-head model for every ``m`` in ``head_counts`` and seed (ch. 8).

    ``p`` is the task importance (``K`` tasks, ``d = 2K``), ``N`` the context length,
    ``dictionary`` the unknown orthonormal ``G``.  Every step draws ``batch`` fresh clean
    prompts per seed (models of one seed share them); Adam with cosine decay
    (:func:`iclbook.core.engine.train_family`).  Returns the family with its learned ``A``,
    exact loss ``L(A)`` and held-out loss on ``n_heldout`` prompts per seed.
    With ``target_gap`` (e.g. ``0.01``) training stops once every model's exact loss
    ``L(A)`` is within that relative gap of ``L*_m`` (checked every ``check_every`` steps).
    ``device`` (e.g. ``"cuda"``) trains there; prompts are drawn on the CPU, and the
    returned model is back on the CPU.
    ``eta``, ``rho`` (default 0): pretrain on *noisy* contexts (label flips, hidden-bit flips);
    then the reference optimum is :func:`iclbook.parity.theory.noisy_pretrained_kernel` and
    every loss in the result (exact and held-out) is taken at that same noise (chapter 8).
    The training settings (``steps``, ``batch``, ``lr``, ``lr_floor``, ``n_heldout``,
    ``target_gap``, ``check_every``, ``log_every``, ``device``, ``progress``) come from
    ``config`` (default :data:`PARITY_TRAINING`), each overridable as a keyword.
    ``inputs`` (:data:`PARITY_INPUTS`): ``"tokens"`` (release 0.1, the default) or
    ``"features"`` (:func:`parity_features`: the same predictions, far fewer operations per
    head).  ``warmup`` (in ``config``): steps of linear learning-rate warm-up.
    """
    cfg = (config or PARITY_TRAINING).replace(**overrides)
    steps, batch, lr = cfg.steps, cfg.batch, cfg.lr
    n_heldout, target_gap, check_every = cfg.n_heldout, cfg.target_gap, cfg.check_every
    log_every, device, progress = cfg.log_every, cfg.device, cfg.progress
    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    eta, rho = check_flips(eta, rho)
    K = pv.size
    d = 2 * K
    counts = list(range(1, K + 1)) if head_counts is None else [
        check_int_range("head_counts", m, 1, K) for m in head_counts]
    if not counts:
        raise ValueError("head_counts must be non-empty")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be non-empty")
    batch = check_positive_int("batch", batch)
    n_heldout = check_positive_int("n_heldout", n_heldout)
    if inputs not in PARITY_INPUTS:
        raise ValueError(f"inputs must be one of {PARITY_INPUTS}, got {inputs!r}")
    dev = as_device(device)
    model = ParityAttentionFamily(d, counts, seeds, init_scale=init_scale, init=init).to(dev)
    S = len(seeds)
    trained: torch.nn.Module = model if inputs == "tokens" else _FeatureView(model)

    def sample(gen: torch.Generator) -> tuple[object, torch.Tensor]:
        pr = sample_parity_prompts((S, batch), N, pv, dictionary=dictionary, eta=eta, rho=rho,
                                   generator=gen)
        if inputs == "features":
            H, Q = parity_features(pr)
            return (H.to(dev), Q.to(dev)), pr.y_query[:, None, :].to(dev)
        return embed_parity_prompts(pr).to(dev), pr.y_query[:, None, :].to(dev)

    noisy = eta > 0 or rho > 0
    A_star = np.stack([noisy_pretrained_kernel(pv, N, m, eta, rho) if noisy
                       else optimal_kernel(pv, N, m) for m in counts])
    L_ref = np.array([matched_noise_loss(pv, N, m, eta, rho) if noisy
                      else optimal_loss(pv, N, m) for m in counts])

    target = None
    if target_gap is not None:
        gap = check_nonnegative("target_gap", target_gap)
        L_star = L_ref

        def target(m: torch.nn.Module) -> bool:
            with torch.no_grad():
                A = kernel_matrix(model.W.cpu().double(), model.head_weights.cpu().double(),
                                  dictionary).numpy()
            return bool(np.all(np.asarray(kernel_loss(A, pv, N, eta, rho)) / L_star - 1 <= gap))

    history = train_family(trained, sample, steps=steps, lr=lr, lr_floor=cfg.lr_floor,
                           seed=seeds[0] + 2_000_003, warmup=cfg.warmup,
                           log_every=log_every, target=target, check_every=check_every,
                           progress=progress, desc=f"{S * len(counts)} parity models")
    model.cpu()
    with torch.no_grad():
        A = model.kernel_matrices(dictionary).double().numpy()
    ev = evaluate_parity_family(model, pv, N, dictionary=dictionary, eta=eta, rho=rho,
                                n_prompts=n_heldout)
    return ParityFamilyResult(
        p=pv, N=N, head_counts=counts, seeds=seeds, dictionary=dictionary, model=model,
        history=history, A=A, A_star=A_star, optimal_loss=L_ref,
        population_loss=np.asarray(kernel_loss(A, pv, N, eta, rho)), heldout_loss=ev.loss,
        heldout_se=ev.loss_se, n_heldout=n_heldout, train_eta=eta, train_rho=rho,
    )
