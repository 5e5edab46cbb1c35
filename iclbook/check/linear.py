"""Self-checks of Setting 1 (chapters 1-6): expressions of Theorem A and B and the functions
of :mod:`iclbook.linear.theory`, :mod:`iclbook.linear.lsa` and :mod:`iclbook.linear.noise`.

Reference expressions come from :mod:`iclbook.linear.symbolic`, in the symbols of
:mod:`iclbook.core.symbols`; the comparison is :mod:`iclbook.check.engine`'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import torch

from ..core.validation import check_positive_int
from ..linear import lsa
from ..linear import noise as nt
from ..linear import symbolic as ls
from ..linear import theory as lt
from .engine import (
    CANONICAL,
    Case,
    CheckResult,
    ExprSpec,
    check_expression,
    check_function,
    fmt_values,
    hint,
    not_attempted,
    passed,
    register_equivalents,
)

__all__ = [
    "prompt_shapes",
    "noise_threshold",
    "gain_expression",
    "curvature_expression",
    "direction_weight_expression",
    "reduced_predict",
    "preconditioned_gd_step",
    "effective_matrix",
    "best_step_size",
    "feature_gains",
    "feature_curvatures",
    "optimal_loss",
    "optimal_matrix",
    "loss_of_matrix",
    "noisy_risk",
    "best_rank",
    "critical_label_noise",
]

def _two_spectrum(lam: float, T: float) -> tuple[np.ndarray, int]:
    """A 2-feature spectrum with trace ``T`` containing ``lam``; and the position of ``lam``."""
    other = T - lam
    return (np.array([lam, other]), 0) if lam >= other else (np.array([other, lam]), 1)


def _gain_numeric(lam: float, N: float, T: float) -> float:
    spec, i = _two_spectrum(lam, T)
    return float(lt.feature_gains(spec, int(N))[i])


def _weight_numeric(lam: float, N: float, T: float) -> float:
    spec, i = _two_spectrum(lam, T)
    return float(lt.optimal_matrix(spec, int(N), 2)[i, i])


def _threshold_numeric(lam: float, N: float, T: float) -> float:
    spec, i = _two_spectrum(lam, T)
    return nt.critical_label_noise(spec, int(N), i + 1) ** 2


def _sample_lam_T(rng: np.random.Generator) -> dict[str, float]:
    lam = float(rng.uniform(0.2, 2.0))
    return {"lam": lam, "N": float(rng.integers(1, 60)), "T": lam + float(rng.uniform(0.1, 3))}


_lam, _N, _T = (CANONICAL[k] for k in ("lam", "N", "T"))


_GAIN = ExprSpec(
    "gain_expression", ("lam", "N", "T"),
    ls.curvature_expr, _gain_numeric, _sample_lam_T,
    variants=((lambda: _lam + _T / _N,
               "Close: the dependence on N is not right yet. Expand the sample-covariance "
               "moment E[Λ̂ S Λ̂] again: the term in ΛSΛ is not exactly ΛSΛ."),))


_CURVATURE = replace(_GAIN, name="curvature_expression")


_WEIGHT = ExprSpec(
    "direction_weight_expression", ("lam", "N", "T"),
    ls.direction_weight_expr, _weight_numeric, _sample_lam_T,
    variants=((lambda: 1 / _lam, "That is the weight of an infinitely long context (N → ∞) "
               "with no trace term: the finite-N optimum shrinks it."),))


_THRESHOLD = ExprSpec(
    "noise_threshold", ("lam", "N", "T"),
    ls.noise_threshold_expr, _threshold_numeric, _sample_lam_T,
    variants=((lambda: ((_N + 1) * _lam + _T) / _N,
               "Off by a factor N: the noise term of the risk is σ²/N times a sum; keep the "
               "1/N when you compare it with the gain."),))


def noise_threshold(answer: object) -> CheckResult:
    """Chapter 2: the σ² below which feature ``r`` lowers the label-noise risk.

    ``answer``: a SymPy expression in ``lam`` (= λ_r), ``N`` and ``T`` (= tr Λ).  Reference:
    :func:`iclbook.linear.noise.critical_label_noise` squared (Theorem B, chapter 6).
    """
    return check_expression(answer, _THRESHOLD, seed=201)


def curvature_expression(answer: object) -> CheckResult:
    """Chapter 4: the curvature ``g_i`` of one eigen-direction (Theorem A).

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference:
    :func:`iclbook.linear.theory.feature_gains` (which returns the curvatures ``g_i``).
    """
    return check_expression(answer, _CURVATURE, seed=401)


def gain_expression(answer: object) -> CheckResult:
    """Old name of :func:`curvature_expression` (chapter 4): the curvature ``g_i``.

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference:
    :func:`iclbook.linear.theory.feature_gains`.
    """
    return check_expression(answer, _GAIN, seed=401)


def direction_weight_expression(answer: object) -> CheckResult:
    """Chapter 4: the optimal weight ``b*`` of one kept eigen-direction (Theorem A).

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference: the diagonal of
    :func:`iclbook.linear.theory.optimal_matrix`.
    """
    return check_expression(answer, _WEIGHT, seed=402)


def _spectra(seed: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    out = [(np.array([2.0, 1.0, 0.5]), "")]
    for d in (2, 4, 5):
        out.append((np.sort(rng.uniform(0.1, 3.0, d))[::-1].round(3), ""))
    return [(s, f"spectrum {fmt_values(s)}") for s, _ in out]


def _linear_cases(seed: int, with_r: bool, noise: bool = False) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for spec, text in _spectra(seed):
        d = spec.size
        for N in (1, 7, 40, 100_000):
            tags = {"N=1"} if N == 1 else ({"large-N"} if N == 100_000 else set())
            rs = sorted({1, d, int(rng.integers(1, d + 1))}) if with_r else [None]
            for r in rs:
                rtags = set(tags) | ({"r=1"} if r == 1 else set()) | (
                    {"r=d"} if r == d else set())
                lab = f"{text}, N = {N}" + (f", r = {r}" if r is not None else "")
                args: tuple = (spec, N) if r is None else (spec, N, r)
                if not noise:
                    cases.append(Case(args, lab, frozenset(rtags)))
                    continue
                for s, sx, ntag in ((0.0, 0.0, set()), (1.3, 0.0, {"label-noise"}),
                                    (0.0, 0.7, {"input-noise"}),
                                    (0.9, 0.6, {"both-noise", "label-noise", "input-noise"})):
                    cases.append(Case(args + (s, sx), f"{lab}, sigma = {s}, sigma_x = {sx}",
                                       frozenset(rtags | ntag)))
    return cases


def feature_curvatures(answer: object) -> CheckResult:
    """Chapter 4: ``answer(spectrum, N)`` returns the curvatures ``g_i`` (new name of
    :func:`feature_gains`; the same check)."""
    return feature_gains(answer)


def feature_gains(answer: object) -> CheckResult:
    """Chapter 4: ``answer(spectrum, N)`` returns the curvatures ``g_i`` of every eigen-direction.

    Reference: :func:`iclbook.linear.theory.feature_gains` (Theorem A).
    """
    return check_function(
        answer, "feature_gains", lt.feature_gains, _linear_cases(411, with_r=False),
        "function feature_gains(spectrum, N)",
        variants=[(lambda s, N: np.asarray(s) + np.sum(s) / N,
                   "Close: right as N → ∞, but the term in λ_i needs its finite-N factor.")])


def optimal_loss(answer: object) -> CheckResult:
    """Chapter 4: ``answer(spectrum, N, r)`` returns Theorem A's optimal loss ``L*_r``.

    Reference: :func:`iclbook.linear.theory.optimal_loss`.
    """
    def gains_only(s: np.ndarray, N: int, r: int) -> float:
        return lt.optimal_loss_curve(s, N)[0] - lt.optimal_loss(s, N, r)

    def off(k: int) -> Callable[[np.ndarray, int, int], float]:
        return lambda s, N, r: float(lt.optimal_loss_curve(s, N)[r + k])

    return check_function(
        answer, "optimal_loss", lt.optimal_loss, _linear_cases(412, with_r=True),
        "function optimal_loss(spectrum, N, r)",
        variants=[(gains_only, "That is the loss the model removes (the sum of the gains), "
                               "not the loss that is left."),
                  (off(-1), "Your sum has one term too few: it should cover i = 1..r."),
                  (off(1), "Your sum has one term too many: it should cover i = 1..r.")])


def optimal_matrix(answer: object) -> CheckResult:
    """Chapter 4: ``answer(spectrum, N, r, basis)`` returns Theorem A's ``d x d`` optimum.

    Reference: :func:`iclbook.linear.theory.optimal_matrix`.
    """
    cases = []
    for c in _linear_cases(413, with_r=True):
        spec, N, r = c.args
        if N in (7, 100_000):
            u = lt.random_orthogonal(spec.size, seed=int(N) + r)
            cases.append(Case((spec, N, r, u), c.label + ", a random basis U",
                               c.tags | {"basis"}))
        cases.append(Case((spec, N, r, np.eye(spec.size)), c.label + ", U = I", c.tags))
    return check_function(
        answer, "optimal_matrix", lt.optimal_matrix, cases,
        "function optimal_matrix(spectrum, N, r, basis)",
        variants=[(lambda s, N, r, u: np.linalg.inv(lt.optimal_matrix(s, N, s.size, u)),
                   "You have the curvatures where their inverses belong (g_i instead of 1/g_i)."),
                  (lambda s, N, r, u: lt.optimal_matrix(s, N, s.size, u),
                   "Your matrix keeps every feature: only the top r directions are kept."),
                  (lambda s, N, r, u: lt.optimal_matrix(s, N, r, u.T),
                   "Your rotation is transposed: with the features as the columns of U the "
                   "matrix is U V Uᵀ.")])


def loss_of_matrix(answer: object) -> CheckResult:
    """Chapters 4 and 6: ``answer(B, covariance, N, sigma, sigma_x)``, the risk of any ``B``.

    Reference: :func:`iclbook.linear.theory.loss_of_matrix`.
    """
    rng = np.random.default_rng(414)
    cases = []
    for d in (2, 3, 4):
        for k in range(2):
            spec = np.sort(rng.uniform(0.2, 2.0, d))[::-1]
            cov = lt.spectral_covariance(spec, lt.random_orthogonal(d, seed=d + 10 * k))
            B = rng.standard_normal((d, d)) * 0.5
            sym = (B + B.T) / 2
            for N in (1, 9, 100_000):
                base = {"N=1"} if N == 1 else ({"large-N"} if N == 100_000 else set())
                for mat, mtag in ((sym, set()), (B, {"nonsymmetric"})):
                    for s, sx, ntag in ((0.0, 0.0, set()), (1.1, 0.0, {"label-noise"}),
                                        (0.0, 0.8, {"input-noise"}),
                                        (0.7, 0.5, {"both-noise", "label-noise",
                                                    "input-noise"})):
                        cases.append(Case((mat, cov, N, s, sx),
                                           f"a random {d}x{d} B, N = {N}, sigma = {s}, "
                                           f"sigma_x = {sx}", frozenset(base | mtag | ntag)))
    return check_function(
        answer, "loss_of_matrix", lt.loss_of_matrix, cases,
        "function loss_of_matrix(B, covariance, N, sigma, sigma_x)",
        variants=[(lambda B, c, N, s, sx: lt.loss_of_matrix(B.T, c, N, s, sx),
                   "Your loss is that of Bᵀ: the predictor is x_qᵀ B h, check which side B "
                   "acts on.")])


def noisy_risk(answer: object) -> CheckResult:
    """Chapter 6: ``answer(spectrum, N, r, sigma, sigma_x)`` returns Theorem B's risk.

    Reference: :func:`iclbook.linear.theory.noisy_risk`.
    """
    return check_function(
        answer, "noisy_risk", lt.noisy_risk, _linear_cases(415, with_r=True, noise=True),
        "function noisy_risk(spectrum, N, r, sigma, sigma_x)",
        variants=[(lambda s, N, r, sg, sx: lt.noisy_risk(s, N, r, math.sqrt(sg), sx),
                   "Your label-noise term grows like σ, not σ²: the noise variance is σ²."),
                  (lambda s, N, r, sg, sx: lt.noisy_risk(s, N, r, sg, math.sqrt(sx)),
                   "Your input-noise term grows like σ_x, not σ_x²."),
                  (lambda s, N, r, sg, sx: lt.noisy_risk(s, N, r, sg, 0.0)
                   + lt.noisy_risk(s, N, r, 0.0, sx) - lt.optimal_loss(s, N, r),
                   "Right with one kind of noise at a time, wrong with both: the input-noise "
                   "term scales with the variance of a noisy label, tr Λ + σ².")])


def best_rank(answer: object) -> CheckResult:
    """Chapter 6: ``answer(spectrum, N, sigma, sigma_x)`` returns the best model size ``r*``.

    Reference: :func:`iclbook.linear.theory.best_rank` (sizes start at ``r = 1``).
    """
    cases = []
    for c in _linear_cases(416, with_r=False, noise=True):
        cases.append(c)
    for sigma in (2.0, 3.0, 5.0):
        spec = np.array([1.0, 0.5, 0.25, 0.125, 0.0625])
        cases.append(Case((spec, 10, sigma, 0.0), f"spectrum {fmt_values(spec)}, N = 10, "
                           f"sigma = {sigma}, sigma_x = 0.0", frozenset({"label-noise"})))
    return check_function(
        answer, "best_rank", lt.best_rank, cases,
        "function best_rank(spectrum, N, sigma, sigma_x)",
        variants=[(lambda s, N, sg, sx: lt.best_rank(s, N, sg, sx) - 1,
                   "Off by one: model sizes start at r = 1, not at index 0."),
                  (lambda s, N, sg, sx: np.asarray(s).size,
                   "You always return r = d: with enough noise a smaller model wins."),
                  (lambda s, N, sg, sx: 1,
                   "You always return r = 1: on clean contexts the largest model is best.")])


def critical_label_noise(answer: object) -> CheckResult:
    """Chapter 6: ``answer(spectrum, N, r, sigma_x)``, the σ above which feature r hurts.

    Reference: :func:`iclbook.linear.noise.critical_label_noise`.
    """
    cases = []
    for c in _linear_cases(417, with_r=True):
        for sx, tags in ((0.0, set()), (0.3, {"input-noise"})):
            cases.append(Case(c.args + (sx,), f"{c.label}, sigma_x = {sx}",
                               c.tags | frozenset(tags)))
    return check_function(
        answer, "critical_label_noise", nt.critical_label_noise, cases,
        "function critical_label_noise(spectrum, N, r, sigma_x)",
        variants=[(lambda s, N, r, sx: nt.critical_label_noise(s, N, r, sx) ** 2,
                   "You return σ², the threshold on the variance; the function returns σ.")])


def _torch_cases(seed: int) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    return [tuple(torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes)
            for shapes in (((3,), (3,), (3, 3)), ((5, 4), (5, 4), (4, 4)),
                           ((2, 3, 2), (2, 3, 2), (2,)))]


def reduced_predict(answer: object) -> CheckResult:
    """Chapter 3: ``answer(h, x_query, B)`` returns ``x_qᵀ B h`` (batched, torch tensors).

    ``h`` and ``x_query`` have shape ``(..., d)``, ``B`` shape ``(d, d)``; the result has the
    leading shape.  Reference: :func:`iclbook.linear.lsa.reduced_predict`.
    """
    cases = []
    for h, x, B in _torch_cases(301)[:2]:
        cases.append(Case((h, x, B), f"h and x_query of shape {tuple(h.shape)}",
                           frozenset({"batch"} if h.ndim > 1 else set()) | {"nonsymmetric"}))
        S = (B + B.T) / 2
        cases.append(Case((h, x, S), f"h and x_query of shape {tuple(h.shape)}, symmetric B",
                           frozenset({"batch"} if h.ndim > 1 else set())))
    return check_function(
        answer, "reduced_predict", lsa.reduced_predict, cases,
        "function reduced_predict(h, x_query, B)",
        variants=[(lambda h, x, B: lsa.reduced_predict(h, x, B.T),
                   "You computed x_qᵀ Bᵀ h = hᵀ B x_q: B acts on h, x_q is on the left.")])


def preconditioned_gd_step(answer: object) -> CheckResult:
    """Chapter 3: ``answer(x, y, P)`` returns ``w_1 = -P ∇L(0) = P h`` (one GD step from 0).

    ``x`` has shape ``(..., N, d)``, ``y`` shape ``(..., N)``, ``P`` shape ``(d, d)``; the
    result has shape ``(..., d)``.  Reference: :func:`iclbook.linear.lsa.preconditioned_gd_step`.
    """
    g = torch.Generator().manual_seed(302)
    cases = []
    for batch, N, d in (((), 6, 3), ((4,), 1, 2), ((3,), 10, 4), ((2, 2), 5, 3)):
        x = torch.randn(*batch, N, d, generator=g, dtype=torch.float64)
        y = torch.randn(*batch, N, generator=g, dtype=torch.float64)
        P = torch.randn(d, d, generator=g, dtype=torch.float64)
        tags = ({"batch"} if batch else set()) | ({"N=1"} if N == 1 else set())
        cases.append(Case((x, y, P), f"x of shape {tuple(x.shape)}, a random P",
                           frozenset(tags | {"nonsymmetric"})))
        cases.append(Case((x, y, P @ P.T), f"x of shape {tuple(x.shape)}, a symmetric P",
                           frozenset(tags)))
    return check_function(
        answer, "preconditioned_gd_step", lsa.preconditioned_gd_step, cases,
        "function gd_step(x, y, P)",
        variants=[(lambda x, y, P: lsa.preconditioned_gd_step(x, y, P) * x.shape[-2],
                   "The gradient of the in-context loss averages over the N demonstrations: "
                   "you summed instead."),
                  (lambda x, y, P: lsa.preconditioned_gd_step(x, y, P.T),
                   "Your step uses Pᵀ: the step is w_1 = w_0 - P ∇L(w_0).")])


def effective_matrix(answer: object) -> CheckResult:
    """Chapter 3: ``answer(W_pv, W_kq)`` returns ``M_eff`` (``d x d``) of two ``(d+1)``-matrices.

    Reference: :func:`iclbook.linear.lsa.effective_matrix`.
    """
    g = torch.Generator().manual_seed(303)
    cases = []
    for d in (2, 3, 5):
        W_pv = torch.randn(d + 1, d + 1, generator=g, dtype=torch.float64)
        W_kq = torch.randn(d + 1, d + 1, generator=g, dtype=torch.float64)
        cases.append(Case((W_pv, W_kq), f"random {d + 1}x{d + 1} weights"))
    return check_function(
        answer, "effective_matrix", lsa.effective_matrix, cases,
        "function effective_matrix(W_pv, W_kq)",
        variants=[(lambda a, b: a[-1, -1] * b[:-1, :-1],
                   "You kept only w22^PV W11^KQ: with every block free, a second term reaches "
                   "the odd part of the prediction (through the label row of W^PV)."),
                  (lambda a, b: lsa.effective_matrix(a, b).T,
                   "Your matrix is transposed.")])


def _best_step_reference(spectrum: np.ndarray, N: int) -> float:
    """The vertex of the parabola ``eta -> L(eta I)`` read off :func:`loss_of_matrix`."""
    cov = np.diag(spectrum)
    d = spectrum.size
    f = [lt.loss_of_matrix(e * np.eye(d), cov, N) for e in (-1.0, 0.0, 1.0)]
    curvature, slope = (f[0] + f[2] - 2 * f[1]) / 2, (f[2] - f[0]) / 2
    return -slope / (2 * curvature)


def best_step_size(answer: object) -> CheckResult:
    """Chapter 3: ``answer(spectrum, N)`` returns the best plain step size ``η*`` (``P = ηI``).

    Reference: the minimiser of ``η -> loss_of_matrix(η I, Λ, N)``
    (:func:`iclbook.linear.theory.loss_of_matrix`), a parabola in ``η``.
    """
    def no_gamma(s: np.ndarray, N: int) -> float:
        s = np.asarray(s, dtype=float)
        return float(np.sum(s**2) / np.sum(s**3))

    return check_function(
        answer, "best_step_size", _best_step_reference, _linear_cases(304, with_r=False),
        "function best_step_size(spectrum, N)",
        variants=[(no_gamma, "You dropped the finite-context factor Γ: with N examples the "
                             "estimate h is noisy, and the curvature is tr(Λ²Γ).")])


def prompt_shapes(answer: object, d: int = 5, N: int = 10) -> CheckResult:
    """Chapter 1: ``answer`` maps ``"E"``, ``"W_PV"``, ``"W_KQ"``, ``"h"`` to their shapes.

    Shapes are tuples of ints for a prompt with ``N`` demonstrations in dimension ``d``
    (defaults: the exercise's ``d = 5``, ``N = 10``).
    """
    name = "prompt_shapes"
    d = check_positive_int("d", d)
    N = check_positive_int("N", N)
    if answer is None or answer is Ellipsis:
        return not_attempted(name, "dictionary of shapes")
    if not isinstance(answer, Mapping):
        return hint(name, "Expected a dict such as {'E': (rows, columns), ...}.")
    keys = ("E", "W_PV", "W_KQ", "h")
    missing = [k for k in keys if k not in answer]
    if missing:
        return hint(name, f"Your dict lacks the key(s) {', '.join(missing)}.")
    ref = {"E": (d + 1, N + 1), "W_PV": (d + 1, d + 1), "W_KQ": (d + 1, d + 1), "h": (d,)}
    tips = {
        "E": ("E has one row per input coordinate plus one for the label, and one column per "
              "token (the demonstrations and the query)."),
        "W_PV": "W^PV multiplies E from the left: it is square, with as many rows as E.",
        "W_KQ": "W^KQ sits between Eᵀ and E in EᵀW^KQE: it is square, as many rows as E.",
        "h": "h = (1/N) Σ y_i x_i is a vector in input space: write its shape as (length,).",
    }
    for k in keys:
        try:
            got = tuple(int(v) for v in answer[k])
        except (TypeError, ValueError):
            return hint(name, f"The shape of {k} should be a tuple of integers.")
        if got != ref[k]:
            return hint(name, f"The shape of {k} is not right. {tips[k]}")
    return passed(name, "All four shapes are right.")


register_equivalents({
    lt.optimal_loss: (lt.optimal_loss_curve,),
    lt.optimal_matrix: (lt.preconditioner,),
    lt.noisy_risk: (nt.noisy_risk_curve, lt.loss_of_matrix),
    lt.best_rank: (nt.best_rank_map,),
    _best_step_reference: (lt.loss_of_matrix,),
})
