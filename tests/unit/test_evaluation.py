import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.network import forward
from mtjexplore.weights import weights_tensors


def test_ideal_die_equals_ideal_evaluation(quick_weights, mnist_small):
    _, test = mnist_small
    ideal = mx.evaluate(quick_weights, None, test)
    on_die = mx.evaluate(quick_weights, mx.ideal_die(mx.paper_config()), test)
    assert float(on_die.error[0]) == float(ideal.error)
    assert float(on_die.loss[0]) == pytest.approx(float(ideal.loss), rel=1e-6)


def test_batched_evaluation_matches_per_die_reference(quick_weights, mnist_small):
    _, test = mnist_small
    ens = mx.sample_dies(mx.paper_config(), 5, seed=2)
    res = mx.evaluate(quick_weights, ens, test, chunk_size=2)
    w1, w2, theta, _ = weights_tensors(quick_weights)
    x, y = torch.tensor(test.x), torch.tensor(test.y)
    for k in range(5):
        from mtjexplore.network import die_coefficients
        c = die_coefficients(ens.isel(die=k))
        out = forward(x, w1, w2, theta, c)[0]
        assert float(res.error[k]) == pytest.approx(float((out.argmax(1) != y).float().mean()))
    assert list(res.die.values) == list(range(5))
    assert (res.n_short.values == mx.defect_counts(ens).sel(kind="short").values).all()


def test_chunking_does_not_change_results(quick_weights, mnist_small):
    _, test = mnist_small
    ens = mx.sample_dies(mx.paper_config(), 4, seed=0)
    a = mx.evaluate(quick_weights, ens, test, chunk_size=1)
    b = mx.evaluate(quick_weights, ens, test, chunk_size=8)
    np.testing.assert_allclose(a.error.values, b.error.values)
    np.testing.assert_allclose(a.loss.values, b.loss.values, rtol=1e-5)


def test_shorts_degrade_accuracy(quick_weights, mnist_small):
    _, test = mnist_small
    cfg = mx.paper_config()
    clean = mx.sample_dies(cfg, 3, short_rate=0, open_rate=0, stuck_p_rate=0, stuck_ap_rate=0, seed=0)
    bad = mx.sample_dies(cfg, 3, short_rate=0.01, seed=0)
    e_clean = mx.evaluate(quick_weights, clean, test).error.mean()
    e_bad = mx.evaluate(quick_weights, bad, test).error.mean()
    assert float(e_bad) > float(e_clean) + 0.05


def test_sensitivity_distribution(quick_weights, mnist_small):
    _, test = mnist_small
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    a = mx.sensitivity(quick_weights, stats, 6, test, seed=0)
    b = mx.sensitivity(quick_weights, stats, 6, test, seed=0)
    assert a.error.dims == ("sample",) and a.sizes["sample"] == 6
    assert a.identical(b)
    assert float(a.error.std()) > 0


def test_evaluate_rejects_bad_input(quick_weights, mnist_small):
    _, test = mnist_small
    with pytest.raises(mx.ParameterError, match="chunk_size must be an int >= 1"):
        mx.evaluate(quick_weights, None, test, chunk_size=0)
    with pytest.raises(mx.ParameterError, match="weights must be the Dataset a Trainer produces"):
        mx.evaluate({"w1": 1}, None, test)
    with pytest.raises(mx.ParameterError, match="dies must be an xarray.Dataset"):
        mx.evaluate(quick_weights, np.zeros(3), test)
