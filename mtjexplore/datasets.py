"""Small binary image datasets (MNIST and other IDX data) for MTJ experiments.

The pipeline is: read uint8 images (:func:`read_idx` or the packaged
``data/mnist.npz``), shrink them by area averaging (:func:`downsample`),
threshold them to 0/1 (:func:`binarize`) and wrap them in :class:`ImageData`.
:func:`load_mnist` and :func:`load_idx_dataset` do all of it and cache the
result per ``(size, threshold)``.
"""

from __future__ import annotations

import functools
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from . import _files
from ._check import check_int, check_number
from .errors import DataFileError, ParameterError

__all__ = [
    "IDX_DTYPES",
    "IDX_FILES",
    "ImageData",
    "area_weights",
    "binarize",
    "clear_cache",
    "data_cache_dir",
    "downsample",
    "load_idx_dataset",
    "load_mnist",
    "read_idx",
]

#: IDX data-type code (third byte of the magic number) -> on-disk dtype.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

#: Array key -> standard IDX file name (without ``.gz``), as in MNIST/Fashion-MNIST.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 8192  # images per block in downsample (bounds float64 temporaries)
_REBUILD = "rebuild it with `python scripts/build_mnist.py`"


# ----------------------------------------------------------------------------
# IDX reading
# ----------------------------------------------------------------------------


def read_idx(path):
    """Read an IDX file (raw or gzip-compressed) into a numpy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Gzip compression is detected from the magic bytes
        ``1f 8b``, not from the file name.

    Returns
    -------
    numpy.ndarray
        Native-byte-order, writable array with the dtype (uint8, int8, int16,
        int32, float32 or float64) and shape stored in the header.

    Raises
    ------
    DataFileError
        If the file is missing, unreadable, empty, not valid gzip, or not a
        well-formed IDX file. The message names the file and the problem.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny-idx1-ubyte"
    >>> _ = p.write_bytes(bytes([0, 0, 0x08, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    path = _as_path(path, "path")
    data = _read_bytes(path)
    if data[:2] == _GZIP_MAGIC:
        data = _gunzip(path, data)
    return _parse_idx(path, data)


def _idx_error(path, problem, advice):
    return DataFileError(f"IDX file '{path}': {problem}; {advice}")


def _as_path(path, what):
    if not isinstance(path, (str, os.PathLike)):
        raise ParameterError(f"{what} must be a str or os.PathLike, got {type(path).__name__}")
    return Path(path)


def _read_bytes(path):
    """The file's bytes: a regular file only (no FIFO, device, folder), at most MAX_INPUT_BYTES."""
    try:
        os.stat(path)
    except FileNotFoundError as exc:
        raise _idx_error(path, "file not found", "check the path and file name") from exc
    if path.is_dir():
        raise _idx_error(path, "is a directory, not a file", "pass the IDX file itself")
    data = _files.read_bytes(path, _idx_error)
    if not data:
        raise _idx_error(path, "file is empty (0 bytes)", "re-download or regenerate it")
    return data


def _declared_size(data):
    """Bytes an IDX file declares (header + data) once its header is in ``data``; else None."""
    if len(data) < 4 or data[2] not in IDX_DTYPES:
        return None
    offset = 4 + 4 * data[3]
    if len(data) < offset:
        return None
    shape = np.frombuffer(bytes(data[4:offset]), dtype=">u4").astype(object)
    return offset + math.prod(shape) * IDX_DTYPES[data[2]].itemsize


