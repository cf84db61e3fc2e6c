import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.network import die_coefficients


@pytest.fixture(scope="module")
def cfg():
    return mx.paper_config()


def test_ideal_die_gives_exact_unit_weights(cfg):
    coeffs = die_coefficients(mx.ideal_die(cfg), dtype=torch.float64)
    for a, b in zip(coeffs.a, coeffs.b):
        assert torch.equal(a, torch.zeros_like(a))
        assert torch.equal(b, torch.ones_like(b))
    w = torch.where(torch.rand(101, 90) > 0.5, 1.0, -1.0).double()
    assert torch.equal(coeffs.effective(0, w)[0], w)


def _current(die, cfg, x, w, layer=0):
    """Column current difference in ampere for inputs x and weights w."""
    coeffs = die_coefficients(die, dtype=torch.float64)
    eff = coeffs.effective(layer, w)[0]
    return cfg.device.read_voltage_v * cfg.device.delta_g_s * (x @ eff)


def test_short_on_plus_device_adds_expected_current(cfg):
    d = cfg.device
    w = torch.ones(101, 90, dtype=torch.float64)  # every + device written P
    x = torch.zeros(101, dtype=torch.float64)
    x[[5, 100]] = 1.0
    row, col = cfg.floorplan.position(0, 5, 7, "+")
    ideal = _current(mx.ideal_die(cfg), cfg, x, w)
    shorted = _current(mx.set_defects(mx.ideal_die(cfg), row, col, "short"), cfg, x, w)
    expected = d.read_voltage_v * (d.g_short_s - d.g_p_s)
    assert float(shorted[7] - ideal[7]) == pytest.approx(expected, rel=1e-12)
    others = torch.arange(90) != 7
    assert torch.equal(shorted[others], ideal[others])


def test_open_removes_the_device_current(cfg):
    d = cfg.device
    w = -torch.ones(101, 90, dtype=torch.float64)  # + devices written AP
    x = torch.zeros(101, dtype=torch.float64)
    x[3] = 1.0
    row, col = cfg.floorplan.position(0, 3, 0, "+")
    ideal = _current(mx.ideal_die(cfg), cfg, x, w)
    opened = _current(mx.set_defects(mx.ideal_die(cfg), row, col, "open"), cfg, x, w)
    assert float(opened[0] - ideal[0]) == pytest.approx(-d.read_voltage_v * d.g_ap_s, rel=1e-12)


def test_inactive_row_short_changes_nothing(cfg):
    w = torch.ones(101, 90, dtype=torch.float64)
    x = torch.zeros(101, dtype=torch.float64)
    row, col = cfg.floorplan.position(0, 5, 7, "+")
    die = mx.set_defects(mx.ideal_die(cfg), row, col, "short")
    assert torch.equal(_current(die, cfg, x, w), _current(mx.ideal_die(cfg), cfg, x, w))


@pytest.mark.parametrize("kind", ["short", "open", "stuck_p", "stuck_ap", "ok"])
def test_paint_then_classify_recovers_kind(cfg, kind):
    ens = mx.sample_dies(cfg, 1, short_rate=0, open_rate=0, stuck_p_rate=0, stuck_ap_rate=0, seed=3)
    die = mx.set_defects(ens.isel(die=0), [0, 50, 90], [0, 100, 190], kind)
    assert (die.defect.values[[0, 50, 90], [0, 100, 190]] == mx.DEFECT_CODES[kind]).all()
    assert (mx.classify_defects(die) == die.defect).all()


def test_paint_maps_consistent_with_kind(cfg):
    d = cfg.device
    die = mx.ideal_die(cfg)
    assert float(mx.set_defects(die, 1, 1, "short").g_ap[1, 1]) == pytest.approx(d.g_short_s)
    assert float(mx.set_defects(die, 1, 1, "open").g_p[1, 1]) == 0.0
    stuck = mx.set_defects(die, 1, 1, "stuck_ap")
    assert float(stuck.g_p[1, 1]) == float(stuck.g_ap[1, 1]) == pytest.approx(d.g_ap_s)
    erased = mx.set_defects(mx.set_defects(die, 1, 1, "short"), 1, 1, "ok")
    assert erased.identical(die)


def test_set_defects_errors_name_the_place(cfg):
    die = mx.ideal_die(cfg)
    with pytest.raises(mx.ParameterError, match="kind must be one of ok, short, open, stuck_p, stuck_ap; got 'bridge'"):
        mx.set_defects(die, 0, 0, "bridge")
    with pytest.raises(mx.ParameterError, match=r"cell \(row=0, col=250\) is outside"):
        mx.set_defects(die, 0, 250, "short")
    with pytest.raises(mx.ParameterError, match=r"cell \(row=95, col=185\) holds no device"):
        mx.set_defects(die, 95, 185, "short")
    with pytest.raises(mx.ParameterError, match="select it first"):
        mx.set_defects(mx.sample_dies(cfg, 2, seed=0), 0, 0, "short")


def test_sampled_ensemble_layout_and_attrs(cfg):
    ens = mx.sample_dies(cfg, 5, seed=11)
    assert dict(ens.sizes) == {"die": 5, "row": 101, "col": 200}
    assert ens.g_p.attrs["units"] == "S" and ens.defect.dtype == np.uint8
    assert ens.defect.attrs["flag_meanings"].split()[:2] == ["ok", "short"]
    assert ens.attrs["seed"] == 11 and ens.attrs["mtjexplore_version"] == mx.__version__
    assert mx.CrossbarConfig.from_json(ens.attrs["config"]) == cfg
    assert int((ens.defect == 255).sum()) == 5 * 200
    assert (mx.classify_defects(ens) == ens.defect).all()


def test_same_seed_same_dies_different_seed_different(cfg):
    a, b, c = (mx.sample_dies(cfg, 3, seed=s) for s in (4, 4, 5))
    assert a.identical(b)
    assert not np.array_equal(a.defect.values, c.defect.values)


def test_defect_counts_follow_rates(cfg):
    ens = mx.sample_dies(cfg, 300, short_rate=7.5e-4, open_rate=1e-4, rate_shape=2.0, seed=0)
    counts = mx.defect_counts(ens)
    shorts = counts.sel(kind="short").values
    assert shorts.mean() == pytest.approx(15, rel=0.12)
    # gamma-Poisson: variance = mean + mean^2 / shape
    assert shorts.var() == pytest.approx(15 + 15 ** 2 / 2, rel=0.3)
    assert counts.sel(kind="open").values.mean() == pytest.approx(2, rel=0.2)


def test_good_device_spread_is_lognormal(cfg):
    ens = mx.sample_dies(cfg, 2, short_rate=0, open_rate=0, stuck_p_rate=0, stuck_ap_rate=0, seed=1)
    d = cfg.device
    r_p = 1 / ens.g_p.values[ens.defect.values == 0] - d.r_series_ohm
    assert np.std(np.log(r_p)) == pytest.approx(d.spread, rel=0.05)
    assert np.exp(np.mean(np.log(r_p))) == pytest.approx(d.r_p_ohm, rel=0.01)
