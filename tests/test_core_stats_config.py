"""The shared pieces of issue 15: means and standard errors (:mod:`iclbook.core.stats`), the
training-settings object (:mod:`iclbook.core.config`), the pair count and the Setting 2
argument checks now in :mod:`iclbook.core.validation`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from iclbook.core.config import TrainConfig
from iclbook.core.stats import mean_over_seeds
from iclbook.core.validation import check_basis, check_flips
from iclbook.linear.theory import random_orthogonal
from iclbook.linear.training import LINEAR_TRAINING
from iclbook.parity.theory import pair_count, pair_list
from iclbook.parity.training import PARITY_TRAINING


def test_mean_over_seeds_is_the_sample_se():
    values = np.array([[1.0, 10.0], [2.0, 14.0], [4.0, 12.0]])     # 3 seeds x 2 models
    mean, se = mean_over_seeds(values, axis=0)
    assert np.allclose(mean, [7 / 3, 12.0])
    # by hand: sample variance of (1, 2, 4) is 7/3, of (10, 14, 12) is 4
    assert np.allclose(se, [math.sqrt(7 / 3 / 3), math.sqrt(4 / 3)])
    mean1, se1 = mean_over_seeds(values.T, axis=1)
    assert np.allclose(mean1, mean) and np.allclose(se1, se)


def test_one_seed_rule():
    mean, se = mean_over_seeds([[0.3, 0.6]], axis=0)
    assert np.allclose(mean, [0.3, 0.6]) and np.all(se == 0)
    mean, se = mean_over_seeds([[0.3, 0.6]], axis=0, single_se=np.array([0.01, 0.02]))
    assert np.allclose(se, [0.01, 0.02])
    # the single_se is ignored when there is a spread to measure
    _, se2 = mean_over_seeds([[0.3, 0.6], [0.5, 0.6]], axis=0, single_se=np.array([9, 9]))
    assert np.allclose(se2, [0.1, 0.0])
    with pytest.raises(ValueError, match="at least one seed"):
        mean_over_seeds(np.zeros((0, 2)))


def test_train_config_overrides_and_validation():
    fast = LINEAR_TRAINING.replace(steps=20, n_heldout=1000)
    assert (fast.steps, fast.n_heldout, fast.batch) == (20, 1000, LINEAR_TRAINING.batch)
    assert LINEAR_TRAINING.steps == 1000 and PARITY_TRAINING.check_every == 25
    with pytest.raises(ValueError, match=r"unknown training setting\(s\) \['stpes'\]"):
        LINEAR_TRAINING.replace(stpes=10)
    with pytest.raises(ValueError, match="steps must be an integer >= 1"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match="target_gap"):
        TrainConfig(target_gap=-1.0)
    with pytest.raises(ValueError, match="unknown training setting"):
        from iclbook.linear.training import train_linear_family
        train_linear_family([2.0, 1.0], 4, stpes=3)


@pytest.mark.parametrize("d", [2, 4, 6, 10])
def test_pair_count_is_the_length_of_pair_list(d):
    assert pair_count(d) == len(pair_list(d)) == d * (d - 1) // 2


def test_pair_count_rejects_odd_dimensions():
    with pytest.raises(ValueError, match="even integer >= 2"):
        pair_count(3)


def test_check_flips_and_check_basis():
    assert check_flips(0.75, 0.5) == (0.75, 0.5)
    with pytest.raises(ValueError, match=r"rho must be a number in \[0, 0.5\]"):
        check_flips(0.1, 0.6)
    with pytest.raises(ValueError, match=r"eta must be a number in \[0, 1\]"):
        check_flips(1.5, 0.0)
    u = random_orthogonal(3, seed=1)
    assert np.array_equal(check_basis("basis", u, 3), u)
    assert np.array_equal(check_basis("basis", None, 2), np.eye(2))
    with pytest.raises(ValueError, match=r"basis must be an orthogonal 3 x 3 matrix"):
        check_basis("basis", 2 * u, 3)
    with pytest.raises(ValueError, match=r"basis must have shape \(3, 3\)"):
        check_basis("basis", np.eye(2), 3)
