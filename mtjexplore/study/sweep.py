"""``mtjexplore sweep``: the study over a grid of methods x defect densities x seeds x dies, on Dask.

Every *cell* ``(method, density, seed, die)`` is one task whose result depends on its coordinates
only, so a cell computes the same numbers serially, on a local cluster or on a remote one:

* the die: drawn from the base statistics (default
  :func:`mtjexplore.reference.reference_statistics`) with every mean defect count multiplied by
  ``density``, from a seed fixed by ``(die_seed, density, die)`` -- the same die for every method
  and training seed;
* the weights: software weights per training ``seed`` and statistics-aware weights per
  ``(seed, density)`` (trained on the scaled statistics) are shared tasks, computed once and
  cached; defect-aware weights and remappings are made inside the cell. Every step uses the
  study's step functions (:mod:`mtjexplore.study.reproduce`) and seeds derived from its coordinates;
* every task runs torch on one thread, so the floating-point results do not depend on where it ran.

Resuming: each finished cell is written at once as a small NetCDF file in the folder
``<out stem>.cells/`` next to the output (and the shared weights in its ``weights/``); a restarted
sweep loads those and runs only the missing cells. A ``manifest.json`` there records the settings
(data sizes, epochs, training recipes, statistics, configuration) and a sweep with other settings
refuses to mix its cells in. The merged Dataset (``error``, ``loss`` with dims ``(method, density, seed, die)``)
is written to NetCDF (``.nc``) or Zarr (``.zarr``) at the end, replacing the previous merge.

Workers only compute: results come back to the client, which writes every file, so a remote
cluster (``scheduler="tcp://host:8786"``) needs mtjexplore installed on its workers but no shared
file system. A script that starts a local cluster must guard its entry point with
``if __name__ == "__main__":`` (worker processes are spawned and import the main module).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from ..errors import DataFileError, FileWriteError, MTJExploreError, ParameterError
from ..evaluation import evaluate
from ..io import clean_stale_temps, load, save, temp_name
from ..reference import reference_statistics
from ..remap import remap
from .layout import MANIFEST, dataset_hash, settings_hash, write_text
from .reproduce import (METHODS, StudySettings, derive_seed, die_coords, recipe, torch_threads,
                        train_defect_aware, train_software, train_statistics_aware)

OUTPUT_SUFFIXES = (".nc", ".zarr")
_NEEDS_STATISTICS = {"statistics_aware", "statistics_aware_remapped"}


class SweepMismatchError(MTJExploreError, ValueError):
    """Stored cells were computed with other settings than the sweep being resumed."""


# ---------------------------------------------------------------- the grid
@dataclass(frozen=True)
class SweepGrid:
    """The axes of a sweep and the settings every cell shares.

    Parameters
    ----------
    methods : tuple of str
        Any of ``software``, ``defect_aware``, ``statistics_aware``, ``remapped``,
        ``statistics_aware_remapped``.
    densities : tuple of float
        Multipliers of the base statistics' mean defect counts (1.0: as measured).
    seeds : tuple of int
        Training seeds.
    dies : tuple of int
        Die indices (each ``(density, die)`` is its own sampled die).
    n_train, n_test : int or None
        Images (None: all of MNIST).
    max_epochs : int or None
        Cap on the recipes' epochs (None: as the recipes say).
    n_remap_images : int, default 2000
    die_seed : int, default 0
        Seed of the dies.

    Examples
    --------
    >>> grid = SweepGrid(methods=("software",), densities=(1.0, 2.0), seeds=(0,), dies=(0, 1, 2))
    >>> len(grid.cells())
    6
    """

    methods: tuple = METHODS
    densities: tuple = (1.0,)
    seeds: tuple = (0,)
    dies: tuple = tuple(range(36))
    n_train: int | None = None
    n_test: int | None = None
    max_epochs: int | None = None
    n_remap_images: int = 2000
    die_seed: int = 0

    def __post_init__(self):
        for name in ("methods", "densities", "seeds", "dies"):
            values = tuple(getattr(self, name))
            if not values or len(set(values)) != len(values):
                raise ParameterError(f"{name} must be a non-empty sequence without repeats; got {values!r}")
            object.__setattr__(self, name, values)
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ParameterError(f"unknown methods {unknown}; choose from {', '.join(METHODS)}")
        if not all(isinstance(d, (int, float, np.integer, np.floating)) and not isinstance(d, bool)
                   and 0 <= d <= 1e3
                   for d in self.densities):
            raise ParameterError(f"densities must be numbers in [0, 1000] (multipliers of the mean "
                                 f"defect counts); got {self.densities!r}")
        object.__setattr__(self, "densities", tuple(float(d) for d in self.densities))
        for name in ("seeds", "dies"):
            if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
                       for v in getattr(self, name)):
                raise ParameterError(f"{name} must be non-negative ints; got {getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        self.settings()  # validates the data sizes and epochs

    def settings(self):
        """The :class:`~mtjexplore.study.reproduce.StudySettings` of every cell."""
        return StudySettings(self.n_train, self.n_test, self.max_epochs, 1, self.n_remap_images)

    def cells(self):
        """All ``(method, density, seed, die)`` of the grid."""
        return [(m, d, s, k) for m in self.methods for d in self.densities for s in self.seeds
                for k in self.dies]

    def fingerprint(self, statistics):
        """The settings a stored cell must share to be reused: everything but the axes, i.e. the
        grid's data sizes and seeds, the training recipes, the statistics and the version."""
        from .._version import __version__

        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                  if f.name not in ("methods", "densities", "seeds", "dies")}
        recipes = {m: recipe(m, self.settings()) for m in ("software", "defect_aware", "statistics_aware")}
        stats = statistics.to_dataset()
        return {**fields, "recipes": recipes,
                "statistics": {k: str(v) for k, v in sorted(stats.attrs.items())},
                "statistics_hash": dataset_hash(stats), "mtjexplore_version": __version__}


