"""The comparison engine of the self-checks: results, expression and function answers,
hidden tests.

:class:`CheckResult` is what every check returns.  :func:`check_expression` compares a
SymPy answer with a reference expression (numerically at random points, then symbolically;
hints for a wrong limit, a constant factor, a missing variable); :func:`check_function`
calls a function answer on fixed seeded cases and compares it with a reference function;
:func:`without_reference` runs a check with the reference implementation blocked (the
graded assignments' hidden tests).  The checks themselves live in :mod:`iclbook.check.linear`
(chapters 1-6) and :mod:`iclbook.check.parity` (chapters 7-9); their reference expressions
come from the symbolic modules, in the symbols of :mod:`iclbook.core.symbols`.
"""

from __future__ import annotations

import contextlib
import contextvars
import html
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np
import sympy as sp
import torch

from ..core import symbols as symbols_

__all__ = [
    "CheckResult",
    "symbols",
    "without_reference",
    "ExprSpec",
    "Case",
    "check_expression",
    "check_function",
    "register_equivalents",
    "equivalents",
]

RTOL = 1e-6


ATOL = 1e-9


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


def passed(name: str, message: str) -> CheckResult:
    return CheckResult(name, True, message)


def hint(name: str, message: str) -> CheckResult:
    return CheckResult(name, False, message)


def not_attempted(name: str, what: str) -> CheckResult:
    return CheckResult(name, False, f"Replace the placeholder by your {what}, run that cell, "
                       "then run this check again.", attempted=False)


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


CANONICAL = {
    "lam": symbols_.LAMBDA,
    "N": symbols_.N,
    "T": symbols_.T,
    "p": symbols_.P,
    "eta": symbols_.ETA,
    "rho": symbols_.RHO,
}


def symbols(names: str = "lam N T") -> tuple[sp.Symbol, ...]:
    """The SymPy symbols the expression checks expect, e.g. ``lam, N, T = check.symbols()``.

    Names: ``lam`` (eigenvalue λ), ``N`` (context length), ``T`` (``tr Λ``), ``p`` (a task's
    importance), ``eta`` and ``rho`` (flip probabilities).  Symbols of the same *name* with
    other assumptions are accepted too.
    """
    out = []
    for n in names.replace(",", " ").split():
        if n not in CANONICAL:
            raise ValueError(f"names must be among {sorted(CANONICAL)}, got {n!r}")
        out.append(CANONICAL[n])
    return tuple(out)


@dataclass(frozen=True)
class ExprSpec:
    name: str
    variables: tuple[str, ...]
    reference: Callable[[], sp.Expr]                 # in the canonical symbols
    numeric: Callable[..., float]                    # from iclbook's NumPy closed forms
    sample: Callable[[np.random.Generator], dict[str, float]]
    variants: tuple[tuple[Callable[[], sp.Expr], str], ...] = ()
    limit_var: str | None = "N"


def _as_expression(answer: object, spec: ExprSpec) -> sp.Expr | str:
    """The answer in canonical symbols, or a hint string."""
    wanted = ", ".join(_SYMBOL_MEANING[v] for v in spec.variables)
    if isinstance(answer, str):
        # ``lambda`` is a Python keyword: read it as the eigenvalue symbol (the canonical
        # symbol prints as ``lambda``, so ``str(expression)`` must read back)
        answer = re.sub(r"\blambda\b", "lam", answer)
        try:
            answer = sp.sympify(answer, locals={v: CANONICAL[v] for v in spec.variables})
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
            mapping[s] = CANONICAL[canon]
    if unknown:
        return (f"Your expression uses symbol(s) {', '.join(sorted(unknown))}; write it in "
                f"terms of {wanted} only.")
    return answer.xreplace(mapping)


def evaluate(expr: sp.Expr, point: Mapping[str, float]) -> float:
    val = expr.xreplace({CANONICAL[k]: sp.Float(v, 30) for k, v in point.items()})
    try:
        return float(sp.N(val, 20))
    except (TypeError, ValueError):
        return math.nan


