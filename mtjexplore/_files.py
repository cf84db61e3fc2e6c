"""Checks shared by every reader of user files: regular files only, bounded sizes.

A reader calls :func:`regular_file` before it opens a path, or :func:`read_bytes` to read a
whole file with the check made on the open descriptor itself (a FIFO, a device or a symlink to
``/dev/zero`` is refused before a single byte is read, so nothing hangs or grows without bound).
Every limit is a module constant a user can raise, and every message names it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import DataFileError

#: Largest input file (bytes) a reader accepts unless given ``max_bytes=`` (1 GiB: 36 dies of the
#: paper's 20,000 devices take about 30 MB as CSV).
MAX_INPUT_BYTES = 2**30
#: Largest physical array (rows x cols cells) a configuration read from a file may ask for: the
#: paper's die has 20,200 cells, so this is 800 times that.
MAX_FILE_CELLS = 2**24

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISDIR, "a folder"))


def default_error(path, problem, fix):
    return DataFileError(f"'{path}': {problem}; {fix}")


def file_kind(mode):
    """What a ``st_mode`` describes, in words (``"a FIFO (named pipe)"``, ...)."""
    return next((text for test, text in _KINDS if test(mode)), "not a regular file")


def _check_mode(path, st, error):
    if not stat.S_ISREG(st.st_mode):
        kind = file_kind(st.st_mode)
        if kind == "a folder":
            raise error(path, "is a folder, not a file", "pass the file itself")
        resolved = Path(os.path.realpath(path))
        via = f" (a link to {resolved})" if resolved != Path(os.path.abspath(path)) else ""
        raise error(path, f"is {kind}{via}, not a regular file",
                    "copy the data into a regular file and pass that")


def check_size(path, size, max_bytes, error, what="file"):
    """Raise ``error`` naming the limit if ``size`` bytes exceed ``max_bytes``."""
    limit = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    if size > limit:
        raise error(path, f"the {what} holds {size:,} bytes, more than the limit of {limit:,} bytes",
                    "pass max_bytes= (or raise mtjexplore._files.MAX_INPUT_BYTES) if the file is "
                    "genuine, or check that it is the file you meant")


def regular_file(path, error=default_error, max_bytes=None):
    """``(Path, size)`` of ``path`` after checking that it resolves to a regular file.

    Parameters
    ----------
    path : str or os.PathLike
    error : callable, optional
        ``error(path, problem, fix)`` returning the exception to raise (default a
        :class:`~mtjexplore.errors.DataFileError` ``"'<path>': <problem>; <fix>"``).
    max_bytes : int, optional
        Largest size accepted (default :data:`MAX_INPUT_BYTES`).

    Raises
    ------
    DataFileError
        Missing, unreadable, a folder, a FIFO, a device, a socket, or larger than ``max_bytes``.
    """
    path = Path(path)
    try:
        st = os.stat(path)  # follows symlinks: a link to /dev/zero is judged as /dev/zero
    except FileNotFoundError:
        raise error(path, "no such file", "check the path and the file name") from None
    except OSError as exc:
        raise error(path, f"cannot be read ({exc.strerror or exc})",
                    "check the path and its permissions") from None
    _check_mode(path, st, error)
    check_size(path, st.st_size, max_bytes, error)
    return path, st.st_size


def read_bytes(path, error=default_error, max_bytes=None):
    """The bytes of regular file ``path``, checked on the open descriptor before reading.

    Opened non-blocking, so a FIFO swapped in after :func:`regular_file` cannot hang the call; at
    most the file's size + 1 bytes are read (and allocated), so a file that grows or shrinks
    while it is read is refused too.
    """
    path, _ = regular_file(path, error, max_bytes)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(path, f"cannot be opened ({exc.strerror or exc})",
                    "check its permissions") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        _check_mode(path, st, error)
        check_size(path, st.st_size, max_bytes, error)
        try:
            data = f.read(st.st_size + 1)  # one byte more than the size: a growing file shows
        except OSError as exc:
            raise error(path, f"cannot be read ({exc.strerror or exc})",
                        "check the file and the disk") from None
    if len(data) != st.st_size:
        raise error(path, f"changed while it was read ({st.st_size:,} bytes expected, "
                    f"{len(data):,}{'+' if len(data) > st.st_size else ''} read)",
                    "read it again once it is complete")
    return data


def floorplan_cells(config):
    """Cells ``rows * cols`` of ``config``'s default floorplan, computed without building it.

    One tile (``tile_shape`` None): the layer blocks side by side. Tiles: the pieces are placed
    as :meth:`~mtjexplore.floorplan.Floorplan.tiled` places them (arithmetic only), unless there
    are more than 10,000 pieces, when every piece is counted as a tile of its own (an upper bound).
    """
    shapes = config.layer_shapes
    tile = getattr(config, "tile_shape", None)
    if tile is None:
        return max(r for r, _ in shapes) * sum(2 * c for _, c in shapes)
    rows, cols = tile
    pieces = sum(-(-r // rows) * -(-c // (cols // 2)) for r, c in shapes)
    if pieces > 10_000:
        return pieces * rows * cols
    from .floorplan import _cut

    return _cut(shapes, tile)[1] * rows * cols


def check_config_size(path, config, error=default_error, cells=None, what="attribute 'config'",
                      fix="pass config= for the network the file holds, or fix the attribute"):
    """Refuse a configuration read from a file whose floorplan would be unreasonably large.

    ``cells``: the cells the file's arrays hold (the floorplan must fit them); default
    :data:`MAX_FILE_CELLS`.
    """
    need = floorplan_cells(config)
    limit = MAX_FILE_CELLS if cells is None else min(cells, MAX_FILE_CELLS)
    if need > limit:
        held = "" if cells is None else f"; the file's arrays hold {cells:,} cells"
        raise error(path, f"{what} describes a network (layer sizes "
                    f"{', '.join(map(str, config.layer_sizes))}) whose floorplan has "
                    f"{need:,} cells, more than the limit of {limit:,}{held}", fix)
