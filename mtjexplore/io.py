"""Save and load dies, ensembles, weights, statistics and results as NetCDF, atomically.

Saving writes a temporary file in the destination folder and publishes it in one step:
``os.replace`` when overwriting is allowed, else ``os.link`` (which fails if the destination
exists, so two savers racing for a new name cannot both succeed). The temporary file is named
``.<name prefix>.mtjx-tmp-<host>-<pid>-<random>``; a save that is killed leaves it behind, and the
next save into that folder deletes every such file whose writer (same host, that pid) is dead.
A saved file gets the mode any tool would give it (``0o666`` less the umask); overwriting keeps
the replaced file's mode. Every failure is an :class:`~mtjexplore.errors.MTJExploreError` naming
the path and the likely cause.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path

import xarray as xr

from . import _files
from .errors import (DataFileError, FileExistsRefusedError, FileWriteError, MTJExploreError,
                     ParameterError)

__all__ = ["ENGINE", "TEMP_MARK", "save", "atomic_write", "temp_name", "clean_stale_temps",
           "open_netcdf", "load"]

ENGINE = "netcdf4"
TEMP_MARK = ".mtjx-tmp-"
_PREFIX_CHARS = 40  # of the destination name kept in the temporary name
_HOST = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
_TEMP_RE = re.compile(r"^\..*\.mtjx-tmp-([0-9a-f]{6})-(\d+)-[0-9a-f]{8}$", re.DOTALL)
_NO_LINK = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS}


def _bool_to_int(ds):
    """NetCDF has no bool: store bools as int8 with a marker attr so load restores them."""
    out = ds.copy()
    for name, var in ds.variables.items():
        if var.dtype == bool:
            stored = var.astype("int8")
            stored.attrs = {**var.attrs, "mtjexplore_dtype": "bool"}
            out[name] = stored
    return out


def _int_to_bool(ds):
    for name, var in ds.variables.items():
        if var.attrs.get("mtjexplore_dtype") == "bool":
            restored = var.astype(bool)
            restored.attrs = {k: v for k, v in var.attrs.items() if k != "mtjexplore_dtype"}
            ds[name] = restored
    return ds


def _as_dataset(obj):
    """The Dataset :func:`save` writes for ``obj`` (a Dataset, DataArray or ``to_dataset()`` owner)."""
    if isinstance(obj, xr.DataArray):
        name = "data" if obj.name is None or obj.name == "" else obj.name
        if not isinstance(name, str):
            raise ParameterError(f"cannot save a DataArray named {obj.name!r}: NetCDF names are "
                                 "strings; rename it, e.g. da.rename('error')")
        if name in obj.dims or name in obj.coords:
            raise ParameterError(f"cannot save this unnamed DataArray as variable {name!r}: it "
                                 f"has a dimension or coordinate of that name; give it a name, "
                                 "e.g. da.rename('error')")
        return obj.to_dataset(name=name)
    if hasattr(obj, "to_dataset") and not isinstance(obj, xr.Dataset):
        obj = obj.to_dataset()
    if not isinstance(obj, xr.Dataset):
        raise ParameterError(f"save writes xarray Datasets; got {type(obj).__name__}")
    return obj


def save(obj, path, *, overwrite=False):
    """Write an ``xarray.Dataset`` (die, ensemble, weights, results, history) to NetCDF.

    The file is written to a temporary name in the same folder and published in one step, so a
    reader never sees half a file and a failed or killed write leaves any existing file untouched.

    Parameters
    ----------
    obj : xarray.Dataset, xarray.DataArray or object with ``to_dataset()``
        An unnamed DataArray is stored as variable ``data``.
    path : str or os.PathLike
    overwrite : bool, default False
        Refuse (``FileExistsRefusedError``) to replace an existing file unless True.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    FileExistsRefusedError
        ``path`` exists (even if another process created it during the save) and not ``overwrite``.
    FileWriteError
        The folder is read-only, the disk is full, the name is too long, or the NetCDF library
        failed; the message names the path and the likely cause.
    ParameterError
        ``obj`` cannot be stored as NetCDF (e.g. an attribute holding a dict).

    Examples
    --------
    >>> import mtjexplore as mx, tempfile, os
    >>> die = mx.ideal_die(mx.paper_config())
    >>> p = mx.save(die, os.path.join(tempfile.mkdtemp(), "die.nc"))
    >>> mx.load(p).identical(die)
    True
    """
    ds = _bool_to_int(_as_dataset(obj))
    return atomic_write(path, lambda tmp: ds.to_netcdf(tmp, engine=ENGINE), overwrite=overwrite)


# ---------------------------------------------------------------------------- atomic writes
def atomic_write(path, write, *, overwrite=False):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then publish it as ``path``.

    Parameters
    ----------
    path : str or os.PathLike
    write : callable
        ``write(tmp_path)`` writes the whole file at ``tmp_path`` (which exists, empty).
    overwrite : bool, default False
        Replace an existing ``path`` (keeping its mode); otherwise refuse, atomically.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FileExistsRefusedError, FileWriteError, ParameterError
        As :func:`save`. A failed write leaves ``path`` as it was and no temporary file behind.
    """
    path = Path(path)
    _check_destination(path, overwrite)
    clean_stale_temps(path.parent)
    tmp, mode = _create_temp(path)
    try:
        _run_writer(write, tmp, path)
        _publish(tmp, path, overwrite, mode)
    finally:
        _remove_quietly(tmp)
    return path


