"""Tests for mtjexplore.datasets: IDX reading, downsampling, binarization, loading."""

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from mtjexplore import datasets
from mtjexplore.datasets import (
    IDX_FILES,
    ImageData,
    area_weights,
    binarize,
    downsample,
    load_idx_dataset,
    load_mnist,
    read_idx,
)
from mtjexplore.errors import DataFileError, ParameterError

# The canonical IDX files beside the repository (../shared/data/mnist), or where MTJEXPLORE_MNIST_DIR says.
SHARED_MNIST = Path(os.environ.get("MTJEXPLORE_MNIST_DIR",
                                   Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"))
CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(arr):
    """Serialize ``arr`` in IDX format (big-endian header and payload)."""
    arr = np.asarray(arr)
    kind = arr.dtype.str[1:]
    header = bytes([0, 0, CODES[kind], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, gz=False):
    data = idx_bytes(arr)
    Path(path).write_bytes(gzip.compress(data) if gz else data)
    return Path(path)


def write_raw(tmp_path, data, name="f-idx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def make_idx_dir(directory, n_train=6, n_test=4, side=4, gz_train=True, seed=0):
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, stem in IDX_FILES.items():
        gz = gz_train and key.startswith("train")
        write_idx(directory / (stem + (".gz" if gz else "")), arrays[key], gz=gz)
    return arrays


# ---------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("kind", sorted(CODES))
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_read_idx_round_trip(tmp_path, gz, kind, shape):
    rng = np.random.default_rng(1)
    arr = (rng.standard_normal(shape) * 100).astype(kind)
    out = read_idx(write_idx(tmp_path / "a-idx", arr, gz=gz))
    assert out.dtype == np.dtype(kind).newbyteorder("=")
    assert out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, arr)


def test_read_idx_detects_gzip_by_magic_not_extension(tmp_path):
    arr = np.arange(6, dtype=np.uint8).reshape(2, 3)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "raw.gz", arr)), arr)
    np.testing.assert_array_equal(read_idx(write_idx(tmp_path / "plain", arr, gz=True)), arr)


def test_read_idx_accepts_str_path(tmp_path):
    arr = np.arange(3, dtype=np.int32)
    np.testing.assert_array_equal(read_idx(str(write_idx(tmp_path / "s", arr))), arr)


GOOD_HEADER = bytes([0, 0, 0x08, 2]) + struct.pack(">2I", 2, 3)

