"""Hostile saves and loads (issue 13): file modes, racing no-overwrite, temp files of killed saves,
OS and HDF failures, long names, odd objects, damaged files. The ``kill -9`` loop and the
process race are in ``tests/integration/test_hostile_save_kill.py``."""

import errno
import os
import shutil
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

import mtjexplore as mx
from mtjexplore import io as mio
from mtjexplore.errors import FileExistsRefusedError, FileWriteError, ParameterError
from tests._hostile import Tally, hypothesis_settings, report_fixture

TALLY = Tally("save-load")
HYPO = hypothesis_settings(30)


_report = report_fixture(TALLY)


@pytest.fixture(scope="module")
def ens():
    return mx.sample_dies(mx.paper_config(), 2, seed=3)


def temps(folder):
    return sorted(p.name for p in Path(folder).iterdir() if mio.TEMP_MARK in p.name)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture()
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


# ------------------------------------------------------------------ modes
@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_their_mode_from_the_umask(tmp_path, ens, umask, mask, expected):
    umask(mask)
    TALLY.accepts(lambda: mx.save(ens, tmp_path / "a.nc"), lambda p: mode_of(p) == expected)


@pytest.mark.parametrize("existing", [0o664, 0o600, 0o640, 0o444])
def test_overwriting_keeps_the_files_mode(tmp_path, ens, umask, existing):
    path = mx.save(ens, tmp_path / "a.nc")
    os.chmod(path, existing)
    TALLY.accepts(lambda: mx.save(ens, path, overwrite=True), lambda p: mode_of(p) == existing)


# ------------------------------------------------------------------ no-overwrite cannot be raced
def test_threads_racing_for_a_new_name_one_wins(tmp_path):
    for round_ in range(10):
        path, n = tmp_path / f"race{round_}.txt", 6
        barrier, outcomes = threading.Barrier(n), [None] * n

        def writer(k):
            def write(tmp):
                Path(tmp).write_text(f"writer {k}\n" * 1000)
                barrier.wait()  # every writer has its temp file; all publish together

            try:
                mio.atomic_write(path, write)
                outcomes[k] = "won"
            except FileExistsRefusedError:
                outcomes[k] = "refused"

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        TALLY.counts["tried"] += n
        assert outcomes.count("won") == 1 and outcomes.count("refused") == n - 1, outcomes
        TALLY.counts["clean errors"] += n - 1
        TALLY.counts["accepted and correct"] += 1
        assert path.read_text() == f"writer {outcomes.index('won')}\n" * 1000
        assert temps(tmp_path) == []


def test_the_refusal_is_decided_at_publication(tmp_path, ens):
    path = tmp_path / "late.nc"

    def write(tmp):
        Path(tmp).write_text("mine")
        path.write_text("someone else's")  # appears while this save runs

    TALLY.rejects(lambda: mio.atomic_write(path, write), "already exists; pass overwrite=True")
    assert path.read_text() == "someone else's" and temps(tmp_path) == []


# ------------------------------------------------------------------ temp files of killed saves
def dead_pid():
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) - 1
    while pid > 1:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1
    pytest.skip("no free pid")


def test_stale_temp_files_are_cleaned_by_the_next_save(tmp_path, ens):
    dead, host = dead_pid(), mio._HOST
    stale = [f".a.nc{mio.TEMP_MARK}{host}-{dead}-0123abcd", f".{'x' * 40}{mio.TEMP_MARK}{host}-{dead}-ffffffff"]
    kept = [f".a.nc{mio.TEMP_MARK}{host}-{os.getpid()}-0123abcd",  # a live writer (this process)
            f".a.nc{mio.TEMP_MARK}{host}-1-0123abcd",  # init: alive
            f".a.nc{mio.TEMP_MARK}0badc0-{dead}-0123abcd",  # another host
            f"a.nc{mio.TEMP_MARK}{host}-{dead}-0123abcd",  # not hidden: not ours
            f".a.nc.{dead}.tmp"]  # another tool's pattern
    for name in stale + kept:
        (tmp_path / name).write_bytes(b"x" * 100)
    TALLY.accepts(lambda: mx.save(ens, tmp_path / "b.nc"),
                  lambda p: sorted(os.listdir(tmp_path)) == sorted(kept + ["b.nc"]))


@pytest.mark.parametrize("n_chars", [1, 200, 250, 255 - 3])
def test_long_names_that_fit_save(tmp_path, ens, n_chars):
    path = tmp_path / ("d" * n_chars + ".nc")
    TALLY.accepts(lambda: mx.save(ens, path), lambda p: mx.load(p).identical(ens) and not temps(tmp_path))
    assert len(mio.temp_name(path).encode()) <= 255


def test_names_too_long_are_refused_with_the_limit(tmp_path, ens):
    for name in ("d" * 253 + ".nc", "é" * 127 + ".nc"):
        text = TALLY.rejects(lambda: mx.save(ens, tmp_path / name), "longer than this file system allows (255)")
        assert "choose a shorter name" in text


# ------------------------------------------------------------------ failures wrapped with the cause
@pytest.mark.parametrize("code, phrase", [
    (errno.ENOSPC, "is full"), (errno.EDQUOT, "is full"), (errno.EROFS, "read-only"),
    (errno.EACCES, "permission denied"), (errno.EPERM, "permission denied"),
    (errno.ENAMETOOLONG, "too long"), (errno.EIO, "Input/output error")])