def scaled_statistics(statistics, density):
    """``statistics`` with every mean defect count multiplied by ``density``."""
    counts = {k: v * density for k, v in statistics.mean_counts.items()}
    return dataclasses.replace(statistics, mean_counts=counts)


# ---------------------------------------------------------------- the tasks (run on workers)
def _one_thread():
    """One torch thread (:func:`~mtjexplore.study.reproduce.torch_threads`), restored after."""
    return torch_threads(1)


@functools.lru_cache(maxsize=2)
def _data(n_train, n_test):
    from ..datasets import load_mnist

    return load_mnist(n_train=n_train, n_test=n_test)


def software_weights(grid, statistics, seed):
    """Software weights of training ``seed`` (a shared task)."""
    with _one_thread():
        train, _ = _data(grid.n_train, grid.n_test)
        return train_software(statistics.config, train, derive_seed(seed, "software"), grid.settings())


def statistics_weights(grid, statistics, density, seed, software):
    """Statistics-aware weights of ``(seed, density)``, fine-tuned from ``software`` (shared)."""
    with _one_thread():
        train, _ = _data(grid.n_train, grid.n_test)
        return train_statistics_aware(software, scaled_statistics(statistics, density), train,
                                      derive_seed(seed, "statistics_aware", density), grid.settings())


def sweep_die(statistics, die_seed, density, die):
    """The die of cell coordinates ``(density, die)`` (the same for every method and seed)."""
    return scaled_statistics(statistics, density).sample(1, seed=derive_seed(die_seed, "die", density, die))


def compute_cell(grid, statistics, cell, software, stat_aware):
    """One cell ``(method, density, seed, die)``: its error and loss as a small Dataset."""
    method, density, seed, die_index = cell
    start = time.perf_counter()
    with _one_thread():
        train, test = _data(grid.n_train, grid.n_test)
        die = sweep_die(statistics, grid.die_seed, density, die_index)
        weights, floorplan = (stat_aware if method in _NEEDS_STATISTICS else software), None
        if method == "defect_aware":
            weights = train_defect_aware(software, die, train,
                                         derive_seed(seed, "defect_aware", density, die_index), grid.settings())
        elif method.endswith("remapped"):
            floorplan = remap(weights, die, train, n_images=grid.n_remap_images,
                              seed=derive_seed(seed, "remap")).floorplan
        res = evaluate(weights, die, test, floorplans=floorplan)
    return _cell_dataset(cell, res, die, time.perf_counter() - start)


