"""Self-checks for the book's exercises: ``check.xxx(answer)`` says "correct" or gives a hint.

A reader passes a SymPy expression or a Python function; the check compares it with the
reference in :mod:`iclbook` and returns a :class:`CheckResult`.  The result displays as a
coloured line in Jupyter, is truthy exactly when the answer is right (so ``assert
check.xxx(answer)`` works in autograder cells) and never contains the expected answer: no
reference expression, no reference number.  Hints name what is wrong (the limit as
``N -> oo``, the dependence on ``N``, a shape, a sign, a constant factor, a case such as
``r = d``) and which inputs show it.

How answers are compared:

* **Functions** are called on fixed, seeded random inputs (so a chapter's output is the same
  on every run), including edge cases (``r = 1``, ``r = d``, ``N = 1``, large ``N``, noise on
  or off), and compared with the reference function of :mod:`iclbook.linear.theory`,
  :mod:`iclbook.linear.lsa`, :mod:`iclbook.linear.noise` or :mod:`iclbook.parity.theory`.
* **Expressions** are compared numerically at random points against the same reference
  functions, then symbolically (``sympy.simplify(answer - reference) == 0``) against a
  reference expression; the unit tests check each reference expression against the NumPy
  closed form, so each closed form still has one source of truth.

Hidden tests (the graded assignments, ``assignments/``): :func:`without_reference` runs a
check while iclbook's reference implementation of the answer -- and the functions that
compute the same quantity -- raise, so an answer that calls or returns the reference fails.

Checks by chapter (the exercises' self-check cells call these):

* chapter 1: :func:`prompt_shapes`;
* chapter 2: :func:`noise_threshold`;
* chapter 3: :func:`reduced_predict`, :func:`preconditioned_gd_step`, :func:`effective_matrix`,
  :func:`best_step_size`;
* chapter 4: :func:`curvature_expression` (old name :func:`gain_expression`),
  :func:`direction_weight_expression`, :func:`feature_curvatures` (old name
  :func:`feature_gains`), :func:`optimal_loss`, :func:`optimal_matrix`, :func:`loss_of_matrix`;
* chapters 5-6: :func:`noisy_risk`, :func:`best_rank`, :func:`critical_label_noise`;
* chapters 7-9: :func:`head_curvature_expression` (old name :func:`head_gain_expression`),
  :func:`head_weight_expression`, :func:`noise_factor_expression`, :func:`head_curvatures`
  (old name :func:`head_gains`), :func:`optimal_head_weights`,
  :func:`parity_optimal_loss`, :func:`noise_factor`, :func:`parity_noisy_loss`,
  :func:`best_head_count`.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import numpy as np
import sympy as sp
import torch

from ..linear import theory as lt
from ..linear import lsa
from ..linear import noise as nt
from ..parity import theory as pt
from ..core.validation import check_positive_int

__all__ = [
    "CheckResult",
    "prompt_shapes",
    "noise_threshold",
    "gain_expression",
    "curvature_expression",
    "direction_weight_expression",
    "head_gain_expression",
    "head_curvature_expression",
    "head_weight_expression",
    "noise_factor_expression",
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
    "head_gains",
    "head_curvatures",
    "optimal_head_weights",
    "parity_optimal_loss",
    "noise_factor",
    "parity_noisy_loss",
    "best_head_count",
    "symbols",
    "without_reference",
]

RTOL = 1e-6
ATOL = 1e-9


# ------------------------------------------------------------------------------------------
# The result object
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CheckResult:
    """Outcome of one self-check: ``passed`` (bool) and ``message`` (a hint or a confirmation).

    Truthy exactly when the answer is right, so ``assert check.xxx(answer)`` works; use
    :meth:`assert_passed` to raise with the hint as the error message.  Displays as one
    coloured line in Jupyter.
    """

    name: str
    passed: bool
    message: str
    attempted: bool = True

    def __bool__(self) -> bool:
        return self.passed

    @property
    def status(self) -> str:
        """``"correct"``, ``"not attempted"`` or ``"not yet"``."""
        if self.passed:
            return "correct"
        return "not yet" if self.attempted else "not attempted"

    def __repr__(self) -> str:
        mark = "✓" if self.passed else "✗"
        return f"{mark} {self.name}: {self.status}. {self.message}"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        color, bg = ("#1a7f37", "#e6f4ea") if self.passed else ("#b35900", "#fff4e5")
        mark = "✓" if self.passed else "✗"
        return (f'<div style="border-left:4px solid {color};background:{bg};padding:4px 8px;'
                f'margin:2px 0"><b style="color:{color}">{mark} {html.escape(self.name)}: '
                f'{self.status}.</b> {html.escape(self.message)}</div>')

    def assert_passed(self) -> CheckResult:
        """Raise ``AssertionError`` carrying the hint unless the answer is right."""
        if not self.passed:
            raise AssertionError(f"{self.name}: {self.message}")
        return self


def _ok(name: str, message: str) -> CheckResult:
    return CheckResult(name, True, message)


def _hint(name: str, message: str) -> CheckResult:
    return CheckResult(name, False, message)


def _not_attempted(name: str, what: str) -> CheckResult:
    return CheckResult(name, False, f"Replace the placeholder by your {what}, run that cell, "
                       "then run this check again.", attempted=False)


# ------------------------------------------------------------------------------------------
# Symbolic answers
# ------------------------------------------------------------------------------------------

_SYMBOL_ALIASES = {
    "lam": ("lam", "lambda", "lambda_", "lambda_i", "lambda_r", "lam_i", "lam_r", "λ", "l"),
    "N": ("N", "n"),
    "T": ("T", "tr", "trace", "tr_Lambda", "trLambda"),
    "p": ("p", "p_tau", "p_t", "p_i", "p_m"),
    "eta": ("eta", "η"),
    "rho": ("rho", "ρ"),
}
_SYMBOL_MEANING = {
    "lam": "lam (the eigenvalue λ)",
    "N": "N (context length)",
    "T": "T (= tr Λ)",
    "p": "p (the task's importance p_τ)",
    "eta": "eta (label-flip probability η)",
    "rho": "rho (bit-flip probability ρ)",
}
_CANONICAL = {
    "lam": sp.Symbol("lam", positive=True),
    "N": sp.Symbol("N", positive=True),
    "T": sp.Symbol("T", positive=True),
    "p": sp.Symbol("p", positive=True),
    "eta": sp.Symbol("eta", nonnegative=True),
    "rho": sp.Symbol("rho", nonnegative=True),
}


def symbols(names: str = "lam N T") -> tuple[sp.Symbol, ...]:
    """The SymPy symbols the expression checks expect, e.g. ``lam, N, T = check.symbols()``.

    Names: ``lam`` (eigenvalue λ), ``N`` (context length), ``T`` (``tr Λ``), ``p`` (a task's
    importance), ``eta`` and ``rho`` (flip probabilities).  Symbols of the same *name* with
    other assumptions are accepted too.
    """
    out = []
    for n in names.replace(",", " ").split():
        if n not in _CANONICAL:
            raise ValueError(f"names must be among {sorted(_CANONICAL)}, got {n!r}")
        out.append(_CANONICAL[n])
    return tuple(out)


@dataclass(frozen=True)
class _ExprSpec:
    name: str
    variables: tuple[str, ...]
    reference: Callable[[], sp.Expr]                 # in the canonical symbols
    numeric: Callable[..., float]                    # from iclbook's NumPy closed forms
    sample: Callable[[np.random.Generator], dict[str, float]]
    variants: tuple[tuple[Callable[[], sp.Expr], str], ...] = ()
    limit_var: str | None = "N"


def _as_expression(answer: object, spec: _ExprSpec) -> sp.Expr | str:
    """The answer in canonical symbols, or a hint string."""
    wanted = ", ".join(_SYMBOL_MEANING[v] for v in spec.variables)
    if isinstance(answer, str):
        try:
            answer = sp.sympify(answer, locals={v: _CANONICAL[v] for v in spec.variables})
        except (sp.SympifyError, SyntaxError, TypeError):
            return f"SymPy could not read this string; build the expression from {wanted}."
    if isinstance(answer, (int, float)):
        answer = sp.nsimplify(answer)
    if not isinstance(answer, sp.Expr):
        return (f"Expected a SymPy expression in {wanted}, got a {type(answer).__name__}. "
                "Create the symbols with check.symbols(...) or sympy.symbols(...).")
    mapping, unknown = {}, []
    for s in answer.free_symbols:
        canon = next((v for v in spec.variables if s.name in _SYMBOL_ALIASES[v]), None)
        if canon is None:
            unknown.append(s.name)
        else:
            mapping[s] = _CANONICAL[canon]
    if unknown:
        return (f"Your expression uses symbol(s) {', '.join(sorted(unknown))}; write it in "
                f"terms of {wanted} only.")
    return answer.xreplace(mapping)


def _eval(expr: sp.Expr, point: Mapping[str, float]) -> float:
    val = expr.xreplace({_CANONICAL[k]: sp.Float(v, 30) for k, v in point.items()})
    try:
        return float(sp.N(val, 20))
    except (TypeError, ValueError):
        return math.nan


def _close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)


def _check_expression(answer: object, spec: _ExprSpec, seed: int) -> CheckResult:
    if answer is None or answer is Ellipsis:
        return _not_attempted(spec.name, "SymPy expression")
    expr = _as_expression(answer, spec)
    if isinstance(expr, str):
        return _hint(spec.name, expr)
    rng = np.random.default_rng(seed)
    points = [spec.sample(rng) for _ in range(12)]
    mine = [_eval(expr, pt_) for pt_ in points]
    ref = [spec.numeric(**pt_) for pt_ in points]
    if any(not math.isfinite(v) for v in mine):
        return _hint(spec.name, "Your expression is not a finite number at some admissible "
                     "point (division by zero, or a symbol left over?).")
    agree = all(_close(a, b) for a, b in zip(mine, ref, strict=True))
    ref_expr = spec.reference()
    if agree:
        exact = sp.simplify(expr - ref_expr) == 0
        how = "symbolically equal" if exact else "equal at 12 random points"
        return _ok(spec.name, f"Your expression is right ({how}).")
    return _hint(spec.name, _diagnose_expression(expr, ref_expr, mine, ref, points, spec))


def _diagnose_expression(expr: sp.Expr, ref_expr: sp.Expr, mine: list[float],
                         ref: list[float], points: list[dict[str, float]],
                         spec: _ExprSpec) -> str:
    for make, text in spec.variants:
        variant = make()
        if all(_close(_eval(variant, q), m) for q, m in zip(points, mine, strict=True)):
            return text
    if all(_close(m, -r) for m, r in zip(mine, ref, strict=True)):
        return "Wrong sign: your expression has the right size but the opposite sign."
    ratios = [m / r for m, r in zip(mine, ref, strict=True) if abs(r) > 1e-12]
    if ratios and all(_close(q, ratios[0], 1e-6) for q in ratios):
        return ("Off by a constant factor: your expression is proportional to the right one. "
                "Check the constants (a factor 2? a 1/2 dropped?).")
    diffs = [m - r for m, r in zip(mine, ref, strict=True)]
    if all(_close(q, diffs[0], 1e-6, 1e-9) for q in diffs):
        return ("Off by an additive constant: your expression varies like the right one but "
                "is shifted. Check the terms that do not depend on any symbol.")
    used = {s.name for s in expr.free_symbols}
    needed = {s.name for s in ref_expr.free_symbols}
    missing = [v for v in spec.variables if v in needed and v not in used]
    extra = [v for v in spec.variables if v in used and v not in needed]
    if missing:
        return (f"Your expression does not depend on {', '.join(missing)}, but the answer "
                "does.")
    if extra:
        return f"Your expression depends on {', '.join(extra)}, but the answer does not."
    if spec.limit_var is not None:
        n = _CANONICAL[spec.limit_var]
        try:
            lim_mine = sp.limit(expr, n, sp.oo)
            lim_ref = sp.limit(ref_expr, n, sp.oo)
            same_limit = sp.simplify(lim_mine - lim_ref) == 0
        except (NotImplementedError, ValueError, TypeError):  # pragma: no cover - sympy
            same_limit = None
        if same_limit is False:
            return (f"Wrong limit as {spec.limit_var} → ∞: for a very long context your "
                    "expression tends to something else than the answer. Check the terms "
                    f"that survive when {spec.limit_var} is large.")
        if same_limit is True:
            return (f"Right limit as {spec.limit_var} → ∞, but wrong dependence on "
                    f"{spec.limit_var}: check the terms of order 1/{spec.limit_var}.")
    q = points[0]
    where = ", ".join(f"{k} = {v:.3g}" for k, v in q.items())
    return f"Not equal to the answer; for example it differs at {where}."


# The numeric references: each reads iclbook's NumPy closed form at one point.

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


def _two_profile(p: float) -> tuple[np.ndarray, int]:
    return (np.array([p, 1 - p]), 0) if p >= 0.5 else (np.array([1 - p, p]), 1)


def _head_gain_numeric(p: float, N: float) -> float:
    prof, i = _two_profile(p)
    return float(pt.head_curvatures(prof, int(N))[i])


def _head_weight_numeric(p: float, N: float) -> float:
    prof, i = _two_profile(p)
    return float(pt.optimal_head_weights(prof, int(N))[i])


def _sample_lam_T(rng: np.random.Generator) -> dict[str, float]:
    lam = float(rng.uniform(0.2, 2.0))
    return {"lam": lam, "N": float(rng.integers(1, 60)), "T": lam + float(rng.uniform(0.1, 3))}


def _sample_p(rng: np.random.Generator) -> dict[str, float]:
    return {"p": float(rng.uniform(0.05, 0.95)), "N": float(rng.integers(1, 60))}


def _sample_flips(rng: np.random.Generator) -> dict[str, float]:
    return {"eta": float(rng.uniform(0, 0.45)), "rho": float(rng.uniform(0, 0.45))}


_lam, _N, _T, _p = (_CANONICAL[k] for k in ("lam", "N", "T", "p"))
_eta, _rho = _CANONICAL["eta"], _CANONICAL["rho"]

_GAIN = _ExprSpec(
    "gain_expression", ("lam", "N", "T"),
    lambda: (_N + 1) / _N * _lam + _T / _N, _gain_numeric, _sample_lam_T,
    variants=((lambda: _lam + _T / _N,
               "Close: the dependence on N is not right yet. Expand the sample-covariance "
               "moment E[Λ̂ S Λ̂] again: the term in ΛSΛ is not exactly ΛSΛ."),))
_CURVATURE = replace(_GAIN, name="curvature_expression")
_WEIGHT = _ExprSpec(
    "direction_weight_expression", ("lam", "N", "T"),
    lambda: _N / ((_N + 1) * _lam + _T), _weight_numeric, _sample_lam_T,
    variants=((lambda: 1 / _lam, "That is the weight of an infinitely long context (N → ∞) "
               "with no trace term: the finite-N optimum shrinks it."),))
_THRESHOLD = _ExprSpec(
    "noise_threshold", ("lam", "N", "T"),
    lambda: (_N + 1) * _lam + _T, _threshold_numeric, _sample_lam_T,
    variants=((lambda: ((_N + 1) * _lam + _T) / _N,
               "Off by a factor N: the noise term of the risk is σ²/N times a sum; keep the "
               "1/N when you compare it with the gain."),))
_HEAD_GAIN = _ExprSpec(
    "head_gain_expression", ("p", "N"),
    lambda: _p + (1 - _p) / _N, _head_gain_numeric, _sample_p)
_HEAD_CURVATURE = replace(_HEAD_GAIN, name="head_curvature_expression")
_HEAD_WEIGHT = _ExprSpec(
    "head_weight_expression", ("p", "N"),
    lambda: _p / (_p + (1 - _p) / _N), _head_weight_numeric, _sample_p)
_KAPPA = _ExprSpec(
    "noise_factor_expression", ("eta", "rho"),
    lambda: (1 - 2 * _eta) * (1 - 2 * _rho) ** 2,
    lambda eta, rho: pt.noise_factor(eta, rho), _sample_flips,
    variants=((lambda: (1 - 2 * _eta) * (1 - 2 * _rho),
               "The bit flips enter through a product of two hidden bits: how many factors "
               "of (1 - 2ρ) does one pair product pick up?"),),
    limit_var=None)


def noise_threshold(answer: object) -> CheckResult:
    """Chapter 2: the σ² below which feature ``r`` lowers the label-noise risk.

    ``answer``: a SymPy expression in ``lam`` (= λ_r), ``N`` and ``T`` (= tr Λ).  Reference:
    :func:`iclbook.linear.noise.critical_label_noise` squared (Theorem B, chapter 6).
    """
    return _check_expression(answer, _THRESHOLD, seed=201)


def curvature_expression(answer: object) -> CheckResult:
    """Chapter 4: the curvature ``g_i`` of one eigen-direction (Theorem A).

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference:
    :func:`iclbook.linear.theory.feature_gains` (which returns the curvatures ``g_i``).
    """
    return _check_expression(answer, _CURVATURE, seed=401)


def gain_expression(answer: object) -> CheckResult:
    """Old name of :func:`curvature_expression` (chapter 4): the curvature ``g_i``.

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference:
    :func:`iclbook.linear.theory.feature_gains`.
    """
    return _check_expression(answer, _GAIN, seed=401)


def direction_weight_expression(answer: object) -> CheckResult:
    """Chapter 4: the optimal weight ``b*`` of one kept eigen-direction (Theorem A).

    ``answer``: a SymPy expression in ``lam``, ``N`` and ``T``.  Reference: the diagonal of
    :func:`iclbook.linear.theory.optimal_matrix`.
    """
    return _check_expression(answer, _WEIGHT, seed=402)


def head_curvature_expression(answer: object) -> CheckResult:
    """Chapter 7: ``γ_τ``, the curvature of one task pair's loss (Theorem P1).

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.head_curvatures`.
    """
    return _check_expression(answer, _HEAD_CURVATURE, seed=701)


def head_gain_expression(answer: object) -> CheckResult:
    """Old name of :func:`head_curvature_expression` (chapter 7): the curvature ``γ_τ``.

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.head_curvatures`.
    """
    return _check_expression(answer, _HEAD_GAIN, seed=701)


def head_weight_expression(answer: object) -> CheckResult:
    """Chapter 7: the optimal head weight ``a*_τ`` (Theorem P1).

    ``answer``: a SymPy expression in ``p`` and ``N``.  Reference:
    :func:`iclbook.parity.theory.optimal_head_weights`.
    """
    return _check_expression(answer, _HEAD_WEIGHT, seed=702)


def noise_factor_expression(answer: object) -> CheckResult:
    """Chapter 8: the attenuation ``κ`` of the context signal by flips (Theorem P2).

    ``answer``: a SymPy expression in ``eta`` and ``rho``.  Reference:
    :func:`iclbook.parity.theory.noise_factor`.
    """
    return _check_expression(answer, _KAPPA, seed=801)


# ------------------------------------------------------------------------------------------
# Hidden tests: the same check with iclbook's reference implementation unavailable
# ------------------------------------------------------------------------------------------

_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("iclbook_check_strict",
                                                               default=False)
_BLOCKED_MESSAGE = "iclbook reference implementation blocked during a hidden test"


def _refuse(*args: object, **kwargs: object) -> NoReturn:
    # Its code object replaces a reference function's while the reader's function runs: it
    # must only use builtins (it runs with the reference module's globals).
    raise RuntimeError("iclbook reference implementation blocked during a hidden test")


def _equivalents() -> dict[Callable[..., Any], tuple[Callable[..., Any], ...]]:
    """Functions of :mod:`iclbook` that compute the same quantity as a check's reference
    (a curve over all sizes, a special case): blocked together with it."""
    return {
        lt.optimal_loss: (lt.optimal_loss_curve,),
        lt.optimal_matrix: (lt.preconditioner,),
        lt.noisy_risk: (nt.noisy_risk_curve, lt.loss_of_matrix),
        lt.best_rank: (nt.best_rank_map,),
        pt.optimal_loss: (pt.optimal_loss_curve,),
        pt.noisy_loss: (pt.noisy_loss_curve,),
        pt.best_head_count: (pt.noisy_loss_curve, pt.noisy_loss),
        _best_step_reference: (lt.loss_of_matrix,),
    }


@contextlib.contextmanager
def _reference_blocked(reference: Callable[..., Any]) -> Iterator[None]:
    """Inside :func:`without_reference`: make ``reference`` (and its equivalents) raise.

    The function objects themselves are changed (their code is swapped for one that raises),
    so every alias is caught: ``iclbook.x.f``, ``from iclbook.x import f as g``, a default
    argument, ``answer = f``.  Outside a hidden test this does nothing.
    """
    if not _STRICT.get():
        yield
        return
    funcs = [reference, *_equivalents().get(reference, ())]
    saved = []
    try:
        for f in funcs:
            code = getattr(f, "__code__", None)
            if code is None or code.co_freevars or any(f is g for g, _ in saved):
                continue
            saved.append((f, code))
            f.__code__ = _refuse.__code__
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def without_reference(check: Callable[..., CheckResult], answer: object, *args: Any,
                      **kwargs: Any) -> CheckResult:
    """``check(answer)`` with iclbook's reference implementation made unavailable while the
    reader's function runs: the hidden test of an *implement* exercise.

    An answer that calls or returns the reference (or an equivalent function of iclbook, see
    :func:`_equivalents`) fails with a hint saying so; an answer that computes the result
    itself gets the same verdict as from ``check(answer)``.  Checks of expressions are run
    unchanged.  Further arguments go to the check.  Example (an autograder cell):
    ``assert check.without_reference(check.noisy_risk, theorem_b_risk)``.
    """
    if not callable(check) or getattr(check, "__module__", None) != __name__:
        raise ValueError("check must be one of the checks of iclbook.check, e.g. "
                         "check.noisy_risk")
    token = _STRICT.set(True)
    try:
        return check(answer, *args, **kwargs)
    finally:
        _STRICT.reset(token)


# ------------------------------------------------------------------------------------------
# Function answers
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Case:
    args: tuple
    label: str
    tags: frozenset[str] = field(default_factory=frozenset)


_TAG_HINTS = (
    ("both-noise", "Right with one kind of noise at a time, wrong with both: check how the "
                   "label noise enters the input-noise term."),
    ("rho", "Right with label flips, wrong with bit flips: check the power of (1 - 2ρ)."),
    ("r=d", "It fails only when r = d (the model keeps every feature). Check the edge of "
            "your sum or slice."),
    ("r=1", "It fails only when r = 1. Check the edge of your sum or slice."),
    ("m=K", "It fails only when m = K (a head for every task). Check the edge of your sum "
            "or slice."),
    ("N=1", "It fails only for N = 1 (a single demonstration). Check the terms in 1/N."),
    ("label-noise", "Right on clean contexts, wrong with label noise: check the σ terms."),
    ("input-noise", "Right without input noise, wrong with it: check the σ_x terms."),
    ("flips", "Right on clean contexts, wrong with flipped labels or bits: check how κ "
              "enters."),
    ("basis", "Right in the eigenbasis (U = I), wrong for a rotated basis: did you rotate "
              "back with U ... Uᵀ?"),
    ("batch", "Right on one prompt, wrong on a batch: check the leading (batch) dimensions."),
    ("nonsymmetric", "Right for symmetric matrices, wrong for non-symmetric ones: check "
                     "where a transpose belongs."),
)


def _to_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=float)


def _copy_args(args: tuple) -> tuple:
    """Fresh copies of array arguments, so that a reader's in-place edits change nothing."""
    return tuple(a.clone() if isinstance(a, torch.Tensor)
                 else a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "a single number" if shape == () else f"an array of shape {shape}"


def _check_function(answer: object, name: str, reference: Callable[..., Any],
                    cases: Sequence[_Case], what: str,
                    variants: Sequence[tuple[Callable[..., Any], str]] = (),
                    rtol: float = RTOL, atol: float = ATOL) -> CheckResult:
    if answer is None or answer is Ellipsis:
        return _not_attempted(name, what)
    if not callable(answer):
        return _hint(name, f"Expected a function ({what}), got a {type(answer).__name__}.")
    mine, refs = [], []
    for case in cases:
        want = _to_array(reference(*case.args))
        try:
            with _reference_blocked(reference):
                out = answer(*_copy_args(case.args))
        except NotImplementedError:
            return CheckResult(name, False, "Your function still raises NotImplementedError: "
                               "replace that line by your code, run the cell, then run this "
                               "check again.", attempted=False)
        except Exception as exc:  # noqa: BLE001 - the reader's code may raise anything
            if _BLOCKED_MESSAGE in str(exc):
                return _hint(name, "Your function calls the book's reference implementation "
                             "(iclbook): write the computation yourself.")
            return _hint(name, f"Your function raised {type(exc).__name__} ({exc}) for "
                         f"{case.label}.")
        if out is None:
            return _hint(name, "Your function returned None: did you forget `return`?")
        try:
            got = _to_array(out)
        except (TypeError, ValueError):
            return _hint(name, f"Your function returned a {type(out).__name__}, which is "
                         "not a number or an array.")
        if got.shape != want.shape:
            return _hint(name, f"Shape mismatch for {case.label}: your function returned "
                         f"{_shape_text(got.shape)}, the answer is {_shape_text(want.shape)}.")
        if not np.all(np.isfinite(got)):
            return _hint(name, f"Your function returned nan or inf for {case.label}.")
        mine.append(got)
        refs.append(want)
    good = [np.allclose(m, r, rtol=rtol, atol=atol) for m, r in zip(mine, refs, strict=True)]
    if all(good):
        return _ok(name, f"Your function agrees with the reference on all {len(cases)} test "
                   "inputs, edge cases included.")
    return _hint(name, _diagnose_function(mine, refs, good, cases, variants, rtol, atol))


def _diagnose_function(mine: list[np.ndarray], refs: list[np.ndarray], good: list[bool],
                       cases: Sequence[_Case],
                       variants: Sequence[tuple[Callable[..., Any], str]],
                       rtol: float, atol: float) -> str:
    for make, text in variants:
        try:
            outs = [_to_array(make(*c.args)) for c in cases]
        except Exception:  # noqa: BLE001, S112 - a variant that does not apply
            continue
        if all(o.shape == m.shape and np.allclose(m, o, rtol=rtol, atol=atol)
               for o, m in zip(outs, mine, strict=True)):
            return text
    flat_m = np.concatenate([m.ravel() for m in mine])
    flat_r = np.concatenate([r.ravel() for r in refs])
    if np.allclose(flat_m, -flat_r, rtol=rtol, atol=atol):
        return "Wrong sign: your values have the right size but the opposite sign."
    nz = np.abs(flat_r) > 1e-9
    if nz.any():
        ratio = flat_m[nz] / flat_r[nz]
        if np.allclose(ratio, ratio[0], rtol=1e-6) and np.allclose(flat_m[~nz], 0, atol=atol):
            return ("Off by a constant factor: your values are proportional to the right "
                    "ones. Check the constants (a factor 2? a 1/2? a 1/N?).")
    bad = [c for c, g in zip(cases, good, strict=True) if not g]
    fine = [c for c, g in zip(cases, good, strict=True) if g]
    for tag, text in _TAG_HINTS:
        if fine and all(tag in c.tags for c in bad):
            return text
    # Near N = oo a wrong 1/N term is small: judge "right in the limit" loosely.
    large = [bool(np.allclose(m, r, rtol=1e-3, atol=1e-4))
             for c, m, r in zip(cases, mine, refs, strict=True) if "large-N" in c.tags]
    if large and all(large) and bad:
        return ("Right in the limit N → ∞ but wrong for finite N: check the dependence on N "
                "(the terms of order 1/N).")
    if large and not any(large) and fine:
        return ("Wrong limit as N → ∞: for a very long context your values tend to "
                "something else. Check the terms that survive when N is large.")
    return f"Wrong values, for example for {bad[0].label}."


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def _spectra(seed: int) -> list[tuple[np.ndarray, str]]:
    rng = np.random.default_rng(seed)
    out = [(np.array([2.0, 1.0, 0.5]), "")]
    for d in (2, 4, 5):
        out.append((np.sort(rng.uniform(0.1, 3.0, d))[::-1].round(3), ""))
    return [(s, f"spectrum {_fmt(s)}") for s, _ in out]


def _linear_cases(seed: int, with_r: bool, noise: bool = False) -> list[_Case]:
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
                    cases.append(_Case(args, lab, frozenset(rtags)))
                    continue
                for s, sx, ntag in ((0.0, 0.0, set()), (1.3, 0.0, {"label-noise"}),
                                    (0.0, 0.7, {"input-noise"}),
                                    (0.9, 0.6, {"both-noise", "label-noise", "input-noise"})):
                    cases.append(_Case(args + (s, sx), f"{lab}, sigma = {s}, sigma_x = {sx}",
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
    return _check_function(
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

    return _check_function(
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
            cases.append(_Case((spec, N, r, u), c.label + ", a random basis U",
                               c.tags | {"basis"}))
        cases.append(_Case((spec, N, r, np.eye(spec.size)), c.label + ", U = I", c.tags))
    return _check_function(
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
                        cases.append(_Case((mat, cov, N, s, sx),
                                           f"a random {d}x{d} B, N = {N}, sigma = {s}, "
                                           f"sigma_x = {sx}", frozenset(base | mtag | ntag)))
    return _check_function(
        answer, "loss_of_matrix", lt.loss_of_matrix, cases,
        "function loss_of_matrix(B, covariance, N, sigma, sigma_x)",
        variants=[(lambda B, c, N, s, sx: lt.loss_of_matrix(B.T, c, N, s, sx),
                   "Your loss is that of Bᵀ: the predictor is x_qᵀ B h, check which side B "
                   "acts on.")])


def noisy_risk(answer: object) -> CheckResult:
    """Chapter 6: ``answer(spectrum, N, r, sigma, sigma_x)`` returns Theorem B's risk.

    Reference: :func:`iclbook.linear.theory.noisy_risk`.
    """
    return _check_function(
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
        cases.append(_Case((spec, 10, sigma, 0.0), f"spectrum {_fmt(spec)}, N = 10, "
                           f"sigma = {sigma}, sigma_x = 0.0", frozenset({"label-noise"})))
    return _check_function(
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
            cases.append(_Case(c.args + (sx,), f"{c.label}, sigma_x = {sx}",
                               c.tags | frozenset(tags)))
    return _check_function(
        answer, "critical_label_noise", nt.critical_label_noise, cases,
        "function critical_label_noise(spectrum, N, r, sigma_x)",
        variants=[(lambda s, N, r, sx: nt.critical_label_noise(s, N, r, sx) ** 2,
                   "You return σ², the threshold on the variance; the function returns σ.")])


# --- chapter 3: the layer, torch inputs --------------------------------------------------

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
        cases.append(_Case((h, x, B), f"h and x_query of shape {tuple(h.shape)}",
                           frozenset({"batch"} if h.ndim > 1 else set()) | {"nonsymmetric"}))
        S = (B + B.T) / 2
        cases.append(_Case((h, x, S), f"h and x_query of shape {tuple(h.shape)}, symmetric B",
                           frozenset({"batch"} if h.ndim > 1 else set())))
    return _check_function(
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
        cases.append(_Case((x, y, P), f"x of shape {tuple(x.shape)}, a random P",
                           frozenset(tags | {"nonsymmetric"})))
        cases.append(_Case((x, y, P @ P.T), f"x of shape {tuple(x.shape)}, a symmetric P",
                           frozenset(tags)))
    return _check_function(
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
        cases.append(_Case((W_pv, W_kq), f"random {d + 1}x{d + 1} weights"))
    return _check_function(
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

    return _check_function(
        answer, "best_step_size", _best_step_reference, _linear_cases(304, with_r=False),
        "function best_step_size(spectrum, N)",
        variants=[(no_gamma, "You dropped the finite-context factor Γ: with N examples the "
                             "estimate h is noisy, and the curvature is tr(Λ²Γ).")])


# --- Setting 2 -------------------------------------------------------------------------------

def _profiles(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [np.array([0.4, 0.3, 0.2, 0.1]), pt.importance_profile(3, 0.7)]
    for K in (2, 5):
        w = np.sort(rng.uniform(0.1, 1.0, K))[::-1]
        out.append(w / w.sum())
    return out


def _parity_cases(seed: int, with_m: bool, flips: bool = False) -> list[_Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for p in _profiles(seed):
        K = p.size
        for N in (1, 6, 30, 100_000):
            tags = {"N=1"} if N == 1 else ({"large-N"} if N == 100_000 else set())
            ms = sorted({1, K, int(rng.integers(1, K + 1))}) if with_m else [None]
            for m in ms:
                mtags = set(tags) | ({"m=K"} if m == K else set())
                lab = f"p = {_fmt(p)}, N = {N}" + (f", m = {m}" if m is not None else "")
                args: tuple = (p, N) if m is None else (p, N, m)
                if not flips:
                    cases.append(_Case(args, lab, frozenset(mtags)))
                    continue
                for eta, rho, ftag in ((0.0, 0.0, set()), (0.2, 0.0, {"flips"}),
                                       (0.0, 0.1, {"flips", "rho"}),
                                       (0.1, 0.15, {"flips", "rho"})):
                    cases.append(_Case(args + (eta, rho), f"{lab}, eta = {eta}, rho = {rho}",
                                       frozenset(mtags | ftag)))
    return cases


def head_curvatures(answer: object) -> CheckResult:
    """Chapter 7: ``answer(p, N)`` returns the curvature ``γ_τ`` of every task (Theorem P1).

    Reference: :func:`iclbook.parity.theory.head_curvatures`.
    """
    return _check_function(answer, "head_curvatures", pt.head_curvatures,
                           _parity_cases(711, with_m=False), "function head_curvatures(p, N)")


def head_gains(answer: object) -> CheckResult:
    """Old name of :func:`head_curvatures` (chapter 7): ``answer(p, N)`` returns ``γ_τ``.

    Reference: :func:`iclbook.parity.theory.head_curvatures`.
    """
    return _check_function(answer, "head_gains", pt.head_gains,
                           _parity_cases(711, with_m=False), "function head_gains(p, N)")


def optimal_head_weights(answer: object) -> CheckResult:
    """Chapter 7: ``answer(p, N)`` returns ``a*_τ`` for every task (Theorem P1).

    Reference: :func:`iclbook.parity.theory.optimal_head_weights`.
    """
    return _check_function(
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

    return _check_function(
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
    cases = [_Case((eta, rho), f"eta = {eta}, rho = {rho}",
                   frozenset(({"flips"} if eta or rho else set()) | ({"rho"} if rho else set())))
             for eta in (0.0, 0.1, 0.25, 0.5) for rho in (0.0, 0.05, 0.2, 0.5)]
    return _check_function(
        answer, "noise_factor", pt.noise_factor, cases, "function noise_factor(eta, rho)",
        variants=[(lambda e, r: (1 - 2 * e) * (1 - 2 * r),
                   "The bit flips enter through a product of two hidden bits: how many factors "
                   "of (1 - 2ρ) does one pair product pick up?")])


def parity_noisy_loss(answer: object) -> CheckResult:
    """Chapter 8: ``answer(p, N, m, eta, rho)`` returns Theorem P2's loss under flips.

    Reference: :func:`iclbook.parity.theory.noisy_loss`.
    """
    return _check_function(
        answer, "parity_noisy_loss", pt.noisy_loss, _parity_cases(811, with_m=True, flips=True),
        "function noisy_loss(p, N, m, eta, rho)")


def best_head_count(answer: object) -> CheckResult:
    """Chapters 8-9: ``answer(p, N, eta, rho)`` returns the loss-minimising head count ``m``.

    Reference: :func:`iclbook.parity.theory.best_head_count` (counts start at ``m = 1``).
    """
    cases = [_Case((c.args[0], c.args[1], c.args[3], c.args[4]), c.label.replace(
        f", m = {c.args[2]}", ""), c.tags - {"m=K"})
        for c in _parity_cases(812, with_m=True, flips=True) if c.args[2] == 1]
    for eta in (0.3, 0.4, 0.45):
        p = np.array([0.4, 0.3, 0.2, 0.1])
        cases.append(_Case((p, 20, eta, 0.0), f"p = {_fmt(p)}, N = 20, eta = {eta}, rho = 0.0",
                           frozenset({"flips"})))
    return _check_function(
        answer, "best_head_count", pt.best_head_count, cases,
        "function best_head_count(p, N, eta, rho)",
        variants=[(lambda p, N, e, r: pt.best_head_count(p, N, e, r) - 1,
                   "Off by one: head counts start at m = 1, not at index 0."),
                  (lambda p, N, e, r: np.asarray(p).size,
                   "You always return m = K: under enough noise fewer heads win."),
                  (lambda p, N, e, r: 1,
                   "You always return m = 1: on clean contexts every head helps.")])


# --- chapter 1 -------------------------------------------------------------------------------

def prompt_shapes(answer: object, d: int = 5, N: int = 10) -> CheckResult:
    """Chapter 1: ``answer`` maps ``"E"``, ``"W_PV"``, ``"W_KQ"``, ``"h"`` to their shapes.

    Shapes are tuples of ints for a prompt with ``N`` demonstrations in dimension ``d``
    (defaults: the exercise's ``d = 5``, ``N = 10``).
    """
    name = "prompt_shapes"
    d = check_positive_int("d", d)
    N = check_positive_int("N", N)
    if answer is None or answer is Ellipsis:
        return _not_attempted(name, "dictionary of shapes")
    if not isinstance(answer, Mapping):
        return _hint(name, "Expected a dict such as {'E': (rows, columns), ...}.")
    keys = ("E", "W_PV", "W_KQ", "h")
    missing = [k for k in keys if k not in answer]
    if missing:
        return _hint(name, f"Your dict lacks the key(s) {', '.join(missing)}.")
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
            return _hint(name, f"The shape of {k} should be a tuple of integers.")
        if got != ref[k]:
            return _hint(name, f"The shape of {k} is not right. {tips[k]}")
    return _ok(name, "All four shapes are right.")