BAD_FILES = {
    "empty": (b"", "file is empty (0 bytes)"),
    "short_magic": (b"\x00\x00", "header truncated"),
    "wrong_magic": (bytes([0, 1, 8, 1, 0, 0, 0, 1, 5]), "wrong magic number: the first two bytes must be 0, found 0x00 0x01"),
    "unknown_dtype": (bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]), "unknown data type code 0x0a"),
    "zero_dims": (bytes([0, 0, 8, 0, 1, 2]), "zero dims"),
    "short_header": (bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0]), "header truncated: 3 dimensions need a 16-byte header, found 10 bytes"),
    "short_payload": (GOOD_HEADER + bytes(5), "payload truncated: expected 6 bytes of uint8 data after the header, found 5"),
    "short_int16": (bytes([0, 0, 0x0B, 1, 0, 0, 0, 3]) + bytes(5), "payload truncated: expected 6 bytes of int16 data after the header, found 5"),
    "trailing": (GOOD_HEADER + bytes(8), "2 trailing extra bytes: expected 6 bytes of uint8 data after the header, found 8"),
    "bad_gzip_header": (b"\x1f\x8b" + b"not really gzip", "corrupt gzip stream"),
    "truncated_gzip": (gzip.compress(GOOD_HEADER + bytes(6))[:-12], "corrupt gzip stream"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_read_idx_errors_name_file_and_problem(tmp_path, case):
    data, wording = BAD_FILES[case]
    path = write_raw(tmp_path, data, name=f"{case}-idx")
    with pytest.raises(DataFileError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert wording in message
    assert isinstance(info.value, ValueError)


def test_read_idx_corrupt_deflate_data_is_wrapped(tmp_path):
    stream = bytearray(gzip.compress(bytes(range(256)) * 64))
    stream[20:40] = b"\xff" * 20
    path = write_raw(tmp_path, bytes(stream))
    with pytest.raises(DataFileError, match="corrupt gzip stream") as info:
        read_idx(path)
    assert isinstance(info.value.__cause__, (OSError, EOFError, zlib.error))


def test_read_idx_truncated_payload_inside_gzip(tmp_path):
    path = write_raw(tmp_path, gzip.compress(GOOD_HEADER + bytes(4)), name="t.gz")
    with pytest.raises(DataFileError, match="expected 6 bytes of uint8 data after the header, found 4"):
        read_idx(path)


def test_read_idx_missing_file_and_directory(tmp_path):
    missing = tmp_path / "nope-idx"
    with pytest.raises(DataFileError, match="file not found") as info:
        read_idx(missing)
    assert str(missing) in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)
    with pytest.raises(DataFileError, match="is a directory") as info:
        read_idx(tmp_path)
    assert str(tmp_path) in str(info.value)


# ---------------------------------------------------------------- downsample


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(2).integers(0, 256, (7, 28, 28), dtype=np.uint8)


def test_downsample_identity_at_full_size(images):
    out = downsample(images, 28)
    assert out.dtype == np.float32 and out.shape == (7, 28, 28)
    np.testing.assert_allclose(out, images / 255.0, atol=1e-7)


def test_downsample_half_is_block_mean(images):
    expected = images.reshape(7, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
    np.testing.assert_allclose(downsample(images, 14), expected, atol=1e-6)


@pytest.mark.parametrize("size", [10, 3, 1, 27])
def test_downsample_fractional_preserves_mean(images, size):
    out = downsample(images, size)
    assert out.shape == (7, size, size)
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_allclose(out.mean(axis=(1, 2)), images.mean(axis=(1, 2)) / 255.0, atol=1e-6)


@pytest.mark.parametrize("size", [1, 5, 10, 28])
def test_downsample_constant_stays_constant(size):
    const = np.full((2, 28, 28), 0.37, dtype=np.float64)
    np.testing.assert_allclose(downsample(const, size), 0.37, atol=1e-6)


def test_downsample_non_square_images():
    imgs = np.random.default_rng(3).random((2, 6, 9))
    out = downsample(imgs, 3)
    expected = imgs.reshape(2, 3, 2, 3, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_area_weights_rows_and_columns():
    w = area_weights(28, 10)
    assert w.shape == (10, 28)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(w.sum(axis=0), 10 / 28)
    np.testing.assert_allclose(w[0, :3], [1 / 2.8, 1 / 2.8, 0.8 / 2.8])


@pytest.mark.parametrize("size", [0, 29, -1, 2.5, True, "10", None])
def test_downsample_bad_size(images, size):
    with pytest.raises(ParameterError) as info:
        downsample(images, size)
    assert "size" in str(info.value) and "[1, 28]" in str(info.value)
    assert repr(size) in str(info.value)


@pytest.mark.parametrize(
    "bad", [np.zeros((28, 28)), np.zeros((2, 4, 4), dtype=np.int32), np.full((1, 4, 4), 1.5), np.full((1, 4, 4), np.nan)]
)
def test_downsample_bad_images(bad):
    with pytest.raises(ParameterError, match="images"):
        downsample(bad, 2)


# ---------------------------------------------------------------- binarize


def test_binarize_strictly_greater():
    out = binarize(np.array([0.0, 0.3, 0.30001, 1.0]), threshold=0.3)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 1, 1]


def test_binarize_uint8_scaled():
    assert binarize(np.array([0, 127, 128, 255], dtype=np.uint8)).tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("threshold", [-0.1, 1.0, 1.5, float("nan"), True, "0.5", None])
def test_binarize_bad_threshold(threshold):
    with pytest.raises(ParameterError, match=r"threshold must be a finite number in \[0, 1\)"):
        binarize(np.zeros(3), threshold)


# ---------------------------------------------------------------- ImageData


def toy(n=10, size=3):
    rng = np.random.default_rng(4)
    return ImageData(rng.integers(0, 2, (n, size * size)).astype(np.float32), np.arange(n), size, "toy")


def test_imagedata_basics():
    data = toy()
    assert len(data) == 10 and data.y.dtype == np.int64 and data.x.dtype == np.float32
    assert data.images.shape == (10, 3, 3)
    np.testing.assert_array_equal(data.images[4].ravel(), data.x[4])
    with pytest.raises(AttributeError):
        data.size = 4


def test_imagedata_subset():
    data = toy()
    first = data.subset(4)
    np.testing.assert_array_equal(first.y, [0, 1, 2, 3])
    a, b = data.subset(6, seed=7), data.subset(6, seed=7)
    np.testing.assert_array_equal(a.y, b.y)
    assert len(set(a.y.tolist())) == 6
    np.testing.assert_array_equal(a.x, data.x[a.y])
    assert not np.array_equal(a.y, data.subset(6, seed=8).y)
    assert len(data.subset(0)) == 0 and len(data.subset(10, seed=0)) == 10
    with pytest.raises(ParameterError, match=r"n must be an int in \[0, 10\]; got 11 \(None keeps all\)"):
        data.subset(11)


@pytest.mark.parametrize(
    "x, y, size, wording",
    [
        (np.zeros((3, 4)), np.arange(2), 2, "y must have shape (3,)"),
        (np.zeros((3, 4)), np.arange(3.0), 2, "integer labels"),
        (np.zeros((3, 5)), np.arange(3), 2, "x must have shape (n, 4)"),
        (np.full((3, 4), 0.5), np.arange(3), 2, "only 0 and 1"),
        (np.zeros((3, 4)), np.arange(3), 0, "size"),
    ],
)
def test_imagedata_validation(x, y, size, wording):
    with pytest.raises(ParameterError) as info:
        ImageData(x, y, size, "bad")
    assert wording in str(info.value)


# ---------------------------------------------------------------- loading


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def test_load_mnist_packaged(mnist):
    train, test = mnist
    assert (len(train), len(test)) == (60000, 10000)
    assert train.x.shape == (60000, 100) and test.x.shape == (10000, 100)
    assert train.x.dtype == np.float32 and train.y.dtype == np.int64
    assert set(np.unique(train.x).tolist()) == {0.0, 1.0}
    assert set(np.unique(test.x).tolist()) == {0.0, 1.0}
    assert np.unique(train.y).tolist() == list(range(10))
    assert np.unique(test.y).tolist() == list(range(10))
    assert (train.name, test.name, train.size) == ("mnist-train", "mnist-test", 10)


def test_load_mnist_matches_pipeline(mnist):
    with np.load(Path(datasets.__file__).parent / "data" / "mnist.npz") as npz:
        raw, labels = npz["train_images"][:50], npz["train_labels"][:50]
    expected = binarize(downsample(raw[:, 4:-4, 4:-4], 10), 0.3).reshape(50, 100)  # default crop=4
    np.testing.assert_array_equal(mnist[0].x[:50], expected)
    np.testing.assert_array_equal(mnist[0].y[:50], labels)


def test_load_mnist_cache_read_only_and_shared(mnist):
    hits = datasets._prepared.cache_info().hits
    train, test = load_mnist(10, 0.3, n_train=100, n_test=20)
    assert datasets._prepared.cache_info().hits == hits + 1
    assert (len(train), len(test)) == (100, 20)
    for arr in (train.x, train.y, test.x, test.y, mnist[0].x):
        assert not arr.flags.writeable
    assert np.shares_memory(train.x, mnist[0].x)
    np.testing.assert_array_equal(train.x, mnist[0].x[:100])
    with pytest.raises(ValueError):
        train.x[0, 0] = 1.0


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason=f"the canonical MNIST IDX files are not in {SHARED_MNIST} (set MTJEXPLORE_MNIST_DIR)")
def test_packaged_file_equals_canonical_idx():
    with np.load(Path(datasets.__file__).parent / "data" / "mnist.npz") as npz:
        for key, stem in IDX_FILES.items():
            packaged = npz[key]
            assert packaged.dtype == np.uint8
            np.testing.assert_array_equal(packaged, read_idx(SHARED_MNIST / f"{stem}.gz"))


def test_load_mnist_bad_arguments():
    with pytest.raises(ParameterError, match="threshold"):
        load_mnist(threshold=1.2)
    with pytest.raises(ParameterError, match=r"n_train must be an int in \[0, 60000\]; got 60001 \(None keeps all\)"):
        load_mnist(n_train=60001)
    with pytest.raises(ParameterError, match=r"size must be an int in \[1, 20\] once crop=4"):
        load_mnist(size=29)


def test_load_idx_dataset_from_directory(tmp_path):
    arrays = make_idx_dir(tmp_path / "fashion")
    train, test = load_idx_dataset(tmp_path / "fashion", size=2, threshold=0.5, n_test=3)
    assert (len(train), len(test), train.name, test.name) == (6, 3, "fashion-train", "fashion-test")
    expected = binarize(downsample(arrays["train_images"], 2), 0.5).reshape(6, 4)
    np.testing.assert_array_equal(train.x, expected)
    np.testing.assert_array_equal(test.y, arrays["test_labels"][:3])
    train2, _ = load_mnist(2, 0.5, crop=0, path=tmp_path / "fashion")
    np.testing.assert_array_equal(train2.x, train.x)
    assert train2.name == "mnist-train"


def test_load_idx_dataset_missing_file(tmp_path):
    make_idx_dir(tmp_path / "d")
    (tmp_path / "d" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataFileError, match="missing 't10k-labels-idx1-ubyte'") as info:
        load_idx_dataset(tmp_path / "d")
    assert str(tmp_path / "d") in str(info.value)
    with pytest.raises(DataFileError, match="not a directory"):
        load_idx_dataset(tmp_path / "absent")


def test_load_idx_dataset_mismatched_counts(tmp_path):
    make_idx_dir(tmp_path / "d")
    write_idx(tmp_path / "d" / "t10k-labels-idx1-ubyte", np.zeros(3, dtype=np.uint8))
    with pytest.raises(DataFileError, match="test split: 4 images but 3 labels"):
        load_idx_dataset(tmp_path / "d")


def test_load_mnist_from_npz_file(tmp_path):
    arrays = make_idx_dir(tmp_path / "d", gz_train=False)
    np.savez_compressed(tmp_path / "small.npz", **arrays)
    train, test = load_mnist(4, 0.2, crop=0, path=tmp_path / "small.npz")
    np.testing.assert_array_equal(train.x, binarize(downsample(arrays["train_images"], 4), 0.2).reshape(6, 16))
    bad = write_raw(tmp_path, b"PK\x03\x04 broken zip", name="bad.npz")
    with pytest.raises(DataFileError, match="not a readable .npz archive") as info:
        load_mnist(path=bad)
    assert str(bad) in str(info.value)


def test_missing_packaged_file_message(tmp_path, monkeypatch):
    datasets.clear_cache()
    monkeypatch.setattr(datasets.resources, "files", lambda package: tmp_path)
    try:
        with pytest.raises(DataFileError, match="build_mnist.py") as info:
            load_mnist()
        assert "mnist.npz" in str(info.value)
    finally:
        monkeypatch.undo()
        datasets.clear_cache()


def test_crop_downsamples_the_central_field():
    from mtjexplore import datasets as ds

    train, _ = ds.load_mnist(size=10, crop=4, n_train=50, n_test=1)
    raw = ds._raw_arrays(("packaged",))["train_images"][:50, 4:-4, 4:-4]
    expected = ds.binarize(ds.downsample(raw, 10), 0.3).reshape(50, 100)
    np.testing.assert_array_equal(train.x, expected)
    with pytest.raises(ParameterError, match="crop must be an int >= 0"):
        ds.load_mnist(crop=-1)
    with pytest.raises(ParameterError, match=r"size must be an int in \[1, 8\] once crop=10"):
        ds.load_mnist(crop=10)


def test_a_gzip_idx_stream_never_expands_past_what_its_header_declares(tmp_path):
    # header: uint8, 1 dim of 6 items: 8 + 6 = 14 bytes declared; the stream holds 64 MiB of zeros after
    # it. Decompression stops at the declared size instead of inflating the bomb.

    import tracemalloc

    header = bytes([0, 0, 0x08, 1]) + (6).to_bytes(4, "big")
    path = tmp_path / "bomb-idx1-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(6))
        for _ in range(64):
            f.write(bytes(1 << 20))
    assert path.stat().st_size < 200_000
    tracemalloc.start()
    with pytest.raises(DataFileError, match="holds more than the 14 bytes its IDX header declares"):
        datasets.read_idx(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB while refusing a 64 MiB stream"
    good = tmp_path / "good-idx1-ubyte.gz"
    with gzip.open(good, "wb") as f:
        f.write(header + bytes(range(6)))
    assert datasets.read_idx(good).tolist() == [0, 1, 2, 3, 4, 5]
