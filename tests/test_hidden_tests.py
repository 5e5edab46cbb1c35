"""The hidden tests of the assignments: ``check.without_reference`` fails an answer that calls
or returns iclbook's reference implementation, and changes nothing else.

Every check of a function is exercised: its reference is read by intercepting the check's
comparison; gaming answers (the reference itself, a wrapper calling it through the module,
an alias imported by name, a default argument) pass the visible check and fail the hidden
one; an answer that computes the result with its own code passes both.
"""

from __future__ import annotations

import importlib
import types
from unittest import mock

import pytest

from iclbook import check
from iclbook.check import engine
from iclbook.check import linear as check_linear
from iclbook.check import parity as check_parity
from iclbook.linear import theory as lt

CHECKS = [name for name in check.__all__ if name not in ("CheckResult", "symbols",
                                                            "without_reference")]


def reference_of(name: str):
    seen = []
    spy = mock.Mock(side_effect=lambda *a, **k: seen.append(a[2]))
    with mock.patch.object(check_linear, "check_function", spy), \
            mock.patch.object(check_parity, "check_function", spy):
        getattr(check, name)(len)
    return seen[0] if seen else None


FUNCTION_CHECKS = [n for n in CHECKS if reference_of(n) is not None]


def test_every_function_check_is_covered():
    assert len(FUNCTION_CHECKS) >= 15
    assert {"noisy_risk", "optimal_matrix", "preconditioned_gd_step", "best_head_count",
            "parity_optimal_loss", "best_step_size", "loss_of_matrix"} <= set(FUNCTION_CHECKS)


def _gaming_answers(ref):
    module = importlib.import_module(ref.__module__)

    def via_module(*args):
        return getattr(module, ref.__name__)(*args)

    alias = ref

    def via_alias(*args):
        return alias(*args)

    def via_default(*args, _f=ref):
        return _f(*args)

    return {"is the reference": ref, "calls it through its module": via_module,
            "calls an imported alias": via_alias, "calls a default argument": via_default}


@pytest.mark.parametrize("name", FUNCTION_CHECKS)
def test_gaming_answers_fail_the_hidden_test(name):
    chk = getattr(check, name)
    ref = reference_of(name)
    code = ref.__code__
    for how, answer in _gaming_answers(ref).items():
        assert chk(answer), f"{name}: an answer that {how} should pass the visible check"
        hidden = check.without_reference(chk, answer)
        assert not hidden, f"{name}: an answer that {how} passes the hidden test"
        assert "reference implementation" in hidden.message
        assert ref.__code__ is code  # restored
        assert chk(answer)  # and the visible check works as before


def _names(code: types.CodeType) -> set[str]:
    """Every global and attribute name a code object uses, nested comprehensions included."""
    return set(code.co_names).union(*(_names(c) for c in code.co_consts
                                       if isinstance(c, types.CodeType)))


@pytest.mark.parametrize("name", FUNCTION_CHECKS)
def test_own_code_passes_the_hidden_test(name):
    # a fresh function made from the reference's code is the reader's own code: the hidden
    # test blocks function objects, not the mathematics
    ref = reference_of(name)
    own = types.FunctionType(ref.__code__, ref.__globals__, "own", ref.__defaults__)
    # ... unless the reference is itself built on an equivalent that is blocked with it
    # (best_head_count = argmin of noisy_loss_curve): then the copy calls iclbook too
    built_on = {f.__name__ for f in engine.equivalents().get(ref, ())} & _names(ref.__code__)
    result = check.without_reference(getattr(check, name), own)
    assert bool(result) is not bool(built_on), (name, built_on, result.message)


def test_expression_checks_run_unchanged():
    lam, N, T = check.symbols("lam N T")
    right = (N + 1) / N * lam + T / N
    assert check.without_reference(check.gain_expression, right)
    assert not check.without_reference(check.gain_expression, lam)


def test_restored_after_an_exception():
    ref = lt.noisy_risk
    code = ref.__code__

    def boom(*args):
        raise KeyError("mine")

    result = check.without_reference(check.noisy_risk, boom)
    assert not result and "KeyError" in result.message
    assert lt.noisy_risk.__code__ is code
    assert check.noisy_risk(lt.noisy_risk)


def test_blocked_message_is_the_one_raised():
    # the swapped-in code runs with the reference module's globals: builtins only
    refuse = types.FunctionType(engine.refuse.__code__, {"__builtins__": __builtins__})
    with pytest.raises(RuntimeError) as err:
        refuse(1, x=2)
    assert str(err.value) == engine.BLOCKED_MESSAGE


def test_without_reference_validates_the_check():
    with pytest.raises(ValueError, match="check"):
        check.without_reference(len, lt.noisy_risk)


def test_further_arguments_reach_the_check():
    right = {"E": (4, 8), "W_PV": (4, 4), "W_KQ": (4, 4), "h": (3,)}
    assert check.without_reference(check.prompt_shapes, right, d=3, N=7)
    assert not check.without_reference(check.prompt_shapes, right)  # the defaults d=5, N=10