def close(a: float, b: float, rtol: float = RTOL, atol: float = ATOL) -> bool:
    return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= atol + rtol * abs(b)


def check_expression(answer: object, spec: ExprSpec, seed: int) -> CheckResult:
    if answer is None or answer is Ellipsis:
        return not_attempted(spec.name, "SymPy expression")
    expr = _as_expression(answer, spec)
    if isinstance(expr, str):
        return hint(spec.name, expr)
    rng = np.random.default_rng(seed)
    points = [spec.sample(rng) for _ in range(12)]
    mine = [evaluate(expr, pt_) for pt_ in points]
    ref = [spec.numeric(**pt_) for pt_ in points]
    if any(not math.isfinite(v) for v in mine):
        return hint(spec.name, "Your expression is not a finite number at some admissible "
                     "point (division by zero, or a symbol left over?).")
    agree = all(close(a, b) for a, b in zip(mine, ref, strict=True))
    ref_expr = spec.reference()
    if agree:
        exact = sp.simplify(expr - ref_expr) == 0
        how = "symbolically equal" if exact else "equal at 12 random points"
        return passed(spec.name, f"Your expression is right ({how}).")
    return hint(spec.name, _diagnose_expression(expr, ref_expr, mine, ref, points, spec))


def _diagnose_expression(expr: sp.Expr, ref_expr: sp.Expr, mine: list[float],
                         ref: list[float], points: list[dict[str, float]],
                         spec: ExprSpec) -> str:
    for make, text in spec.variants:
        variant = make()
        if all(close(evaluate(variant, q), m) for q, m in zip(points, mine, strict=True)):
            return text
    if all(close(m, -r) for m, r in zip(mine, ref, strict=True)):
        return "Wrong sign: your expression has the right size but the opposite sign."
    ratios = [m / r for m, r in zip(mine, ref, strict=True) if abs(r) > 1e-12]
    if ratios and all(close(q, ratios[0], 1e-6) for q in ratios):
        return ("Off by a constant factor: your expression is proportional to the right one. "
                "Check the constants (a factor 2? a 1/2 dropped?).")
    diffs = [m - r for m, r in zip(mine, ref, strict=True)]
    if all(close(q, diffs[0], 1e-6, 1e-9) for q in diffs):
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
        n = CANONICAL[spec.limit_var]
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


_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("iclbook_check_strict",
                                                               default=False)


BLOCKED_MESSAGE = "iclbook reference implementation blocked during a hidden test"


def refuse(*args: object, **kwargs: object) -> NoReturn:
    # Its code object replaces a reference function's while the reader's function runs: it
    # must only use builtins (it runs with the reference module's globals).
    raise RuntimeError("iclbook reference implementation blocked during a hidden test")


_EQUIVALENTS: dict[Callable[..., Any], tuple[Callable[..., Any], ...]] = {}


def register_equivalents(
        table: Mapping[Callable[..., Any], tuple[Callable[..., Any], ...]]) -> None:
    """Declare, for a check's reference, the functions of :mod:`iclbook` that compute the same
    quantity (a curve over all sizes, a special case): blocked together with it in a hidden
    test.  Called by the check modules of each part when they are imported."""
    _EQUIVALENTS.update(table)


def equivalents() -> dict[Callable[..., Any], tuple[Callable[..., Any], ...]]:
    """The table of :func:`register_equivalents`: reference -> its equivalent functions."""
    return dict(_EQUIVALENTS)


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
    funcs = [reference, *equivalents().get(reference, ())]
    saved = []
    try:
        for f in funcs:
            code = getattr(f, "__code__", None)
            if code is None or code.co_freevars or any(f is g for g, _ in saved):
                continue
            saved.append((f, code))
            f.__code__ = refuse.__code__
        yield
    finally:
        for f, code in saved:
            f.__code__ = code


