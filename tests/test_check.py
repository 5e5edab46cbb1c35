"""Self-checks (iclbook.check): right answers pass, wrong ones fail with a hint, and no hint
ever contains the expected answer (no reference expression, no reference number)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from iclbook import check
from iclbook.check import engine
from iclbook.check import linear as check_linear
from iclbook.check import parity as check_parity
from iclbook.linear import lsa
from iclbook.linear import noise as nt
from iclbook.linear import theory as lt
from iclbook.parity import theory as pt

lam, N, T = check.symbols("lam N T")
(p,) = check.symbols("p")
eta, rho = check.symbols("eta rho")


def _ni(*args):
    raise NotImplementedError


# ------------------------------------------------------------------------------------------
# The result object
# ------------------------------------------------------------------------------------------

def test_result_object_behaves_like_a_bool_and_displays():
    good = check.noise_threshold((N + 1) * lam + T)
    bad = check.noise_threshold(N * lam)
    assert good and good.passed and good.status == "correct"
    assert not bad and not bad.passed and bad.status == "not yet"
    assert good.assert_passed() is good
    with pytest.raises(AssertionError, match="noise_threshold"):
        bad.assert_passed()
    assert repr(good).startswith("✓ noise_threshold: correct.")
    assert repr(bad).startswith("✗ noise_threshold: not yet.")
    assert "✓" in good._repr_html_() and "<div" in bad._repr_html_()
    assert str(bad) == repr(bad)


def test_not_attempted_is_reported_not_raised():
    for res in (check.noise_threshold(None), check.optimal_loss(None),
                check.optimal_loss(_ni), check.prompt_shapes(None)):
        assert not res and not res.attempted and res.status == "not attempted"


def test_symbols_and_their_validation():
    assert check.symbols("lam N") == (lam, N)
    with pytest.raises(ValueError, match="names"):
        check.symbols("x")


def test_prompt_shapes():
    right = {"E": (6, 11), "W_PV": (6, 6), "W_KQ": (6, 6), "h": (5,)}
    assert check.prompt_shapes(right)
    assert check.prompt_shapes({"E": [6, 11], "W_PV": (6, 6), "W_KQ": (6, 6), "h": (5,)})
    for key, wrong in (("E", (5, 10)), ("W_PV", (5, 5)), ("W_KQ", (11, 11)), ("h", (5, 1))):
        res = check.prompt_shapes({**right, key: wrong})
        assert not res and key in res.message
        assert "(6, 11)" not in res.message and "(6, 6)" not in res.message
    assert "lacks" in check.prompt_shapes({"E": (6, 11)}).message
    assert not check.prompt_shapes([6, 11])
    assert not check.prompt_shapes({**right, "h": "five"})
    assert check.prompt_shapes({"E": (4, 3), "W_PV": (4, 4), "W_KQ": (4, 4), "h": (3,)},
                               d=3, N=2)
    with pytest.raises(ValueError, match="d must be"):
        check.prompt_shapes(right, d=0)
    with pytest.raises(ValueError, match="N must be"):
        check.prompt_shapes(right, N=1.5)


# ------------------------------------------------------------------------------------------
# Expression checks
# ------------------------------------------------------------------------------------------

EXPRESSIONS = {
    # check: (reference, spec, [wrong answers])
    "noise_threshold": ((N + 1) * lam + T, check_linear._THRESHOLD,
                        [N * lam + T, ((N + 1) * lam + T) / N, -(N + 1) * lam - T, lam * N,
                         2 * ((N + 1) * lam + T), (N + 1) * lam + T + 1, (N + 2) * lam + T]),
    "gain_expression": ((N + 1) / N * lam + T / N, check_linear._GAIN,
                        [lam + T / N, (N + 1) / N * lam, N / (N + 1) * lam + T / N, lam,
                         2 * ((N + 1) / N * lam + T / N), (N + 1) / N * lam - T / N]),
    "direction_weight_expression": (N / ((N + 1) * lam + T), check_linear._WEIGHT,
                                    [1 / lam, ((N + 1) * lam + T) / N, N / ((N + 1) * lam),
                                     1 / ((N + 1) * lam + T)]),
    "head_gain_expression": (p + (1 - p) / N, check_parity._HEAD_GAIN,
                             [p, p + 1 / N, 1 - p + p / N, 2 * p + 2 * (1 - p) / N]),
    "head_weight_expression": (p / (p + (1 - p) / N), check_parity._HEAD_WEIGHT,
                               [sp.Integer(1), p, (p + (1 - p) / N) / p, -p / (p + (1 - p) / N)]),
    "noise_factor_expression": ((1 - 2 * eta) * (1 - 2 * rho) ** 2, check_parity._KAPPA,
                                [(1 - 2 * eta) * (1 - 2 * rho), 1 - 2 * eta,
                                 (1 - eta) * (1 - rho) ** 2, (1 - 2 * eta) ** 2 * (1 - 2 * rho)]),
}
SEEDS = {"noise_threshold": 201, "gain_expression": 401, "direction_weight_expression": 402,
         "head_gain_expression": 701, "head_weight_expression": 702,
         "noise_factor_expression": 801}


def _forbidden_expression_strings(ref: sp.Expr, spec, seed: int) -> list[str]:
    forms = {ref, sp.simplify(ref), sp.expand(ref), sp.factor(ref), sp.together(ref),
             sp.cancel(ref), sp.apart(ref, N) if N in ref.free_symbols else ref}
    out = set()
    for f in forms:
        out |= {str(f), sp.latex(f), sp.sstr(f), sp.pretty(f, use_unicode=True)}
    rng = np.random.default_rng(seed)
    for _ in range(12):
        out |= _number_strings(spec.numeric(**spec.sample(rng)))
    return [s for s in out if len(s) >= 4]


def _number_strings(value: float) -> set[str]:
    v = float(value)
    cands = {f"{v:.3g}", f"{v:.4g}", f"{v:.6g}", f"{v:.4f}", f"{v:.3f}", repr(v)}
    return {c for c in cands if sum(ch.isdigit() for ch in c) >= 3}


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_expression_check_accepts_the_reference_and_equivalent_forms(name):
    ref, spec, _ = EXPRESSIONS[name]
    fn = getattr(check, name)
    res = fn(ref)
    assert res and "symbolically equal" in res.message
    assert fn(sp.factor(ref)) and fn(sp.expand(ref)) and fn(str(ref))
    # the reference expression agrees with iclbook's NumPy closed form
    rng = np.random.default_rng(0)
    for _ in range(5):
        point = spec.sample(rng)
        assert math.isclose(engine.evaluate(spec.reference(), point), spec.numeric(**point),
                            rel_tol=1e-10)


@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_expression_hints_never_contain_the_answer(name):
    ref, spec, wrong = EXPRESSIONS[name]
    fn = getattr(check, name)
    forbidden = _forbidden_expression_strings(ref, spec, SEEDS[name])
    hints = set()
    for answer in wrong:
        res = fn(answer)
        assert not res and res.attempted, (answer, res)
        hints.add(res.message)
        for s in forbidden:
            assert s not in res.message, (answer, s, res.message)
    assert len(hints) >= 3, hints  # the hints are specific, not one generic message


def test_expression_hint_kinds():
    assert "sign" in check.noise_threshold(-(N + 1) * lam - T).message
    assert "constant factor" in check.noise_threshold(3 * ((N + 1) * lam + T)).message
    assert "additive constant" in check.noise_threshold((N + 1) * lam + T + 2).message
    assert "does not depend on T" in check.noise_threshold((N + 1) * lam).message
    assert "Wrong limit as N" in check.noise_threshold(N * lam + T).message
    assert "wrong dependence on N" in check.gain_expression(N / (N + 1) * lam + T / N).message
    assert "depends on" in check.head_gain_expression(p + eta).message or \
        "uses symbol" in check.head_gain_expression(p + eta).message
    assert "symbol(s) x" in check.gain_expression(sp.Symbol("x")).message
    assert "Expected a SymPy expression" in check.gain_expression([1, 2]).message
    assert "could not read" in check.gain_expression("lam +* 2").message
    assert "not a finite number" in check.gain_expression(1 / (lam - lam)).message or \
        not check.gain_expression(sp.zoo)
    # symbols with other assumptions and the aliases are accepted
    assert check.gain_expression((sp.Symbol("N", integer=True) + 1) / sp.Symbol("N") * sp.Symbol(
        "lambda") + sp.Symbol("T") / sp.Symbol("N"))


# ------------------------------------------------------------------------------------------
# Function checks
# ------------------------------------------------------------------------------------------

FUNCTIONS = {
    "feature_gains": lt.feature_gains,
    "optimal_loss": lt.optimal_loss,
    "optimal_matrix": lt.optimal_matrix,
    "loss_of_matrix": lt.loss_of_matrix,
    "noisy_risk": lt.noisy_risk,
    "best_rank": lt.best_rank,
    "critical_label_noise": nt.critical_label_noise,
    "reduced_predict": lsa.reduced_predict,
    "preconditioned_gd_step": lsa.preconditioned_gd_step,
    "effective_matrix": lsa.effective_matrix,
    "best_step_size": check_linear._best_step_reference,
    "head_gains": pt.head_gains,
    "optimal_head_weights": pt.optimal_head_weights,
    "parity_optimal_loss": pt.optimal_loss,
    "noise_factor": pt.noise_factor,
    "parity_noisy_loss": pt.noisy_loss,
    "best_head_count": pt.best_head_count,
}


def _wrong_versions(ref):
    def scaled(k):
        return lambda *a: ref(*a) * k

    def shifted(c):
        return lambda *a: ref(*a) + c

    def zeros(*a):
        out = ref(*a)
        return out * 0 if not isinstance(out, (int, float)) else 0.0

    return [scaled(2.0), scaled(-1.0), scaled(1.01), shifted(1.0), zeros]


def _capture_cases(monkeypatch, name):
    seen = {}
    original = engine.check_function

    def spy(answer, n, reference, cases, *args, **kw):
        seen["cases"] = list(cases)
        return original(answer, n, reference, cases, *args, **kw)

    monkeypatch.setattr(check_linear, "check_function", spy)
    monkeypatch.setattr(check_parity, "check_function", spy)
    getattr(check, name)(FUNCTIONS[name])
    monkeypatch.undo()
    return seen["cases"]


def _as_numbers(out) -> np.ndarray:
    if isinstance(out, torch.Tensor):
        return out.detach().numpy().ravel()
    return np.asarray(out, dtype=float).ravel()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_check_accepts_the_reference(name):
    res = getattr(check, name)(FUNCTIONS[name])
    assert res and "agrees with the reference" in res.message, res


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_check_rejects_stubs_and_non_functions(name):
    fn = getattr(check, name)
    assert not fn(_ni).attempted
    assert not fn(None).attempted
    assert "Expected a function" in fn(3.0).message
    assert "returned None" in fn(lambda *a: None).message
    res = fn(lambda *a: 1 / 0)
    assert not res and "ZeroDivisionError" in res.message


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_hints_never_contain_the_answer(name, monkeypatch):
    ref = FUNCTIONS[name]
    cases = _capture_cases(monkeypatch, name)
    labels = " ".join(c.label for c in cases)
    forbidden = set()
    for c in cases:
        for v in _as_numbers(ref(*c.args)):
            forbidden |= _number_strings(v)
    forbidden = {s for s in forbidden if s not in labels}
    fn = getattr(check, name)
    for wrong in _wrong_versions(ref):
        res = fn(wrong)
        assert not res, (name, res)
        for s in forbidden:
            assert s not in res.message, (name, s, res.message)


def test_function_hint_kinds():
    assert "r = d" in check.optimal_loss(
        lambda s, n, r: lt.optimal_loss(s, n, max(1, r - 1)) if r == len(s)
        else lt.optimal_loss(s, n, r)).message
    assert "Wrong sign" in check.optimal_loss(lambda *a: -lt.optimal_loss(*a)).message
    assert "constant factor" in check.feature_gains(lambda *a: 3 * lt.feature_gains(*a)).message
    assert "limit N → ∞" in check.head_gains(lambda p_, n: np.asarray(p_)).message
    assert "Shape mismatch" in check.feature_gains(
        lambda s, n: lt.feature_gains(s, n)[:-1]).message
    assert "rotated basis" in check.optimal_matrix(
        lambda s, n, r, u: lt.optimal_matrix(s, n, r)).message
    assert "label noise" in check.noisy_risk(
        lambda s, n, r, sg, sx: lt.noisy_risk(s, n, r, 0.0, sx)).message
    assert "Off by one" in check.best_rank(lambda *a: lt.best_rank(*a) - 1).message
    assert "Bᵀ" in check.reduced_predict(lambda h, x, B: lsa.reduced_predict(h, x, B.T)).message
    assert "summed" in check.preconditioned_gd_step(
        lambda x, y, P: lsa.preconditioned_gd_step(x, y, P) * x.shape[-2]).message
    assert "second term" in check.effective_matrix(lambda a, b: a[-1, -1] * b[:-1, :-1]).message
    assert "Γ" in check.best_step_size(
        lambda s, n: float(np.sum(np.asarray(s) ** 2) / np.sum(np.asarray(s) ** 3))).message
    assert "Upside down" in check.optimal_head_weights(
        lambda p_, n: pt.head_gains(p_, n) / np.asarray(p_)).message
    assert "(1 - 2ρ)" in check.noise_factor(lambda e, r: (1 - 2 * e) * (1 - 2 * r)).message
    assert "bit flips" in check.parity_noisy_loss(
        lambda p_, n, m, e, r: pt.noisy_loss(p_, n, m, e, 0.0)).message
    assert "σ²" in check.critical_label_noise(
        lambda s, n, r, sx: nt.critical_label_noise(s, n, r, sx) ** 2).message
    assert "Off by one" in check.best_head_count(lambda *a: pt.best_head_count(*a) - 1).message
    assert "nan" in check.noise_factor(lambda e, r: float("nan")).message
    assert "not a number" in check.noise_factor(lambda e, r: "kappa").message


def test_checks_do_not_let_a_reader_mutate_the_reference_inputs():
    def sloppy(spectrum, n):
        out = lt.feature_gains(spectrum, n)
        spectrum *= 0  # edits its argument in place
        return out

    assert check.feature_gains(sloppy)
    assert check.feature_gains(lt.feature_gains)


def test_checks_are_deterministic():
    wrong = lambda s, n, r: lt.optimal_loss(s, n, r) + 0.1  # noqa: E731
    assert repr(check.optimal_loss(wrong)) == repr(check.optimal_loss(wrong))
