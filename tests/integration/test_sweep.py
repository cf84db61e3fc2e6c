"""Tests for sweeps (mtjexplore.study.sweep): serial vs LocalCluster equality, resuming, outputs."""

import dataclasses
import shutil

import numpy as np
import pytest
import xarray as xr

import mtjexplore.study.sweep as sweep
import mtjexplore.cli.sweep as sweep_cli
from mtjexplore.cli import main
from mtjexplore.errors import ParameterError
from mtjexplore.study.sweep import SweepGrid, SweepMismatchError, cells_folder, cell_name, run_sweep

GRID = SweepGrid(methods=("software", "defect_aware", "statistics_aware", "remapped"),
                 densities=(1.0, 3.0), seeds=(0,), dies=(0, 1), n_train=1000, n_test=300,
                 max_epochs=1, n_remap_images=300)


@pytest.fixture
def counted(monkeypatch):
    """Count the cells actually computed (serial runs execute in this process)."""
    calls = []
    original = sweep.compute_cell

    def compute_cell(grid, statistics, cell, *args):
        calls.append(cell)
        return original(grid, statistics, cell, *args)

    monkeypatch.setattr(sweep, "compute_cell", compute_cell)
    return calls


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "sweep.nc"
    return out, run_sweep(GRID, out, scheduler="serial", progress=False)


def test_local_cluster_gives_exactly_the_serial_results(serial_run, tmp_path):
    _, serial = serial_run
    parallel = run_sweep(GRID, tmp_path / "sweep.nc", n_workers=2, progress=False)
    assert "LocalCluster (2 processes on 127.0.0.1)" == parallel.attrs["scheduler"]
    assert parallel.attrs["n_cells_run"] == len(GRID.cells()) == 16
    np.testing.assert_array_equal(parallel.error.values, serial.error.values)
    np.testing.assert_array_equal(parallel.loss.values, serial.loss.values)
    np.testing.assert_array_equal(parallel.n_defects.values, serial.n_defects.values)


def test_merged_results_have_one_value_per_cell(serial_run):
    out, res = serial_run
    assert res.error.dims == ("method", "density", "seed", "die")
    assert res.error.shape == (4, 2, 1, 2) and np.isfinite(res.error.values).all()
    assert res.n_defects.dims == ("density", "die")
    # tripling the defect density gives dies with more defects
    assert res.n_defects.sel(density=3.0).sum() > res.n_defects.sel(density=1.0).sum()
    xr.testing.assert_identical(sweep.load(out), res)


def test_restart_skips_finished_cells(serial_run, counted):
    out, first = serial_run
    again = run_sweep(GRID, out, scheduler="serial", progress=False)
    assert counted == [] and again.attrs["n_cells_run"] == 0 and again.attrs["n_cells_skipped"] == 16
    np.testing.assert_array_equal(again.error.values, first.error.values)
    lost = ("defect_aware", 3.0, 0, 1)
    (cells_folder(out) / cell_name(lost)).unlink()
    redone = run_sweep(GRID, out, scheduler="serial", progress=False)
    assert counted == [lost] and redone.attrs["n_cells_run"] == 1
    np.testing.assert_array_equal(redone.error.values, first.error.values)


def test_a_larger_grid_reuses_the_stored_cells(serial_run, counted, tmp_path):
    out, first = serial_run
    target = tmp_path / "bigger.nc"
    shutil.copytree(cells_folder(out), cells_folder(target))
    bigger = dataclasses.replace(GRID, dies=(0, 1, 2), methods=("software", "remapped"))
    res = run_sweep(bigger, target, scheduler="serial", progress=False)
    assert sorted(counted) == [("remapped", 1.0, 0, 2), ("remapped", 3.0, 0, 2),
                               ("software", 1.0, 0, 2), ("software", 3.0, 0, 2)]
    np.testing.assert_array_equal(res.error.sel(die=[0, 1]).values,
                                  first.error.sel({"method": ["software", "remapped"]}).values)


def test_no_resume_recomputes_everything(tmp_path, counted):
    small = dataclasses.replace(GRID, methods=("software",), densities=(1.0,))
    run_sweep(small, tmp_path / "s.nc", scheduler="serial", progress=False)
    run_sweep(small, tmp_path / "s.nc", scheduler="serial", progress=False, resume=False)
    assert len(counted) == 4


def test_other_settings_refuse_to_mix_with_stored_cells(serial_run):
    out, _ = serial_run
    other = dataclasses.replace(GRID, n_train=1200)
    with pytest.raises(SweepMismatchError, match=r"computed with other settings \(n_train differ\); "
                                                 r"use another out path, or resume=False"):
        run_sweep(other, out, scheduler="serial", progress=False)


def test_zarr_output_and_the_command_line(tmp_path, capsys):
    argv = ["sweep", "--out", str(tmp_path / "s.zarr"), "--methods", "software", "--dies", "2",
            "--densities", "0.5,1", "--n-train", "1000", "--n-test", "300", "--max-epochs", "1",
            "--scheduler", "serial", "--no-progress"]
    assert main(argv) == 0
    assert "4 cells run, 0 reused" in capsys.readouterr().out
    res = xr.open_zarr(tmp_path / "s.zarr").load()
    assert res.error.shape == (1, 2, 1, 2) and res.attrs["n_cells"] == 4


def test_grid_and_argument_errors_name_the_parameter(tmp_path):
    with pytest.raises(ParameterError, match="unknown methods"):
        SweepGrid(methods=("software", "magic"))
    with pytest.raises(ParameterError, match="dies must be a non-empty sequence without repeats"):
        SweepGrid(dies=(1, 1))
    with pytest.raises(ParameterError, match=r"out must end in .nc \(NetCDF\) or .zarr"):
        run_sweep(GRID, tmp_path / "s.csv", scheduler="serial")
    assert sweep_cli.parse_ints("2-4,9", "seeds") == (2, 3, 4, 9)
    assert sweep_cli.parse_ints("3", "dies", count=True) == (0, 1, 2)
    with pytest.raises(ParameterError, match="--dies must be a count, a range like 0-7"):
        sweep_cli.parse_ints("a-b", "dies")