def _check_destination(path, overwrite):
    if not path.parent.is_dir():
        raise ParameterError(f"cannot save to {path}: folder {path.parent} does not exist")
    name_max = _name_max(path.parent)
    if len(os.fsencode(path.name)) > name_max:
        raise FileWriteError(f"cannot save to {path}: the file name is "
                             f"{len(os.fsencode(path.name))} bytes, longer than this file "
                             f"system allows ({name_max}); choose a shorter name")
    if not overwrite and os.path.lexists(path):
        raise _refused(path)


def _refused(path):
    return FileExistsRefusedError(f"{path} already exists; pass overwrite=True to replace it or "
                                  "choose another name")


def _name_max(folder):
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        return 255


def temp_name(path):
    """The temporary name a save of ``path`` by this process uses (a fresh random part each call)."""
    prefix = Path(path).name[:_PREFIX_CHARS]
    return f".{prefix}{TEMP_MARK}{_HOST}-{os.getpid()}-{secrets.token_hex(4)}"


def _create_temp(path):
    """Create the temporary file exclusively (mode 0o666 less the umask); return it and its mode."""
    tmp = path.parent / temp_name(path)
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise _write_error(path, exc) from None
    try:
        mode = os.fstat(fd).st_mode & 0o7777
    finally:
        os.close(fd)
    return tmp, mode


def _run_writer(write, tmp, path):
    try:
        write(tmp)
    except MTJExploreError:
        raise
    except OSError as exc:
        raise _write_error(path, exc) from exc
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"cannot save to {path}: the data cannot be stored as NetCDF "
                             f"({exc}); store numbers, strings or arrays of them") from exc
    except Exception as exc:  # noqa: BLE001 - netCDF4/HDF5 raise RuntimeError and others
        raise _write_error(path, exc) from exc


def _publish(tmp, path, overwrite, mode):
    """Move the finished ``tmp`` to ``path``: replace (overwrite) or link (fails if path exists)."""
    try:
        if overwrite:
            try:
                mode = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:
                pass
            os.chmod(tmp, mode)
            os.replace(tmp, path)
            return
        os.chmod(tmp, mode)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise _refused(path) from None
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
            _publish_without_link(tmp, path)
    except MTJExploreError:
        raise
    except OSError as exc:
        raise _write_error(path, exc) from exc


