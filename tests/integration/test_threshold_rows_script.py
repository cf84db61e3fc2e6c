"""scripts/threshold_rows.py: half-integer thresholds made of real device pairs, per die."""
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.defects import DEFECT_CODES, apply_defects
from mtjexplore.statistics import DefectStatistics
from mtjexplore.study import reproduce

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "threshold_rows.py"
TINY = ("--n-reference", 3, "--n-fresh", 3, "--n-test", 300)


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], check=False, capture_output=True,
                          text=True, timeout=300)


def script():
    spec = importlib.util.spec_from_file_location("threshold_rows", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row_statistics(tmp_path, name, **counts):
    """Saved statistics of rows with zero spread, nominal devices and ``counts`` defects per die
    (equal rates for every die: shape inf)."""
    stats = DefectStatistics(mx.paper_config(), counts, {k: math.inf for k in counts},
                                           spread_p=0.0, spread_ap=0.0)
    return mx.save(stats, tmp_path / f"{name}.nc")


@pytest.fixture(scope="module")
def half(tmp_path_factory):
    """Quickly trained half_integer weights, two neurons moved to k = 2 and k = -2 (K = 2 rows, some
    pairs written alike)."""
    train, _ = mx.load_mnist(n_train=2000, n_test=1)
    w = mx.Trainer(mx.paper_config(), epochs=1, seed=0, threshold_mode="half_integer").fit(train).weights_
    w["theta"].values[:2] = [2.5, -1.5]
    return mx.save(w, tmp_path_factory.mktemp("weights") / "half.nc")


@pytest.fixture(scope="module")
def ideal_rows(tmp_path_factory, half):
    tmp = tmp_path_factory.mktemp("ideal")
    out = tmp / "out"
    done = run("--weights", half, "--out", out, "--row-statistics", row_statistics(tmp, "ideal"), *TINY)
    assert done.returncode == 0, done.stderr
    return mx.load(out / "results.nc"), (out / "summary.md").read_text(), done.stdout


def test_zero_spread_and_no_defects_give_exactly_the_exact_errors(ideal_rows):
    res, text, stdout = ideal_rows
    assert not np.isnan(res.error_exact.values).any()  # 3 reference and 3 fresh dies, no padding
    np.testing.assert_array_equal(res.error_rows.values, res.error_exact.values)
    np.testing.assert_array_equal(res.theta.values, np.broadcast_to(
        res.theta_exact.values[:, None, None, :], res.theta.shape).astype(np.float32))
    assert (res.row_defects.values == 0).all()
    assert "+0.000 % ± 0.000" in text and text == stdout.rstrip("\n") + "\n"


def test_exact_errors_are_the_studys_own_dies(ideal_rows, half):
    """The errors with exact thresholds are mx.evaluate on the reference dies and mx.sensitivity
    with the study's seed: the rows are added to the very dies of the study."""
    res = ideal_rows[0]
    dies, stats = reproduce.measured_dies()
    _, test = mx.load_mnist(n_train=1, n_test=300)
    w = mx.load(half)
    assert res.n_rows.values.tolist() == [[2]]
    ref = mx.evaluate(w, dies.isel(die=slice(0, 3)), test).error.values
    fresh = mx.sensitivity(w, stats, 3, test, seed=reproduce.derive_seed(0, "sensitivity")).error.values
    np.testing.assert_array_equal(res.error_exact.sel(set="reference").values[0], ref)
    np.testing.assert_array_equal(res.error_exact.sel(set="fresh").values[0], fresh)


def test_a_forced_short_shifts_its_neurons_threshold_by_the_shorts_strength():
    tr = script()
    device = mx.paper_config().device
    unit = device.delta_g_s
    k = torch.tensor([1, -2, 0])                        # rows: w = -1 then alike; +1, +1; alike, alike
    g_p = torch.full((2, 3, 2), device.g_p_s, dtype=torch.float64)
    g_ap = torch.full((2, 3, 2), device.g_ap_s, dtype=torch.float64)
    exact = tr.row_thresholds(k, g_p, g_ap, unit)
    assert exact.tolist() == [1.5, -1.5, 0.5]
    strength = device.short_to_weight_ratio             # a short passes g_short / unit weights
    cases = [  # (row, neuron, device: 0 = +, 1 = -), state the device was written in, sign of the shift
        ((0, 0, 0), device.g_ap_s, -1),                 # w = -1: the + device in AP; more current, lower theta
        ((0, 0, 1), device.g_p_s, +1),                  # the - device in P: less current, higher theta
        ((1, 1, 0), device.g_p_s, -1),                  # w = +1: the + device in P
        ((1, 2, 1), (device.g_p_s + device.g_ap_s) / 2, +1),  # alike ("mean"): a = mean of both states
    ]
    for where, g_state, sign in cases:
        codes = torch.zeros((2, 3, 2), dtype=torch.uint8)
        codes[where] = DEFECT_CODES["short"]
        sp, sap = apply_defects(codes, g_p, g_ap, device.g_short_s, device.g_open_s)
        shift = tr.row_thresholds(k, sp, sap, unit) - exact
        expected = torch.zeros(3, dtype=torch.float64)
        expected[where[1]] = sign * (strength - g_state / unit)
        torch.testing.assert_close(shift, expected, rtol=1e-12, atol=1e-12)
    # written alike in the P state: the both-P current instead of the mean
    codes = torch.zeros((2, 3, 2), dtype=torch.uint8)
    codes[1, 2, 1] = DEFECT_CODES["short"]
    sp, sap = apply_defects(codes, g_p, g_ap, device.g_short_s, device.g_open_s)
    shift = tr.row_thresholds(k, sp, sap, unit, "p") - tr.row_thresholds(k, g_p, g_ap, unit, "p")
    assert float(shift[2]) == pytest.approx(strength - device.g_p_s / unit, rel=1e-12)


def test_shorts_in_the_rows_move_exactly_their_neurons(tmp_path, half):
    """End to end: many shorts in zero-spread rows; a neuron without one keeps k + 1/2, one with a
    single short is off by the strength of a short replacing a P, an AP or an alike pair."""
    out = tmp_path / "out"
    stats = row_statistics(tmp_path, "shorts", short=1000.0)  # 5 % of the row devices
    done = run("--weights", half, "--out", out, "--row-statistics", stats, *TINY)
    assert done.returncode == 0, done.stderr
    res = mx.load(out / "results.nc")
    device = mx.paper_config().device
    dev = res.theta.values - res.theta_exact.values[:, None, None, :]
    shorts = res.row_shorts.values
    assert (shorts > 0).sum() > 5 and (shorts == 1).any()
    np.testing.assert_array_equal(dev[shorts == 0], 0)
    allowed = device.short_to_weight_ratio - np.array(
        [device.g_p_s, device.g_ap_s, (device.g_p_s + device.g_ap_s) / 2]) / device.delta_g_s
    one = np.abs(dev[shorts == 1])
    assert np.isclose(one[:, None], allowed[None, :], rtol=1e-5).any(1).all()
    assert res.row_defects.sel(kind="short").values.sum() == shorts[shorts > 0].sum()


def test_same_seed_same_numbers_other_seed_other_rows(tmp_path, half):
    runs = []
    for name in ("a", "b"):
        done = run("--weights", half, "--out", tmp_path / name, "--seed", 3, "--n-reference", 2,
                   "--n-fresh", 0, "--n-test", 200)
        assert done.returncode == 0, done.stderr
        runs.append(mx.load(tmp_path / name / "results.nc"))
    assert runs[0].identical(runs[1])
    tr = script()
    stats = reproduce.measured_dies()[1]
    rates = tr.defect_rates(stats, {k: np.array([10]) for k in tr.KINDS})[0]
    g3, g3_again, g4 = (tr.draw_die_rows(stats, rates, 2, 90, seed, "reference", 0, 0)[0] for seed in (3, 3, 4))
    assert torch.equal(g3, g3_again) and not torch.equal(g3, g4)
    # the first rows do not depend on how many are drawn (weights files with another K share them)
    assert torch.equal(tr.draw_die_rows(stats, rates, 1, 90, 3, "reference", 0, 0)[0], g3[:1])


def test_per_neuron_weights_are_refused_naming_the_file(tmp_path, half):
    w = mx.load(half)
    w.attrs["threshold_mode"] = "per_neuron"
    path = mx.save(w, tmp_path / "continuous.nc")
    done = run("--weights", half, path, "--out", tmp_path / "out", *TINY)
    assert done.returncode == 2
    assert f"{path}: threshold mode is 'per_neuron', not 'half_integer'" in done.stderr
    assert not (tmp_path / "out").exists()
