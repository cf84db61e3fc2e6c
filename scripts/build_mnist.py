#!/usr/bin/env python3
"""Build the packaged compact MNIST file ``mtjexplore/data/mnist.npz``.

Reads the four canonical MNIST IDX files (gzipped or raw) from ``--src``,
checks the SHA-256 of each decompressed file against the published values,
and writes the uint8 arrays ``train_images`` (60000, 28, 28),
``train_labels`` (60000,), ``test_images`` (10000, 28, 28) and
``test_labels`` (10000,) with ``numpy.savez_compressed``, atomically
(temporary file in the target folder, then ``os.replace``).

Usage::

    python scripts/build_mnist.py [--src DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mtjexplore.datasets import IDX_FILES, read_idx  # noqa: E402
from mtjexplore.errors import DataFileError  # noqa: E402

DEFAULT_SRC = REPO.parent / "shared" / "data" / "mnist"
DEFAULT_OUT = REPO / "mtjexplore" / "data" / "mnist.npz"

#: SHA-256 of the decompressed canonical files (from the data README).
SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

SHAPES = {
    "train_images": (60000, 28, 28),
    "train_labels": (60000,),
    "test_images": (10000, 28, 28),
    "test_labels": (10000,),
}


def find_file(src, stem):
    """Return ``src/stem`` or ``src/stem.gz``, whichever exists."""
    for candidate in (src / stem, src / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"error: '{src}' has neither '{stem}' nor '{stem}.gz'; pass --src DIR")


def decompressed_sha256(path):
    """SHA-256 hex digest of the file's bytes after gunzip (if gzipped)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return hashlib.sha256(data).hexdigest()


def load_verified(src):
    """Read and checksum the four IDX files; return the arrays by key."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        path = find_file(src, stem)
        arrays[key] = read_idx(path)  # validates the IDX structure first
        digest = decompressed_sha256(path)
        if digest != SHA256[stem]:
            raise SystemExit(
                f"error: SHA-256 mismatch for '{path}': expected {SHA256[stem]}, got {digest}; "
                "the file is not the canonical MNIST file, re-download it"
            )
        if arrays[key].dtype != np.uint8 or arrays[key].shape != SHAPES[key]:
            raise SystemExit(f"error: '{path}' holds {arrays[key].dtype} {arrays[key].shape}, "
                             f"expected uint8 {SHAPES[key]}")
    return arrays


def write_atomic(arrays, out):
    """Write ``arrays`` with ``savez_compressed`` to ``out`` via a temp file + ``os.replace``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez_compressed(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC,
                        help=f"directory with the four MNIST IDX files (default: {DEFAULT_SRC})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"output .npz file (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    try:
        arrays = load_verified(args.src)
    except (DataFileError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    write_atomic(arrays, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