def cell_name(cell):
    """File name of a stored cell."""
    method, density, seed, die = cell
    return f"{method}__density={density!r}__seed={seed}__die={die}.nc"


def _cell_dataset(cell, res, die, seconds):
    method, density, seed, die_index = cell
    counts = {k: int(v[1][0]) for k, v in die_coords(die).items()}
    return xr.Dataset({"error": float(res.error[0]), "loss": float(res.loss[0]),
                       "cell_seconds": seconds},
                      attrs={"method": method, "density": density, "seed": seed, "die": die_index,
                             "counts": json.dumps(counts)})


# ---------------------------------------------------------------- storage
def cells_folder(out):
    """The folder holding the finished cells of the sweep written to ``out``."""
    out = Path(out)
    return out.parent / f"{out.stem}.cells"


def _prepare_folder(out, grid, statistics, resume):
    """Create (or check, when resuming) the cells folder and its manifest.

    The manifest is written atomically, and only when its content changes.
    """
    out = Path(out)
    if out.suffix not in OUTPUT_SUFFIXES:
        raise ParameterError(f"out must end in .nc (NetCDF) or .zarr (Zarr); got {str(out)!r}")
    if not out.parent.is_dir():
        raise ParameterError(f"cannot write {out}: folder {out.parent} does not exist")
    folder = cells_folder(out)
    manifest = folder / MANIFEST
    fingerprint = json.loads(json.dumps(grid.fingerprint(statistics)))
    if folder.exists() and not resume:
        if not manifest.is_file():
            raise ParameterError(f"{folder} exists but is not a sweep's cells folder; move it away")
        shutil.rmtree(folder)
    stored = _read_manifest(manifest) if manifest.is_file() else None
    if stored is not None:
        differ = sorted(k for k in set(stored) | set(fingerprint) if stored.get(k) != fingerprint.get(k))
        if differ:
            raise SweepMismatchError(
                f"the cells in {folder} were computed with other settings ({', '.join(differ)} "
                f"differ); use another out path, or resume=False (--no-resume) to start over")
    (folder / "weights").mkdir(parents=True, exist_ok=True)
    text = json.dumps(fingerprint, indent=1)
    if stored is None or manifest.read_text(encoding="utf-8") != text:
        write_text(manifest, text)
    return folder


def _read_manifest(manifest):
    """The stored settings; a DataFileError naming the file and the fix if it is damaged."""
    try:
        stored = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(stored, dict):
            raise ValueError(f"expected a JSON object, got {type(stored).__name__}")
        return stored
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise DataFileError(
            f"'{manifest}': the sweep manifest is truncated or corrupt ({type(exc).__name__}: "
            f"{str(exc)[:200]}); delete it and rerun to rebuild it from the current settings (every "
            f"cell file records the settings it was computed with, and a cell of other settings "
            f"is refused), or pass resume=False (--no-resume) to start over") from None


def _token(grid, statistics):
    """Short hash of the sweep's settings, recorded in every cell file."""
    return settings_hash(grid.fingerprint(statistics), length=12)