def _gunzip(path, raw):
    """Decompress (all members) in steps, never past what the IDX header declares.

    The output is capped by ``MAX_INPUT_BYTES`` and, once the header is decompressed, by the size
    it declares (header + data): a small compressed file cannot expand beyond what it claims to
    hold, and a stream that holds more than it declares is refused as it reaches that point.
    """
    cap, data, declared = _files.MAX_INPUT_BYTES, bytearray(), None
    while raw:
        stream, pending = zlib.decompressobj(16 + zlib.MAX_WBITS), raw
        while not stream.eof:
            limit = cap if declared is None else min(cap, declared)
            try:
                chunk = stream.decompress(pending, min(limit + 1 - len(data), 1 << 20))
            except zlib.error as exc:
                raise _idx_error(
                    path, f"corrupt gzip stream ({exc})", "re-download it (check with `gzip -t`)"
                ) from exc
            data += chunk
            declared = _declared_size(data) if declared is None else declared
            if declared is not None and len(data) > declared:
                raise _idx_error(path, f"the gzip stream holds more than the {declared:,} bytes its IDX "
                                 "header declares", "the file is damaged or not an IDX file")
            if len(data) > cap:
                raise _idx_error(path, f"the gzip stream decompresses to more than {cap:,} bytes",
                                 "check that it is the IDX file you meant (raise "
                                 "mtjexplore._files.MAX_INPUT_BYTES for a genuine one)")
            pending = stream.unconsumed_tail
            if not chunk and not pending:
                break
        if not stream.eof:
            raise _idx_error(path, "corrupt gzip stream (truncated: it ends before its end "
                             "marker)", "re-download it (check with `gzip -t`)")
        raw = stream.unused_data
    if not data:
        raise _idx_error(path, "gzip stream decompresses to 0 bytes", "re-download it")
    return bytes(data)


def _parse_idx(path, data):
    header = _parse_idx_header(path, data)
    dtype, shape, offset = header
    count = math.prod(shape)
    expected, found = count * dtype.itemsize, len(data) - offset
    kind = dtype.newbyteorder("=").name
    if found != expected:
        problem = "payload truncated" if found < expected else f"{found - expected} trailing extra bytes"
        raise _idx_error(
            path,
            f"{problem}: expected {expected} bytes of {kind} data after the header, found {found}",
            "the file is damaged or its header is wrong; re-download it",
        )
    flat = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    return flat.reshape(shape).astype(dtype.newbyteorder("="))


