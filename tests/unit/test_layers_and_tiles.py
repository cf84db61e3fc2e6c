"""N-layer networks on crossbar tiles: config, floorplan, weights, forward model (issue 11)."""

import dataclasses
import json

import numpy as np
import pytest
import torch

import mtjexplore as mx
from mtjexplore.evaluation import ideal_coefficients
from mtjexplore.floorplan import Floorplan
from mtjexplore.network import die_coefficients, evaluate_chunk, forward, tie_error
from mtjexplore.weights import NetworkWeights, network_weights, weights_dataset

DEEP = mx.CrossbarConfig(layer_sizes=(196, 128, 64, 10), tile_shape=(101, 200))
SMALL_DEEP = mx.CrossbarConfig(layer_sizes=(16, 12, 8, 4), tile_shape=(7, 10))


def random_weights(config, seed=0):
    rng = np.random.default_rng(seed)
    layers = [rng.choice([-1, 1], size=s) for s in config.layer_shapes]
    thresholds = [rng.integers(-2, 3, size=n) + 0.5 for n in config.hidden_sizes]  # no ties at z
    return weights_dataset(config, layers, thresholds, 0.7, method="software", seed=seed)


# ------------------------------------------------------------------ config
def test_paper_config_is_the_three_size_network_on_one_101_by_200_tile():
    cfg = mx.paper_config()
    assert cfg.layer_sizes == (100, 90, 10) and cfg.tile == (101, 200) and cfg.tile_shape is None
    assert (cfg.n_inputs, cfg.n_hidden, cfg.n_outputs, cfg.hidden_sizes) == (100, 90, 10, (90,))
    assert cfg == mx.CrossbarConfig(layer_sizes=(100, 90, 10), tile_shape=(101, 200))
    assert cfg == mx.CrossbarConfig(n_inputs=100, n_hidden=90, n_outputs=10)


def test_replace_changes_sizes_and_an_automatic_tile_follows():
    wider = dataclasses.replace(mx.paper_config(), n_hidden=95)
    assert wider.layer_sizes == (100, 95, 10) and wider.floorplan.shape == (101, 210)
    assert dataclasses.replace(DEEP, n_hidden=100).layer_sizes == (196, 100, 64, 10)
    assert dataclasses.replace(DEEP, n_hidden=(32,)).layer_sizes == (196, 32, 10)
    assert dataclasses.replace(DEEP, layer_sizes=(196, 300, 10)).floorplan.n_tiles == 7
    assert len({mx.paper_config(), mx.CrossbarConfig(layer_sizes=(100, 90, 10), tile_shape=(101, 200))}) == 1


def test_saved_configs_keep_their_format_and_load():
    legacy = ('{"n_inputs": 100, "n_hidden": 90, "n_outputs": 10, "device": {"r_p_ohm": 3000.0, '
              '"tmr": 1.5, "spread": 0.05, "r_series_ohm": 1800.0, "r_short_ohm": 30.0, '
              '"r_open_ohm": Infinity, "read_voltage_v": 0.1}}')
    # today's paper config adds only its P/AP spread correlation; a file without it was drawn
    # with independent states and reads so
    assert mx.paper_config().to_json() == legacy[:-2] + ', "spread_correlation": 0.9}}'
    independent = mx.paper_config(dataclasses.replace(mx.paper_device(), spread_correlation=0.0))
    assert independent.to_json() == legacy
    assert mx.CrossbarConfig.from_json(legacy) == independent
    assert set(json.loads(DEEP.to_json())) == {"layer_sizes", "tile_shape", "device"}
    assert mx.CrossbarConfig.from_json(DEEP.to_json()) == DEEP
    assert mx.CrossbarConfig(n_inputs=16, n_hidden=(12, 8), n_outputs=4).layer_sizes == (16, 12, 8, 4)


def test_committed_files_load_with_their_config():
    w = mx.load("docs/results/weights/software.nc")
    assert mx.CrossbarConfig.from_json(w.attrs["config"]) == mx.paper_config()
    assert [t.shape for t in network_weights(w, mx.paper_config()).layers] == [(101, 90), (91, 10)]


@pytest.mark.parametrize("kwargs, words", [
    ({"layer_sizes": (100, 10)}, "layer_sizes must be a tuple (n_inputs, *hidden_sizes, n_outputs)"),
    ({"layer_sizes": (100, 0, 10)}, "layer_sizes[1] must be an int >= 1; got 0"),
    ({"layer_sizes": (100, 90, True)}, "layer_sizes[2] must be an int >= 2; got True"),
    ({"tile_shape": (101, 199)}, "cols even"),
    ({"tile_shape": (0, 200)}, "tile_shape must be a pair (rows, cols) of ints >= 1"),
    ({"n_hidden": 2.5}, "n_hidden must be an int >= 1 (or a tuple of them"),
])
def test_bad_network_descriptions_are_named(kwargs, words):
    with pytest.raises(mx.ParameterError) as info:
        mx.CrossbarConfig(**kwargs)
    assert words in str(info.value)


