"""Tests of iclbook.core.parallel: order, errors, and results independent of the worker count."""

import operator

import numpy as np
import pytest
import torch

from iclbook.core.parallel import available_cores, default_workers, run_jobs
from iclbook.softmax import classification as ic
from iclbook.softmax.training import train_softmax_parity


def test_results_come_back_in_job_order():
    jobs = [(i, 10 * i) for i in range(7)]
    assert run_jobs(operator.add, jobs, workers=1) == [11 * i for i in range(7)]
    assert run_jobs(operator.add, jobs, workers=2) == [11 * i for i in range(7)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="jobs"):
        run_jobs(operator.add, [], workers=1)
    with pytest.raises(ValueError, match="workers"):
        run_jobs(operator.add, [(1, 2)], workers=0)
    with pytest.raises(ValueError, match="n_jobs"):
        default_workers(0)


def test_default_workers(monkeypatch):
    monkeypatch.delenv("ICLBOOK_WORKERS", raising=False)
    assert default_workers(1) == 1
    assert default_workers(1000) == available_cores() >= 1
    monkeypatch.setenv("ICLBOOK_WORKERS", "3")
    assert default_workers(2) == 2 and default_workers(10) == 3
    monkeypatch.setenv("ICLBOOK_WORKERS", "many")
    with pytest.raises(ValueError, match="ICLBOOK_WORKERS"):
        default_workers(4)


def test_a_failing_job_raises_in_the_caller():
    with pytest.raises(TypeError):
        run_jobs(operator.add, [(1, 2), (1, "a")], workers=2)


def test_softmax_parity_is_the_same_for_any_number_of_workers():
    kw = dict(noise=[(0.0, 0.0), (0.2, 0.0)], steps=6, batch=16, n_eval=200, progress=False)
    one = train_softmax_parity([0.6, 0.4], 6, [(1, 8), (2, 8)], (0, 1), workers=1, **kw)
    two = train_softmax_parity([0.6, 0.4], 6, [(1, 8), (2, 8)], (0, 1), workers=2, **kw)
    assert one.accuracy.shape == (2, 2, 2)
    np.testing.assert_array_equal(one.accuracy, two.accuracy)
    np.testing.assert_array_equal(one.loss, two.loss)
    for a, b in zip(one.histories, two.histories, strict=True):
        for ha, hb in zip(a, b, strict=True):
            np.testing.assert_array_equal(ha.loss_array(), hb.loss_array())
    # the seeds really differ (a job that ignored its seed would give equal rows)
    assert not np.array_equal(one.loss[:, 0], one.loss[:, 1])


def test_classification_models_are_the_same_for_any_number_of_workers():
    sizes = [ic.ModelSize(1, 1, 4), ic.ModelSize(1, 2, 8)]
    kw = dict(N=6, d=3, steps=5, batch=8, progress=False)
    one, _ = ic.train_models(sizes, [0, 1], workers=1, **kw)
    two, _ = ic.train_models(sizes, [0, 1], workers=2, **kw)
    assert sorted(one) == sorted(two) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for key, m in one.items():
        assert not m.training
        for (na, pa), (nb, pb) in zip(m.state_dict().items(), two[key].state_dict().items(),
                                      strict=True):
            assert na == nb and torch.equal(pa, pb)


_CALLS: list[int] = []


def _record(i):
    _CALLS.append(i)
    return 2 * i


def test_costs_start_the_largest_jobs_first_and_keep_the_result_order():
    _CALLS.clear()
    costs = [1.0, 5.0, 2.0, 5.0, 3.0]
    assert run_jobs(_record, [(i,) for i in range(5)], workers=1, costs=costs) == \
        [0, 2, 4, 6, 8]
    assert _CALLS == [1, 3, 4, 2, 0]  # longest first, ties in job order
    assert run_jobs(_record, [(i,) for i in range(5)], workers=2, costs=costs) == \
        [0, 2, 4, 6, 8]
    for bad in ([1.0], [1.0, 0.0], [1.0, float("inf")]):
        with pytest.raises(ValueError, match="costs"):
            run_jobs(operator.add, [(1, 2), (3, 4)], workers=1, costs=bad)
