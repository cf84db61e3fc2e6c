"""Save and load dies, ensembles, weights, statistics and results as NetCDF, atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from .errors import DataFileError, FileExistsRefusedError, ParameterError

ENGINE = "netcdf4"


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


def save(obj, path, *, overwrite=False):
    """Write an ``xarray.Dataset`` (die, ensemble, weights, results, history) to NetCDF.

    The file is written to a temporary name in the same folder and renamed into place, so a
    reader never sees half a file and a failed write leaves any existing file untouched.

    Parameters
    ----------
    obj : xarray.Dataset or object with ``to_dataset()``
    path : str or os.PathLike
    overwrite : bool, default False
        Refuse (``FileExistsRefusedError``) to replace an existing file unless True.

    Returns
    -------
    pathlib.Path
        The path written.

    Examples
    --------
    >>> import mtjexplore as mx, tempfile, os
    >>> die = mx.ideal_die(mx.paper_config())
    >>> p = mx.save(die, os.path.join(tempfile.mkdtemp(), "die.nc"))
    >>> mx.load(p).identical(die)
    True
    """
    if hasattr(obj, "to_dataset") and not isinstance(obj, xr.Dataset):
        obj = obj.to_dataset()
    if isinstance(obj, xr.DataArray):
        obj = obj.to_dataset(name=obj.name or "data")
    if not isinstance(obj, xr.Dataset):
        raise ParameterError(f"save writes xarray Datasets; got {type(obj).__name__}")
    return atomic_write(path, lambda tmp: _bool_to_int(obj).to_netcdf(tmp, engine=ENGINE),
                        overwrite=overwrite)


def atomic_write(path, write, *, overwrite=False):
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place.

    Refuses (``FileExistsRefusedError``) to replace an existing file unless ``overwrite``; a
    failed write leaves ``path`` as it was and no temporary file behind. Returns the Path.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsRefusedError(f"{path} already exists; pass overwrite=True to replace it "
                                     "or choose another name")
    if not path.parent.is_dir():
        raise ParameterError(f"cannot save to {path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load(path):
    """Read a Dataset written by :func:`save` (fully into memory; the file is closed).

    Raises
    ------
    DataFileError
        If the file is missing or not a readable NetCDF file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            return _int_to_bool(ds.load())
    except (OSError, ValueError) as exc:
        raise DataFileError(f"{path}: not a readable NetCDF file ({exc})") from exc