def load_cell(path, cell, token=None):
    """Load a stored cell file and check it belongs to ``cell`` (and settings ``token``).

    Raises
    ------
    DataFileError
        The file is damaged, or its recorded coordinates or settings differ from ``cell``'s; the
        message names the file and says to delete it (the cell is then recomputed).
    """
    fix = "delete it and rerun: the cell is recomputed"
    try:
        ds = load(path)
    except DataFileError as exc:
        raise DataFileError(f"{exc} (a sweep cell file; {fix})") from None
    try:
        recorded = (str(ds.attrs["method"]), float(ds.attrs["density"]), int(ds.attrs["seed"]),
                    int(ds.attrs["die"]))
        numbers = {name: float(ds[name]) for name in ("error", "loss", "cell_seconds")}
        counts = json.loads(ds.attrs["counts"])
        if not isinstance(counts, dict):
            raise TypeError("attribute 'counts' is not a JSON object")
    except (KeyError, TypeError, ValueError, OverflowError, RecursionError) as exc:
        raise DataFileError(f"'{path}': not a sweep cell file ({type(exc).__name__}: {exc}); "
                            f"{fix}") from None
    expected = (cell[0], float(cell[1]), int(cell[2]), int(cell[3]))
    if recorded != expected:
        raise DataFileError(f"'{path}': holds cell (method, density, seed, die) = {recorded}, not "
                            f"{expected} as its name says; {fix}")
    stored_token = ds.attrs.get("sweep_settings")
    if token is not None and stored_token is not None and str(stored_token) != token:
        raise DataFileError(f"'{path}': was computed with other sweep settings (hash "
                            f"{stored_token}, this sweep {token}); {fix}")
    return numbers, counts


def _finished(folder, cells, token=None):
    """The cells stored in ``folder``, each checked against its cell (see :func:`load_cell`)."""
    done = {cell for cell in cells if (folder / cell_name(cell)).is_file()}
    for cell in done:
        load_cell(folder / cell_name(cell), cell, token)
    return done


def merge_cells(grid, folder, token=None):
    """Read the stored cells of ``grid`` into one Dataset (NaN where a cell is missing).

    Every cell file is checked against its cell (and the settings ``token``, when given):
    :func:`load_cell` raises a DataFileError naming a file that does not match.
    """
    shape = (len(grid.methods), len(grid.densities), len(grid.seeds), len(grid.dies))
    arrays = {name: np.full(shape, np.nan) for name in ("error", "loss", "cell_seconds")}
    counts = {}
    for cell in grid.cells():
        path = Path(folder) / cell_name(cell)
        if not path.is_file():
            continue
        numbers, cell_counts = load_cell(path, cell, token)
        index = (grid.methods.index(cell[0]), grid.densities.index(cell[1]),
                 grid.seeds.index(cell[2]), grid.dies.index(cell[3]))
        for name in arrays:
            arrays[name][index] = numbers[name]
        for key, value in cell_counts.items():
            counts.setdefault(key, np.full(shape[1:2] + shape[3:], -1, dtype=np.int64))[index[1], index[3]] = value
    dims = ("method", "density", "seed", "die")
    attrs = {"error": {"long_name": "misclassification error", "units": "1"},
             "loss": {"long_name": "cross-entropy loss", "units": "1"},
             "cell_seconds": {"long_name": "wall time of the cell", "units": "s"}}
    data = {name: (dims, value, attrs[name]) for name, value in arrays.items()}
    coords = {"method": list(grid.methods), "density": list(grid.densities), "seed": list(grid.seeds),
              "die": list(grid.dies), **{k: (("density", "die"), v) for k, v in counts.items()}}
    return xr.Dataset(data, coords=coords)


def _write(ds, out):
    out = Path(out)
    if out.suffix == ".zarr":
        _write_zarr(ds, out)
    else:
        save(ds, out, overwrite=True)
    return out


def _write_zarr(ds, out):
    """Write a Zarr store atomically: into a temporary folder beside ``out``, then renamed.

    A previous store is first renamed to another temporary name and deleted after, so ``out`` is
    at every moment absent or a complete store (a kill between the two renames leaves it absent
    until the next merge, which every finished cell makes again). Temporary folders of killed
    writers are deleted by the next write (:func:`mtjexplore.io.clean_stale_temps`).
    """
    clean_stale_temps(out.parent)
    tmp, old = out.parent / temp_name(out), out.parent / temp_name(out)
    try:
        ds.to_zarr(tmp, mode="w-", zarr_format=2, consolidated=True)
        if out.exists():
            os.rename(out, old)
        os.rename(tmp, out)
    except OSError as exc:
        raise FileWriteError(f"cannot write {out}: {type(exc).__name__}: {exc}") from exc
    finally:
        for path in (tmp, old):
            shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- execution