def without_reference(check: Callable[..., CheckResult], answer: object, *args: Any,
                      **kwargs: Any) -> CheckResult:
    """``check(answer)`` with iclbook's reference implementation made unavailable while the
    reader's function runs: the hidden test of an *implement* exercise.

    An answer that calls or returns the reference (or an equivalent function of iclbook, see
    :func:`equivalents`) fails with a hint saying so; an answer that computes the result
    itself gets the same verdict as from ``check(answer)``.  Checks of expressions are run
    unchanged.  Further arguments go to the check.  Example (an autograder cell):
    ``assert check.without_reference(check.noisy_risk, theorem_b_risk)``.
    """
    module = getattr(check, "__module__", None) or ""
    if not callable(check) or not module.startswith(__package__ + "."):
        raise ValueError("check must be one of the checks of iclbook.check, e.g. "
                         "check.noisy_risk")
    token = _STRICT.set(True)
    try:
        return check(answer, *args, **kwargs)
    finally:
        _STRICT.reset(token)


@dataclass(frozen=True)
class Case:
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


def to_array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy()
    return np.asarray(value, dtype=float)


def _copy_args(args: tuple) -> tuple:
    """Fresh copies of array arguments, so that a reader's in-place edits change nothing."""
    return tuple(a.clone() if isinstance(a, torch.Tensor)
                 else a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "a single number" if shape == () else f"an array of shape {shape}"


def check_function(answer: object, name: str, reference: Callable[..., Any],
                    cases: Sequence[Case], what: str,
                    variants: Sequence[tuple[Callable[..., Any], str]] = (),
                    rtol: float = RTOL, atol: float = ATOL) -> CheckResult:
    if answer is None or answer is Ellipsis:
        return not_attempted(name, what)
    if not callable(answer):
        return hint(name, f"Expected a function ({what}), got a {type(answer).__name__}.")
    mine, refs = [], []
    for case in cases:
        want = to_array(reference(*case.args))
        try:
            with _reference_blocked(reference):
                out = answer(*_copy_args(case.args))
        except NotImplementedError:
            return CheckResult(name, False, "Your function still raises NotImplementedError: "
                               "replace that line by your code, run the cell, then run this "
                               "check again.", attempted=False)
        except Exception as exc:  # noqa: BLE001 - the reader's code may raise anything
            if BLOCKED_MESSAGE in str(exc):
                return hint(name, "Your function calls the book's reference implementation "
                             "(iclbook): write the computation yourself.")
            return hint(name, f"Your function raised {type(exc).__name__} ({exc}) for "
                         f"{case.label}.")
        if out is None:
            return hint(name, "Your function returned None: did you forget `return`?")
        try:
            got = to_array(out)
        except (TypeError, ValueError):
            return hint(name, f"Your function returned a {type(out).__name__}, which is "
                         "not a number or an array.")
        if got.shape != want.shape:
            return hint(name, f"Shape mismatch for {case.label}: your function returned "
                         f"{_shape_text(got.shape)}, the answer is {_shape_text(want.shape)}.")
        if not np.all(np.isfinite(got)):
            return hint(name, f"Your function returned nan or inf for {case.label}.")
        mine.append(got)
        refs.append(want)
    good = [np.allclose(m, r, rtol=rtol, atol=atol) for m, r in zip(mine, refs, strict=True)]
    if all(good):
        return passed(name, f"Your function agrees with the reference on all {len(cases)} test "
                   "inputs, edge cases included.")
    return hint(name, _diagnose_function(mine, refs, good, cases, variants, rtol, atol))


def _diagnose_function(mine: list[np.ndarray], refs: list[np.ndarray], good: list[bool],
                       cases: Sequence[Case],
                       variants: Sequence[tuple[Callable[..., Any], str]],
                       rtol: float, atol: float) -> str:
    for make, text in variants:
        try:
            outs = [to_array(make(*c.args)) for c in cases]
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


def fmt_values(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"
