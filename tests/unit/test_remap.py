"""Tests for remapping (mtjexplore.remap) and evaluate(..., floorplans=...)."""

import itertools

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.errors import ParameterError
from mtjexplore.remap import Remapping, linear_assignment, remap, remapped_floorplan

CFG = mx.paper_config()


def brute_force(cost):
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n))
    return brute_force(cost.T)


# ---------------------------------------------------------------- assignment
@pytest.mark.parametrize("shape", [(1, 1), (3, 3), (4, 6), (6, 4), (6, 6)])
def test_linear_assignment_is_optimal_against_brute_force(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        cost = rng.integers(0, 9, size=shape).astype(float)  # ties on purpose
        rows, cols = linear_assignment(cost)
        assert len(rows) == min(shape) and len(set(cols)) == len(cols) and list(rows) == sorted(rows)
        assert cost[rows, cols].sum() == pytest.approx(brute_force(cost))


def test_linear_assignment_matches_scipy_on_paper_sizes():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(0)
    for shape in [(90, 90), (10, 10), (20, 35)]:
        cost = rng.normal(size=shape)
        rows, cols = linear_assignment(cost)
        ref_rows, ref_cols = scipy_opt.linear_sum_assignment(cost)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref_rows, ref_cols].sum(), abs=1e-9)


def test_linear_assignment_rejects_non_finite_costs():
    with pytest.raises(ParameterError, match="2-d array of finite numbers"):
        linear_assignment([[0.0, np.nan], [1.0, 2.0]])


# ---------------------------------------------------------------- floorplans
def random_remapping(seed):
    rng = np.random.default_rng(seed)
    return Remapping(CFG, rng.permutation(90), rng.random(90) < 0.5, rng.permutation(10),
                     rng.random(10) < 0.5)


def test_identity_remapping_gives_the_default_floorplan():
    fp, default = Remapping.identity(CFG).floorplan, CFG.floorplan
    assert Remapping.identity(CFG).is_identity
    for layer in range(2):
        np.testing.assert_array_equal(fp.rows[layer], default.rows[layer])
        np.testing.assert_array_equal(fp.cols[layer], default.cols[layer])


def test_hidden_neuron_moves_its_layer1_columns_and_layer2_row_together():
    r = random_remapping(1)
    fp, default = r.floorplan, CFG.floorplan
    j, slot = 7, int(r.hidden_slot[7])
    sign = "-" if r.hidden_swap[j] else "+"
    assert fp.position(0, 3, j, "+") == default.position(0, 3, slot, sign)
    k, q = 2, int(r.output_slot[2])
    out_sign = "-" if r.output_swap[k] else "+"
    assert fp.position(1, j, k, "+") == default.position(1, slot, q, out_sign)
    assert fp.position(1, 90, k, "+") == default.position(1, 90, q, out_sign)  # bias row stays


def test_any_remapping_is_invisible_on_an_ideal_die(quick_weights, mnist_small):
    """A placement changes nothing when every device is nominal: the function is the same."""
    _, test = mnist_small
    die = mx.ideal_die(CFG)
    ideal = mx.evaluate(quick_weights, None, test)
    for seed in (1, 2):
        res = mx.evaluate(quick_weights, die, test, floorplans=random_remapping(seed).floorplan)
        assert float(res.error[0]) == float(ideal.error)
        assert float(res.loss[0]) == pytest.approx(float(ideal.loss), rel=1e-5)


def test_evaluate_with_identity_floorplans_equals_default(quick_weights, mnist_small):
    _, test = mnist_small
    ens = mx.sample_dies(CFG, 3, seed=4)
    plain = mx.evaluate(quick_weights, ens, test)
    same = mx.evaluate(quick_weights, ens, test, floorplans=[CFG.floorplan] * 3)
    np.testing.assert_array_equal(plain.error.values, same.error.values)
    np.testing.assert_array_equal(plain.loss.values, same.loss.values)
    moved = mx.evaluate(quick_weights, ens, test,
                        floorplans=[CFG.floorplan, random_remapping(3).floorplan, CFG.floorplan])
    assert moved.loss.values[0] == plain.loss.values[0]
    assert moved.loss.values[1] != plain.loss.values[1]  # another placement reads other devices