class _Done:
    """A finished 'future' (the serial executor runs every task when it is submitted)."""

    def __init__(self, value, key=None):
        self.value, self.key = value, key

    def result(self):
        return self.value


class _SerialClient:
    """In-process stand-in for a ``dask.distributed.Client``: submit runs the task at once."""

    def submit(self, fn, *args, key=None):
        return _Done(fn(*(a.value if isinstance(a, _Done) else a for a in args)), key)

    def scatter(self, value):
        return _Done(value)

    @staticmethod
    def as_completed(futures):
        return iter(futures)


class _DaskClient:
    def __init__(self, client):
        self.client = client

    def submit(self, fn, *args, key=None):
        return self.client.submit(fn, *args, key=key)

    def scatter(self, value):
        return self.client.scatter(value, broadcast=False)

    @staticmethod
    def as_completed(futures):
        from dask.distributed import as_completed

        return as_completed(futures)


@contextmanager
def _executor(scheduler, n_workers):
    """Yield ``(executor, description)``: serial, a new LocalCluster, or a given scheduler."""
    if scheduler == "serial":
        yield _SerialClient(), "serial (in process)"
        return
    import logging

    from dask.distributed import Client, LocalCluster

    if isinstance(scheduler, Client):
        yield _DaskClient(scheduler), f"dask client {scheduler.scheduler.address}"
        return
    if scheduler is None:
        if not isinstance(n_workers, (int, np.integer)) or isinstance(n_workers, bool) or n_workers < 1:
            raise ParameterError(f"n_workers must be an int >= 1; got {n_workers!r}")
        with LocalCluster(n_workers=int(n_workers), threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield _DaskClient(client), f"LocalCluster ({n_workers} processes on 127.0.0.1)"
        return
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise ParameterError(f"could not reach the Dask scheduler at {scheduler!r} ({exc}); give "
                             "its address as tcp://HOST:PORT, or omit --scheduler for a local cluster") from exc
    with client:
        yield _DaskClient(client), f"dask scheduler {scheduler}"


def _shared_weights(ex, grid, statistics, pending, weights_dir, token):
    """Submit (or load from the cache) the software and statistics-aware weights pending cells need.

    Returns ``(software, stat_aware, to_store)``: futures by seed and by (seed, density), and
    ``{key: path}`` of freshly trained weights to cache when they arrive.
    """
    software, stat_aware, to_store = {}, {}, {}
    for seed in sorted({c[2] for c in pending}):
        path = weights_dir / f"software__seed={seed}.nc"
        if path.is_file():
            software[seed] = ex.scatter(_load_weights(path))
        else:
            software[seed] = ex.submit(software_weights, grid, statistics, seed,
                                       key=f"software-{token}-{seed}")
            to_store[software[seed].key] = path
    for seed, density in sorted({(c[2], c[1]) for c in pending if c[0] in _NEEDS_STATISTICS}):
        path = weights_dir / f"statistics_aware__density={density!r}__seed={seed}.nc"
        if path.is_file():
            stat_aware[seed, density] = ex.scatter(_load_weights(path))
        else:
            stat_aware[seed, density] = ex.submit(statistics_weights, grid, statistics, density, seed,
                                                  software[seed], key=f"statistics-{token}-{seed}-{density!r}")
            to_store[stat_aware[seed, density].key] = path
    return software, stat_aware, to_store


def _load_weights(path):
    """Cached shared weights; a damaged file is named with the fix."""
    try:
        return load(path)
    except DataFileError as exc:
        raise DataFileError(f"{exc} (cached sweep weights; delete the file and rerun: the weights "
                            "are retrained)") from None


def _run_cells(ex, grid, statistics, pending, folder, progress):
    """Run the pending cells; every result is stored as soon as it arrives."""
    from tqdm import tqdm

    token = _token(grid, statistics)
    software, stat_aware, to_store = _shared_weights(ex, grid, statistics, pending, folder / "weights", token)
    cells, futures = {}, [software[s] for s in software if software[s].key in to_store]
    for cell in pending:
        method, density, seed, _ = cell
        sa = stat_aware.get((seed, density)) if method in _NEEDS_STATISTICS else None
        futures.append(ex.submit(compute_cell, grid, statistics, cell, software[seed], sa,
                                 key=f"cell-{token}-{cell_name(cell)[:-3]}"))
        cells[futures[-1].key] = cell
    futures += [f for f in stat_aware.values() if f.key in to_store]
    with tqdm(total=len(pending), desc="sweep cells", unit="cell", disable=not progress) as bar:
        for future in ex.as_completed(futures):
            if future.key in to_store:
                save(future.result(), to_store[future.key], overwrite=True)
                continue
            save(future.result().assign_attrs(sweep_settings=token),
                 folder / cell_name(cells[future.key]), overwrite=True)
            bar.update(1)


def run_sweep(grid, out, scheduler=None, n_workers=2, resume=True, *, statistics=None, progress=True):
    """Run a sweep on Dask (or serially) and merge the cells into one Dataset saved to ``out``.

    Parameters
    ----------
    grid : SweepGrid
    out : str or os.PathLike
        ``.nc`` (NetCDF) or ``.zarr`` (Zarr) output; cells go to ``<stem>.cells/`` next to it.
    scheduler : None, str or dask.distributed.Client
        None: a new ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1 (closed at the end);
        an address (``tcp://host:8786``): an existing cluster; a ``Client``: use it as is;
        ``"serial"``: in this process, no Dask.
    n_workers : int, default 2
        Worker processes of the local cluster (one thread each).
    resume : bool, default True
        Skip cells already stored; False deletes the stored cells first.
    statistics : DefectStatistics, optional
        Base statistics the dies are drawn from (default: the reference statistics).
    progress : bool, default True

    Returns
    -------
    xarray.Dataset
        ``error``, ``loss``, ``cell_seconds`` with dims ``(method, density, seed, die)``; per-die
        defect counts as coords ``(density, die)``; attrs ``n_cells``, ``n_cells_run``,
        ``n_cells_skipped``, ``scheduler``, ``elapsed_s``.

    Examples
    --------
    >>> import tempfile, os
    >>> grid = SweepGrid(methods=("software",), dies=(0, 1), n_train=500, n_test=200, max_epochs=1)
    >>> res = run_sweep(grid, os.path.join(tempfile.mkdtemp(), "s.nc"), scheduler="serial",
    ...                 progress=False)
    >>> res.error.dims, res.attrs["n_cells_run"]
    (('method', 'density', 'seed', 'die'), 2)
    """
    if not isinstance(grid, SweepGrid):
        raise ParameterError(f"grid must be a SweepGrid; got {type(grid).__name__}")
    statistics = reference_statistics() if statistics is None else statistics
    start = time.perf_counter()
    folder = _prepare_folder(out, grid, statistics, resume)
    cells, token = grid.cells(), _token(grid, statistics)
    done = _finished(folder, cells, token)
    pending = [c for c in cells if c not in done]
    description = "none needed"
    if pending:
        with _executor(scheduler, n_workers) as (ex, description):
            _run_cells(ex, grid, statistics, pending, folder, progress)
    merged = merge_cells(grid, folder, token)
    merged.attrs.update({
        "kind": "sweep results", "n_cells": len(cells), "n_cells_run": len(pending),
        "n_cells_skipped": len(done), "scheduler": description,
        "elapsed_s": round(time.perf_counter() - start, 3), "cells_folder": str(folder),
        "settings": json.dumps(json.loads(json.dumps(grid.fingerprint(statistics))))})
    _write(merged, out)
    return merged
