"""Hostile sweep folders (issue 13): damaged manifests, manifests rewritten needlessly, cell files
that hold another cell's numbers or other settings. No training: cells are written by hand."""

import json
import os

import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import mtjexplore as mx
from mtjexplore import io as mio
from mtjexplore.study import sweep
from mtjexplore.reference import reference_statistics
from tests._hostile import Tally, hypothesis_settings, report_fixture

TALLY = Tally("sweep")
GRID = sweep.SweepGrid(methods=("software", "defect_aware"), densities=(1.0, 2.0), seeds=(0,),
                       dies=(0, 1), n_train=500, n_test=200, max_epochs=1)
HYPO = hypothesis_settings(30)


_report = report_fixture(TALLY)


@pytest.fixture(scope="module")
def stats():
    return reference_statistics()


@pytest.fixture(scope="module")
def token(stats):
    return sweep._token(GRID, stats)


def cell_file(folder, cell, token, **changes):
    method, density, seed, die = cell
    attrs = {"method": method, "density": density, "seed": seed, "die": die,
             "counts": json.dumps({"n_short": 3}), "sweep_settings": token, **changes}
    attrs = {k: v for k, v in attrs.items() if v is not None}
    ds = xr.Dataset({"error": 0.1 + die / 100, "loss": 0.5, "cell_seconds": 1.0}, attrs=attrs)
    return mx.save(ds, folder / sweep.cell_name(cell), overwrite=True)


def prepared(tmp_path, stats):
    return sweep._prepare_folder(tmp_path / "s.nc", GRID, stats, resume=True)


# ------------------------------------------------------------------ the manifest
@HYPO
@given(cut=st.integers(0, 10_000), junk=st.binary(max_size=20))
def test_a_damaged_manifest_names_the_file_and_the_fix(tmp_path, stats, cut, junk):
    folder = prepared(tmp_path, stats)
    manifest = folder / "manifest.json"
    good = manifest.read_bytes()
    manifest.write_bytes(good[:cut % len(good)] + junk)
    try:
        json.loads(manifest.read_bytes())
        parses = True
    except ValueError:
        parses = False
    if parses:  # e.g. junk that happens to be valid JSON: a mismatch or an accepted rewrite
        TALLY.outcome(lambda: prepared(tmp_path, stats), lambda f: f == folder, "other settings",
                      "truncated or corrupt")
    else:
        text = TALLY.rejects(lambda: prepared(tmp_path, stats), "the sweep manifest is truncated or corrupt")
        assert str(manifest) in text and "delete it and rerun" in text and "--no-resume" in text
    manifest.write_bytes(good)


def test_an_unchanged_manifest_is_not_rewritten(tmp_path, stats):
    folder = prepared(tmp_path, stats)
    manifest = folder / "manifest.json"
    before = os.stat(manifest)
    TALLY.accepts(lambda: prepared(tmp_path, stats), lambda f: os.stat(manifest).st_ino == before.st_ino
                  and os.stat(manifest).st_mtime_ns == before.st_mtime_ns)


def test_a_reformatted_manifest_is_replaced_atomically(tmp_path, stats):
    folder = prepared(tmp_path, stats)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps(json.loads(manifest.read_text())))  # same settings, no indent
    inode = os.stat(manifest).st_ino
    TALLY.accepts(lambda: prepared(tmp_path, stats), lambda f: os.stat(manifest).st_ino != inode
                  and json.loads(manifest.read_text()) == json.loads(json.dumps(GRID.fingerprint(stats))))
    assert not [p for p in folder.iterdir() if mio.TEMP_MARK in p.name]


# ------------------------------------------------------------------ cell files
@pytest.mark.parametrize("change, phrase", [
    ({"die": 1}, "holds cell (method, density, seed, die) = ('software', 1.0, 0, 1)"),
    ({"method": "defect_aware"}, "not ('software', 1.0, 0, 0)"),
    ({"density": 2.0}, "as its name says"),
    ({"seed": 7}, "as its name says"),
    ({"sweep_settings": "0123456789ab"}, "was computed with other sweep settings"),
    ({"counts": "[1, 2"}, "not a sweep cell file"),
    ({"counts": "[1, 2]"}, "not a sweep cell file"),
    ({"seed": "zero"}, "not a sweep cell file"),
])
def test_a_cell_file_of_another_cell_is_refused_naming_it(tmp_path, stats, token, change, phrase):
    folder = prepared(tmp_path, stats)
    cell = ("software", 1.0, 0, 0)
    path = cell_file(folder, cell, token, **change)
    for call in (lambda: sweep._finished(folder, GRID.cells(), token),
                 lambda: sweep.merge_cells(GRID, folder, token)):
        text = TALLY.rejects(call, phrase)
        assert str(path) in text and "delete it and rerun" in text


def test_a_damaged_cell_file_is_named(tmp_path, stats, token):
    folder = prepared(tmp_path, stats)
    path = cell_file(folder, ("software", 2.0, 0, 1), token)
    path.write_bytes(path.read_bytes()[:100])
    text = TALLY.rejects(lambda: sweep.merge_cells(GRID, folder, token), "not a readable NetCDF file")
    assert "a sweep cell file; delete it and rerun" in text


def test_matching_cells_merge_and_missing_ones_are_nan(tmp_path, stats, token):
    folder = prepared(tmp_path, stats)
    cells = GRID.cells()
    for cell in cells[:3]:
        cell_file(folder, cell, token)
    cell_file(folder, cells[3], token, sweep_settings=None)  # written before cells recorded it
    merged = TALLY.accepts(lambda: sweep.merge_cells(GRID, folder, token))
    assert int(merged.error.notnull().sum()) == 4
    assert float(merged.error.sel({"method": "software", "density": 1.0, "seed": 0, "die": 1})) == pytest.approx(0.11)
    assert TALLY.accepts(lambda: sweep._finished(folder, cells, token)) == set(cells[:4])


# ------------------------------------------------------------------ the merged output
def _dead_pid():
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_zarr_output_is_written_atomically_and_killed_writers_cleaned(tmp_path):
    out = tmp_path / "s.zarr"
    ds = xr.Dataset({"error": ("die", [0.1, 0.2])}, coords={"die": [0, 1]})
    # what a writer killed mid-write leaves: a temporary store named after a dead process
    stale = tmp_path / mio.temp_name(out).replace(f"-{os.getpid()}-", f"-{_dead_pid()}-")
    stale.mkdir()
    (stale / "half").write_bytes(b"x" * 10)
    TALLY.accepts(lambda: sweep._write(ds, out), lambda p: p == out and not stale.exists())
    xr.testing.assert_identical(xr.open_zarr(out).load(), ds)
    newer = ds.assign(error=ds.error + 1)
    sweep._write(newer, out)  # replaces the previous merge
    xr.testing.assert_identical(xr.open_zarr(out).load(), newer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]
