"""Tests for DefectStatistics: sampling, fitting (round trip), clustering, persistence."""

import dataclasses
import math

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.config import CrossbarConfig
from mtjexplore.die import set_defects
from mtjexplore.errors import DataFileError, ParameterError
from mtjexplore.statistics import DefectStatistics, load_statistics

KINDS = ("short", "open", "stuck_p", "stuck_ap")
#: 1,900 devices: big enough for realistic densities, ten times cheaper to sample than the paper's.
MEDIUM = CrossbarConfig(n_inputs=36, n_hidden=20, n_outputs=10)


def relative(a, b):
    return abs(a - b) / abs(b)


# ---------------------------------------------------------------------------- sampling
def test_reference_ensemble_is_sample_dies_with_its_defaults():
    ref = mx.reference_ensemble(seed=0)
    plain = mx.sample_dies(mx.paper_config(), 36, seed=0)
    assert ref.sizes["die"] == 36
    np.testing.assert_array_equal(ref.g_p.values, plain.g_p.values)
    np.testing.assert_array_equal(ref.defect.values, plain.defect.values)
    assert "not public" in ref.attrs["provenance"]


def test_reference_statistics_scale_with_device_count():
    small = mx.reference_statistics(MEDIUM)
    assert small.mean_counts["short"] == pytest.approx(7.5e-4 * MEDIUM.n_devices)
    assert mx.reference_statistics().mean_counts == {"short": 15.0, "open": 1.0, "stuck_p": 0.5,
                                                     "stuck_ap": 0.5}
    assert set(mx.reference_statistics().count_shape.values()) == {2.0}


def test_sample_is_deterministic_and_seed_dependent():
    stats = mx.reference_statistics(MEDIUM)
    a, b, c = stats.sample(3, seed=5), stats.sample(3, seed=5), stats.sample(3, seed=6)
    assert a.identical(b)
    assert not np.array_equal(a.g_p.values, c.g_p.values)


def test_sampled_shorts_and_opens_read_the_statistics_conductances():
    stats = DefectStatistics(MEDIUM, {"short": 40, "open": 20}, g_short_s=1 / 700.0,
                             g_open_s=1e-7, median_r_p_ohm=3300.0)
    ens = stats.sample(4, seed=1)
    shorts, opens = ens.defect.values == 1, ens.defect.values == 2
    assert shorts.sum() > 0 and opens.sum() > 0
    np.testing.assert_allclose(ens.g_p.values[shorts], 1 / 700.0)
    np.testing.assert_allclose(ens.g_ap.values[opens], 1e-7)
    good = ens.defect.values == 0
    r_p = 1 / ens.g_p.values[good] - MEDIUM.device.r_series_ohm
    assert np.exp(np.log(r_p).mean()) == pytest.approx(3300.0, rel=0.01)


def test_sample_maps_matches_sample_and_keeps_no_device_cells_empty():
    stats = mx.reference_statistics(MEDIUM)
    g_p, g_ap, kinds = stats.sample_maps(3, torch.Generator().manual_seed(2))
    assert g_p.shape == (3,) + MEDIUM.floorplan.shape and g_p.dtype == torch.float32
    absent = torch.as_tensor(~MEDIUM.floorplan.present)
    assert (g_p[:, absent] == 0).all() and (kinds[:, absent] == 255).all()


# ---------------------------------------------------------------------------- fitting
def test_fit_recovers_rates_and_spread_on_36_paper_dies():
    """Must-show: rates within +-20 % and log-normal spread within +-10 % on 36 dies."""
    true = DefectStatistics(mx.paper_config(), {"short": 15, "open": 10, "stuck_p": 10, "stuck_ap": 10},
                            {k: math.inf for k in KINDS}, spread_p=0.05, spread_ap=0.08)
    fitted = DefectStatistics.fit(true.sample(36, seed=11))
    for kind in KINDS:
        assert relative(fitted.mean_counts[kind], true.mean_counts[kind]) < 0.20, kind
    assert relative(fitted.spread_p, 0.05) < 0.10
    assert relative(fitted.spread_ap, 0.08) < 0.10
    assert relative(fitted.median_r_p_ohm, 3000.0) < 0.01


