"""The memory-mapped MNIST cache that app kernels share (MTJEXPLORE_DATA_CACHE)."""

import os
import stat

import numpy as np
import pytest

import mtjexplore as mx
from mtjexplore import datasets


@pytest.fixture()
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv(datasets.DATA_CACHE_ENV, str(tmp_path))
    datasets.clear_cache()
    yield tmp_path
    datasets.clear_cache()


def _plain(monkeypatch, **kwargs):
    monkeypatch.delenv(datasets.DATA_CACHE_ENV, raising=False)
    datasets.clear_cache()
    return mx.load_mnist(**kwargs)


def test_cached_data_is_memory_mapped_read_only_and_equal(cache, monkeypatch):
    train, test = mx.load_mnist(n_train=3000, n_test=500)
    files = sorted(p.name for p in cache.glob("*.npy"))
    assert len(files) == 4 and not list(cache.glob("*.tmp"))
    for data in (train, test):
        assert isinstance(data.x.base, np.memmap) or isinstance(data.x, np.memmap)
        assert data.x.dtype == np.float32 and not data.x.flags.writeable
    plain_train, plain_test = _plain(monkeypatch, n_train=3000, n_test=500)
    np.testing.assert_array_equal(train.x, plain_train.x)
    np.testing.assert_array_equal(test.y, plain_test.y)


def test_a_second_process_maps_the_files_and_a_damaged_file_is_rebuilt(cache):
    mx.load_mnist(n_train=10, n_test=10)
    x_file = next(cache.glob("*-x_test.npy"))
    datasets.clear_cache()
    stamp = x_file.stat().st_mtime_ns
    mx.load_mnist(n_train=10, n_test=10)
    assert x_file.stat().st_mtime_ns == stamp  # read, not written again
    x_file.write_bytes(b"not a npy file")
    datasets.clear_cache()
    _, test = mx.load_mnist(n_train=10, n_test=10)
    assert test.x.shape == (10, 100) and x_file.stat().st_size > 1000


def test_other_settings_get_their_own_files(cache):
    mx.load_mnist(n_train=10, n_test=10)
    mx.load_mnist(size=7, n_train=10, n_test=10)
    assert len(list(cache.glob("*.npy"))) == 8


def test_an_unwritable_cache_folder_falls_back_to_memory(monkeypatch, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv(datasets.DATA_CACHE_ENV, str(blocker / "cache"))  # cannot be created
    datasets.clear_cache()
    try:
        train, _ = mx.load_mnist(n_train=10, n_test=10)
        assert train.x.shape == (10, 100) and not isinstance(train.x.base, np.memmap)
    finally:
        datasets.clear_cache()


def test_cache_files_are_readable_by_every_user_whatever_the_umask(monkeypatch, tmp_path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    monkeypatch.setenv(datasets.DATA_CACHE_ENV, str(shared / "mtjexplore-cache"))
    datasets.clear_cache()
    old = os.umask(0o077)
    try:
        mx.load_mnist(n_train=10, n_test=10)
    finally:
        os.umask(old)
        datasets.clear_cache()
    folder = shared / "mtjexplore-cache"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o1777
    modes = {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert modes == {0o644} and len(list(folder.iterdir())) == 4
