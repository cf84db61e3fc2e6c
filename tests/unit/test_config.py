import dataclasses
import math

import pytest

import mtjexplore as mx
from mtjexplore.errors import MTJExploreError


def test_paper_config_has_20000_devices():
    cfg = mx.paper_config()
    assert cfg.n_devices == 20000
    assert cfg.floorplan.n_devices == 20000
    assert cfg.layer_shapes == [(101, 90), (91, 10)]


def test_device_derived_values():
    d = mx.DeviceParams(r_p_ohm=3000, tmr=1.5, r_series_ohm=500, r_short_ohm=30)
    assert d.r_ap_ohm == pytest.approx(7500)
    assert d.g_p_s == pytest.approx(1 / 3500)
    assert d.g_short_s == pytest.approx(1 / 530)
    assert d.short_to_weight_ratio == pytest.approx((1 / 530) / (1 / 3500 - 1 / 8000))
    assert d.g_open_s == 0.0


def test_default_read_path_is_inside_the_sourced_range():
    # DESIGN.md: published device models (NVSim, NeuroSim) put a 1T1MTJ read path at 0.75-4.5 kOhm
    d = mx.config.paper_device()
    assert 750 <= d.r_series_ohm <= 4500
    assert d.short_to_weight_ratio == pytest.approx((1 / (30 + d.r_series_ohm))
                                                    / (1 / (3000 + d.r_series_ohm) - 1 / (7500 + d.r_series_ohm)))


def test_describe_gives_the_strength_of_a_short_in_unit_weights():
    d = mx.DeviceParams(r_series_ohm=500)
    assert d.describe() == ("R_P 3 kΩ, TMR 1.5, 5 % spread, read path 500 Ω in series: "
                            "a short passes 11.7 unit weights")
    assert str(d) == d.describe()
    assert "a short passes 166.7 unit weights" in str(mx.paper_config(mx.DeviceParams(r_series_ohm=0)))
    assert str(mx.paper_config()).startswith("100+1 -> 90+1 -> 10, 20000 MTJs per die; R_P 3 kΩ")


@pytest.mark.parametrize("field, value, words", [
    ("tmr", -0.5, "tmr must be a finite number > 0; got -0.5 (TMR = (R_AP - R_P) / R_P)"),
    ("r_p_ohm", 0, "r_p_ohm must be a finite number > 0; got 0"),
    ("r_p_ohm", math.nan, "r_p_ohm must be a finite number > 0"),
    ("spread", -0.1, "spread must be a finite number >= 0"),
    ("spread", 1.5, "spread must be < 1"),
    ("r_series_ohm", -1, "r_series_ohm must be a finite number >= 0"),
    ("r_short_ohm", 5000, "r_short_ohm must be < r_p_ohm"),
    ("r_open_ohm", 100, "r_open_ohm must be larger than R_AP"),
    ("read_voltage_v", 0, "read_voltage_v must be a finite number > 0"),
])
def test_bad_device_parameter_named(field, value, words):
    with pytest.raises(mx.ParameterError) as info:
        dataclasses.replace(mx.DeviceParams(), **{field: value})
    assert words in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, MTJExploreError)


@pytest.mark.parametrize("field, value", [("n_inputs", 0), ("n_hidden", 2.5), ("n_outputs", 1)])
def test_bad_network_size_named(field, value):
    with pytest.raises(mx.ParameterError, match=field):
        dataclasses.replace(mx.paper_config(), **{field: value})


def test_config_json_round_trip():
    cfg = mx.CrossbarConfig(n_inputs=16, n_hidden=8, device=mx.DeviceParams(r_series_ohm=0))
    assert mx.CrossbarConfig.from_json(cfg.to_json()) == cfg


def test_floorplan_locate_and_position_are_inverse():
    fp = mx.paper_config().floorplan
    for layer, i, j, s in [(0, 0, 0, "+"), (0, 100, 89, "-"), (1, 90, 9, "+"), (1, 3, 2, "-")]:
        assert fp.locate(*fp.position(layer, i, j, s)) == (layer, i, j, s)
    assert fp.locate(100, 199) is None
    with pytest.raises(mx.ParameterError, match=r"cell \(row=101, col=0\) is outside"):
        fp.locate(101, 0)


def test_remapped_floorplan_permutes_pairs():
    fp = mx.paper_config().floorplan
    order = list(range(10))[::-1]
    swap = [True] + [False] * 9
    new = fp.remapped(1, order, swap)
    assert new.position(1, 0, 0, "+") == fp.position(1, 0, 9, "-")
    assert new.position(1, 0, 1, "+") == fp.position(1, 0, 8, "+")
    with pytest.raises(mx.ParameterError, match="permutation"):
        fp.remapped(1, [0] * 10)
