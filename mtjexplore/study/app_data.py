"""The study results and weights shipped with the package for the apps and tutorials.

``mtjexplore/data/app_weights.nc`` holds, in NetCDF groups, the study's software and
statistics-aware weights and its per-die results on the reference ensemble, so that an app opens
in seconds instead of training for minutes.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFileError

APP_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "app_weights.nc"


def app_weights(method="software"):
    """Weights shipped for the apps (``scripts/make_app_weights.py`` writes them).

    Parameters
    ----------
    method : str, default "software"
        A group of ``mtjexplore/data/app_weights.nc``: ``software`` or ``statistics_aware``.

    Returns
    -------
    xarray.Dataset
        Weights as ``Trainer.weights_`` makes them.
    """
    return _read_group(method)


def app_results():
    """Precomputed study results shipped for the ensemble app: ``error(method, die)``, ``loss``.

    Computed on the reference ensemble by ``scripts/make_app_weights.py``; also holds
    ``sens_error(method, sample)`` (errors on freshly sampled dies).
    """
    return _read_group("results")


def _read_group(group):
    import xarray as xr

    if not APP_WEIGHTS.is_file():
        raise DataFileError(f"{APP_WEIGHTS}: missing; rebuild it with "
                            "`python scripts/make_app_weights.py`")
    try:
        with xr.open_dataset(APP_WEIGHTS, group=group, engine="netcdf4") as ds:
            return ds.load()
    except OSError as exc:
        raise DataFileError(f"{APP_WEIGHTS}: no group {group!r} ({exc}); rebuild it with "
                            "`python scripts/make_app_weights.py`") from exc
