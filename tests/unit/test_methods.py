"""The method registry (mtjexplore.methods) and the one die-yield definition (mtjexplore.yields)."""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mtjexplore import recipes
from mtjexplore.methods import (METHOD_COLORS, REGISTRY, STUDY_METHODS, TRAINED, method, method_color,
                                method_label, method_of)
from mtjexplore.yields import die_yield

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "results.nc"


def test_the_committed_study_rows_are_the_registry():
    with xr.open_dataset(RESULTS) as res:
        assert tuple(str(m) for m in res.method.values) == STUDY_METHODS


def test_trained_and_remapped_methods():
    assert TRAINED == ("software", "defect_aware", "statistics_aware")
    assert method("remapped").trained == "software"
    assert method("statistics_aware_remapped").recipe() == recipes.statistics_aware_recipe()
    assert all(m.needs for m in REGISTRY)
    with pytest.raises(KeyError, match="known: software"):
        method("magic")


def test_one_distinct_colour_per_method_and_runs_take_their_methods_colour():
    assert len(set(METHOD_COLORS.values())) == len(REGISTRY)
    assert method_of("statistics-aware, remapped, run 3") == "statistics_aware_remapped"
    assert method_color("remapped, die 4") == method("remapped").color
    assert method_label("defect_aware") == "defect-aware"
    assert method_label("defect_aware", figure=True) == "defect-aware (per die)"
    assert method_label("mine") == "mine"


def test_die_yield_counts_a_die_at_the_spec_and_not_a_missing_one():
    errors = np.array([0.0825, 0.09, np.nan])
    assert die_yield(errors, 0.0825) == pytest.approx(1 / 3)
    assert die_yield(100 * errors, 8.25) == pytest.approx(1 / 3)   # rounding of the percent
    curve = die_yield(errors, np.array([0.05, 0.085, 0.2]))
    np.testing.assert_allclose(curve, [0, 1 / 3, 2 / 3])
