import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.network import forward, tie_error
from mtjexplore.weights import network_weights


def _reference_tie_error(outputs, y):
    """Numpy, one image at a time: the expected error of a uniformly random tie-break."""
    out = []
    for row, label in zip(np.asarray(outputs, dtype=np.float64), np.asarray(y)):
        winners = np.flatnonzero(row == row.max())
        out.append(1.0 - (label in winners) / winners.size)
    return np.array(out)


@pytest.mark.parametrize("outputs, label, expected", [
    ([5, 1, 0, 0], 0, 0.0),          # k = 1, label wins
    ([5, 1, 0, 0], 1, 1.0),          # k = 1, label loses
    ([4, 4, 0, 1], 1, 0.5),          # k = 2, label in the tie
    ([4, 4, 0, 1], 0, 0.5),          # k = 2, label in the tie, first index
    ([4, 4, 0, 1], 3, 1.0),          # k = 2, label outside the tie
    ([3, 0, 3, 3], 2, 2 / 3),        # k = 3, label in the tie
    ([3, 0, 3, 3], 1, 1.0),          # k = 3, label outside the tie
    ([-2, -2, -2, -2], 3, 0.75),     # all tied
])
def test_tie_error_counts_a_k_way_tie_as_a_random_tie_break(outputs, label, expected):
    got = tie_error(torch.tensor([outputs], dtype=torch.float32), torch.tensor([label]))
    assert got.dtype == torch.float64 and got.shape == (1,)
    assert float(got[0]) == pytest.approx(expected, abs=1e-15)


def test_tie_error_on_a_die_batch_matches_the_per_image_reference():
    gen = torch.Generator().manual_seed(0)
    outputs = torch.randint(-3, 4, (3, 200, 10), generator=gen).float() * 0.37  # many ties
    y = torch.randint(0, 10, (200,), generator=gen)
    got = tie_error(outputs, y)
    assert got.shape == (3, 200)
    for d in range(3):
        np.testing.assert_allclose(got[d].numpy(), _reference_tie_error(outputs[d], y), atol=1e-15)
    assert (got > 0).float().mean() < 1 and ((got > 0) & (got < 1)).any()  # ties were present


def test_ideal_error_counts_ties_as_the_hardware_would(quick_weights, mnist_small):
    _, test = mnist_small
    net = network_weights(quick_weights)
    out = forward(torch.tensor(test.x), net.layers, net.thresholds)
    expected = _reference_tie_error(out.numpy(), test.y).mean()
    first_index = float((out.argmax(1) != torch.tensor(test.y)).float().mean())
    got = float(mx.evaluate(quick_weights, None, test).error)
    assert got == pytest.approx(expected, abs=1e-12)
    n_tied = int(((out == out.amax(1, keepdim=True)).sum(1) > 1).sum())
    assert n_tied > 0 and got != pytest.approx(first_index, abs=1e-6)  # ties no longer go to the first index
    again = float(mx.evaluate(quick_weights, None, test).error)
    assert again == got  # deterministic: an expectation, not a random draw


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
    net = network_weights(quick_weights)
    x = torch.tensor(test.x)
    for k in range(5):
        from mtjexplore.network import die_coefficients
        c = die_coefficients(ens.isel(die=k))
        out = forward(x, net.layers, net.thresholds, c)[0]
        assert float(res.error[k]) == pytest.approx(_reference_tie_error(out.numpy(), test.y).mean())
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