@pytest.mark.parametrize("where", ["create", "write", "publish"])
def test_os_failures_name_the_path_and_the_cause(tmp_path, ens, monkeypatch, code, phrase, where):
    path = tmp_path / "x.nc"

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    if where == "create":
        real_open = os.open
        monkeypatch.setattr(mio.os, "open", lambda p, *a, **k: fail() if mio.TEMP_MARK in str(p)
                            else real_open(p, *a, **k))
    elif where == "write":
        monkeypatch.setattr(xr.Dataset, "to_netcdf", fail)
    else:
        monkeypatch.setattr(mio.os, "link", fail if code not in mio._NO_LINK else
                            lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
        phrase = phrase if code not in mio._NO_LINK else "is full"
    text = TALLY.rejects(lambda: mx.save(ens, path), phrase, error=FileWriteError)
    assert f"cannot save to {path}" in text
    assert not path.exists() and temps(tmp_path) == []


def test_an_hdf_error_on_a_full_disk_says_it_is_full(tmp_path, ens, monkeypatch):
    def hdf_error(*args, **kwargs):
        raise RuntimeError("NetCDF: HDF error")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    monkeypatch.setattr(mio.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 512))
    TALLY.rejects(lambda: mx.save(ens, tmp_path / "x.nc"), "is full (512 bytes free)")
    monkeypatch.undo()
    monkeypatch.setattr(xr.Dataset, "to_netcdf", hdf_error)
    TALLY.rejects(lambda: mx.save(ens, tmp_path / "x.nc"), "RuntimeError: NetCDF: HDF error")
    assert temps(tmp_path) == []


def test_where_links_are_unsupported_the_save_still_refuses_to_overwrite(tmp_path, ens, monkeypatch):
    monkeypatch.setattr(mio.os, "link", lambda *a: (_ for _ in ()).throw(OSError(errno.EPERM, "no links")))
    TALLY.accepts(lambda: mx.save(ens, tmp_path / "a.nc"), lambda p: mx.load(p).identical(ens))
    TALLY.rejects(lambda: mx.save(ens, tmp_path / "a.nc"), "already exists")
    assert temps(tmp_path) == []


def test_odd_objects_are_refused_or_saved_as_named(tmp_path):
    cases = [(xr.DataArray([1.0, 2.0], dims="x"), "data"),
             (xr.DataArray(3.0), "data"),
             (xr.DataArray([1, 2], dims="x", name="error"), "error")]
    for k, (da, name) in enumerate(cases):
        TALLY.accepts(lambda: mx.load(mx.save(da, tmp_path / f"da{k}.nc")),
                      lambda ds: ds[name].identical(da.rename(name)))
    for k, (obj, phrase) in enumerate([
            (xr.DataArray([1, 2], dims="data"), "give it a name"),
            (xr.DataArray([1, 2], dims="x", name=0), "NetCDF names are strings"),
            (xr.Dataset(attrs={"a": {"b": 1}}), "cannot be stored as NetCDF"),
            (xr.Dataset({"v": ("x", np.array([object(), 1], dtype=object))}), "cannot be stored as NetCDF"),
            ([1, 2, 3], "save writes xarray Datasets")]):
        TALLY.rejects(lambda: mx.save(obj, tmp_path / f"odd{k}.nc"), phrase, error=ParameterError)
    assert temps(tmp_path) == []


NAMES = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=8)


@HYPO
@given(attrs=st.dictionaries(NAMES, st.one_of(st.integers(-2**70, 2**70), st.floats(), st.text(max_size=5),
                                              st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=3)),
                             max_size=3),
       name=NAMES)
def test_arbitrary_attrs_and_names_round_trip_or_are_refused(tmp_path, attrs, name):
    ds = xr.Dataset({name: ("x", np.arange(3.0))}, attrs=attrs)
    path = tmp_path / "attrs.nc"
    if path.exists():
        path.unlink()
    TALLY.outcome(lambda: mx.load(mx.save(ds, path)), lambda back: back[name].values.tolist() == [0, 1, 2],
                  "cannot be stored as NetCDF", "cannot save")
    assert temps(tmp_path) == []


# ------------------------------------------------------------------ damaged files
def open_handles(path):
    target = os.path.realpath(path)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}") == target
        except OSError:
            pass
    return count


@pytest.fixture(scope="module")
def zipped(tmp_path_factory, ens):
    path = tmp_path_factory.mktemp("zipped") / "good.nc"
    ens.to_netcdf(path, engine="netcdf4", encoding={v: {"zlib": True} for v in ens.data_vars})
    return path


@HYPO
@given(cut=st.floats(0.0, 1.0), flip=st.booleans(), seed=st.integers(0, 2**16))
def test_a_damaged_file_fails_cleanly_and_a_good_copy_then_loads(tmp_path, zipped, ens, cut, flip, seed):
    data = bytearray(zipped.read_bytes())
    position = int(cut * (len(data) - 1))
    if flip:
        data[position:position + 64] = np.random.default_rng(seed).bytes(64)[:len(data) - position]
    else:
        del data[position:]
    path = tmp_path / "damaged.nc"
    path.write_bytes(bytes(data))
    TALLY.outcome(lambda: mx.load(path), lambda ds: isinstance(ds, xr.Dataset), "not a readable NetCDF file",
                  "file is empty")
    assert open_handles(path) == 0
    shutil.copyfile(zipped, path)
    TALLY.accepts(lambda: mx.load(path), lambda ds: ds.identical(mx.load(zipped)))
    assert open_handles(path) == 0


def test_load_refuses_oversized_files_and_decoded_data(tmp_path, zipped):
    TALLY.rejects(lambda: mx.load(zipped, max_bytes=100), "more than the limit of 100 bytes")
    TALLY.rejects(lambda: mx.load(zipped, max_bytes=zipped.stat().st_size), "decoded data")
