"""Correlated P/AP spread of one junction (issue 12): DeviceParams.spread_correlation."""

import dataclasses
import math

import pytest
import torch

import mtjexplore as mx
from mtjexplore.config import CrossbarConfig, DeviceParams
from mtjexplore.errors import ParameterError
from mtjexplore.statistics import DefectStatistics, measured_spread_correlation


def stats_with(rho=None, device_rho=0.0, **kw):
    config = CrossbarConfig(device=DeviceParams(spread_correlation=device_rho))
    return DefectStatistics(config, {"short": 10}, spread_correlation=rho, **kw)


def test_default_is_the_argued_value_and_older_files_read_as_independent():
    assert DeviceParams().spread_correlation == 0.9
    config = mx.paper_config()
    assert '"spread_correlation": 0.9' in config.to_json()
    assert CrossbarConfig.from_json(config.to_json()) == config
    independent = CrossbarConfig(device=DeviceParams(spread_correlation=0.0))
    assert "spread_correlation" not in independent.to_json()
    assert CrossbarConfig.from_json(independent.to_json()) == independent
    # a file written before the option existed has no key: its dies were drawn independently
    old = config.to_json().replace(', "spread_correlation": 0.9', "")
    assert "spread_correlation" not in old
    assert CrossbarConfig.from_json(old).device.spread_correlation == 0.0


@pytest.mark.parametrize("bad", [1.5, -1.01, True, "0.9", math.nan])
def test_out_of_range_is_refused_with_the_rule(bad):
    with pytest.raises(ParameterError, match=r"spread_correlation must be a number in \[-1, 1\]"):
        DeviceParams(spread_correlation=bad)


def test_statistics_take_the_device_value_unless_given():
    assert stats_with(device_rho=0.6).spread_correlation == 0.6
    assert stats_with(0.3, device_rho=0.6).spread_correlation == 0.3
    assert stats_with().spread_correlation == 0.0


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, -0.4])
def test_sampled_correlation_matches(rho):
    dies = stats_with(rho, spread_p=0.05, spread_ap=0.07).sample(2, seed=1)  # ~40,000 good devices
    assert abs(measured_spread_correlation(dies) - rho) < 0.02


def test_full_correlation_moves_both_states_together():
    s = stats_with(1.0, spread_p=0.05, spread_ap=0.05)
    g_p, g_ap = s.healthy_conductances((1000,), torch.Generator().manual_seed(0), torch.float64)
    r = mx.paper_device().r_series_ohm
    log_p, log_ap = torch.log(1 / g_p - r), torch.log(1 / g_ap - r)
    assert torch.allclose(log_ap - log_p, torch.full_like(log_p, math.log(2.5)), atol=1e-9)


def test_zero_correlation_draws_are_the_independent_draws_bit_for_bit():
    s = stats_with()
    g_p, g_ap = s.healthy_conductances((3, 50), torch.Generator().manual_seed(7))
    gen = torch.Generator().manual_seed(7)
    r = s.config.device.r_series_ohm
    r_p = s.median_r_p_ohm * torch.exp(s.spread_p * torch.randn((3, 50), generator=gen))
    r_ap = s.median_r_ap_ohm * torch.exp(s.spread_ap * torch.randn((3, 50), generator=gen))
    assert torch.equal(g_p, 1.0 / (r_p + r)) and torch.equal(g_ap, 1.0 / (r_ap + r))


def test_fit_recovers_it_only_when_asked():
    dies = stats_with(0.8).sample(2, seed=3)
    assert abs(DefectStatistics.fit(dies, fit_correlation=True).spread_correlation - 0.8) < 0.02
    assert DefectStatistics.fit(dies).spread_correlation == 0.0  # the config's (stats_with's device: 0)


def test_saved_only_when_non_zero_and_round_trips():
    assert "spread_correlation" not in stats_with().to_dataset()
    s = stats_with(0.9)
    ds = s.to_dataset()
    assert float(ds.spread_correlation) == 0.9
    assert DefectStatistics.from_dataset(ds) == s
    assert DefectStatistics.from_dataset(stats_with().to_dataset()) == stats_with()


def test_fixed_weights_see_the_same_effective_weight_distribution(quick_weights):
    """A pair reads one device in P and the other in AP: the marginal of each effective weight
    does not depend on the correlation (mean and spread of the layer-1 effective weights)."""
    w = mx.weights.network_weights(quick_weights)
    out = []
    for rho in (0.0, 0.9):
        no_defects = dataclasses.replace(stats_with(rho), mean_counts={})
        coeffs = mx.network.sample_coefficients(no_defects, 4, torch.Generator().manual_seed(0),
                                                mx.paper_config(), map_dtype=torch.float64)
        eff = coeffs.effective(0, w.layers[0].double()) * w.layers[0].double()
        out.append((float(eff.mean()), float(eff.std())))
    assert abs(out[0][0] - out[1][0]) < 0.003 and abs(out[0][1] / out[1][1] - 1) < 0.02
