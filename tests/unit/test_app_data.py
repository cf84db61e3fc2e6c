"""The shipped app data (mtjexplore/data/app_weights.nc) is made in one place, from the study.

:func:`mtjexplore.study.app_data.build_app_data` copies a finished study folder; built from the
committed study (``docs/results``) it must give the shipped file's groups, variables and numbers.
"""

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from mtjexplore.errors import DataFileError, FileExistsRefusedError
from mtjexplore.study.app_data import APP_WEIGHTS, GROUPS, app_results, app_weights, build_app_data

DOCS = Path(__file__).resolve().parents[2] / "docs" / "results"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_app_data(DOCS, tmp_path_factory.mktemp("app") / "app_weights.nc")


@pytest.mark.parametrize("group", GROUPS)
def test_built_from_the_committed_study_equals_the_shipped_file(built, group):
    with xr.open_dataset(built, group=group, engine="netcdf4") as new, \
            xr.open_dataset(APP_WEIGHTS, group=group, engine="netcdf4") as shipped:
        assert set(new.variables) == set(shipped.variables)
        for name in shipped.variables:
            np.testing.assert_array_equal(new[name].values, shipped[name].values, err_msg=f"{group}/{name}")


def test_the_apps_read_what_was_built():
    assert set(app_weights("software").data_vars) >= {"theta"}
    assert app_weights("statistics_aware").attrs["method"] == "statistics_aware"
    assert app_results().error.dims == ("method", "die")


def test_refuses_to_replace_and_names_an_unfinished_study(built, tmp_path):
    with pytest.raises(FileExistsRefusedError):
        build_app_data(DOCS, built)
    with pytest.raises(DataFileError, match=r"results.nc: missing; .* is not a finished study folder"):
        build_app_data(tmp_path, tmp_path / "a.nc")
