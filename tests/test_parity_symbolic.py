"""SymPy derivations of Theorems P1 and P2 agree with the NumPy closed forms."""

import numpy as np
import pytest
import sympy as sp

from iclbook.parity.symbolic import (
    ETA,
    KAPPA,
    N_SYM,
    RHO,
    context_moments,
    importance_symbols,
    label_correlation,
    pair_feature_gram,
    symbolic_loss,
    symbolic_noisy_loss,
    symbolic_optimum,
)
from iclbook.parity.theory import (
    noise_factor,
    noisy_loss,
    optimal_head_weights,
    optimal_loss,
    task_pair_indices,
)

P = [0.4, 0.3, 0.2, 0.1]


@pytest.mark.parametrize("d", [4, 8])
def test_pair_features_are_orthonormal(d):
    assert pair_feature_gram(d) == sp.eye(d * (d - 1) // 2)


def test_label_correlations():
    for t in range(4):
        e = sp.zeros(28, 1)
        e[int(task_pair_indices(8)[t])] = 1
        assert label_correlation(8, t) == e
    noisy = label_correlation(4, 1, noisy=True)
    kappa = (1 - 2 * ETA) * (1 - 2 * RHO) ** 2
    assert sp.expand(noisy[int(task_pair_indices(4)[1])] - kappa) == 0
    assert all(noisy[i] == 0 for i in range(6) if i != int(task_pair_indices(4)[1]))
    m, C = context_moments(4, 0, KAPPA)
    assert sp.simplify(C[0, 0] - (1 / N_SYM + (1 - 1 / N_SYM) * KAPPA**2)) == 0
    assert sp.simplify(C[1, 1] - 1 / N_SYM) == 0 and C[0, 1] == 0


@pytest.mark.parametrize("K", [1, 2])
def test_symbolic_loss_matches_trace_form(K):
    derived, closed, A = symbolic_loss(K)
    assert sp.expand(derived - closed) == 0


def test_symbolic_optimum_matches_numpy():
    p_sym = importance_symbols(4)
    vals = {**dict(zip(p_sym, P, strict=True)), N_SYM: 16}
    for m in range(1, 5):
        opt = symbolic_optimum(4, m)
        assert float(opt["L_star"].subs(vals)) == pytest.approx(optimal_loss(P, 16, m))
    np.testing.assert_allclose([float(a.subs(vals)) for a in opt["a_star"]],
                               optimal_head_weights(P, 16))
    q = opt["p_generic"]
    assert sp.simplify(opt["gain_derivative"] - N_SYM * q * ((N_SYM - 1) * q + 2)
                       / ((N_SYM - 1) * q + 1) ** 2) == 0


@pytest.mark.parametrize("eta,rho", [(0.0, 0.0), (0.2, 0.0), (0.0, 0.1), (0.15, 0.1)])
def test_symbolic_noisy_loss_matches_numpy(eta, rho):
    p_sym = importance_symbols(4)
    for m in (1, 3, 4):
        derived, stated = symbolic_noisy_loss(4, m)
        assert sp.cancel(derived - stated) == 0
        vals = {**dict(zip(p_sym, P, strict=True)), N_SYM: 16, KAPPA: noise_factor(eta, rho)}
        assert float(derived.subs(vals)) == pytest.approx(noisy_loss(P, 16, m, eta, rho))


def test_symbolic_bad_inputs():
    with pytest.raises(ValueError, match="d must"):
        pair_feature_gram(5)
    with pytest.raises(ValueError, match="d must"):
        label_correlation(8, 0, noisy=True)
    with pytest.raises(ValueError, match="task must"):
        label_correlation(4, 2)
    with pytest.raises(ValueError, match="m must"):
        symbolic_optimum(3, 4)
    with pytest.raises(ValueError, match="K must"):
        symbolic_loss(4)
