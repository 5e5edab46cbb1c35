"""Self-checks of Setting 2 (chapters 7-9): expressions of Theorems P1 and P2 and the
functions of :mod:`iclbook.parity.theory`.

Reference expressions come from :mod:`iclbook.parity.symbolic`, in the symbols of
:mod:`iclbook.core.symbols`; the comparison is :mod:`iclbook.check.engine`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..parity import symbolic as ps
from ..parity import theory as pt
from .engine import (
    CANONICAL,
    Case,
    CheckResult,
    ExprSpec,
    check_expression,
    check_function,
    fmt_values,
    register_equivalents,
)

__all__ = [
    "head_gain_expression",
    "head_curvature_expression",
    "head_weight_expression",
    "noise_factor_expression",
    "head_gains",
    "head_curvatures",
    "optimal_head_weights",
    "parity_optimal_loss",
    "noise_factor",
    "parity_noisy_loss",
    "best_head_count",
]

def _two_profile(p: float) -> tuple[np.ndarray, int]:
    return (np.array([p, 1 - p]), 0) if p >= 0.5 else (np.array([1 - p, p]), 1)


def _head_gain_numeric(p: float, N: float) -> float:
    prof, i = _two_profile(p)
    return float(pt.head_curvatures(prof, int(N))[i])


def _head_weight_numeric(p: float, N: float) -> float:
    prof, i = _two_profile(p)
    return float(pt.optimal_head_weights(prof, int(N))[i])


def _sample_p(rng: np.random.Generator) -> dict[str, float]:
    return {"p": float(rng.uniform(0.05, 0.95)), "N": float(rng.integers(1, 60))}


def _sample_flips(rng: np.random.Generator) -> dict[str, float]:
    return {"eta": float(rng.uniform(0, 0.45)), "rho": float(rng.uniform(0, 0.45))}


_p = CANONICAL["p"]
_eta, _rho = CANONICAL["eta"], CANONICAL["rho"]


_HEAD_GAIN = ExprSpec(
    "head_gain_expression", ("p", "N"),
    ps.head_curvature_expr, _head_gain_numeric, _sample_p)


_HEAD_CURVATURE = replace(_HEAD_GAIN, name="head_curvature_expression")


_HEAD_WEIGHT = ExprSpec(
    "head_weight_expression", ("p", "N"),
    ps.head_weight_expr, _head_weight_numeric, _sample_p)


_KAPPA = ExprSpec(
    "noise_factor_expression", ("eta", "rho"),
    ps.noise_factor_expr,
    lambda eta, rho: pt.noise_factor(eta, rho), _sample_flips,
    variants=((lambda: (1 - 2 * _eta) * (1 - 2 * _rho),
               "The bit flips enter through a product of two hidden bits: how many factors "
               "of (1 - 2ρ) does one pair product pick up?"),),
    limit_var=None)


def head_curvature_expression(answer: object) -> CheckResult:
    """Chapter 7: ``γ_τ``, the curvature of one task pair's loss (Theorem P1).

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.head_curvatures`.
    """
    return check_expression(answer, _HEAD_CURVATURE, seed=701)


def head_gain_expression(answer: object) -> CheckResult:
    """Old name of :func:`head_curvature_expression` (chapter 7): the curvature ``γ_τ``.

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.head_curvatures`.
    """
    return check_expression(answer, _HEAD_GAIN, seed=701)


def head_weight_expression(answer: object) -> CheckResult:
    """Chapter 7: the optimal head weight ``a*_τ`` (Theorem P1).

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.optimal_head_weights`.
    """
    return check_expression(answer, _HEAD_WEIGHT, seed=702)


def noise_factor_expression(answer: object) -> CheckResult:
    """Chapter 8: the attenuation ``κ`` of the context signal by flips (Theorem P2).

    ``answer``: a SymPy expression in ``eta`` and ``rho``.  Reference:
    :func:`iclbook.parity.theory.noise_factor`.
    """
    return check_expression(answer, _KAPPA, seed=801)


def _profiles(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [np.array([0.4, 0.3, 0.2, 0.1]), pt.importance_profile(3, 0.7)]
    for K in (2, 5):
        w = np.sort(rng.uniform(0.1, 1.0, K))[::-1]
        out.append(w / w.sum())
    return out


def _parity_cases(seed: int, with_m: bool, flips: bool = False) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for p in _profiles(seed):
        K = p.size
        for N in (1, 6, 30, 100_000):
            tags = {"N=1"} if N == 1 else ({"large-N"} if N == 100_000 else set())
            ms = sorted({1, K, int(rng.integers(1, K + 1))}) if with_m else [None]
            for m in ms:
                mtags = set(tags) | ({"m=K"} if m == K else set())
                lab = f"p = {fmt_values(p)}, N = {N}" + (f", m = {m}" if m is not None else "")
                args: tuple = (p, N) if m is None else (p, N, m)
                if not flips:
                    cases.append(Case(args, lab, frozenset(mtags)))
                    continue
                for eta, rho, ftag in ((0.0, 0.0, set()), (0.2, 0.0, {"flips"}),
                                       (0.0, 0.1, {"flips", "rho"}),
                                       (0.1, 0.15, {"flips", "rho"})):
                    cases.append(Case(args + (eta, rho), f"{lab}, eta = {eta}, rho = {rho}",
                                       frozenset(mtags | ftag)))
    return cases


def head_curvatures(answer: object) -> CheckResult:
    """Chapter 7: ``answer(p, N)`` returns the curvature ``γ_τ`` of every task (Theorem P1).

    Reference: :func:`iclbook.parity.theory.head_curvatures`.
    """
    return check_function(answer, "head_curvatures", pt.head_curvatures,
                           _parity_cases(711, with_m=False), "function head_curvatures(p, N)")


def head_gains(answer: object) -> CheckResult:
    """Old name of :func:`head_curvatures` (chapter 7): ``answer(p, N)`` returns ``γ_τ``.

    Reference: :func:`iclbook.parity.theory.head_curvatures`.
    """
    return check_function(answer, "head_gains", pt.head_gains,
                           _parity_cases(711, with_m=False), "function head_gains(p, N)")


def optimal_head_weights(answer: object) -> CheckResult:
    """Chapter 7: ``answer(p, N)`` returns ``a*_τ`` for every task (Theorem P1).

    Reference: :func:`iclbook.parity.theory.optimal_head_weights`.
    """
    return check_function(
        answer, "optimal_head_weights", pt.optimal_head_weights,
        _parity_cases(712, with_m=False), "function optimal_head_weights(p, N)",
        variants=[(lambda p, N: pt.head_curvatures(p, N) / np.asarray(p),
                   "Upside down: the weight solves γ a = p.")])


def parity_optimal_loss(answer: object) -> CheckResult:
    """Chapter 7: ``answer(p, N, m)`` returns ``L*_m`` of the optimal ``m``-head model.

    Reference: :func:`iclbook.parity.theory.optimal_loss` (Theorem P1).
    """
    def off(k: int) -> Callable[[np.ndarray, int, int], float]:
        return lambda p, N, m: float(pt.optimal_loss_curve(p, N)[m + k])

    return check_function(
        answer, "parity_optimal_loss", pt.optimal_loss, _parity_cases(713, with_m=True),
        "function optimal_loss(p, N, m)",
        variants=[(off(-1), "Your sum has one term too few: it should cover the m most "
                            "important tasks."),
                  (off(1), "Your sum has one term too many: it should cover the m most "
                           "important tasks."),
                  (lambda p, N, m: 1.0 - float(pt.optimal_loss(p, N, m)),
                   "That is the loss the heads remove, not the loss that is left.")])


def noise_factor(answer: object) -> CheckResult:
    """Chapter 8: ``answer(eta, rho)`` returns ``κ`` (Theorem P2).

    Reference: :func:`iclbook.parity.theory.noise_factor`.
    """
    cases = [Case((eta, rho), f"eta = {eta}, rho = {rho}",
                   frozenset(({"flips"} if eta or rho else set()) | ({"rho"} if rho else set())))
             for eta in (0.0, 0.1, 0.25, 0.5) for rho in (0.0, 0.05, 0.2, 0.5)]
    return check_function(
        answer, "noise_factor", pt.noise_factor, cases, "function noise_factor(eta, rho)",
        variants=[(lambda e, r: (1 - 2 * e) * (1 - 2 * r),
                   "The bit flips enter through a product of two hidden bits: how many factors "
                   "of (1 - 2ρ) does one pair product pick up?")])


def parity_noisy_loss(answer: object) -> CheckResult:
    """Chapter 8: ``answer(p, N, m, eta, rho)`` returns Theorem P2's loss under flips.

    Reference: :func:`iclbook.parity.theory.noisy_loss`.
    """
    return check_function(
        answer, "parity_noisy_loss", pt.noisy_loss, _parity_cases(811, with_m=True, flips=True),
        "function noisy_loss(p, N, m, eta, rho)")


def best_head_count(answer: object) -> CheckResult:
    """Chapters 8-9: ``answer(p, N, eta, rho)`` returns the loss-minimising head count ``m``.

    Reference: :func:`iclbook.parity.theory.best_head_count` (counts start at ``m = 1``).
    """
    cases = [Case((c.args[0], c.args[1], c.args[3], c.args[4]), c.label.replace(
        f", m = {c.args[2]}", ""), c.tags - {"m=K"})
        for c in _parity_cases(812, with_m=True, flips=True) if c.args[2] == 1]
    for eta in (0.3, 0.4, 0.45):
        p = np.array([0.4, 0.3, 0.2, 0.1])
        cases.append(Case((p, 20, eta, 0.0), f"p = {fmt_values(p)}, N = 20, eta = {eta}, rho = 0.0",
                           frozenset({"flips"})))
    return check_function(
        answer, "best_head_count", pt.best_head_count, cases,
        "function best_head_count(p, N, eta, rho)",
        variants=[(lambda p, N, e, r: pt.best_head_count(p, N, e, r) - 1,
                   "Off by one: head counts start at m = 1, not at index 0."),
                  (lambda p, N, e, r: np.asarray(p).size,
                   "You always return m = K: under enough noise fewer heads win."),
                  (lambda p, N, e, r: 1,
                   "You always return m = 1: on clean contexts every head helps.")])


register_equivalents({
    pt.optimal_loss: (pt.optimal_loss_curve,),
    pt.noisy_loss: (pt.noisy_loss_curve,),
    pt.best_head_count: (pt.noisy_loss_curve, pt.noisy_loss),
})
