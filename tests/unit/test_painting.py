import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore.painting import clear_defects, draw_defect_cells, randomize_defects


@pytest.fixture(scope="module")
def die():
    return mx.sample_dies(mx.paper_config(), 1, seed=3).isel(die=0)


def test_randomize_is_reproducible_and_replaces_existing_defects(die):
    a = randomize_defects(die, {"short": 1e-3}, seed=5)
    b = randomize_defects(clear_defects(die), {"short": 1e-3}, seed=5)
    np.testing.assert_array_equal(a.defect.values, b.defect.values)
    assert int(mx.defect_counts(a).sel(kind="open")) == 0
    assert not np.array_equal(a.defect.values, randomize_defects(die, {"short": 1e-3}, seed=6).defect.values)
    assert "seed 5" in a.attrs["provenance"]


def test_randomize_counts_follow_the_rates():
    ideal = mx.ideal_die(mx.paper_config())
    n = [int(mx.defect_counts(randomize_defects(ideal, {"stuck_ap": 5e-3}, seed=s)).sel(kind="stuck_ap"))
         for s in range(8)]
    assert abs(np.mean(n) - 100) < 4 * (100 / 8) ** 0.5  # Binomial(20000, 5e-3), 8 draws


def test_maps_follow_the_kind_through_set_defects(die):
    new = randomize_defects(die, {"short": 2e-3, "stuck_p": 2e-3}, seed=0)
    d = mx.paper_config().device
    short = new.defect.values == mx.DEFECT_CODES["short"]
    stuck = new.defect.values == mx.DEFECT_CODES["stuck_p"]
    np.testing.assert_allclose(new.g_p.values[short], d.g_short_s)
    np.testing.assert_array_equal(new.g_p.values[stuck], new.g_ap.values[stuck])


def test_keep_existing_adds_only_to_healthy_devices(die):
    new = randomize_defects(die, {"open": 1e-3}, seed=1, keep_existing=True)
    before = die.defect.values
    kept = (before != 0) & (before != mx.die.NO_DEVICE)
    np.testing.assert_array_equal(new.defect.values[kept], before[kept])
    cells = draw_defect_cells(die, {"open": 1e-3}, seed=1)
    assert (before[cells["open"]] == 0).all()


@pytest.mark.parametrize("rates,match", [
    ({"melt": 0.1}, r"rates has unknown kinds \['melt'\]"),
    ({"short": 0.7}, r"rates\['short'\] must be a finite number in \[0, 0.5\); got 0.7 \(a fraction of devices\)"),
    ([0.1], "rates must be a dict"),
])
def test_bad_rates_are_refused_with_a_clear_message(die, rates, match):
    with pytest.raises(mx.ParameterError, match=match):
        randomize_defects(die, rates, seed=0)