def _publish_without_link(tmp, path):
    """Where hard links are not supported: claim the name exclusively, then rename onto it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise _refused(path) from None
    os.replace(tmp, path)


def _remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError:  # pragma: no cover - the next save's cleanup gets another chance
        pass


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:  # pragma: no cover
        return True
    return True


def clean_stale_temps(folder):
    """Delete the temporary files of killed saves in ``folder``; return how many were removed.

    A temporary file is stale when it was written on this host by a process that no longer
    exists. Files of live processes (this one included) and other hosts are left alone. A
    temporary *folder* of the same name pattern (a Zarr store being written) is removed as well.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_RE.match(entry.name) if TEMP_MARK in entry.name else None
        if match is None or match.group(1) != _HOST:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
            removed += 1
        except OSError:
            pass
    return removed


def _write_error(path, exc):
    """A FileWriteError naming ``path`` and the likely cause of ``exc``."""
    folder = Path(path).parent
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT) or (code is None and _looks_full(folder)):
        cause = (f"the disk holding {folder} is full ({_free_text(folder)}); free some space or "
                 "save elsewhere")
    elif code == errno.EROFS:
        cause = f"the file system holding {folder} is read-only; save elsewhere"
    elif code in (errno.EACCES, errno.EPERM):
        cause = f"permission denied: folder {folder} is not writable by this user; save elsewhere"
    elif code == errno.ENAMETOOLONG:
        cause = "the file name is too long for this file system; choose a shorter name"
    elif code == errno.ENOENT:
        cause = f"folder {folder} disappeared during the save"
    else:
        cause = f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}"
    return FileWriteError(f"cannot save to {path}: {cause}")


def _looks_full(folder, reserve=1 << 20):
    try:
        return shutil.disk_usage(folder).free < reserve
    except OSError:
        return False


def _free_text(folder):
    try:
        return f"{shutil.disk_usage(folder).free:,} bytes free"
    except OSError:
        return "free space unknown"


# ---------------------------------------------------------------------------- loading
@contextmanager
def open_netcdf(path, *, max_bytes=None, **kwargs):
    """Open regular file ``path`` (read into memory) as a lazy ``xarray.Dataset``; close on exit.

    The file is read with one bounded read and opened from memory (``netCDF4.Dataset(...,
    memory=...)``), so no file handle stays open whatever happens: the netCDF/HDF5 libraries
    leak the descriptor of some damaged files they fail to open, and xarray caches open files
    by path, either of which kept a good file copied over the same path from loading.

    Raises
    ------
    DataFileError
        Not a regular file, larger than ``max_bytes``, or not a readable NetCDF file.
    """
    import netCDF4

    data = _files.read_bytes(path, max_bytes=max_bytes)
    path = Path(path)
    if not data:
        raise DataFileError(f"'{path}': file is empty (0 bytes); write it with mx.save or "
                            "another NetCDF writer")
    nc = ds = None
    try:
        nc = netCDF4.Dataset(str(path), mode="r", memory=data)
        ds = xr.open_dataset(xr.backends.NetCDF4DataStore(nc), **kwargs)
        yield ds
    except MTJExploreError:
        raise
    except Exception as exc:  # noqa: BLE001 - netCDF4/HDF5 raise many types on damaged files
        raise DataFileError(f"'{path}': not a readable NetCDF file ({type(exc).__name__}: {exc}); "
                            "check that it is a complete NetCDF-4 (or classic) file, e.g. with "
                            "`ncdump -h`, or write it again") from None
    finally:
        for handle in (ds, nc):
            try:
                handle is not None and handle.close()
            except Exception:  # noqa: BLE001 - closing twice, or a damaged file, may fail again
                pass


def load(path, *, max_bytes=None):
    """Read a Dataset written by :func:`save` (fully into memory; the file is closed).

    Parameters
    ----------
    path : str or os.PathLike
    max_bytes : int, optional
        Largest file, and largest decoded data, accepted (default
        ``mtjexplore._files.MAX_INPUT_BYTES``, 1 GiB).

    Raises
    ------
    DataFileError
        If the file is missing, not a regular file, too large, or not a readable NetCDF file
        (damaged or truncated); no file handle is left open (see :func:`open_netcdf`).
    """
    with open_netcdf(path, max_bytes=max_bytes) as ds:
        decoded = sum(var.nbytes for var in ds.variables.values())
        _files.check_size(path, decoded, max_bytes, _files.default_error, "decoded data")
        return _int_to_bool(ds.load())
