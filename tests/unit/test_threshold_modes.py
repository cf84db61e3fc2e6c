"""Comparator threshold modes (issue 12): half_integer (default), per_neuron, shared."""

from pathlib import Path

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.errors import ParameterError
from mtjexplore.network import THRESHOLD_MODES, circuit_thresholds, forward, project_thresholds
from mtjexplore.weights import network_weights, threshold_mode_of

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


@pytest.fixture(scope="module")
def data(mnist_small):
    train, test = mnist_small
    return train.subset(1280, seed=0), test


@pytest.fixture(scope="module")
def trained(data):
    train, _ = data
    return {mode: mx.Trainer(mx.paper_config(), epochs=1, seed=3, threshold_mode=mode).fit(train)
            for mode in THRESHOLD_MODES}


def test_half_integer_rounds_forward_and_passes_gradient_straight_through():
    t = torch.tensor([0.2, 1.7, -0.4, 3.0], requires_grad=True)
    (out,) = circuit_thresholds([t], "half_integer")
    assert out.tolist() == [0.5, 1.5, -0.5, 3.5]
    (out * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert t.grad.tolist() == [1.0, 2.0, 3.0, 4.0]


def test_shared_is_one_value_per_layer_and_splits_the_gradient():
    t = torch.tensor([0.0, 1.0, 2.0, 5.0], requires_grad=True)
    (out,) = circuit_thresholds([t], "shared")
    assert out.tolist() == [2.0] * 4
    out.sum().backward()
    assert t.grad.tolist() == [1.0] * 4  # each neuron's share of the 4 comparators' gradient


def test_per_neuron_returns_the_very_tensors():
    ts = [torch.randn(5), torch.randn(3)]
    assert all(a is b for a, b in zip(circuit_thresholds(ts, "per_neuron"), ts))


def test_project_is_exact_and_idempotent():
    t = torch.tensor([0.1, 0.30000001, 0.7], dtype=torch.float32)
    shared = project_thresholds([t], "shared")[0]
    assert torch.equal(project_thresholds([shared], "shared")[0], shared)
    half = project_thresholds([t], "half_integer")[0]
    assert torch.equal(project_thresholds([half], "half_integer")[0], half)


def test_unknown_mode_is_refused_with_the_choices(data):
    with pytest.raises(ParameterError, match="threshold_mode must be one of half_integer, per_neuron, shared"):
        mx.Trainer(mx.paper_config(), threshold_mode="trimmed", epochs=1).fit(data[0])


def test_training_exports_what_the_circuit_holds(trained):
    theta = {m: tr.weights_.theta.values for m, tr in trained.items()}
    assert np.array_equal(theta["half_integer"], np.floor(theta["half_integer"]) + 0.5)
    assert np.all(theta["shared"] == theta["shared"][0])
    assert len(np.unique(theta["per_neuron"])) > 1
    for mode in THRESHOLD_MODES:
        assert trained[mode].weights_.attrs["threshold_mode"] == mode


@pytest.mark.parametrize("mode", ["half_integer", "shared"])
def test_model_forward_uses_the_circuit_thresholds(trained, data, mode):
    _, test = data
    model = trained[mode].model_
    x = torch.tensor(np.asarray(test.x[:500]), dtype=torch.float32)
    net = network_weights(trained[mode].weights_)
    # on a die with spread the column currents are not integers: every threshold value matters
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    coeffs = mx.network.sample_coefficients(stats, 1, torch.Generator().manual_seed(0), stats.config)
    with torch.no_grad():
        got = model.logits(x[None], coeffs)
        expected = forward(x, list(net.layers), list(net.thresholds), coeffs) * net.scale
        raw = forward(x, list(net.layers), list(model.thresholds), coeffs) * net.scale
    assert torch.allclose(got, expected, atol=1e-4)
    if mode == "half_integer":
        assert not torch.allclose(got, raw, atol=1e-4)  # the latent thresholds decide differently
        return
    theta = model.thresholds[0]
    kept = theta.detach().clone()
    with torch.no_grad():  # shared: only the layer's mean counts
        theta.add_(torch.linspace(-2, 2, theta.numel()))
        spread_out = model.logits(x[None], coeffs)
        theta.copy_(kept)
    assert torch.allclose(spread_out, got, atol=1e-4)


def test_evaluation_projects_hand_edited_thresholds(trained, data):
    _, test = data
    w = trained["half_integer"].weights_.copy(deep=True)
    edited = w.copy(deep=True)
    edited["theta"] = edited.theta + np.float32(0.3)  # still inside (k, k + 1): same circuit
    assert torch.equal(network_weights(edited).thresholds[0], network_weights(w).thresholds[0])
    assert float(mx.evaluate(edited, None, test).error) == float(mx.evaluate(w, None, test).error)


@pytest.mark.parametrize("mode", THRESHOLD_MODES)
def test_saved_weights_round_trip(trained, data, mode, tmp_path):
    _, test = data
    w = trained[mode].weights_
    back = mx.load(mx.save(w, tmp_path / "w.nc"))
    assert threshold_mode_of(back) == mode
    assert np.array_equal(back.theta.values, w.theta.values)
    assert float(mx.evaluate(back, None, test).error) == float(mx.evaluate(w, None, test).error)


@pytest.mark.parametrize("mode", ["half_integer", "shared"])
def test_fine_tuning_keeps_the_init_mode(trained, data, mode):
    train, _ = data
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15})
    tuned = mx.Trainer(method="statistics_aware", sampler=stats, epochs=1, seed=1).fit(
        train.subset(256, seed=1), init=trained[mode].weights_)
    assert threshold_mode_of(tuned.weights_) == mode
    theta = tuned.weights_.theta.values
    assert (np.all(theta == np.floor(theta) + 0.5) if mode == "half_integer" else np.all(theta == theta[0]))


def test_default_is_half_integer(data):
    train, _ = data
    a = mx.Trainer(mx.paper_config(), epochs=1, seed=4).fit(train.subset(640, seed=2))
    b = mx.Trainer(mx.paper_config(), epochs=1, seed=4, threshold_mode="half_integer").fit(train.subset(640, seed=2))
    assert a.weights_.identical(b.weights_)
    assert threshold_mode_of(a.weights_) == "half_integer"
    assert circuit_thresholds([torch.tensor([0.2])])[0].item() == 0.5


def test_files_without_the_attr_are_per_neuron(trained):
    """Weights written before the modes existed carry no attr: they were per-neuron."""
    old = trained["per_neuron"].weights_.copy()
    del old.attrs["threshold_mode"]
    assert threshold_mode_of(old) == "per_neuron"
    new = network_weights(trained["per_neuron"].weights_)
    assert torch.equal(network_weights(old).thresholds[0], new.thresholds[0])


@pytest.mark.skipif(not (RESULTS / "results.nc").exists(), reason="the committed study is not here")
def test_committed_weights_evaluate_as_committed():
    """The committed study's software / statistics-aware weights still give its numbers exactly."""
    results = mx.load(RESULTS / "results.nc")
    methods = [str(m) for m in results.method.values]
    dies = mx.reference_ensemble()
    _, test = mx.load_mnist()
    for method in ("software", "statistics_aware"):
        w = mx.load(RESULTS / "weights" / f"{method}.nc")
        k = methods.index(method)
        assert np.array_equal(mx.evaluate(w, dies, test).error.values, results.error.values[k])
        assert float(mx.evaluate(w, None, test).error) == float(results.ideal_error.values[k])
