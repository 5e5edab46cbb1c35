"""Train and evaluate two-layer m-head parity models (Setting 2, chapters 7-9).

:func:`train_parity_family` trains every head count ``m`` for every seed as one batched program
(:func:`iclbook.core.engine.train_family`), then compares each trained model with Theorem P1
through its *exact* population loss ``L(A)`` (:func:`iclbook.parity.theory.kernel_loss`)
and its identifiable matrix ``A`` -- the separate ``W_j, a_j`` are not identifiable.
:func:`evaluate_parity_family` measures loss and sign accuracy of a trained family on
(noisy) held-out prompts; :func:`monte_carlo_parity` estimates the same for a fixed ``A``
(the Monte Carlo check of Theorems P1 and P2).  :func:`train_softmax_parity` trains standard
softmax transformers on the same data (chapter 9; no closed form).

Saddles (chapter 8): a head with ``a_j < 0`` at the start shrinks into the saddle
``a_j = 0, v_j = 0`` and never recovers, so the default starts every head with ``a_j = +1``
and an O(1) random ``W_j``; with Adam every head count then reaches its optimum.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..core.engine import TrainingHistory, as_device, train_family
from ..core.validation import (
    check_flips,
    check_importance,
    check_int_range,
    check_nonnegative,
    check_positive_int,
    check_shape,
)
from ..linear.monte_carlo import MonteCarloEstimate, mean_with_stderr
from .data import ParityPrompts, embed_parity_prompts, sample_parity_prompts
from .models import ParityAttentionFamily, kernel_matrix, kernel_predict
from .theory import (
    kernel_loss,
    matched_noise_loss,
    noisy_pretrained_kernel,
    optimal_kernel,
    optimal_loss,
    pair_count,
)

__all__ = [
    "ParityFamilyResult",
    "ParityEvaluation",
    "train_parity_family",
    "evaluate_parity_family",
    "evaluate_predictor",
    "monte_carlo_parity",
    "sign_correct",
    "SoftmaxParityResult",
    "train_softmax_parity",
]


def sign_correct(y_hat: torch.Tensor, y: torch.Tensor, tol: float = 1e-6) -> torch.Tensor:
    """1 where ``sign(y_hat) = y``, 0 where it differs, 1/2 for a tie ``|y_hat| <= tol``.

    The tie rule (a fair coin) is the one :func:`iclbook.parity.theory.sign_accuracy` uses.
    """
    right = (torch.sign(y_hat) == y).to(torch.float64)
    return torch.where(y_hat.abs() <= tol, torch.full_like(right, 0.5), right)


def monte_carlo_parity(
    A: np.ndarray | torch.Tensor,
    p: Sequence[float] | np.ndarray,
    N: int,
    *,
    metric: str = "loss",
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    n_prompts: int = 100_000,
    seed: int = 0,
) -> MonteCarloEstimate:
    """Monte Carlo estimate for the kernel predictor ``chi_bar^T A chi_q`` on sampled prompts.

    ``metric="loss"``: squared error ``(y_hat - y_q)^2`` (Theorems P1 and P2);
    ``metric="accuracy"``: sign accuracy, ties counted 1/2 (chapter 8).  The context is noisy
    with label flips ``eta`` (in ``[0, 1]``) and hidden-bit flips ``rho`` (in ``[0, 1/2]``);
    the query is clean.
    """
    pv = check_importance("p", p)
    d = 2 * pv.size
    D = pair_count(d)
    At = torch.as_tensor(check_shape("A", np.asarray(A, dtype=float), (D, D)),
                         dtype=torch.float64)
    if metric not in ("loss", "accuracy"):
        raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
    eta, rho = check_flips(eta, rho)

    def draw(size: int, gen: torch.Generator) -> torch.Tensor:
        pr = sample_parity_prompts(size, N, pv, dictionary=dictionary, eta=eta, rho=rho,
                                   generator=gen, dtype=torch.float64)
        y_hat = kernel_predict(pr.c, At, pr.chi_query)
        if metric == "loss":
            return (y_hat - pr.y_query) ** 2
        return sign_correct(y_hat, pr.y_query, tol=1e-9)

    return mean_with_stderr(draw, n_prompts, seed=seed)


@dataclass
class ParityEvaluation:
    """Loss and sign accuracy of every model, each with its standard error.

    Arrays have the family's shape ``(n_seeds, n_counts)`` (or whatever the predictor returns).
    """

    loss: np.ndarray
    loss_stderr: np.ndarray
    accuracy: np.ndarray
    accuracy_stderr: np.ndarray
    n_prompts: int

    def over_seeds(self, metric: str = "accuracy") -> tuple[np.ndarray, np.ndarray]:
        """Mean over the first (seed) axis and its standard error across seeds.

        The spread across seeds contains the Monte Carlo noise of each estimate as well as
        the differences between trained models; with one seed the Monte Carlo error is used.
        """
        if metric not in ("loss", "accuracy"):
            raise ValueError(f"metric must be 'loss' or 'accuracy', got {metric!r}")
        values = self.loss if metric == "loss" else self.accuracy
        se = self.loss_stderr if metric == "loss" else self.accuracy_stderr
        S = values.shape[0]
        if S == 1:
            return values[0], se[0]
        return values.mean(0), values.std(0, ddof=1) / np.sqrt(S)


def evaluate_predictor(
    predict: Callable[[ParityPrompts], torch.Tensor],
    batch_shape: tuple[int, ...],
    p: Sequence[float] | np.ndarray,
    N: int,
    *,
    dictionary: np.ndarray | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
    n_prompts: int = 100_000,
    seed: int = 10_000,
    chunk: int = 10_000,
) -> ParityEvaluation:
    """Loss and sign accuracy of any predictor on held-out (possibly noisy) prompts.

    ``predict(prompts)`` receives prompts of batch shape ``(*batch_shape, chunk)`` and returns
    predictions of shape ``(*batch_shape, *extra, chunk)``; the targets are compared along
    ``extra`` by broadcasting (e.g. a family of ``(n_seeds, n_counts)`` models whose seed ``s``
    reads row ``s``: ``batch_shape=(n_seeds,)``, predictions ``(n_seeds, n_counts, chunk)``).
    The result's arrays have shape ``(*batch_shape, *extra)``.  Used by chapters 8 and 9.
    """
    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    n_prompts = check_positive_int("n_prompts", n_prompts)
    eta, rho = check_flips(eta, rho)
    gen = torch.Generator().manual_seed(int(seed))
    sums = None
    done = 0
    with torch.no_grad():
        while done < n_prompts:
            size = min(chunk, n_prompts - done)
            pr = sample_parity_prompts((*batch_shape, size), N, pv, dictionary=dictionary,
                                       eta=eta, rho=rho, generator=gen)
            y_hat = predict(pr)
            extra = y_hat.ndim - len(batch_shape) - 1
            if extra < 0 or tuple(y_hat.shape[:len(batch_shape)]) != tuple(batch_shape):
                raise ValueError(f"predict must return shape ({', '.join(map(str, batch_shape))}"
                                 f"{', ' if batch_shape else ''}..., {size}), got "
                                 f"{tuple(y_hat.shape)}")
            y = pr.y_query.reshape(*batch_shape, *([1] * extra), size)
            sq = ((y_hat - y) ** 2).double()
            ok = sign_correct(y_hat, y)
            parts = [sq.sum(-1), (sq**2).sum(-1), ok.sum(-1), (ok**2).sum(-1)]
            sums = parts if sums is None else [a + b for a, b in zip(sums, parts, strict=True)]
            done += size
    assert sums is not None
    n = float(n_prompts)

    def mean_se(s1: torch.Tensor, s2: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        mean = s1 / n
        var = (s2 / n - mean**2).clamp_min(0) * n / max(n - 1, 1)
        return mean.numpy(), (var / n).sqrt().numpy()

    loss, loss_se = mean_se(sums[0], sums[1])
    acc, acc_se = mean_se(sums[2], sums[3])
    return ParityEvaluation(loss, loss_se, acc, acc_se, n_prompts)


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
    and its ``heldout_stderr``, ``A`` ((D, D) each).  ``optimal_loss[k] = L*_{m_k}`` and
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
    heldout_stderr: np.ndarray
    n_heldout: int
    train_eta: float = 0.0
    train_rho: float = 0.0

    @property
    def loss_gap(self) -> np.ndarray:
        """``L(A) / L*_m - 1``: relative gap of the exact loss of the learned ``A``."""
        return self.population_loss / self.optimal_loss[None, :] - 1

    @property
    def A_error(self) -> np.ndarray:
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
                    "max |A - A*|": float(self.A_error[s, k]),
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


def train_parity_family(
    p: Sequence[float] | np.ndarray,
    N: int,
    head_counts: Sequence[int] | None = None,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    dictionary: np.ndarray | None = None,
    steps: int = 500,
    batch: int = 1000,
    lr: float = 1e-2,
    init_scale: float = 1.0,
    init: str = "positive",
    n_heldout: int = 100_000,
    target_gap: float | None = None,
    check_every: int = 25,
    log_every: int = 10,
    device: str | torch.device = "cpu",
    progress: bool | None = None,
    eta: float = 0.0,
    rho: float = 0.0,
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
    """
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
    dev = as_device(device)
    model = ParityAttentionFamily(d, counts, seeds, init_scale=init_scale, init=init).to(dev)
    S = len(seeds)

    def sample(gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        pr = sample_parity_prompts((S, batch), N, pv, dictionary=dictionary, eta=eta, rho=rho,
                                   generator=gen)
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

    history = train_family(model, sample, steps=steps, lr=lr, seed=seeds[0] + 2_000_003,
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
        heldout_stderr=ev.loss_stderr, n_heldout=n_heldout, train_eta=eta, train_rho=rho,
    )


@dataclass
class SoftmaxParityResult:
    """Standard softmax transformers trained on the parity data and evaluated under noise.

    ``configs`` lists ``(n_heads, width)``; ``noise`` lists ``(eta, rho)`` test conditions
    (the first is the clean context).  ``loss``, ``accuracy`` and their standard errors have
    shape ``(n_configs, n_seeds, n_noise)``; ``histories[c][s]`` the training history.
    """

    configs: list[tuple[int, int]]
    seeds: list[int]
    noise: list[tuple[float, float]]
    n_parameters: list[int]
    loss: np.ndarray
    loss_stderr: np.ndarray
    accuracy: np.ndarray
    accuracy_stderr: np.ndarray
    histories: list[list[TrainingHistory]]
    seconds: float

    def over_seeds(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean over seeds and its standard error across seeds (axis 1 of ``values``)."""
        S = values.shape[1]
        se = values.std(1, ddof=1) / np.sqrt(S) if S > 1 else np.zeros_like(values[:, 0])
        return values.mean(1), se

    @property
    def accuracy_drop(self) -> np.ndarray:
        """Clean accuracy minus accuracy under each noise condition, per model and condition."""
        return self.accuracy[..., :1] - self.accuracy

    def summary(self) -> str:
        """Clean accuracy and the drop under every noise condition, mean ± SE over seeds."""
        acc, acc_se = self.over_seeds(self.accuracy)
        drop, drop_se = self.over_seeds(self.accuracy_drop)
        head = f"{'heads':>5} {'width':>5} {'params':>7} {'clean acc':>15}"
        for eta, rho in self.noise[1:]:
            head += f" {f'drop eta={eta:g} rho={rho:g}':>22}"
        lines = [head]
        for c, (h, w) in enumerate(self.configs):
            row = f"{h:>5} {w:>5} {self.n_parameters[c]:>7} " \
                  f"{acc[c, 0]:>7.3f} ± {acc_se[c, 0]:.3f}"
            for k in range(1, len(self.noise)):
                row += f" {drop[c, k]:>14.3f} ± {drop_se[c, k]:.3f}"
            lines.append(row)
        return "\n".join(lines)


def _softmax_parity_job(pv: np.ndarray, N: int, h: int, w: int, seed: int, n_layers: int,
                        dictionary: np.ndarray | None, noise: list[tuple[float, float]],
                        steps: int, batch: int, lr: float, warmup: int, n_eval: int
                        ) -> tuple[int, TrainingHistory, np.ndarray]:
    """Train one softmax transformer ``(h heads, width w, seed)`` and evaluate it under every
    ``noise`` condition; returns ``(n_parameters, history, stats)``, ``stats`` of shape
    ``(4, n_noise)``: loss, its SE, accuracy, its SE.  A job of :func:`run_jobs`."""
    from ..softmax.transformer import SoftmaxICLTransformer, train_in_context

    model = SoftmaxICLTransformer(2 * pv.size, n_layers=n_layers, n_heads=h, width=w,
                                  seed=seed)

    def sample(gen: torch.Generator):
        pr = sample_parity_prompts(batch, N, pv, dictionary=dictionary, generator=gen)
        return (pr.x, pr.y, pr.x_query), pr.y_query

    hist = train_in_context(model, sample, steps=steps, lr=lr, warmup=warmup,
                            seed=seed + 3_000_017, progress=False, threads=None)
    stats = np.zeros((4, len(noise)))
    for k, (eta, rho) in enumerate(noise):
        ev = evaluate_predictor(lambda pr: model(pr.x, pr.y, pr.x_query), (), pv, N,
                                dictionary=dictionary, eta=eta, rho=rho, n_prompts=n_eval,
                                seed=20_000)
        stats[:, k] = (float(ev.loss), float(ev.loss_stderr), float(ev.accuracy),
                       float(ev.accuracy_stderr))
    return model.n_parameters(), hist, stats


def train_softmax_parity(
    p: Sequence[float] | np.ndarray,
    N: int,
    configs: Sequence[tuple[int, int]],
    seeds: Sequence[int] = (0, 1, 2),
    *,
    dictionary: np.ndarray | None = None,
    noise: Sequence[tuple[float, float]] = ((0.0, 0.0), (0.2, 0.0), (0.0, 0.1)),
    steps: int = 800,
    batch: int = 128,
    lr: float = 3e-3,
    warmup: int = 50,
    n_layers: int = 2,
    n_eval: int = 10_000,
    workers: int | None = None,
    progress: bool | None = None,
) -> SoftmaxParityResult:
    """Train standard two-layer softmax transformers on the parity data (chapter 9).

    One :class:`iclbook.softmax.transformer.SoftmaxICLTransformer` per ``(n_heads, width)`` in
    ``configs`` and seed, trained on clean prompts with
    :func:`iclbook.softmax.transformer.train_in_context`; then evaluated on ``n_eval``
    held-out prompts for every ``(eta, rho)`` in ``noise`` (the same prompts for every model
    and, apart from the flips, for every condition).  No closed form is claimed.
    The models are independent: they train side by side on ``workers`` cores
    (:func:`iclbook.core.parallel.run_jobs`; default one per core), with the same results for
    any number of workers.  ``seconds`` is the wall time of the whole call.
    """
    from ..core.parallel import run_jobs

    pv = check_importance("p", p)
    N = check_positive_int("N", N)
    configs = [(check_positive_int("n_heads", h), check_positive_int("width", w))
               for h, w in configs]
    if not configs:
        raise ValueError("configs must be non-empty")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("seeds must be non-empty")
    noise = [check_flips(eta, rho) for eta, rho in noise]
    if not noise or noise[0] != (0.0, 0.0):
        raise ValueError("noise must start with the clean condition (0, 0)")
    batch = check_positive_int("batch", batch)
    steps = check_positive_int("steps", steps)
    n_layers = check_positive_int("n_layers", n_layers)
    n_eval = check_positive_int("n_eval", n_eval)
    for h, w in configs:
        if w % h != 0:
            raise ValueError(f"width must be a multiple of n_heads, got {w} and {h}")
    dictionary = None if dictionary is None else np.asarray(dictionary, dtype=float)
    jobs = [(pv, N, h, w, seed, n_layers, dictionary, noise, steps, batch, float(lr),
             int(warmup), n_eval) for h, w in configs for seed in seeds]
    start = time.perf_counter()
    out = run_jobs(_softmax_parity_job, jobs, workers=workers, progress=progress,
                   desc=f"{len(jobs)} softmax transformers")
    seconds = time.perf_counter() - start
    stats = np.stack([o[2] for o in out]).reshape(len(configs), len(seeds), 4, len(noise))
    histories = [[out[c * len(seeds) + s][1] for s in range(len(seeds))]
                 for c in range(len(configs))]
    return SoftmaxParityResult(
        configs=configs, seeds=seeds, noise=noise,
        n_parameters=[out[c * len(seeds)][0] for c in range(len(configs))],
        loss=stats[:, :, 0], loss_stderr=stats[:, :, 1], accuracy=stats[:, :, 2],
        accuracy_stderr=stats[:, :, 3], histories=histories, seconds=seconds)
