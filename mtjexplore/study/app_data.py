"""The study results and weights shipped with the package for the apps and tutorials.

``mtjexplore/data/app_weights.nc`` holds, in NetCDF groups, the study's software and
statistics-aware weights and its per-die results on the reference ensemble, so that an app opens
in seconds instead of training for minutes.

It is made in one place, :func:`build_app_data`, from a finished ``mtjexplore reproduce`` folder
(``docs/results`` for the shipped file): nothing is retrained, so the apps show exactly the
numbers of that study (``scripts/make_app_weights.py`` and ``scripts/regenerate_results.sh`` call
it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataFileError

APP_WEIGHTS = Path(__file__).resolve().parents[1] / "data" / "app_weights.nc"
#: the groups of ``app_weights.nc``
GROUPS = ("software", "statistics_aware", "results")
#: the methods of the ``results`` group (``error(method, die)``) and of its ``sens_error``
APP_METHODS = ("software", "defect_aware", "statistics_aware")
SENS_METHODS = ("software", "statistics_aware")


def app_groups(study):
    """The groups of ``app_weights.nc`` from a finished study folder (nothing is retrained).

    Parameters
    ----------
    study : str or os.PathLike
        A folder ``mtjexplore reproduce --out`` wrote (:mod:`mtjexplore.study.layout`).

    Returns
    -------
    dict of str to xarray.Dataset
        ``software`` and ``statistics_aware`` (the study's weights files as they are) and
        ``results``: ``error(method, die)``, ``loss(method, die)`` of :data:`APP_METHODS`,
        ``sens_error(sens_method, sample)`` and the software weights' ``ideal_error``.
    """
    import xarray as xr

    from ..io import load
    from .layout import RESULTS, SECONDS_ATTR, SETTINGS_ATTR, weights_path

    study = Path(study)
    for path in (study / RESULTS, weights_path(study, "software"), weights_path(study, "statistics_aware")):
        if not path.is_file():
            raise DataFileError(f"{path}: missing; {study} is not a finished study folder (run "
                                f"`mtjexplore reproduce --out {study}`: it resumes an unfinished one)")
    res = load(study / RESULTS)
    pick = lambda var, methods: res[var].sel({"method": list(methods)}).values  # noqa: E731
    coords = {"method": list(APP_METHODS), "die": res.die.values, "sample": res.sample.values,
              "sens_method": list(SENS_METHODS)}
    coords.update({name: res[name] for name in res.coords if name.startswith("n_") and res[name].dims == ("die",)})
    unit = {"units": "1"}
    results = xr.Dataset(
        {"error": (("method", "die"), pick("error", APP_METHODS), {"long_name": "misclassification error", **unit}),
         "loss": (("method", "die"), pick("loss", APP_METHODS), {"long_name": "cross-entropy loss", **unit}),
         "sens_error": (("sens_method", "sample"), pick("sens_error", SENS_METHODS),
                        {"long_name": "error on freshly sampled dies", **unit}),
         "ideal_error": ((), np.float64(res.ideal_error.sel({"method": "software"})),
                         {"long_name": "software weights on ideal devices", **unit})},
        coords=coords,
        attrs={"kind": "results", "dies": res.attrs.get("dies", ""),
               "statistics": "fitted to the dies (mtjexplore.study.reproduce.measured_dies)",
               "seed": int(res.attrs["seed"]), "device": res.attrs.get("device", ""),
               "recipes": res.attrs.get("recipes", ""), "source": f"copied from the study in {study.name}/",
               "mtjexplore_version": res.attrs.get("mtjexplore_version", "")})
    weights = {}
    for method in ("software", "statistics_aware"):
        weights[method] = load(weights_path(study, method))
        for name in (SETTINGS_ATTR, SECONDS_ATTR):  # bookkeeping of the study folder, not weights
            weights[method].attrs.pop(name, None)
    return {**weights, "results": results}


def build_app_data(study, path=APP_WEIGHTS, *, overwrite=False):
    """Write ``app_weights.nc`` (default: the shipped one) from a finished study folder.

    The one place the shipped app data is made: it copies the study's weights and results
    (:func:`app_groups`), trains nothing, and writes the file atomically.

    Parameters
    ----------
    study : str or os.PathLike
        A finished ``mtjexplore reproduce --out`` folder (``docs/results`` for the shipped file).
    path : str or os.PathLike, default ``mtjexplore/data/app_weights.nc``
    overwrite : bool, default False

    Returns
    -------
    pathlib.Path
    """
    from ..io import atomic_write

    groups = app_groups(study)

    def write(tmp):
        mode = "w"
        for name in GROUPS:
            groups[name].to_netcdf(tmp, group=name, mode=mode, engine="netcdf4")
            mode = "a"

    return atomic_write(path, write, overwrite=overwrite)


def app_weights(method="software"):
    """Weights shipped for the apps (:func:`build_app_data` writes them).

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

    Copied from the study on the reference ensemble by :func:`build_app_data`; also holds
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