def test_evaluate_rejects_the_wrong_number_of_floorplans(quick_weights, mnist_small):
    _, test = mnist_small
    ens = mx.sample_dies(CFG, 3, seed=4)
    with pytest.raises(ParameterError, match=r"floorplans must be a Floorplan or a sequence of 3 "
                                             r"Floorplans \(one per die\); got list of length 2"):
        mx.evaluate(quick_weights, ens, test, floorplans=[CFG.floorplan] * 2)


def test_remapped_floorplan_needs_the_last_hidden_layer_as_the_last_rows():
    small = mx.CrossbarConfig(n_inputs=4, n_hidden=3, n_outputs=2)
    with pytest.raises(ParameterError, match="neurons plus one bias row"):
        remapped_floorplan(small.floorplan, np.arange(5), np.zeros(5, bool), np.arange(2), np.zeros(2, bool))


# ---------------------------------------------------------------- the search
def busiest_hidden_neuron(weights, data):
    w1 = torch.tensor(weights.w1.values, dtype=torch.float32)
    x1 = torch.nn.functional.pad(torch.tensor(data.x), (0, 1), value=1.0)
    return int(((x1 @ w1) > torch.tensor(weights.theta.values)).float().mean(0).argmax())


def test_remap_moves_an_output_layer_short_off_a_busy_neuron(quick_weights, mnist_small):
    """A short on the '+' device of class 0 in the row of the busiest hidden neuron forces class 0
    whenever that neuron fires; remapping must put a quiet neuron there (or flip the pair).
    A strong short (500 Ohm read path: 11.7 unit weights) makes the damage unmistakable."""
    train, test = mnist_small
    j = busiest_hidden_neuron(quick_weights, train)
    strong = mx.paper_config(mx.DeviceParams(r_series_ohm=500))
    die = mx.set_defects(mx.ideal_die(strong), *[[v] for v in CFG.floorplan.position(1, j, 0, "+")], "short")
    r = remap(quick_weights, die, train, n_images=1000)
    assert not r.is_identity and r.loss_after < r.loss_before and r.error_after < r.error_before
    ideal = float(mx.evaluate(quick_weights, None, test).error)
    unaware = float(mx.evaluate(quick_weights, die, test).error[0])
    remapped = float(mx.evaluate(quick_weights, die, test, floorplans=r.floorplan).error[0])
    assert unaware > ideal + 0.05
    assert remapped < ideal + 0.01


def test_remap_is_never_worse_on_its_images_and_is_deterministic(quick_weights, mnist_small):
    train, _ = mnist_small
    die = mx.sample_dies(CFG, 1, seed=11).isel(die=0)
    a = remap(quick_weights, die, train, n_images=500, seed=3)
    b = remap(quick_weights, die, train, n_images=500, seed=3)
    assert a.loss_after <= a.loss_before
    np.testing.assert_array_equal(a.hidden_slot, b.hidden_slot)
    np.testing.assert_array_equal(a.output_swap, b.output_swap)


def test_remapping_round_trips_through_a_netcdf_file(tmp_path):
    r = random_remapping(5)
    back = Remapping.from_dataset(mx.load(mx.save(r.to_dataset(), tmp_path / "remap.nc")))
    for name in ("hidden_slot", "hidden_swap", "output_slot", "output_swap"):
        np.testing.assert_array_equal(getattr(back, name), getattr(r, name))
    assert back.hidden_swap.dtype == bool


def test_remap_errors_name_the_parameter(quick_weights, mnist_small):
    train, _ = mnist_small
    ens = mx.sample_dies(CFG, 2, seed=0)
    with pytest.raises(ParameterError, match=r"remap takes one die; got an ensemble of 2"):
        remap(quick_weights, ens, train)
    with pytest.raises(ParameterError, match="n_images must be an int >= 1; got 0"):
        remap(quick_weights, ens.isel(die=0), train, n_images=0)
    with pytest.raises(ParameterError, match="hidden_slot must be a permutation of 0..89"):
        Remapping(CFG, np.zeros(90, int), np.zeros(90, bool), np.arange(10), np.zeros(10, bool))