# ------------------------------------------------------------------ tiles
def test_paper_floorplan_is_unchanged_by_tiling():
    fp = mx.paper_config().floorplan
    old = Floorplan.side_by_side([(101, 90), (91, 10)])
    assert fp.shape == (101, 200) and fp.n_tiles == 1
    for new, ref in zip(fp.rows + fp.cols, old.rows + old.cols):
        np.testing.assert_array_equal(new, ref)
    assert fp.block_extent(0) == (0, 100, 0, 179) and fp.block_extent(1) == (0, 90, 180, 199)
    assert (fp.tile_map == 0).all()


def test_layers_larger_than_a_tile_are_cut_into_pieces_on_several_tiles():
    fp = DEEP.floorplan
    assert fp.shape == (101, 5 * 200) and fp.n_tiles == 5 and fp.n_devices == DEEP.n_devices
    for p in fp.pieces:                         # every piece fits its tile
        assert p.row_stop - p.row_start <= 101 and p.col + 2 * (p.neuron_stop - p.neuron_start) <= 200
    # every synapse lies on exactly one piece, and on that piece's tile
    for layer, (n_in, n_out) in enumerate(DEEP.layer_shapes):
        cover = np.zeros((n_in, n_out), int)
        for p in (p for p in fp.pieces if p.layer == layer):
            cover[p.row_start:p.row_stop, p.neuron_start:p.neuron_stop] += 1
            tiles = fp.cols[layer][p.row_start:p.row_stop, p.neuron_start:p.neuron_stop] // 200
            assert (tiles == p.tile).all()
        assert (cover == 1).all()
    row, col = fp.position(0, 150, 110, "-")    # input row 150 > 101: a second row piece
    assert fp.locate(row, col) == (0, 150, 110, "-") and fp.tile_of(row, col) == col // 200
    assert len({p.tile for p in fp.pieces if p.layer == 0}) == 3


def test_partial_currents_of_row_pieces_add_up_to_the_column_current():
    """The periphery adds the tiles' partial column currents: the model's column sum."""
    stats = mx.DefectStatistics(SMALL_DEEP, {"short": 6, "open": 2})
    die = stats.sample(1, seed=3)
    fp = SMALL_DEEP.floorplan
    assert len({p.row_start for p in fp.pieces if p.layer == 0}) == 3  # 17 rows on 7-row tiles
    x = torch.randint(0, 2, (50, 16), generator=torch.Generator().manual_seed(0)).double()
    x1 = torch.nn.functional.pad(x, (0, 1), value=1.0)
    w = torch.as_tensor(np.random.default_rng(1).choice([-1.0, 1.0], (17, 12)))
    g_p, g_ap = die.g_p.values[0], die.g_ap.values[0]
    partial = torch.zeros(50, 12, dtype=torch.float64)
    for p in (p for p in fp.pieces if p.layer == 0):
        rows, cols = fp.rows[0][p.row_start:p.row_stop], fp.cols[0][p.row_start:p.row_stop]
        block = slice(p.neuron_start, p.neuron_stop)
        wp = w[p.row_start:p.row_stop, block]
        on_plus = (wp > 0).numpy()
        g_plus = np.where(on_plus, g_p[rows[:, block, 0], cols[:, block, 0]], g_ap[rows[:, block, 0], cols[:, block, 0]])
        g_minus = np.where(on_plus, g_ap[rows[:, block, 1], cols[:, block, 1]], g_p[rows[:, block, 1], cols[:, block, 1]])
        current = x1[:, p.row_start:p.row_stop] @ torch.as_tensor(g_plus - g_minus)  # this tile's part
        partial[:, block] += current / SMALL_DEEP.device.delta_g_s
    coeffs = die_coefficients(die, dtype=torch.float64)
    model = x1 @ coeffs.effective(0, w)[0]
    torch.testing.assert_close(partial, model, rtol=1e-12, atol=1e-9)