def test_fit_recovers_gamma_rates_on_400_dies():
    """Negative-binomial counts (gamma shape 2): mean within 20 %, the short shape within 35 %."""
    true = DefectStatistics(MEDIUM, {"short": 15, "open": 4, "stuck_p": 3, "stuck_ap": 3},
                            {k: 2.0 for k in KINDS}, spread_p=0.04, spread_ap=0.06)
    fitted = DefectStatistics.fit(true.sample(400, seed=3))
    for kind in KINDS:
        assert relative(fitted.mean_counts[kind], true.mean_counts[kind]) < 0.20, kind
    assert relative(fitted.count_shape["short"], 2.0) < 0.35
    assert relative(fitted.spread_p, 0.04) < 0.10 and relative(fitted.spread_ap, 0.06) < 0.10


def test_fit_estimates_defective_conductances_and_medians():
    true = DefectStatistics(MEDIUM, {"short": 30, "open": 5}, g_short_s=1 / 650.0, g_open_s=0.0,
                            median_r_p_ohm=3200.0, median_r_ap_ohm=7000.0)
    fitted = DefectStatistics.fit(true.sample(20, seed=4))
    assert fitted.g_short_s == pytest.approx(1 / 650.0)
    assert fitted.g_open_s == 0.0
    assert fitted.median_r_p_ohm == pytest.approx(3200.0, rel=0.01)
    assert fitted.median_r_ap_ohm == pytest.approx(7000.0, rel=0.01)
    assert "fitted on 20 dies" in fitted.provenance


def test_fit_without_defects_keeps_config_conductances_and_poisson_shape():
    fitted = DefectStatistics.fit(mx.ideal_die(MEDIUM))
    assert fitted.mean_counts == {k: 0.0 for k in KINDS}
    assert all(math.isinf(v) for v in fitted.count_shape.values())
    assert fitted.g_short_s == MEDIUM.device.g_short_s
    assert fitted.spread_p == 0.0


def test_fit_method_of_moments_on_known_counts():
    die = mx.ideal_die(MEDIUM)
    dies = [set_defects(die, [0] * n, list(range(n)), "short") for n in (1, 3, 11)]
    ens = mx.sample_dies(MEDIUM, 3, seed=0).copy(deep=True)
    for k, d in enumerate(dies):
        for name in ("g_p", "g_ap", "defect"):
            ens[name].values[k] = d[name].values
    fitted = DefectStatistics.fit(ens)
    mean, var = 5.0, np.var([1, 3, 11], ddof=1)
    assert fitted.mean_counts["short"] == pytest.approx(mean)
    assert fitted.count_shape["short"] == pytest.approx(mean**2 / (var - mean))


def test_fit_with_thresholds_reclassifies_and_accepts_options():
    ens = mx.sample_dies(MEDIUM, 2, seed=1)
    d = MEDIUM.device
    g = 1 / (0.3 * d.r_p_ohm + d.r_series_ohm)  # a leaky junction at 0.3 R_P in both states
    ens.g_p.values[0, 0, 0] = ens.g_ap.values[0, 0, 0] = g
    ens.defect.values[0, 0, 0] = 0
    strict = mx.ClassifyThresholds(short_fraction=0.5)
    fitted = DefectStatistics.fit(ens, thresholds=strict, spatial="clustered")
    base = DefectStatistics.fit(ens)
    assert fitted.mean_counts["short"] == base.mean_counts["short"] + 0.5
    assert fitted.spatial == "clustered"


def test_fit_rejects_an_ensemble_without_good_devices():
    die = mx.ideal_die(MEDIUM)
    rows, cols = np.nonzero(MEDIUM.floorplan.present)
    with pytest.raises(ParameterError, match="no good"):
        DefectStatistics.fit(set_defects(die, rows, cols, "short"))


# ---------------------------------------------------------------------------- clustering
def clustered(**kw):
    return DefectStatistics(MEDIUM, {"short": 20, "open": 4}, {"short": math.inf, "open": math.inf},
                            spatial="clustered", **kw)


def test_clustered_rows_confine_defects_to_n_clusters_rows():
    ens = clustered(cluster_fraction=1.0, n_clusters=2, cluster_shapes=("row",)).sample(10, seed=0)
    bad = (ens.defect.values >= 1) & (ens.defect.values <= 4)
    assert bad.sum() > 100
    rows_hit = bad.any(axis=2).sum(axis=1)
    assert (rows_hit <= 2).all()


