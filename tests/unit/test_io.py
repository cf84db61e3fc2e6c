import os

import pytest

import mtjexplore as mx


def test_round_trips_are_lossless(tmp_path, quick_weights, mnist_small):
    _, test = mnist_small
    ens = mx.sample_dies(mx.paper_config(), 3, seed=1)
    res = mx.evaluate(quick_weights, ens, test)
    for name, obj in [("die", ens.isel(die=0)), ("ens", ens), ("w", quick_weights), ("res", res)]:
        path = mx.save(obj, tmp_path / f"{name}.nc")
        back = mx.load(path)
        assert back.identical(obj), name


def test_save_refuses_to_overwrite(tmp_path):
    die = mx.ideal_die(mx.paper_config())
    path = mx.save(die, tmp_path / "die.nc")
    before = path.read_bytes()
    with pytest.raises(mx.MTJExploreError, match="already exists; pass overwrite=True"):
        mx.save(mx.set_defects(die, 0, 0, "short"), path)
    assert path.read_bytes() == before
    mx.save(mx.set_defects(die, 0, 0, "short"), path, overwrite=True)
    assert int(mx.load(path).defect[0, 0]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["die.nc"]  # no temporary files left


def test_failed_write_leaves_existing_file(tmp_path, monkeypatch):
    die = mx.ideal_die(mx.paper_config())
    path = mx.save(die, tmp_path / "die.nc")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(die), "to_netcdf", boom)
    with pytest.raises(OSError):
        mx.save(die, path, overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["die.nc"]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(mx.DataFileError, match="nope.nc': no such file"):
        mx.load(tmp_path / "nope.nc")
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"not netcdf at all")
    with pytest.raises(mx.DataFileError, match="bad.nc': not a readable NetCDF file"):
        mx.load(bad)


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(mx.ParameterError, match="does not exist"):
        mx.save(mx.ideal_die(mx.paper_config()), tmp_path / "no" / "x.nc")