# ------------------------------------------------------------------ weights and forward model
def test_deep_weights_round_trip_through_netcdf(tmp_path):
    w = random_weights(DEEP)
    assert {"w1", "w2", "w3", "theta1", "theta2"} <= set(w.data_vars)
    back = mx.load(mx.save(w, tmp_path / "w.nc"))
    net, again = network_weights(w, DEEP), network_weights(back, DEEP)
    assert isinstance(net, NetworkWeights) and net.n_layers == 3 and len(net.thresholds) == 2
    for a, b in zip(net.layers + net.thresholds, again.layers + again.thresholds):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_evaluate_chunk_matches_forward_for_three_layers():
    w = random_weights(SMALL_DEEP, seed=2)
    net = network_weights(w, SMALL_DEEP)
    x = torch.randint(0, 2, (300, 16), generator=torch.Generator().manual_seed(1)).float()
    y = torch.randint(0, 4, (300,), generator=torch.Generator().manual_seed(2))
    x1t = torch.nn.functional.pad(x, (0, 1), value=1.0).T.contiguous()
    ideal = ideal_coefficients(SMALL_DEEP)
    error, _ = evaluate_chunk(x1t, y, net, ideal)
    out = forward(x, net.layers, net.thresholds)
    assert float(error[0]) == pytest.approx(float(tie_error(out, y).mean()), abs=1e-12)
    dies = mx.DefectStatistics(SMALL_DEEP, {"short": 3}).sample(4, seed=0)
    coeffs = die_coefficients(dies)
    error, _ = evaluate_chunk(x1t, y, net, coeffs)
    reference = tie_error(forward(x, net.layers, net.thresholds, coeffs), y).mean(1)
    np.testing.assert_allclose(error.numpy(), reference.numpy(), atol=2 / 300)


def test_remap_places_the_last_two_layers_of_a_deeper_network():
    # Three layers on several tiles: remapping moves the last hidden layer and the outputs; its
    # reported error after is what evaluate gives with its floorplan, and it never does worse.
    from mtjexplore.remap import Remapping, remap

    train, _ = mx.load_mnist(size=4, n_train=300, n_test=10)
    cfg = mx.CrossbarConfig(layer_sizes=(16, 12, 8, 10), tile_shape=(7, 10))
    weights = mx.Trainer(cfg, epochs=2, seed=0).fit(train).weights_
    die = mx.DefectStatistics(cfg, {"short": 6}).sample(1, seed=1).isel(die=0)
    r = remap(weights, die, train, n_images=300, n_rounds=2)
    assert r.hidden_slot.shape == (8,) and r.output_slot.shape == (10,)
    assert r.loss_after <= r.loss_before
    before = float(mx.evaluate(weights, die, train).error[0])
    after = float(mx.evaluate(weights, die, train, floorplans=r.floorplan).error[0])
    assert before == pytest.approx(r.error_before, abs=1e-9)
    assert after == pytest.approx(r.error_after, abs=1e-9)
    fp = cfg.floorplan
    for layer in (0, 1):  # the earlier layers keep their placement
        np.testing.assert_array_equal(r.floorplan.rows[layer][..., :], fp.rows[layer])
    ident = Remapping.identity(cfg)
    np.testing.assert_array_equal(ident.floorplan.cols[2], fp.cols[2])


def test_statistics_rescale_keeps_per_device_rates():
    stats = mx.DefectStatistics(mx.paper_config(), {"short": 15, "open": 1}, {"short": 2.0})
    big = stats.rescaled(DEEP)
    assert big.config == DEEP and big.count_shape == stats.count_shape
    for kind in ("short", "open"):
        assert big.mean_counts[kind] / DEEP.n_devices == pytest.approx(stats.mean_counts[kind] / 20000)
    counts = mx.defect_counts(big.sample(40, seed=0)).sel(kind="short").values
    assert abs(counts.mean() - big.mean_counts["short"]) < 4 * counts.std() / np.sqrt(40)


def test_evaluate_rejects_a_boolean_chunk_size(quick_weights, mnist_small):
    _, test = mnist_small
    with pytest.raises(mx.ParameterError, match="chunk_size must be an int >= 1; got True"):
        mx.evaluate(quick_weights, mx.ideal_die(mx.paper_config()), test, chunk_size=True)


def test_the_file_size_guard_counts_a_tiled_floorplan_exactly():
    from mtjexplore._files import floorplan_cells

    for cfg in (mx.paper_config(), mx.CrossbarConfig(layer_sizes=(196, 128, 64, 10), tile_shape=(101, 200)),
                mx.CrossbarConfig(layer_sizes=(300, 50, 10), tile_shape=(64, 64))):
        assert floorplan_cells(cfg) == cfg.floorplan.shape[0] * cfg.floorplan.shape[1]
    huge = mx.CrossbarConfig(layer_sizes=(10**6, 10**4, 10), tile_shape=(2, 2))
    assert floorplan_cells(huge) >= 2 * 10**10  # an upper bound, computed without placing pieces