def test_clustered_blobs_confine_defects_to_a_neighbourhood():
    ens = clustered(cluster_fraction=1.0, n_clusters=1, cluster_shapes=("blob",),
                    cluster_radius_cells=2.0).sample(5, seed=1)
    for die in range(5):
        r, c = np.nonzero((ens.defect.values[die] >= 1) & (ens.defect.values[die] <= 4))
        assert len(r) > 0
        assert np.ptp(r) <= 4 and np.ptp(c) <= 4


def test_clustered_keeps_mean_counts_and_concentrates_defects():
    n = 200
    ind = dataclasses.replace(clustered(), spatial="independent").sample(n, seed=2)
    clu = clustered(cluster_fraction=0.8).sample(n, seed=2)
    counts_ind = mx.defect_counts(ind).sel(kind="short").mean().item()
    counts_clu = mx.defect_counts(clu).sel(kind="short").mean().item()
    assert relative(counts_clu, counts_ind) < 0.15
    assert relative(DefectStatistics.fit(clu).mean_counts["short"], 20.0) < 0.15

    def row_dispersion(ens):  # variance / mean of the defects per physical row, over dies
        per_row = ((ens.defect.values >= 1) & (ens.defect.values <= 4)).sum(axis=2)
        return (per_row.var(axis=1) / per_row.mean(axis=1)).mean()

    assert row_dispersion(clu) > 3 * row_dispersion(ind)


def test_clustered_sampler_trains():
    stats = clustered(n_clusters=3)
    cfg = CrossbarConfig(n_inputs=16, n_hidden=8, n_outputs=10)
    stats = dataclasses.replace(stats, config=cfg, mean_counts={"short": 4})
    train, _ = mx.load_mnist(size=4, n_train=256, n_test=10)
    trainer = mx.Trainer(method="statistics_aware", sampler=stats, epochs=1, seed=0).fit(train)
    assert trainer.weights_.w1.shape == (17, 8)


@pytest.mark.parametrize("kw, phrase", [
    ({"spatial": "grid"}, "spatial must be one of independent, clustered"),
    ({"cluster_fraction": 1.5}, "cluster_fraction must be a finite number in [0, 1]"),
    ({"n_clusters": 0}, "n_clusters must be an int in [1, 1000]"),
    ({"cluster_shapes": ("row", "ring")}, "cluster_shapes must be a non-empty tuple"),
    ({"cluster_radius_cells": -1}, "cluster_radius_cells must be a finite number >= 0"),
    ({"spread_p": 1.5}, "spread_p must be a finite number in [0, 1)"),
    ({"g_short_s": -1.0}, "g_short_s must be a finite number >= 0"),
    ({"mean_counts": {"shrt": 1}}, "mean_counts has unknown kinds ['shrt']"),
    ({"count_shape": {"short": 0}}, "count_shape['short'] must be > 0"),
])
def test_invalid_parameters_are_named(kw, phrase):
    with pytest.raises(ParameterError) as info:
        DefectStatistics(MEDIUM, **kw)
    assert phrase in str(info.value)


# ---------------------------------------------------------------------------- persistence
@pytest.mark.parametrize("stats", [
    DefectStatistics(MEDIUM, {"short": 12.5, "open": 1}, {"short": 1.7, "open": math.inf}),
    DefectStatistics(MEDIUM, {"short": 3}, spatial="clustered", cluster_shapes=("col", "blob"),
                     n_clusters=4, cluster_fraction=0.3, cluster_radius_cells=1.5,
                     g_short_s=1 / 600.0, provenance="test"),
])
def test_save_load_is_lossless(stats, tmp_path):
    path = mx.save(stats, tmp_path / "stats.nc")
    back = load_statistics(path)
    assert back == stats
    assert back.sample(2, seed=3).identical(stats.sample(2, seed=3))
    assert DefectStatistics.from_dataset(stats.to_dataset()) == stats


def test_fitted_statistics_round_trip_through_a_file(tmp_path):
    fitted = DefectStatistics.fit(mx.sample_dies(MEDIUM, 5, seed=0))
    assert load_statistics(mx.save(fitted, tmp_path / "fit.nc")) == fitted


def test_load_statistics_rejects_other_files(tmp_path):
    path = mx.save(mx.ideal_die(MEDIUM), tmp_path / "die.nc")
    with pytest.raises(DataFileError, match="does not hold DefectStatistics"):
        load_statistics(path)
    with pytest.raises(DataFileError, match="no such file"):
        load_statistics(tmp_path / "missing.nc")