def _parse_idx_header(path, data):
    if len(data) < 4:
        raise _idx_error(
            path,
            f"header truncated: the 4-byte magic number is incomplete ({len(data)} bytes)",
            "the file is damaged; re-download it",
        )
    if data[0] != 0 or data[1] != 0:
        raise _idx_error(
            path,
            f"wrong magic number: the first two bytes must be 0, found 0x{data[0]:02x} 0x{data[1]:02x}",
            "this is not an IDX file; check the path",
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise _idx_error(
            path,
            f"unknown data type code 0x{code:02x} (valid codes: {valid})",
            "the file is damaged or not an IDX file",
        )
    if ndim == 0:
        raise _idx_error(path, "zero dims: the header declares 0 dimensions", "the file is damaged")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise _idx_error(
            path,
            f"header truncated: {ndim} dimensions need a {offset}-byte header, found {len(data)} bytes",
            "the file is damaged; re-download it",
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return IDX_DTYPES[code], shape, offset


# ----------------------------------------------------------------------------
# Image transforms
# ----------------------------------------------------------------------------


def area_weights(length, size):
    """Area-averaging weights mapping ``length`` pixels onto ``size`` pixels.

    Output pixel ``i`` covers the input interval
    ``[i * length / size, (i + 1) * length / size)``; entry ``[i, j]`` is the
    overlap of input pixel ``j`` with it, divided by the interval length, so
    each row sums to 1 and each column sums to ``size / length``.

    Parameters
    ----------
    length : int
        Number of input pixels along the axis.
    size : int
        Number of output pixels, ``1 <= size <= length``.

    Returns
    -------
    numpy.ndarray
        Float64 matrix of shape ``(size, length)``.

    Examples
    --------
    >>> area_weights(3, 2)
    array([[0.66666667, 0.33333333, 0.        ],
           [0.        , 0.33333333, 0.66666667]])
    """
    length, size = int(length), _check_size(size, int(length))
    i = np.arange(size)[:, None]
    j = np.arange(length)[None, :]
    # Exact integer overlaps in units of 1 / size of an input pixel.
    overlap = np.minimum((i + 1) * length, (j + 1) * size) - np.maximum(i * length, j * size)
    return np.clip(overlap, 0, None) / length


def downsample(images, size):
    """Shrink a stack of images to ``size x size`` by area averaging.

    Works for any ``size`` from 1 to the image side, including non-integer
    factors (e.g. 28 -> 10): every input pixel contributes in proportion to
    its overlap with each output pixel, so the mean intensity is preserved.

    Parameters
    ----------
    images : array_like, shape (n, H, W)
        uint8 images (0..255, scaled by 1/255) or float images in [0, 1].
    size : int
        Output side, ``1 <= size <= min(H, W)``.

    Returns
    -------
    numpy.ndarray
        Float32 array of shape ``(n, size, size)`` with values in [0, 1].

    Raises
    ------
    ParameterError
        If ``images`` has the wrong shape, dtype or range, or ``size`` is out
        of range.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> imgs = rng.integers(0, 256, size=(2, 28, 28), dtype=np.uint8)
    >>> small = downsample(imgs, 10)
    >>> small.shape, small.dtype
    ((2, 10, 10), dtype('float32'))
    >>> bool(np.allclose(small.mean(axis=(1, 2)), imgs.mean(axis=(1, 2)) / 255))
    True
    """
    imgs, scale = _as_image_stack(images)
    n, height, width = imgs.shape
    size = _check_size(size, min(height, width))
    rows, cols_t = area_weights(height, size), area_weights(width, size).T
    out = np.empty((n, size, size), dtype=np.float32)
    for start in range(0, n, _CHUNK):  # blocks of images, not single images
        block = imgs[start : start + _CHUNK].astype(np.float64) * scale
        out[start : start + _CHUNK] = rows @ block @ cols_t
    return np.clip(out, 0.0, 1.0, out=out)


def binarize(images, threshold=0.5):
    """Threshold images to 0/1: a pixel becomes 1 where it is ``> threshold``.

    Parameters
    ----------
    images : array_like
        Float grey levels in [0, 1], or uint8 (0..255, scaled by 1/255).
    threshold : float, default 0.5
        Threshold in ``[0, 1)``.

    Returns
    -------
    numpy.ndarray
        uint8 array of 0s and 1s with the shape of ``images``.

    Raises
    ------
    ParameterError
        If ``threshold`` is not in ``[0, 1)`` or ``images`` is not uint8/float.

    Examples
    --------
    >>> binarize(np.array([0.1, 0.5, 0.9]), threshold=0.5)
    array([0, 0, 1], dtype=uint8)
    >>> rng = np.random.default_rng(0)
    >>> binarize(rng.random((2, 3)), 0.3)
    array([[1, 0, 0],
           [0, 1, 1]], dtype=uint8)
    """
    threshold = _check_threshold(threshold)
    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        arr = arr / 255.0
    elif not np.issubdtype(arr.dtype, np.floating):
        raise ParameterError(f"images must be uint8 or floating point, got dtype {arr.dtype}")
    return (arr > threshold).astype(np.uint8)


def _as_image_stack(images):
    arr = np.asarray(images)
    if arr.ndim != 3 or 0 in arr.shape[1:]:
        raise ParameterError(f"images must have shape (n, H, W) with H, W >= 1, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr, 1.0 / 255.0
    if not np.issubdtype(arr.dtype, np.floating):
        raise ParameterError(f"images must be uint8 or floating point, got dtype {arr.dtype}")
    if arr.size and not (np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ParameterError("float images must be finite with values in [0, 1]")
    return arr, 1.0


def _check_size(size, limit=None):
    return check_int("size", size, low=1, high=limit,
                     hint="the image side" if limit is not None else "the image side, at most the images' own")


def _check_threshold(threshold):
    return check_number("threshold", threshold, low=0, high=1, high_open=True,
                        hint="binarization threshold on the grey level, 0..1")


def _check_count(n, available, what):
    if n is None:
        return available
    return check_int(what, n, low=0, high=available, hint="None keeps all")


# ----------------------------------------------------------------------------
# ImageData
# ----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False, repr=False)
class ImageData:
    """Binary images with labels.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, size * size)
        Flattened images with values 0 or 1 (stored as float32).
    y : numpy.ndarray, shape (n,)
        Integer labels (stored as int64).
    size : int
        Image side; ``x.shape[1] == size ** 2``.
    name : str
        Label for printing, e.g. ``"mnist-train"``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = ImageData(rng.integers(0, 2, (5, 4)).astype(np.float32), np.arange(5), 2, "toy")
    >>> data, len(data), data.images.shape
    (ImageData(name='toy', n=5, size=2), 5, (5, 2, 2))
    >>> data.subset(3, seed=1).y.tolist()
    [2, 1, 3]
    """

    x: np.ndarray
    y: np.ndarray
    size: int
    name: str = ""

    def __post_init__(self):
        size = _check_size(self.size)
        if not isinstance(self.name, str):
            raise ParameterError(f"name must be a str, got {type(self.name).__name__}")
        x, y = np.asarray(self.x), np.asarray(self.y)
        if x.ndim != 2 or x.shape[1] != size * size:
            raise ParameterError(f"x must have shape (n, {size * size}) for size={size}, got {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise ParameterError(f"y must have shape ({len(x)},) to match x, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ParameterError(f"y must hold integer labels, got dtype {y.dtype}")
        x = np.asarray(x, dtype=np.float32)  # no copy when already float32
        if not ((x == 0) | (x == 1)).all():
            raise ParameterError("x must contain only 0 and 1 values")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", np.asarray(y, dtype=np.int64))
        object.__setattr__(self, "size", size)

    def __len__(self):
        return self.x.shape[0]

    def __repr__(self):
        return f"ImageData(name={self.name!r}, n={len(self)}, size={self.size})"

    @property
    def images(self):
        """numpy.ndarray: ``x`` reshaped to ``(n, size, size)`` (a view)."""
        return self.x.reshape(-1, self.size, self.size)

    def subset(self, n, seed=None):
        """Return ``n`` items: the first ``n``, or a seeded random draw.

        Parameters
        ----------
        n : int
            Number of items, ``0 <= n <= len(self)``.
        seed : int or numpy.random.Generator, optional
            If None take the first ``n`` items; otherwise draw ``n`` distinct
            items with ``numpy.random.default_rng(seed)``.

        Returns
        -------
        ImageData
        """
        n = _check_count(n, len(self), "n")
        if seed is None:
            index = slice(0, n)
        else:
            index = np.random.default_rng(seed).choice(len(self), size=n, replace=False)
        return ImageData(self.x[index], self.y[index], self.size, self.name)


# ----------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------


def load_mnist(size=10, threshold=0.3, *, crop=4, n_train=None, n_test=None, path=None):
    """Load MNIST as binary ``size x size`` images.

    Parameters
    ----------
    size : int, default 10
        Image side after area-average downsampling, 1..28.
    threshold : float, default 0.3
        Binarization threshold on the area-averaged grey level (0..1 scale).
    crop : int, default 4
        Pixels removed from every border before downsampling. MNIST digits are size-normalised
        into a 20 x 20 box centred in the 28 x 28 field, so ``crop=4`` spends the ``size x size``
        inputs on the digit instead of the empty margin (software error 8 % instead of 11 % in
        the paper configuration). ``crop=0`` downsamples the whole field.
    n_train, n_test : int, optional
        Keep only the first ``n`` training / test items (default: all).
    path : str or os.PathLike, optional
        None (default) reads the packaged ``mtjexplore/data/mnist.npz``
        (offline). A directory reads the four standard IDX files from it
        (see :func:`load_idx_dataset`); a file is read as an ``.npz`` with
        keys ``train_images``, ``train_labels``, ``test_images``, ``test_labels``.

    Returns
    -------
    train, test : ImageData
        60000 and 10000 items for full MNIST; arrays are read-only and shared
        with an internal per-``(size, threshold)`` cache.

    Raises
    ------
    ParameterError
        For a bad ``size``, ``threshold``, ``n_train`` or ``n_test``.
    DataFileError
        If a data file is missing or corrupt.

    Examples
    --------
    >>> train, test = load_mnist(size=10, threshold=0.3, n_train=100, n_test=10)
    >>> len(train), train.x.shape, sorted(set(train.x.ravel().tolist()))
    (100, (100, 100), [0.0, 1.0])
    >>> train.subset(5, seed=0).y.shape
    (5,)
    """
    if path is not None:
        path = _as_path(path, "path")
        if path.is_dir():
            return load_idx_dataset(
                path, size, threshold, crop=crop, n_train=n_train, n_test=n_test, name="mnist"
            )
        source = ("npz", str(path.resolve()), _stamp(path))
    else:
        source = ("packaged",)
    return _load(source, size, threshold, crop, n_train, n_test, "mnist")


def load_idx_dataset(path, size=10, threshold=0.3, *, crop=0, n_train=None, n_test=None, name=None):
    """Load an MNIST-format dataset (e.g. Fashion-MNIST) from IDX files.

    Parameters
    ----------
    path : str or os.PathLike
        Directory holding ``train-images-idx3-ubyte``,
        ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
        ``t10k-labels-idx1-ubyte``, each optionally with a ``.gz`` suffix.
    size, threshold, crop, n_train, n_test
        As in :func:`load_mnist`.
    name : str, optional
        Dataset name; defaults to the directory name. The returned items are
        named ``f"{name}-train"`` and ``f"{name}-test"``.

    Returns
    -------
    train, test : ImageData

    Raises
    ------
    ParameterError
        For bad arguments.
    DataFileError
        If a file is missing or corrupt, or the arrays do not fit together.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> imgs = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes([0, 255] * 4)
    >>> labels = bytes([0, 0, 8, 1, 0, 0, 0, 2, 3, 7])
    >>> for stem in ("train", "t10k"):
    ...     _ = (d / f"{stem}-images-idx3-ubyte").write_bytes(imgs)
    ...     _ = (d / f"{stem}-labels-idx1-ubyte").write_bytes(labels)
    >>> train, test = load_idx_dataset(d, size=2, threshold=0.5, name="toy")
    >>> train, train.x.tolist(), train.y.tolist()
    (ImageData(name='toy-train', n=2, size=2), [[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]], [3, 7])
    """
    directory = _as_path(path, "path")
    if not directory.is_dir():
        raise DataFileError(f"IDX directory '{directory}': not a directory; pass the folder holding the IDX files")
    files = tuple(str(_find_idx(directory, stem).resolve()) for stem in IDX_FILES.values())
    source = ("idx", files, tuple(_stamp(Path(f)) for f in files))
    return _load(source, size, threshold, crop, n_train, n_test, directory.name if name is None else name)


def clear_cache():
    """Drop the cached loaded and preprocessed datasets."""
    _raw_arrays.cache_clear()
    _prepared.cache_clear()


def _find_idx(directory, stem):
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataFileError(
        f"IDX directory '{directory}': missing '{stem}' (or '{stem}.gz'); "
        f"it must hold {', '.join(IDX_FILES.values())}"
    )


def _stamp(path):
    try:
        st = path.stat()
    except OSError as exc:
        raise DataFileError(f"data file '{path}': cannot access it ({exc}); check the path") from exc
    return st.st_mtime_ns, st.st_size


def _load(source, size, threshold, crop, n_train, n_test, name):
    size, threshold = _check_size(size), _check_threshold(threshold)
    crop = check_int("crop", crop, low=0, hint="pixels removed from each border")
    x_tr, y_tr, x_te, y_te = _prepared(source, size, threshold, crop)
    n_train = _check_count(n_train, len(y_tr), "n_train")
    n_test = _check_count(n_test, len(y_te), "n_test")
    return (
        ImageData(x_tr[:n_train], y_tr[:n_train], size, f"{name}-train"),
        ImageData(x_te[:n_test], y_te[:n_test], size, f"{name}-test"),
    )


@functools.lru_cache(maxsize=8)
def _prepared(source, size, threshold, crop=0):
    """Cropped, downsampled, binarized, flattened, read-only (x_train, y_train, x_test, y_test).

    With a data cache folder (:func:`data_cache_dir`) the arrays come memory-mapped from
    uncompressed ``.npy`` files there, written on first use: kernels that load the same data
    share its pages instead of each holding a copy, and the raw images are not kept.
    """
    folder = data_cache_dir()
    if folder is None:
        return _prepare(_raw_arrays(source), size, threshold, crop)
    return _cached_prepared(folder, source, size, threshold, crop)


def _prepare(raw, size, threshold, crop):
    out = []
    for split in ("train", "test"):
        images, labels = raw[f"{split}_images"], raw[f"{split}_labels"]
        if crop:
            side = min(images.shape[1:]) - 2 * crop
            if side < size:
                raise ParameterError(
                    f"size must be an int in [1, {max(side, 0)}] once crop={crop} pixels are "
                    f"removed from each border of the {images.shape[1]}x{images.shape[2]} images, "
                    f"got {size}; use a smaller size or crop")
            images = images[:, crop:-crop, crop:-crop]
        x = binarize(downsample(images, size), threshold).astype(np.float32)
        out += [x.reshape(len(x), size * size), labels.astype(np.int64)]
    for arr in out:
        arr.flags.writeable = False
    return tuple(out)


# ----------------------------------------------------------------------------
# The memory-mapped data cache (shared pages between app kernels)
# ----------------------------------------------------------------------------

#: Environment variable naming the data cache folder (unset or empty: no cache).
DATA_CACHE_ENV = "MTJEXPLORE_DATA_CACHE"
_CACHE_FORMAT = 1  # bump when the preprocessing changes: old cache files are then ignored
_CACHE_KEYS = ("x_train", "y_train", "x_test", "y_test")


def data_cache_dir():
    """The data cache folder (``$MTJEXPLORE_DATA_CACHE``), or None when it is unset or empty.

    ``mtjexplore app`` sets it for its kernels (see
    :func:`mtjexplore.serve.appserver.kernel_env`), so every app kernel maps the same
    preprocessed MNIST files read-only instead of holding ~80 MiB of its own.
    """
    value = os.environ.get(DATA_CACHE_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _cache_stem(source, size, threshold, crop):
    import hashlib

    if source[0] == "packaged":
        ref = resources.files("mtjexplore") / "data" / "mnist.npz"
        with resources.as_file(ref) as path:
            source = (*source, _stamp(Path(path)))
    key = repr((_CACHE_FORMAT, source, int(size), float(threshold), int(crop)))
    return f"data-{hashlib.sha256(key.encode()).hexdigest()[:20]}"


def _cached_prepared(folder, source, size, threshold, crop):
    stem = _cache_stem(source, size, threshold, crop)
    paths = [folder / f"{stem}-{key}.npy" for key in _CACHE_KEYS]
    arrays = _map_cache(paths)
    if arrays is None:
        # computed without keeping the raw images (not through the _raw_arrays cache)
        arrays = _prepare(_raw_arrays.__wrapped__(source), size, threshold, crop)
        if not _write_cache(folder, paths, arrays):
            return arrays
        arrays = _map_cache(paths) or arrays
    return arrays


def _map_cache(paths):
    """The cached arrays memory-mapped read-only, or None when a file is missing or unreadable."""
    try:
        arrays = tuple(np.load(path, mmap_mode="r", allow_pickle=False) for path in paths)
    except PermissionError as exc:  # another user's file without read access: say how to fix it
        import warnings

        from . import _shared_files as shared_files

        warnings.warn(shared_files.file_problem(exc.filename or paths[0], "the data cache file"),
                      shared_files.SharedFileWarning, stacklevel=5)
        return None
    except (OSError, ValueError):
        return None
    x_tr, y_tr, x_te, y_te = arrays
    ok = (x_tr.dtype == np.float32 and x_te.dtype == np.float32 and y_tr.dtype == np.int64
          and y_te.dtype == np.int64 and x_tr.ndim == x_te.ndim == 2 and len(x_tr) == len(y_tr)
          and len(x_te) == len(y_te))
    return arrays if ok else None


def _write_cache(folder, paths, arrays):
    """Write the cache files atomically (a temporary name, then a rename); False if impossible.

    The folder and files are made usable by every user of the machine (a hub that runs each
    student as their own OS user shares one cache): files of mode 0644 whatever the umask, a
    folder created inside ``/tmp`` of mode 1777 (:mod:`mtjexplore._shared_files`). When
    this user cannot write there, a warning names the path and the fix and the arrays stay in
    this process's memory.
    """
    import warnings

    from . import _shared_files as shared_files

    try:
        shared_files.ensure_folder(folder, what="the data cache folder", env_var=DATA_CACHE_ENV)
        for path, arr in zip(paths, arrays):
            shared_files.write_atomically(
                path, functools.partial(_save_npy, np.ascontiguousarray(arr)),
                what="the data cache file")
    except shared_files.SharedFileError as exc:
        warnings.warn(f"{exc}; meanwhile this process keeps its own copy of the data in memory",
                      shared_files.SharedFileWarning, stacklevel=5)
        return False
    except OSError:
        return False  # a read-only or full disk: keep the arrays in memory instead
    return True


def _save_npy(arr, handle):
    np.save(handle, arr, allow_pickle=False)


@functools.lru_cache(maxsize=2)
def _raw_arrays(source):
    kind = source[0]
    if kind == "packaged":
        ref = resources.files("mtjexplore") / "data" / "mnist.npz"
        with resources.as_file(ref) as path:
            arrays = _read_npz(Path(path), packaged=True)
        label = str(path)
    elif kind == "npz":
        arrays, label = _read_npz(Path(source[1])), source[1]
    else:
        arrays = {key: read_idx(f) for key, f in zip(IDX_FILES, source[1])}
        label = str(Path(source[1][0]).parent)
    for split in ("train", "test"):
        _check_split(label, arrays[f"{split}_images"], arrays[f"{split}_labels"], split)
    return arrays


def _read_npz(path, packaged=False):
    advice = _REBUILD if packaged else "check or regenerate the file"
    if not path.is_file():
        hint = f"{_REBUILD}, or pass path= a directory of IDX files" if packaged else "check the path"
        raise DataFileError(f"dataset file '{path}': file not found; {hint}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in IDX_FILES if k not in npz.files]
            if missing:
                raise DataFileError(f"dataset file '{path}': missing arrays {missing}; {advice}")
            return {k: npz[k] for k in IDX_FILES}
    except DataFileError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataFileError(f"dataset file '{path}': not a readable .npz archive ({exc}); {advice}") from exc


def _check_split(label, images, labels, split):
    problem = None
    if images.ndim != 3 or labels.ndim != 1:
        problem = f"expected (n, H, W) images and (n,) labels, got {images.shape} and {labels.shape}"
    elif len(images) != len(labels):
        problem = f"{len(images)} images but {len(labels)} labels"
    elif not np.issubdtype(labels.dtype, np.integer):
        problem = f"labels must be integers, got dtype {labels.dtype}"
    elif images.dtype != np.uint8 and not np.issubdtype(images.dtype, np.floating):
        problem = f"images must be uint8 or float, got dtype {images.dtype}"
    if problem:
        raise DataFileError(f"dataset '{label}': {split} split: {problem}; check the data files")
